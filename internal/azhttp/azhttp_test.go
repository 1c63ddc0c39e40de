package azhttp

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// setup starts a seeded emulator behind a Link and returns a Transport trusting the emulator,
// the link and the base URL that reaches the emulator through it.
func setup(t *testing.T, o Options) (*Transport, *emulator.Emulator, *emulator.Link, string) {
	t.Helper()
	e, err := emulator.Start(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	e.Seed()
	l, err := emulator.StartLink(e.URL(), emulator.LinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	o.RootCAs = e.CertPool()
	tr := New(o)
	t.Cleanup(tr.CloseIdleConnections)
	return tr, e, l, "https://" + l.Addr()
}

// get sends GET base+the Graph settings path through tr and returns the answer's status and
// protocol.
func get(t *testing.T, tr *Transport, base string) (status int, proto string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/beta/deviceManagement/windowsAutopilotSettings", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.Do(req)
	if err != nil {
		t.Fatalf("GET through the transport: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Proto
}

// waitPreconnected waits until Preconnect's dial to base has ended and reports whether it
// produced a connection.
func waitPreconnected(t *testing.T, tr *Transport, base string) bool {
	t.Helper()
	u, _ := url.Parse(base)
	tr.mu.Lock()
	e := tr.early[canonicalAddr(u)]
	tr.mu.Unlock()
	if e == nil {
		t.Fatalf("no preconnected connection to %s", base)
	}
	<-e.ready
	return e.conn != nil
}

func TestPreconnectOpensOneConnectionTheFirstRequestTakes(t *testing.T) {
	t.Parallel()
	tr, e, l, base := setup(t, Options{})
	tr.Preconnect(base, base+"/other/path") // one host: one connection
	if !waitPreconnected(t, tr, base) {
		t.Fatal("the preconnect dial failed")
	}
	if got := l.Accepted(); got != 1 {
		t.Errorf("connections after Preconnect: got %d, want 1", got)
	}
	if got := e.Counts().Requests; len(got) != 0 {
		t.Errorf("requests after Preconnect: got %v, want none (it only dials)", got)
	}
	status, proto := get(t, tr, base)
	if status != http.StatusUnauthorized || proto != "HTTP/2.0" {
		t.Errorf("answer: got %d over %s, want 401 (no token) over HTTP/2.0", status, proto)
	}
	get(t, tr, base)
	if got := l.Accepted(); got != 1 {
		t.Errorf("connections after two requests: got %d, want 1 (the preconnected one, reused)", got)
	}
	if got := e.Counts().Requests[emulator.Graph]; got != 2 {
		t.Errorf("Graph requests: got %d, want 2", got)
	}
	tr.Preconnect(base) // asked again: the host has had its connection
	if got := len(tr.early); got != 0 {
		t.Errorf("connections waiting after a second Preconnect: got %d, want 0", got)
	}
}

func TestPreconnectedConnectionOlderThanTheIdleTimeoutIsNotUsed(t *testing.T) {
	t.Parallel()
	tr, _, l, base := setup(t, Options{})
	tr.Preconnect(base)
	if !waitPreconnected(t, tr, base) {
		t.Fatal("the preconnect dial failed")
	}
	// As after a thaw: the wall clock says the connection has waited longer than the idle
	// timeout, though no timer has run.
	u, _ := url.Parse(base)
	tr.mu.Lock()
	tr.early[canonicalAddr(u)].opened = time.Now().Add(-IdleConnTimeout - time.Second)
	tr.mu.Unlock()
	if status, _ := get(t, tr, base); status != http.StatusUnauthorized {
		t.Errorf("answer: got %d, want 401", status)
	}
	if got := l.Accepted(); got != 2 {
		t.Errorf("connections: got %d, want 2 (the stale one discarded, a new one dialled)", got)
	}
}

func TestPreconnectSkipsWhatItCannotDialDirectly(t *testing.T) {
	t.Parallel()
	tr, _, l, base := setup(t, Options{})
	proxy, _ := url.Parse("http://127.0.0.1:9")
	tr.tr.Proxy = func(*http.Request) (*url.URL, error) { return proxy, nil }
	tr.Preconnect(base, "http://"+l.Addr(), "::not a url", "")
	if got := len(tr.early); got != 0 {
		t.Errorf("connections opened: got %d, want 0 (proxied, plain http, unparsable)", got)
	}
}

func TestIdleConnTimeoutIsNeverMoreThan90s(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		tr   *Transport
		want time.Duration
	}{
		{"Default", Default(), 90 * time.Second},
		{"zero", New(Options{}), 90 * time.Second},
		{"longer asked", New(Options{IdleConnTimeout: time.Hour}), 90 * time.Second},
		{"shorter asked", New(Options{IdleConnTimeout: time.Second}), time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tr.IdleConnTimeout(); got != tc.want {
				t.Errorf("IdleConnTimeout: got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestThawedConnections: the first request after the pooled connection was closed by the
// network, or silently dropped for longer than the idle timeout, succeeds on a new connection,
// with one request reaching the server. (The idle timeout is shortened here; that a Lambda freeze
// stops timers is covered by the wall-clock check above and by the benchmark's SIGSTOP runs.)
func TestThawedConnections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault func(*testing.T, *emulator.Link)
	}{
		{"closed", func(t *testing.T, l *emulator.Link) {
			if n := l.CloseFlows(); n != 1 {
				t.Fatalf("CloseFlows: got %d flows, want 1", n)
			}
		}},
		{"silently dropped beyond the idle timeout", func(t *testing.T, l *emulator.Link) {
			<-l.Blackhole() // the transport gives the connection up after its idle timeout
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr, e, l, base := setup(t, Options{IdleConnTimeout: 200 * time.Millisecond})
			if status, _ := get(t, tr, base); status != http.StatusUnauthorized {
				t.Fatalf("warm-up: got %d, want 401", status)
			}
			tc.fault(t, l)
			if status, _ := get(t, tr, base); status != http.StatusUnauthorized {
				t.Errorf("after the fault: got %d, want 401", status)
			}
			if got := l.Accepted(); got != 2 {
				t.Errorf("connections: got %d, want 2", got)
			}
			if got := e.Counts().Requests[emulator.Graph]; got != 2 {
				t.Errorf("Graph requests: got %d, want 2 (no retry storm)", got)
			}
		})
	}
}
