package emulator_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
)

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fault      emulator.Fault
		giveUp     bool   // the client gives up once the request has reached the emulator
		wantStatus int    // 0: a transport error is expected
		wantCode   string // error.code of the answer
		wantBody   string // exact body, if set
		wantHeader [2]string
	}{
		{name: "503 default body", fault: emulator.Fault{Service: emulator.Graph, Status: 503}, wantStatus: 503, wantCode: "ServiceUnavailable"},
		{name: "429 with Retry-After", fault: emulator.Fault{Service: emulator.Graph, Method: "GET", Status: 429, Header: http.Header{"Retry-After": {"2.128"}}},
			wantStatus: 429, wantCode: "TooManyRequests", wantHeader: [2]string{"Retry-After", "2.128"}},
		{name: "malformed 200", fault: emulator.Fault{Service: emulator.Graph, Status: 200, Body: "{not json"}, wantStatus: 200, wantBody: "{not json"},
		{name: "path filter miss", fault: emulator.Fault{Service: emulator.Graph, PathContains: "/sync", Status: 500}, wantStatus: 200},
		{name: "other service", fault: emulator.Fault{Service: emulator.Vault, Status: 500}, wantStatus: 200},
		{name: "delay only", fault: emulator.Fault{Service: emulator.Graph, Delay: 50 * time.Millisecond}, wantStatus: 200},
		{name: "reset", fault: emulator.Fault{Service: emulator.Graph, Reset: true}},
		{name: "hang", fault: emulator.Fault{Service: emulator.Graph, Hang: true}, giveUp: true},
		{name: "delay beyond the client's patience", fault: emulator.Fault{Service: emulator.Graph, Delay: time.Hour, Status: 500}, giveUp: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _ := emutest.Start(t, emulator.Options{})
			tok := seededGraphToken(t, e)
			// Times: 1, except for Reset: Go's client transparently retries an
			// idempotent request once when a reused connection is reset.
			if !tc.fault.Reset {
				tc.fault.Times = 1
			}
			ctx, giveUp := context.WithCancel(t.Context())
			defer giveUp()
			var arrivals atomic.Int32
			tc.fault.Arrived = func() {
				arrivals.Add(1)
				if tc.giveUp {
					giveUp()
				}
			}
			remove := e.AddFault(tc.fault)
			begin := time.Now()
			a, err := graphTry(ctx, e.HTTPClient(), e, tok, http.MethodGet, settingsPath, "")
			elapsed := time.Since(begin)
			switch {
			case tc.giveUp:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("got %d %v, want the client's cancellation", a.status, err)
				}
			case tc.wantStatus == 0:
				if err == nil {
					t.Fatalf("got %d, want a transport error", a.status)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if a.status != tc.wantStatus || (tc.wantCode != "" && a.errorCode() != tc.wantCode) ||
					(tc.wantBody != "" && string(a.body) != tc.wantBody) ||
					(tc.wantHeader[0] != "" && a.header.Get(tc.wantHeader[0]) != tc.wantHeader[1]) {
					t.Fatalf("= %d %s %v", a.status, a.body, a.header)
				}
				if a.header.Get("request-id") == "" {
					t.Error("faulted answer lacks request-id")
				}
			}
			// A timer never fires early: the answer cannot come before the delay.
			if d := tc.fault.Delay; d > 0 && !tc.giveUp && elapsed < d {
				t.Errorf("answered after %v, want ≥ %v", elapsed, d)
			}
			if tc.fault.Reset {
				remove()
			}
			applies := tc.fault.Service == emulator.Graph && tc.fault.PathContains == ""
			if got := arrivals.Load(); (got > 0) != applies || (!tc.fault.Reset && got > 1) {
				t.Errorf("Arrived called %d times, want %s", got, map[bool]string{true: "once", false: "never"}[applies])
			}
			if applies {
				// Times: 1 — the next request is answered normally.
				if a := graph(t, e, tok, http.MethodGet, settingsPath, ""); a.status != 200 {
					t.Fatalf("second request = %d", a.status)
				}
				if got := e.Counts().Graph["GET"]; got < 2 {
					t.Errorf("Counts().Graph[GET] = %d, want 2", got)
				}
			}
		})
	}
}

func TestFaultRemoveAndEntraVault(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	remove := e.AddFault(emulator.Fault{Service: emulator.Entra, PathContains: "/token", Status: 503})
	cred := secretCred(t, e, env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"])
	if _, err := getToken(t.Context(), cred, "https://vault.azure.net/.default"); err == nil {
		t.Fatal("GetToken succeeded despite the fault")
	}
	remove()
	remove() // idempotent
	e.AddFault(emulator.Fault{Service: emulator.Vault, Status: 500})
	c := newSecretsClient(t, e, cred)
	if _, err := c.GetSecret(t.Context(), "graph-credential", "", nil); err == nil {
		t.Fatal("GetSecret succeeded despite the fault")
	}
	e.ClearFaults()
	if _, err := c.GetSecret(t.Context(), "graph-credential", "", nil); err != nil {
		t.Fatal(err)
	}
	if got := e.Counts().Tokens[emulator.SeedBootstrapClientID]; got < 2 {
		t.Errorf("faulted token requests not counted: %d", got)
	}
}

// TestHangEndsOnClose: a request that hangs or is held is aborted when the emulator closes, its
// handler ends (a handler that never returned would hold the test until go test's -timeout).
func TestHangEndsOnClose(t *testing.T) {
	t.Parallel()
	never := make(chan struct{}) // a Hold that is never released
	tests := []struct {
		name  string
		fault emulator.Fault
	}{
		{"hang", emulator.Fault{Service: emulator.Graph, Hang: true}},
		{"hold", emulator.Fault{Service: emulator.Graph, Hold: never}},
		{"delay", emulator.Fault{Service: emulator.Graph, Delay: time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _ := emutest.Start(t, emulator.Options{})
			arrived := make(chan struct{})
			tc.fault.Times = 1
			tc.fault.Arrived = func() { close(arrived) }
			e.AddFault(tc.fault)
			ended := make(chan any, 1)
			go func() {
				defer func() { ended <- recover() }()
				// The request's context never ends: only Close can end the hang.
				req := httptest.NewRequest(http.MethodGet, "https://127.0.0.1/beta"+settingsPath, nil)
				e.ServeHTTP(httptest.NewRecorder(), req)
			}()
			<-arrived
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if got := <-ended; got != http.ErrAbortHandler {
				t.Errorf("the handler ended with %v, want the panic http.ErrAbortHandler", got)
			}
		})
	}
}

// TestHoldUntilReleased: a held request is answered (by the rest of its fault, or normally) once
// released, and not before; other requests pass meanwhile.
func TestHoldUntilReleased(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		wantStatus int
	}{
		{"hold only", 0, http.StatusOK},
		{"hold then 503", http.StatusServiceUnavailable, http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _ := emutest.Start(t, emulator.Options{})
			tok := seededGraphToken(t, e)
			arrived, release := make(chan struct{}), make(chan struct{})
			e.AddFault(emulator.Fault{Service: emulator.Graph, Method: http.MethodGet, Times: 1,
				Arrived: func() { close(arrived) }, Hold: release, Status: tc.status})
			type result struct {
				a   graphAnswer
				err error
			}
			held := make(chan result, 1)
			go func() {
				a, err := graphTry(t.Context(), e.HTTPClient(), e, tok, http.MethodGet, settingsPath, "")
				held <- result{a, err}
			}()
			<-arrived
			// While one request is held, another one is served.
			if a := graph(t, e, tok, http.MethodPatch, settingsPath, `{}`); a.status != http.StatusOK {
				t.Fatalf("PATCH during the hold = %d %s", a.status, a.body)
			}
			select {
			case r := <-held:
				t.Fatalf("the held request was answered before its release: %d %v", r.a.status, r.err)
			default:
			}
			close(release)
			r := <-held
			if r.err != nil || r.a.status != tc.wantStatus {
				t.Fatalf("after release: %d %v, want %d", r.a.status, r.err, tc.wantStatus)
			}
		})
	}
}

func TestTLSAndCA(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := e.WriteCAFile(p); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !ca.IsCA || string(b) != string(e.CAPEM()) {
		t.Fatalf("CA file: %v", err)
	}
	if e.AuthorityHost() != e.URL() || e.VaultURL() != e.URL()+"/" || e.GraphBaseURL() != e.URL()+"/beta" {
		t.Error("URLs are inconsistent")
	}
	// The default client does not trust the emulator.
	_, err = http.Get(e.URL() + "/common/discovery/instance")
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Errorf("untrusted GET error = %v", err)
	}
	// A client with CertPool trusts it over localhost too.
	tr := &http.Transport{TLSClientConfig: nil}
	tr.TLSClientConfig = e.HTTPClient().Transport.(*http.Transport).TLSClientConfig.Clone()
	tr.TLSClientConfig.RootCAs = e.CertPool()
	defer tr.CloseIdleConnections()
	_, port, _ := cutLast(e.URL(), ":")
	resp, err := (&http.Client{Transport: tr}).Get("https://localhost:" + port + "/common/discovery/instance")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// HTTP/2 works, and so does Reset over it.
	h2 := &http.Transport{TLSClientConfig: tr.TLSClientConfig.Clone(), ForceAttemptHTTP2: true}
	defer h2.CloseIdleConnections()
	resp, err = (&http.Client{Transport: h2}).Get(e.URL() + "/common/discovery/instance")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol = %s, want HTTP/2", resp.Proto)
	}
	e.AddFault(emulator.Fault{Service: emulator.Graph, Reset: true})
	if resp, err := (&http.Client{Transport: h2}).Get(e.GraphBaseURL() + settingsPath); err == nil {
		resp.Body.Close()
		t.Errorf("Reset over HTTP/2 answered %d", resp.StatusCode)
	}
}

func cutLast(s, sep string) (string, string, bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

func TestManualClock(t *testing.T) {
	t.Parallel()
	c := emulator.NewManualClock(epoch)
	c.Advance(time.Minute)
	if !c.Now().Equal(epoch.Add(time.Minute)) {
		t.Fatal("Advance")
	}
	c.Set(epoch)
	if !c.Now().Equal(epoch) {
		t.Fatal("Set")
	}
}
