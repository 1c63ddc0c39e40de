package emulator

// The running emulator: its options, its state, how it starts and stops, where it listens and how
// a request is routed to the service it belongs to. State and its setters are in state.go, Seed
// in seed.go, faults in faults.go, the services in entra.go, federation.go, vault.go and graph.go.

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator/internal/testca"
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
	// DevicePageSize is the most device identities a page of windowsAutopilotDeviceIdentities
	// holds (a smaller $top wins); default 1000. Tests set a small one to see paging.
	DevicePageSize int
	// Devices seeds Windows Autopilot devices per tenant id, as AddDevice does (devices.go).
	Devices map[string][]Device
	// ProfileAssignmentDelay is how long after a device pending registration appears its profile
	// assignment ends, unless scripted (registration.go); default 3 minutes, on Clock.
	ProfileAssignmentDelay time.Duration
	// ImportDuration is how long an import of a device takes, unless scripted (imports.go);
	// default 2 minutes, on Clock.
	ImportDuration time.Duration
}

// Emulator is a running emulator. Its methods are safe for concurrent use.
type Emulator struct {
	url      string
	clock    Clock
	syncDur  time.Duration
	tokenTTL time.Duration
	ca       *testca.CA
	tr       *http.Transport
	srv      *http.Server
	closing  chan struct{}
	closeOne sync.Once
	seedEnv  map[string]string // secrets generated at Start, registered by Seed (seed.go)

	mu             sync.Mutex
	apps           map[string]*app // key: appKey(tenant, client)
	federated      map[string][]FederatedCredential
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
	dev            deviceOptions     // devices.go
	importSeq      int               // imports so far, to order those that end together (imports.go)
}

// Start starts an emulator listening on opts.Addr. It fails when the address cannot be listened
// on or the certificates cannot be made.
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
	// The certificate also names the Entra and Graph hosts of every cloud (clouds.go).
	ca, err := testca.New("autopilot-sync emulator CA", cloudHostNames()...)
	if err != nil {
		return nil, fmt.Errorf("emulator: certificates: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen: %w", err)
	}
	e := &Emulator{
		url:       "https://" + ln.Addr().String(),
		clock:     opts.Clock,
		syncDur:   opts.SyncDuration,
		tokenTTL:  opts.TokenLifetime,
		ca:        ca,
		closing:   make(chan struct{}),
		apps:      map[string]*app{},
		federated: map[string][]FederatedCredential{},
		tokens:    map[string]*accessToken{},
		secrets:   map[string][]secretVersion{},
		tenants:   map[string]*tenantState{},
		counts:    newCounts(),
	}
	e.seedEnv = newSeedEnv(e)
	e.startDevices(opts)
	e.tr = &http.Transport{
		Proxy:               nil,
		TLSClientConfig:     ca.ClientConfig(),
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	e.srv = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		TLSConfig:         ca.ServerConfig(),
	}
	go func() { _ = e.srv.ServeTLS(ln, "", "") }()
	return e, nil
}

// Close stops the emulator: hanging, held and delayed requests are aborted and all connections
// closed. It may be called more than once; it returns the error of closing the listener.
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
func (e *Emulator) CAPEM() []byte { return append([]byte(nil), e.ca.PEM...) }

// CertPool returns a pool holding only the emulator's CA.
func (e *Emulator) CertPool() *x509.CertPool { return e.ca.Pool.Clone() }

// HTTPClient returns a new client that trusts only the emulator's CA. All
// clients share one keep-alive transport; callers may set Timeout freely.
func (e *Emulator) HTTPClient() *http.Client { return &http.Client{Transport: e.tr} }

// WriteCAFile writes the CA certificate PEM to path, for SSL_CERT_FILE of subprocesses. It
// returns the error of writing the file.
func (e *Emulator) WriteCAFile(path string) error { return os.WriteFile(path, e.ca.PEM, 0o644) }

// ServeHTTP routes a request to the emulated service its path belongs to.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	p := r.URL.Path
	svc := Entra
	switch {
	case p == "/secrets" || strings.HasPrefix(p, "/secrets/"):
		svc = Vault
	case p == "/beta" || strings.HasPrefix(p, "/beta/"):
		svc = Graph
	}
	e.mu.Lock()
	e.counts.Requests[svc]++
	e.mu.Unlock()
	switch svc {
	case Vault:
		e.serveVault(w, r)
	case Graph:
		e.serveGraph(w, r)
	default:
		e.serveEntra(w, r)
	}
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
