// Package fakests is a loopback fake of AWS STS GetWebIdentityToken (AWS IAM outbound identity
// federation) and of the OIDC issuer of the tokens it signs: the discovery document and JWKS at
// its root URL, as Entra fetches them to check a federated client assertion. Tests point
// AWS_ENDPOINT_URL_STS at it, and register FederatedCredential with the Microsoft emulator.
//
// It serves HTTPS on loopback only, with a certificate from a CA of its own generated at Start
// (trust it through HTTPClient or CAPEM). It checks that requests are SigV4-signed but not the
// signature itself; faults (AWS Query errors) can be injected. It never contacts the network
// beyond its own listener, never persists anything, never logs tokens, and must never be
// imported by production Lambda code.
package fakests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/internal/testca"
)

// DefaultRoleARN is the default role of a fake STS: the sub of the tokens it issues.
const DefaultRoleARN = "arn:aws:iam::123456789012:role/autopilot-sync-fake"

// Options configures Start.
type Options struct {
	Addr    string // listen address; default "127.0.0.1:0"
	RoleARN string // the caller's role, sub of the tokens; default DefaultRoleARN
}

// Fault makes the fake answer GetWebIdentityToken with an AWS Query error.
type Fault struct {
	Status  int    // HTTP status
	Code    string // AWS error code
	Message string
	Times   int // how many requests it applies to; 0 = until removed
}

// Faults of the fake, as real STS answers them.
var (
	AccessDenied = Fault{Status: http.StatusForbidden, Code: "AccessDenied",
		Message: "User: arn:aws:sts::123456789012:assumed-role/autopilot-sync-fake/autopilot-sync is not authorized to perform: sts:GetWebIdentityToken because no identity-based policy allows the sts:GetWebIdentityToken action"}
	FederationDisabled = Fault{Status: http.StatusForbidden, Code: "OutboundWebIdentityFederationDisabledException",
		Message: "Outbound web identity federation is disabled for this account."}
	Throttling = Fault{Status: http.StatusBadRequest, Code: "Throttling", Message: "Rate exceeded"}
)

// Request is what a GetWebIdentityToken request asked for, as the fake saw it.
type Request struct {
	Audience         []string
	SigningAlgorithm string
	DurationSeconds  int
	// From the SigV4 Authorization header: the access key and the region of the signature.
	AccessKeyID, Region string
	SessionToken        bool // X-Amz-Security-Token was sent
}

// STS is a running fake. Its methods are safe for concurrent use.
type STS struct {
	url     string
	roleARN string
	ca      *testca.CA
	srv     *http.Server
	rsaKey  *rsa.PrivateKey
	ecKey   *ecdsa.PrivateKey

	mu       sync.Mutex
	calls    int
	requests []Request
	faults   []*Fault
	issued   []string
}

// Start starts a fake STS with its own CA, serving HTTPS on o.Addr. It fails when the address
// cannot be listened on or the keys cannot be made.
func Start(o Options) (*STS, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.RoleARN == "" {
		o.RoleARN = DefaultRoleARN
	}
	ca, err := testca.New("autopilot-sync fake STS CA")
	if err != nil {
		return nil, fmt.Errorf("fake sts: certificates: %w", err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("fake sts: RSA key: %w", err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fake sts: EC key: %w", err)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("fake sts: listen: %w", err)
	}
	s := &STS{url: "https://" + ln.Addr().String(), roleARN: o.RoleARN, ca: ca, rsaKey: rsaKey, ecKey: ecKey}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		TLSConfig:         ca.ServerConfig(),
	}
	go func() { _ = s.srv.ServeTLS(ln, "", "") }()
	return s, nil
}

// Close stops the fake and closes its connections; it returns the error of closing the listener.
func (s *STS) Close() error { return s.srv.Close() }

// URL returns the endpoint (for AWS_ENDPOINT_URL_STS), "https://127.0.0.1:PORT". It is also the
// issuer of the tokens.
func (s *STS) URL() string { return s.url }

// RoleARN returns the sub of the tokens.
func (s *STS) RoleARN() string { return s.roleARN }

// CAPEM returns the PEM of the CA of the fake's server certificate.
func (s *STS) CAPEM() []byte { return append([]byte(nil), s.ca.PEM...) }

// HTTPClient returns a new client that trusts only the fake's CA.
func (s *STS) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: s.ca.ClientConfig()}}
}

// FederatedCredential returns the federated identity credential that trusts this fake's tokens
// for audience: its issuer, its role as subject, keys fetched over HTTPS as Entra does.
func (s *STS) FederatedCredential(audience string) emulator.FederatedCredential {
	return emulator.FederatedCredential{Issuer: s.url, Subject: s.roleARN, Audience: audience, HTTPClient: s.HTTPClient()}
}

// Calls returns how many GetWebIdentityToken requests the fake received, failed ones included.
func (s *STS) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Requests returns the GetWebIdentityToken requests received, in order.
func (s *STS) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// IssuedTokens returns every token the fake has issued, for leak checks.
func (s *STS) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// Token returns a token for audience signed with alg ("RS256" or "ES384") as GetWebIdentityToken
// signs it, valid from now for lifetime, without a request: for tests of a verifier. It is kept
// in IssuedTokens, not counted in Calls or Requests. It fails on another alg.
func (s *STS) Token(audience, alg string, lifetime time.Duration) (string, error) {
	now := time.Now()
	tok, err := s.sign(Request{Audience: []string{audience}, SigningAlgorithm: alg}, now, now.Add(lifetime))
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.issued = append(s.issued, tok)
	s.mu.Unlock()
	return tok, nil
}

// Fail makes GetWebIdentityToken answer f (before any fault added earlier) and returns a
// function that removes it.
func (s *STS) Fail(f Fault) (remove func()) {
	p := &f
	s.mu.Lock()
	s.faults = append([]*Fault{p}, s.faults...)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.removeFaultLocked(p)
	}
}

func (s *STS) removeFaultLocked(p *Fault) {
	for i, f := range s.faults {
		if f == p {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			return
		}
	}
}

// nextFaultLocked returns a copy of the fault that applies to the next request, if any, consuming one
// of its Times. s.mu must be held.
func (s *STS) nextFaultLocked() (Fault, bool) {
	if len(s.faults) == 0 {
		return Fault{}, false
	}
	f := s.faults[0]
	if f.Times > 0 {
		if f.Times--; f.Times == 0 {
			s.removeFaultLocked(f)
		}
	}
	return *f, true
}
