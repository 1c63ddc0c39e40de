package emulator_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// echoServer accepts connections on loopback and writes every line it reads back, upper-cased;
// it half-closes its side when the client does. It is closed when the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := io.WriteString(c, strings.ToUpper(sc.Text())+"\n"); err != nil {
						return
					}
				}
				_ = c.(*net.TCPConn).CloseWrite()
			})
		}
	})
	return ln.Addr().String()
}

func startLink(t *testing.T, target string, o emulator.LinkOptions) *emulator.Link {
	t.Helper()
	l, err := emulator.StartLink(target, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes line and reads the echoed line.
func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) string {
	t.Helper()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	got, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(got, "\n")
}

func TestLinkForwardsBothWaysAndHalfCloses(t *testing.T) {
	t.Parallel()
	l := startLink(t, echoServer(t), emulator.LinkOptions{})
	c := dial(t, l.Addr())
	r := bufio.NewReader(c)
	for _, line := range []string{"hello", "second line"} {
		if got, want := roundTrip(t, c, r, line), strings.ToUpper(line); got != want {
			t.Errorf("echo of %q: got %q, want %q", line, got, want)
		}
	}
	_ = c.(*net.TCPConn).CloseWrite()
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		t.Errorf("after the client's FIN: got %q, %v; want the server's FIN (EOF) and nothing else", rest, err)
	}
	if got := l.Accepted(); got != 1 {
		t.Errorf("Accepted: got %d, want 1", got)
	}
}

// recordingClock is a clock that never moves, whose After records each wait and is ready at once.
type recordingClock struct {
	t     time.Time
	mu    sync.Mutex
	waits []time.Duration
}

func (c *recordingClock) now() time.Time { return c.t }

func (c *recordingClock) after(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- c.t
	return ch
}

func (c *recordingClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

func TestLinkDelays(t *testing.T) {
	t.Parallel()
	const rtt = 20 * time.Millisecond
	clock := &recordingClock{t: time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)}
	l := startLink(t, echoServer(t), emulator.LinkOptions{RTT: rtt, Now: clock.now, After: clock.after})
	c := dial(t, l.Addr())
	r := bufio.NewReader(c)
	roundTrip(t, c, r, "first")
	// The first chunk from the client waits for the connect (1 RTT) and its own half; the answer half.
	if got, want := clock.recorded(), []time.Duration{rtt + rtt/2, rtt / 2}; !slices.Equal(got, want) {
		t.Errorf("waits of the first exchange: got %v, want %v", got, want)
	}
	l.SetRTT(2 * rtt)
	roundTrip(t, c, r, "second")
	// The clock has not moved: the connect still lies 1 (new) RTT after the accept.
	if got, want := clock.recorded()[2:], []time.Duration{2*rtt + rtt, rtt}; !slices.Equal(got, want) {
		t.Errorf("waits after SetRTT(2×RTT): got %v, want %v", got, want)
	}
}

func TestLinkCloseFlows(t *testing.T) {
	t.Parallel()
	l := startLink(t, echoServer(t), emulator.LinkOptions{})
	c := dial(t, l.Addr())
	r := bufio.NewReader(c)
	roundTrip(t, c, r, "warm")
	if got := l.CloseFlows(); got != 1 {
		t.Errorf("CloseFlows: got %d, want 1", got)
	}
	if _, err := r.ReadByte(); err == nil {
		t.Error("read after CloseFlows succeeded; want EOF or a reset")
	}
	// A new connection works.
	c2 := dial(t, l.Addr())
	if got := roundTrip(t, c2, bufio.NewReader(c2), "again"); got != "AGAIN" {
		t.Errorf("new connection: got %q, want AGAIN", got)
	}
}

func TestLinkBlackholeSwallowsWithoutFINOrRST(t *testing.T) {
	t.Parallel()
	l := startLink(t, echoServer(t), emulator.LinkOptions{})
	c := dial(t, l.Addr())
	r := bufio.NewReader(c)
	roundTrip(t, c, r, "warm")
	gone := l.Blackhole()
	if _, err := io.WriteString(c, "lost\n"); err != nil {
		t.Fatalf("write to a blackholed flow: %v (want it accepted, as a forgotten NAT flow does)", err)
	}
	// Nothing comes back, not even a FIN: a read waits until its deadline.
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if b, err := r.ReadByte(); !isTimeout(err) {
		t.Errorf("read from a blackholed flow: got %q, %v; want a timeout", b, err)
	}
	select {
	case <-gone:
		t.Fatal("Blackhole reported the client gone while it was still connected")
	default:
	}
	_ = c.Close()
	<-gone // the client's close is seen, though never passed on
	// A new flow is not blackholed.
	c2 := dial(t, l.Addr())
	if got := roundTrip(t, c2, bufio.NewReader(c2), "fresh"); got != "FRESH" {
		t.Errorf("new connection after Blackhole: got %q, want FRESH", got)
	}
	if l.Swallowed() == 0 {
		t.Error("Swallowed: got 0, want the bytes written to the blackholed flow")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestLinkInFrontOfTheEmulator checks that TLS and HTTP work through a link to the emulator
// (the certificate names 127.0.0.1, whatever the port), and that the emulator counts requests
// per service.
func TestLinkInFrontOfTheEmulator(t *testing.T) {
	t.Parallel()
	e, err := emulator.Start(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	e.Seed()
	l := startLink(t, e.URL(), emulator.LinkOptions{RTT: time.Millisecond})
	client := e.HTTPClient()
	base := "https://" + l.Addr()
	for _, path := range []string{"/" + emulator.SeedTenantID + "/v2.0/.well-known/openid-configuration", "/secrets/x/?api-version=2026-04-01", "/beta/deviceManagement/windowsAutopilotSettings"} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, base+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s through the link: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	got := e.Counts().Requests
	for _, svc := range []emulator.Service{emulator.Entra, emulator.Vault, emulator.Graph} {
		if got[svc] != 1 {
			t.Errorf("Requests[%s]: got %d, want 1 (all: %v)", svc, got[svc], got)
		}
	}
	if l.Accepted() != 1 {
		t.Errorf("Accepted: got %d, want 1 (one keep-alive connection)", l.Accepted())
	}
}
