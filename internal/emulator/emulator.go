package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// IDs used by Seed. They are fixed and obviously fake.
const (
	SeedTenantID              = "00000000-0000-4000-8000-000000000001"
	SeedBootstrapClientID     = "00000000-0000-4000-8000-0000000000b0"
	SeedGraphClientID         = "00000000-0000-4000-8000-0000000000a0"
	SeedGraphCredentialSecret = "graph-credential" // Key Vault secret name holding the Graph app's client secret
)

// Graph application roles understood by the emulator.
const (
	RoleReadAll      = "DeviceManagementServiceConfig.Read.All"
	RoleReadWriteAll = "DeviceManagementServiceConfig.ReadWrite.All"
)

const (
	maxBody         = 1 << 20
	defaultSyncDur  = 90 * time.Second
	defaultTokenTTL = time.Hour
	syncCooldown    = 10 * time.Minute
)

// Options configures Start.
type Options struct {
	Addr         string        // listen address; default "127.0.0.1:0"
	Clock        Clock         // nil: real time
	SyncDuration time.Duration // how long a sync stays inProgress, on Clock; default 90s
	// TokenLifetime is the lifetime of issued access tokens, in real time
	// (the SDKs cache tokens on the real clock); default 1h. MSAL does not
	// cache tokens that expire within 5 minutes.
	TokenLifetime time.Duration
}

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

// Service names one of the emulated services, for faults.
type Service string

// The emulated services.
const (
	Entra Service = "entra"
	Vault Service = "vault"
	Graph Service = "graph"
)

// Fault alters how the emulator answers matching requests. Faults are
// evaluated in the order added, before anything else (requests are still
// counted); the first match applies.
type Fault struct {
	Service      Service
	Method       string        // "" any
	PathContains string        // "" any
	Status       int           // 0: no status fault (e.g. only Delay)
	Header       http.Header   // extra headers (e.g. Retry-After)
	Body         string        // raw body; "" => a realistic error body for that service and status
	Delay        time.Duration // real-time delay before answering (honours the request's context)
	Hang         bool          // never answer until the client goes away or the emulator closes
	Reset        bool          // close the connection without answering
	Times        int           // how many requests it applies to; 0 = until removed
}

// Counts is a snapshot of the emulator's request counters.
type Counts struct {
	Tokens          map[string]int // token requests by clientID (successful or not)
	SecretReads     map[string]int // authenticated GET of a secret, by name
	VaultChallenges int            // unauthenticated Key Vault requests answered 401 challenge
	Graph           map[string]int // "GET", "PATCH", "POST sync", ... → count (all answers, faults included)
	GraphTokensSeen map[string]int // tenantID → Graph requests carrying a known token of that tenant
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
}

type tenantState struct {
	s       Settings
	outcome string
}

type fault struct{ Fault }

// Emulator is a running emulator. Its methods are safe for concurrent use.
type Emulator struct {
	url      string
	clock    Clock
	syncDur  time.Duration
	tokenTTL time.Duration
	caPEM    []byte
	pool     *x509.CertPool
	tr       *http.Transport
	srv      *http.Server
	closing  chan struct{}
	closeOne sync.Once
	seedEnv  map[string]string // secrets generated at Start, registered by Seed

	mu             sync.Mutex
	apps           map[string]*app // key: appKey(tenant, client)
	tokens         map[string]*accessToken
	vaultTenant    string
	secrets        map[string][]secretVersion
	tenants        map[string]*tenantState
	retryAfter     RetryAfterMode
	patchNoContent bool
	faults         []*fault
	counts         Counts
	seeded         bool
	tenantClouds   map[string]string // lower-case tenant id → cloud (SetTenantCloud, clouds.go)
}

// Start starts an emulator listening on opts.Addr.
func Start(opts Options) (*Emulator, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.SyncDuration <= 0 {
		opts.SyncDuration = defaultSyncDur
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = defaultTokenTTL
	}
	caPEM, pool, leaf, err := newCerts()
	if err != nil {
		return nil, fmt.Errorf("emulator: certificates: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen: %w", err)
	}
	e := &Emulator{
		url:      "https://" + ln.Addr().String(),
		clock:    opts.Clock,
		syncDur:  opts.SyncDuration,
		tokenTTL: opts.TokenLifetime,
		caPEM:    caPEM,
		pool:     pool,
		closing:  make(chan struct{}),
		apps:     map[string]*app{},
		tokens:   map[string]*accessToken{},
		secrets:  map[string][]secretVersion{},
		tenants:  map[string]*tenantState{},
	}
	e.counts = newCounts()
	e.seedEnv = map[string]string{
		"AZURE_TENANT_ID":              SeedTenantID,
		"AZURE_CLIENT_ID":              SeedBootstrapClientID,
		"AZURE_CLIENT_SECRET":          "emu-bootstrap-" + randHex(16),
		"AZURE_AUTHORITY_HOST":         e.AuthorityHost(),
		"KEY_VAULT_URL":                e.VaultURL(),
		"GRAPH_CLIENT_ID":              SeedGraphClientID,
		"GRAPH_BASE_URL":               e.GraphBaseURL(),
		"GRAPH_CREDENTIAL_SECRET_NAME": SeedGraphCredentialSecret,
	}
	e.tr = &http.Transport{
		Proxy:               nil,
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	e.srv = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12},
	}
	go func() { _ = e.srv.ServeTLS(ln, "", "") }()
	return e, nil
}

// Close stops the emulator: hanging and delayed requests are aborted and all
// connections closed.
func (e *Emulator) Close() error {
	var err error
	e.closeOne.Do(func() {
		close(e.closing)
		err = e.srv.Close()
		e.tr.CloseIdleConnections()
	})
	return err
}

// URL returns the emulator's root URL, "https://127.0.0.1:PORT".
func (e *Emulator) URL() string { return e.url }

// AuthorityHost returns the Entra authority host (AZURE_AUTHORITY_HOST); it equals URL.
func (e *Emulator) AuthorityHost() string { return e.url }

// VaultURL returns the Key Vault root URL, URL()+"/".
func (e *Emulator) VaultURL() string { return e.url + "/" }

// GraphBaseURL returns the Graph root, URL()+"/beta".
func (e *Emulator) GraphBaseURL() string { return e.url + "/beta" }

// CAPEM returns the PEM of the CA certificate that issued the server certificate.
func (e *Emulator) CAPEM() []byte { return append([]byte(nil), e.caPEM...) }

// CertPool returns a pool holding only the emulator's CA.
func (e *Emulator) CertPool() *x509.CertPool { return e.pool.Clone() }

// HTTPClient returns a new client that trusts only the emulator's CA. All
// clients share one keep-alive transport; callers may set Timeout freely.
func (e *Emulator) HTTPClient() *http.Client { return &http.Client{Transport: e.tr} }

// WriteCAFile writes the CA certificate PEM to path, for SSL_CERT_FILE of subprocesses.
func (e *Emulator) WriteCAFile(path string) error { return os.WriteFile(path, e.caPEM, 0o644) }

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
	ts := e.tenantLocked(tenantID)
	ts.outcome = outcome
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

// AddFault adds a fault and returns a function that removes it.
func (e *Emulator) AddFault(f Fault) (remove func()) {
	p := &fault{f}
	p.Header = f.Header.Clone()
	e.mu.Lock()
	e.faults = append(e.faults, p)
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.removeFaultLocked(p)
	}
}

// ClearFaults removes all faults.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

func (e *Emulator) removeFaultLocked(p *fault) {
	for i, f := range e.faults {
		if f == p {
			e.faults = append(e.faults[:i:i], e.faults[i+1:]...)
			return
		}
	}
}

// matchFault returns a copy of the first fault matching r, consuming one of its Times.
func (e *Emulator) matchFault(svc Service, r *http.Request) (Fault, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range e.faults {
		if f.Service != svc || (f.Method != "" && !strings.EqualFold(f.Method, r.Method)) ||
			(f.PathContains != "" && !strings.Contains(r.URL.Path, f.PathContains)) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				e.removeFaultLocked(f)
			}
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// Counts returns a snapshot of the request counters.
func (e *Emulator) Counts() Counts {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.counts
	c.Tokens = copyMap(c.Tokens)
	c.SecretReads = copyMap(c.SecretReads)
	c.Graph = copyMap(c.Graph)
	c.GraphTokensSeen = copyMap(c.GraphTokensSeen)
	return c
}

// ResetCounts sets all request counters to zero.
func (e *Emulator) ResetCounts() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts = newCounts()
}

// Seed registers a ready-to-use single-tenant setup: a bootstrap app that
// reads Key Vault and a Graph app whose client secret is stored in the vault
// under SeedGraphCredentialSecret. Secrets are random per Start. It returns
// the environment a function needs (AZURE_TENANT_ID, AZURE_CLIENT_ID,
// AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST, KEY_VAULT_URL, GRAPH_CLIENT_ID,
// GRAPH_BASE_URL, GRAPH_CREDENTIAL_SECRET_NAME). Calling it again only returns
// the environment.
func (e *Emulator) Seed() map[string]string {
	e.mu.Lock()
	if !e.seeded {
		e.seeded = true
		e.vaultTenant = SeedTenantID
		e.addAppLocked(App{TenantID: SeedTenantID, ClientID: SeedBootstrapClientID, Secret: e.seedEnv["AZURE_CLIENT_SECRET"], Roles: []string{}})
		gs := "emu-graph-" + randHex(16)
		e.addAppLocked(App{TenantID: SeedTenantID, ClientID: SeedGraphClientID, Secret: gs})
		e.mu.Unlock()
		e.SetSecret(SeedGraphCredentialSecret, gs, "")
	} else {
		e.mu.Unlock()
	}
	return copyMap(e.seedEnv)
}

// ServeHTTP routes a request to the emulated service its path belongs to.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	p := r.URL.Path
	switch {
	case p == "/secrets" || strings.HasPrefix(p, "/secrets/"):
		e.serveVault(w, r)
	case p == "/beta" || strings.HasPrefix(p, "/beta/"):
		e.serveGraph(w, r)
	default:
		e.serveEntra(w, r)
	}
}

// applyFault performs f's delay, hang or reset. It reports whether the
// request has been fully handled (answered or aborted); when it returns false
// and f.Status is 0 the caller answers normally.
func (e *Emulator) applyFault(w http.ResponseWriter, r *http.Request, f Fault, errBody func(status int) []byte) bool {
	if f.Hang || (f.Delay > 0 && f.Status != 0) {
		// The body will not be used: consume it so that the server notices
		// when the client goes away.
		_, _ = io.Copy(io.Discard, r.Body)
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		case <-e.closing:
			panic(http.ErrAbortHandler)
		}
	}
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-e.closing:
		}
		panic(http.ErrAbortHandler)
	}
	if f.Reset {
		resetConn(w)
	}
	if f.Status == 0 {
		return false
	}
	if f.Status < 100 || f.Status > 999 {
		f.Status = http.StatusInternalServerError // WriteHeader would panic
	}
	for k, vs := range f.Header {
		w.Header()[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	body := []byte(f.Body)
	if f.Body == "" && f.Status >= 400 {
		body = errBody(f.Status)
	}
	if len(body) > 0 && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(f.Status)
	_, _ = w.Write(body)
	return true
}

// resetConn closes the client connection without answering. With HTTP/1.1 it
// hijacks the connection and closes it with a TCP RST; otherwise (HTTP/2) it
// aborts the stream.
func resetConn(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			if tc, ok := c.(*tls.Conn); ok {
				if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
					_ = tcp.SetLinger(0)
					_ = tcp.Close()
					panic(http.ErrAbortHandler)
				}
			}
			_ = c.Close()
			panic(http.ErrAbortHandler)
		}
	}
	panic(http.ErrAbortHandler)
}

func newCounts() Counts {
	return Counts{Tokens: map[string]int{}, SecretReads: map[string]int{}, Graph: map[string]int{}, GraphTokensSeen: map[string]int{}}
}

func appKey(tenant, client string) string {
	return strings.ToLower(tenant) + "/" + strings.ToLower(client)
}

func copyMap[V any](m map[string]V) map[string]V {
	c := make(map[string]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "emulator: encoding failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// newCerts creates an in-memory CA and a server certificate for 127.0.0.1, ::1, localhost and
// the Entra and Graph hosts of every cloud (test CA only).
func newCerts() (caPEM []byte, pool *x509.CertPool, leaf tls.Certificate, err error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, leaf, err
	}
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
		return n
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "autopilot-sync emulator CA", Organization: []string{"autopilot-sync test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, leaf, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, leaf, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, leaf, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     append([]string{"localhost"}, cloudHostNames()...), // national clouds: clouds.go
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, leaf, err
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	leaf = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), pool, leaf, nil
}
