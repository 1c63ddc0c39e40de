package outbound

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// secretPath stands for the secret part of a response_url or callback URL: no error may show it.
const secretPath = "/commands/T0/B0/s3cr3t-path"

// receiver is a TLS server on loopback that counts the requests it gets.
type receiver struct {
	srv  *httptest.Server
	hits atomic.Int64
	last atomic.Pointer[http.Request]
	body atomic.Pointer[[]byte]
}

// newReceiver starts a TLS receiver that answers with handler after counting the request.
func newReceiver(t *testing.T, handler http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		var b bytes.Buffer
		_, _ = b.ReadFrom(req.Body)
		body := b.Bytes()
		r.body.Store(&body)
		r.last.Store(req)
		handler(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// url returns the receiver's URL with host in place of 127.0.0.1.
func (r *receiver) url(host, path string) string {
	return strings.Replace(r.srv.URL, "127.0.0.1", host, 1) + path
}

func (r *receiver) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(r.srv.Certificate())
	return pool
}

func ok(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

// assertNoURL fails when err shows the secret part of a URL.
func assertNoURL(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error shows the URL: %v", err)
	}
}

func TestPostRefusesLoopbackUnlessAllowed(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, ok)
	tests := []struct {
		name   string
		target Target
	}{
		{"a name that resolves to 127.0.0.1", Target{URL: r.url("localhost", secretPath)}},
		{"a name that resolves to loopback, allowed as literal", Target{URL: r.url("localhost", secretPath), LiteralIPAllowed: true}},
		{"literal 127.0.0.1", Target{URL: r.url("127.0.0.1", secretPath)}},
		{"literal 127.0.0.1 allowed by configuration: loopback never is", Target{URL: r.url("127.0.0.1", secretPath), LiteralIPAllowed: true}},
		{"IPv4-mapped loopback", Target{URL: r.url("[::ffff:127.0.0.1]", secretPath)}},
	}
	c := New(Options{RootCAs: r.roots()})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Post(context.Background(), tt.target, []byte(`{}`), nil)
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("err = %v, want ErrBlocked", err)
			}
			if got, want := res.Verdict, Blocked; got != want {
				t.Errorf("verdict = %v, want %v", got, want)
			}
			assertNoURL(t, err)
		})
	}
	if got := r.hits.Load(); got != 0 {
		t.Errorf("receiver got %d requests, want 0", got)
	}
}

// TestPostLiteralIPAllowance checks the administrator's literal-IP exception end to end. The
// only addresses tests may reach are loopback ones, which production never allows, so this
// test lifts that one rule and keeps every other.
func TestPostLiteralIPAllowance(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, ok)
	c := New(Options{RootCAs: r.roots()})
	c.never = func(ip netip.Addr) bool { return !ip.IsLoopback() && neverAllowed(ip) }

	steps := []struct {
		name   string
		target Target
		want   Verdict
	}{
		{"the allowed literal address", Target{URL: r.url("127.0.0.1", secretPath), LiteralIPAllowed: true}, Delivered},
		// The allowed connection now sits in the pool: a target without the allowance must
		// not reuse it.
		{"the same address without the allowance", Target{URL: r.url("127.0.0.1", secretPath)}, Blocked},
		{"a name that resolves to that address", Target{URL: r.url("localhost", secretPath)}, Blocked},
		{"a name with the allowance (it only covers literal hosts)", Target{URL: r.url("localhost", secretPath), LiteralIPAllowed: true}, Blocked},
	}
	for _, s := range steps {
		res, err := c.Post(context.Background(), s.target, []byte(`{}`), nil)
		if got := res.Verdict; got != s.want {
			t.Errorf("%s: verdict = %v (err %v), want %v", s.name, got, err, s.want)
		}
		assertNoURL(t, err)
	}
	if got, want := r.hits.Load(), int64(1); got != want {
		t.Errorf("receiver got %d requests, want %d", got, want)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr, pinned  string
		allowLoopback bool
		want          bool
	}{
		{addr: "8.8.8.8", want: true},
		{addr: "2606:4700:4700::1111", want: true},
		{addr: "10.0.0.5"},
		{addr: "172.16.0.1"},
		{addr: "192.168.1.1"},
		{addr: "100.64.0.1"},
		{addr: "192.0.2.1"},
		{addr: "0.0.0.0"},
		{addr: "255.255.255.255"},
		{addr: "224.0.0.1"},
		{addr: "169.254.169.254"},
		{addr: "127.0.0.1"},
		{addr: "::1"},
		{addr: "::"},
		{addr: "::ffff:10.0.0.5"},
		{addr: "fe80::1"},
		{addr: "fc00::1"},
		{addr: "2001:db8::1"},
		{addr: "64:ff9b::7f00:1"},
		{addr: "10.0.0.5", pinned: "10.0.0.5", want: true},
		{addr: "10.0.0.6", pinned: "10.0.0.5"},
		{addr: "fd00::5", pinned: "fd00::5", want: true},
		{addr: "::ffff:10.0.0.5", pinned: "10.0.0.5", want: true},
		{addr: "169.254.169.254", pinned: "169.254.169.254"},
		{addr: "127.0.0.1", pinned: "127.0.0.1"},
		{addr: "0.0.0.0", pinned: "0.0.0.0"},
		{addr: "224.0.0.1", pinned: "224.0.0.1"},
		{addr: "127.0.0.1", allowLoopback: true, want: true},
		{addr: "::1", allowLoopback: true, want: true},
		{addr: "10.0.0.5", allowLoopback: true},
	}
	for _, tt := range tests {
		t.Run(tt.addr+" pinned "+tt.pinned, func(t *testing.T) {
			c := New(Options{AllowLoopback: tt.allowLoopback})
			var pinned netip.Addr
			if tt.pinned != "" {
				pinned = netip.MustParseAddr(tt.pinned)
			}
			err := c.check(netip.MustParseAddr(tt.addr), pinned)
			if got := err == nil; got != tt.want {
				t.Errorf("allowed = %v (%v), want %v", got, err, tt.want)
			}
			if err != nil && !errors.Is(err, ErrBlocked) {
				t.Errorf("err = %v, want ErrBlocked", err)
			}
		})
	}
}

func TestPostTargetRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		url           string
		allowLoopback bool
	}{
		{"http without AllowLoopback", "http://127.0.0.1:9/x", false},
		{"http to a public name", "http://example.com/x", true},
		{"http to a public address", "http://8.8.8.8/x", true},
		{"another scheme", "ftp://example.com/x", true},
		{"relative", "/commands/x", false},
		{"user info", "https://user:pass@example.com/x", false},
		{"zone", "https://[fe80::1%25eth0]/x", false},
		{"not a URL", "https://exa mple.com/%zz", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{AllowLoopback: tt.allowLoopback})
			res, err := c.Post(context.Background(), Target{URL: tt.url}, nil, nil)
			if err == nil || res.Verdict != Blocked {
				t.Fatalf("Post = %v, %v; want Blocked", res.Verdict, err)
			}
			if strings.Contains(err.Error(), "pass") {
				t.Errorf("error shows the URL: %v", err)
			}
		})
	}
}

func TestPostDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	r := newReceiver(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/elsewhere" {
			elsewhere.Add(1)
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Redirect(w, req, "/elsewhere", http.StatusTemporaryRedirect)
	})
	c := New(Options{AllowLoopback: true, RootCAs: r.roots()})
	res, err := c.Post(context.Background(), Target{URL: r.url("127.0.0.1", secretPath)}, []byte(`{}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Status, http.StatusTemporaryRedirect; got != want {
		t.Errorf("status = %d, want %d", got, want)
	}
	if got, want := res.Verdict, Refused; got != want {
		t.Errorf("verdict = %v, want %v", got, want)
	}
	if got := elsewhere.Load(); got != 0 {
		t.Errorf("redirect followed %d times", got)
	}
}

func TestPostCutsLongAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		size          int
		wantTruncated bool
	}{
		{"short", 10, false},
		{"exactly the limit", MaxAnswerBytes, false},
		{"one byte over", MaxAnswerBytes + 1, true},
		{"a megabyte", 1 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				_, _ = w.Write(bytes.Repeat([]byte("a"), tt.size))
			})
			c := New(Options{AllowLoopback: true, RootCAs: r.roots()})
			res, err := c.Post(context.Background(), Target{URL: r.url("127.0.0.1", "/")}, []byte(`{}`), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(res.Body), min(tt.size, MaxAnswerBytes); got != want {
				t.Errorf("len(Body) = %d, want %d", got, want)
			}
			if got := res.Truncated; got != tt.wantTruncated {
				t.Errorf("Truncated = %v, want %v", got, tt.wantTruncated)
			}
			if got, want := res.Verdict, Delivered; got != want {
				t.Errorf("verdict = %v, want %v", got, want)
			}
		})
	}
}

func TestPostTimesOut(t *testing.T) {
	t.Parallel()
	// The receiver answers only once the test is over: not when the client gives up, since
	// an answer racing the client's deadline may legitimately win.
	release := make(chan struct{})
	r := newReceiver(t, func(http.ResponseWriter, *http.Request) { <-release })
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	c := New(Options{AllowLoopback: true, RootCAs: r.roots(), Timeout: 100 * time.Millisecond})
	res, err := c.Post(context.Background(), Target{URL: r.url("127.0.0.1", secretPath)}, []byte(`{}`), nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if got, want := res.Verdict, Retry; got != want {
		t.Errorf("verdict = %v, want %v", got, want)
	}
	assertNoURL(t, err)
}

func TestPostConnectionFailureIsRetried(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	c := New(Options{AllowLoopback: true, RootCAs: r.roots()})
	res, err := c.Post(context.Background(), Target{URL: r.url("127.0.0.1", secretPath)}, []byte(`{}`), nil)
	if err == nil {
		t.Fatal("Post succeeded on a connection closed without an answer")
	}
	if errors.Is(err, ErrBlocked) || errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want a connection failure", err)
	}
	if got, want := res.Verdict, Retry; got != want {
		t.Errorf("verdict = %v, want %v", got, want)
	}
	assertNoURL(t, err)
}

func TestPostSendsBodyAndHeaders(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, ok)
	c := New(Options{AllowLoopback: true, RootCAs: r.roots()})
	body := []byte(`{"type":"autopilot.sync.completed"}`)
	res, err := c.Post(context.Background(), Target{URL: r.url("127.0.0.1", "/hook?x=1")}, body,
		map[string]string{"Authorization": "Basic dXNlcjpwYXNz", "webhook-id": "abc"})
	if err != nil || res.Verdict != Delivered {
		t.Fatalf("Post = %v, %v", res.Verdict, err)
	}
	req := r.last.Load()
	for name, want := range map[string]string{
		"Content-Type":  "application/json",
		"Authorization": "Basic dXNlcjpwYXNz",
		"Webhook-Id":    "abc",
		"User-Agent":    userAgent,
	} {
		if got := req.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got, want := req.Method, http.MethodPost; got != want {
		t.Errorf("method = %s, want %s", got, want)
	}
	if got, want := req.URL.RequestURI(), "/hook?x=1"; got != want {
		t.Errorf("request URI = %q, want %q", got, want)
	}
	if got := *r.body.Load(); !bytes.Equal(got, body) {
		t.Errorf("body = %q, want %q", got, body)
	}
}

func TestPostRefusesBadHeaders(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, ok)
	c := New(Options{AllowLoopback: true, RootCAs: r.roots()})
	for _, h := range []map[string]string{
		{"Authorization": "Basic s3cr3t\r\nX-Injected: 1"},
		{"Bad Name": "v"},
		{"": "v"},
	} {
		res, err := c.Post(context.Background(), Target{URL: r.url("127.0.0.1", "/")}, nil, h)
		if !errors.Is(err, ErrTarget) || res.Verdict != Blocked {
			t.Errorf("Post(%q) = %v, %v; want Blocked, ErrTarget", h, res.Verdict, err)
		}
		assertNoURL(t, err)
	}
	if got := r.hits.Load(); got != 0 {
		t.Errorf("receiver got %d requests, want 0", got)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		want   Verdict
	}{
		{200, Delivered}, {202, Delivered}, {204, Delivered},
		{301, Refused}, {302, Refused}, {307, Refused},
		{400, Refused}, {401, Refused}, {403, Refused}, {404, Refused}, {410, Refused},
		{408, Retry}, {429, Retry},
		{500, Retry}, {502, Retry}, {503, Retry}, {504, Retry},
		{100, Refused}, {600, Refused},
	}
	for _, tt := range tests {
		if got := Classify(tt.status); got != tt.want {
			t.Errorf("Classify(%d) = %v, want %v", tt.status, got, tt.want)
		}
	}
}

func TestTransportSettings(t *testing.T) {
	t.Parallel()
	c := New(Options{})
	if c.transport.Proxy != nil {
		t.Error("Transport.Proxy is set: HTTPS_PROXY would bypass the dial check")
	}
	if got := c.transport.IdleConnTimeout; got <= 0 || got > 90*time.Second {
		t.Errorf("IdleConnTimeout = %s, want (0, 90s]", got)
	}
	if got := c.timeout; got != MaxTimeout {
		t.Errorf("timeout = %s, want %s", got, MaxTimeout)
	}
	if got := New(Options{Timeout: time.Hour}).timeout; got != MaxTimeout {
		t.Errorf("timeout of Options{Timeout: 1h} = %s, want %s", got, MaxTimeout)
	}
}
