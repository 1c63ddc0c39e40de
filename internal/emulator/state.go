package emulator

// The emulated directory, vault and Graph state, the setters tests change it with, and the
// request counters.

import (
	"crypto/x509"
	"maps"
	"strings"
	"time"
)

// Graph application roles understood by the emulator.
const (
	RoleReadAll      = "DeviceManagementServiceConfig.Read.All"
	RoleReadWriteAll = "DeviceManagementServiceConfig.ReadWrite.All"
)

// App is an application registration known to the emulated Entra ID.
type App struct {
	TenantID, ClientID string
	Secret             string            // client secret, if any
	Certificate        *x509.Certificate // for client-assertion auth, if any (RSA key)
	Roles              []string          // Graph app roles; nil means {RoleReadWriteAll}
}

// Settings is the state of a tenant's windowsAutopilotSettings resource.
type Settings struct {
	ID                            string
	LastSyncDateTime              time.Time
	LastManualSyncTriggerDateTime time.Time
	SyncStatus                    string
}

// RetryAfterMode selects how a sync 429 carries Retry-After.
type RetryAfterMode int

// Retry-After modes for the sync 429.
const (
	RetryAfterNone       RetryAfterMode = iota // no header (the default: real Intune usually omits it)
	RetryAfterSeconds                          // whole seconds, rounded up: "412"
	RetryAfterFractional                       // seconds with 3 decimals: "411.128"
	RetryAfterDate                             // HTTP-date of the time a sync is allowed again
)

// Counts is a snapshot of the emulator's request counters.
type Counts struct {
	Tokens          map[string]int // token requests by clientID (successful or not)
	SecretReads     map[string]int // authenticated GET of a secret, by name
	VaultChallenges int            // unauthenticated Key Vault requests answered 401 challenge
	// Graph counts Graph requests by "GET", "PATCH", "POST sync" (the settings) or method and
	// resource, ids as {id}, e.g. "GET windowsAutopilotDeviceIdentities": all answers, faults included.
	Graph           map[string]int
	GraphTokensSeen map[string]int // tenantID → Graph requests carrying a known token of that tenant
	// Requests counts every request each service received (Entra: discovery and token requests
	// and anything else; Key Vault: challenges and reads; Graph: every call), faults included.
	Requests map[Service]int
	// Devices counts the device requests of each tenant (lower-case id) that passed the token
	// and role checks (devices.go).
	Devices map[string]DeviceCounts
}

type app struct {
	App
	gen int // credential generation; bumped on rotation or replacement
}

type accessToken struct {
	tenant, client, resource string
	gen                      int
	roles                    []string
	expires                  time.Time // real time
}

type secretVersion struct {
	version, value, contentType string
	created                     time.Time
	disabled                    bool // SetSecretEnabled (tokens.go)
}

type tenantState struct {
	s       Settings
	outcome string
	devices []*deviceRec // devices.go
	imp     importState  // imports.go
}

// AddApp registers a, replacing any app with the same tenant and client ID.
// Replacing an app revokes the tokens issued to it before.
func (e *Emulator) AddApp(a App) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.addAppLocked(a)
}

func (e *Emulator) addAppLocked(a App) {
	if a.Roles == nil {
		a.Roles = []string{RoleReadWriteAll}
	}
	a.Roles = append([]string(nil), a.Roles...)
	k := appKey(a.TenantID, a.ClientID)
	gen := 0
	if old, ok := e.apps[k]; ok {
		gen = old.gen + 1
	}
	e.apps[k] = &app{App: a, gen: gen}
	if e.vaultTenant == "" {
		e.vaultTenant = a.TenantID
	}
}

// SetAppSecret rotates an app's client secret (registering the app if
// unknown). Tokens issued to the app before are revoked: Graph and Key Vault
// answer 401 to them.
func (e *Emulator) SetAppSecret(tenantID, clientID, secret string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.apps[appKey(tenantID, clientID)]
	if !ok {
		e.addAppLocked(App{TenantID: tenantID, ClientID: clientID, Secret: secret})
		return
	}
	a.Secret = secret
	a.gen++
}

// SetSecret stores a new version of a Key Vault secret.
func (e *Emulator) SetSecret(name, value, contentType string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setSecretLocked(name, value, contentType)
}

func (e *Emulator) setSecretLocked(name, value, contentType string) {
	e.secrets[name] = append(e.secrets[name], secretVersion{
		version: randHex(16), value: value, contentType: contentType, created: e.clock.Now(),
	})
}

// DeleteSecret deletes all versions of a Key Vault secret.
func (e *Emulator) DeleteSecret(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.secrets, name)
}

// Secret returns the latest version of a Key Vault secret.
func (e *Emulator) Secret(name string) (value, contentType string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	vs := e.secrets[name]
	if len(vs) == 0 {
		return "", "", false
	}
	v := vs[len(vs)-1]
	return v.value, v.contentType, true
}

// Settings returns a tenant's windowsAutopilotSettings, settled against the clock.
func (e *Emulator) Settings(tenantID string) Settings {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tenantLocked(tenantID).s
}

// SetSettings replaces a tenant's windowsAutopilotSettings. A SyncStatus of
// "inProgress" means a sync triggered at LastManualSyncTriggerDateTime.
func (e *Emulator) SetSettings(tenantID string, s Settings) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tenantLocked(tenantID).s = s
}

// SetSyncOutcome sets how syncs of a tenant end from now on, including one in
// progress: "completed" (the default) or "failed".
func (e *Emulator) SetSyncOutcome(tenantID, outcome string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tenantLocked(tenantID).outcome = outcome
}

// SetRetryAfterMode sets how the sync 429 carries Retry-After.
func (e *Emulator) SetRetryAfterMode(m RetryAfterMode) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.retryAfter = m
}

// SetPatchNoContent makes a successful PATCH answer 204 (true) instead of 200
// with the object (false, the default).
func (e *Emulator) SetPatchNoContent(b bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.patchNoContent = b
}

// Counts returns a snapshot of the request counters.
func (e *Emulator) Counts() Counts {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.counts
	c.Tokens = maps.Clone(c.Tokens)
	c.SecretReads = maps.Clone(c.SecretReads)
	c.Graph = maps.Clone(c.Graph)
	c.GraphTokensSeen = maps.Clone(c.GraphTokensSeen)
	c.Requests = maps.Clone(c.Requests)
	c.Devices = maps.Clone(c.Devices)
	return c
}

// ResetCounts sets all request counters to zero.
func (e *Emulator) ResetCounts() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts = newCounts()
}

func newCounts() Counts {
	return Counts{Tokens: map[string]int{}, SecretReads: map[string]int{}, Graph: map[string]int{}, GraphTokensSeen: map[string]int{}, Requests: map[Service]int{}, Devices: map[string]DeviceCounts{}}
}

func appKey(tenant, client string) string {
	return strings.ToLower(tenant) + "/" + strings.ToLower(client)
}
