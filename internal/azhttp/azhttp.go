// Package azhttp is the HTTP transport of every request the functions send to Microsoft's
// services: Entra ID, Key Vault and Graph. It has the settings of azcore's default transport
// (proxy from the environment, HTTP/2 with a health-check ping after 10 s without a frame, TLS
// 1.2 at least, 90 s idle timeout) and adds Preconnect, which opens the TCP and TLS connection
// to a host ahead of its first request, so that a cold start does not pay three handshakes one
// after another (issue 17): the connection waits in the transport and the first request that
// needs a connection to that host takes it.
//
// A connection idle for more than IdleConnTimeout (90 s) is never reused, a preconnected one
// included: net/http compares wall-clock idle time before it reuses a connection (so this holds
// after a Lambda environment thaws, when timers have not run), and Preconnect does the same
// before it hands one over.
//
// It never sends an HTTP request of its own (Preconnect only dials and shakes hands), never
// logs, and holds no credentials.
package azhttp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"time"
)

// IdleConnTimeout is how long an idle connection may wait for reuse: at most 90 s, as Go's and
// azcore's default transports, shorter than the idle timeouts of AWS NAT gateways (350 s) and
// Azure load balancers (4 min), so no connection a middlebox may have forgotten is reused.
const IdleConnTimeout = 90 * time.Second

// Timeouts of a connection being set up, and of the HTTP/2 health check.
const (
	dialTimeout      = 30 * time.Second
	handshakeTimeout = 10 * time.Second
	readIdleTimeout  = 10 * time.Second // no frame for this long: ping
	pingTimeout      = 5 * time.Second  // no answer to the ping: the connection is closed
)

// Options configures New. The zero value is production's.
type Options struct {
	// IdleConnTimeout is how long an idle connection may wait for reuse; 0 or more than
	// IdleConnTimeout means IdleConnTimeout. Tests shorten it.
	IdleConnTimeout time.Duration
	// RootCAs are the trusted roots; nil means the system's (which honour SSL_CERT_FILE).
	RootCAs *x509.CertPool
}

// Transport sends HTTP requests (it is an azcore policy.Transporter and an http.RoundTripper).
// It is safe for concurrent use.
type Transport struct {
	client *http.Client
	tr     *http.Transport
	dialer net.Dialer
	tls    *tls.Config
	idle   time.Duration

	mu     sync.Mutex
	early  map[string]*earlyConn // "host:port" → a connection opened by Preconnect, not yet taken
	dialed map[string]bool       // hosts Preconnect was asked for, so it dials each once
}

// earlyConn is a connection Preconnect opened; ready is closed once the dial has ended.
type earlyConn struct {
	ready  chan struct{}
	conn   net.Conn // nil when the dial failed
	opened time.Time
}

// New returns a Transport configured by o.
func New(o Options) *Transport {
	t := &Transport{
		dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
		idle:   o.IdleConnTimeout,
		early:  map[string]*earlyConn{},
		dialed: map[string]bool{},
	}
	if t.idle <= 0 || t.idle > IdleConnTimeout {
		t.idle = IdleConnTimeout
	}
	t.tls = &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	if o.RootCAs != nil {
		t.tls.RootCAs = o.RootCAs
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	t.tr = &http.Transport{
		Proxy:       http.ProxyFromEnvironment,
		DialContext: t.dialer.DialContext, // to a proxy
		// Direct HTTPS connections: a preconnected one when there is one.
		DialTLSContext:        t.dialTLS,
		TLSClientConfig:       t.tls.Clone(), // through a proxy
		TLSHandshakeTimeout:   handshakeTimeout,
		ForceAttemptHTTP2:     true,
		Protocols:             &protocols,
		HTTP2:                 &http.HTTP2Config{SendPingTimeout: readIdleTimeout, PingTimeout: pingTimeout},
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       t.idle,
		ExpectContinueTimeout: time.Second,
	}
	t.client = &http.Client{Transport: t.tr}
	return t
}

var defaultTransport = sync.OnceValue(func() *Transport { return New(Options{}) })

// Default returns the process's shared Transport (production settings), built on first use.
func Default() *Transport { return defaultTransport() }

// Do sends req (azcore's policy.Transporter). When req found the pooled connection it was sent
// on dead (the network closed it while the process was frozen, and the transport had not yet
// noticed), it is sent once more at once on a new connection, if it has no body: a GET, or
// Graph's sync POST, which azcore's retry policy would send again anyway, only later.
func (t *Transport) Do(req *http.Request) (*http.Response, error) {
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
	resp, err := t.client.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err == nil || !reused || req.Context().Err() != nil || !bodyless(req) {
		return resp, err
	}
	return t.client.Do(req)
}

// bodyless reports whether req carries no body, so that sending it again sends the same request.
func bodyless(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody
}

// RoundTrip sends req (http.RoundTripper).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) { return t.tr.RoundTrip(req) }

// IdleConnTimeout returns how long an idle connection may wait for reuse.
func (t *Transport) IdleConnTimeout() time.Duration { return t.tr.IdleConnTimeout }

// CloseIdleConnections closes idle connections, preconnected ones included.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	early := t.early
	t.early = map[string]*earlyConn{}
	t.mu.Unlock()
	for _, e := range early {
		go e.discard()
	}
	t.tr.CloseIdleConnections()
}

// Preconnect opens, in the background, a TCP and TLS connection to the host of each https URL
// that has none yet and is not reached through a proxy; it returns at once. The first request
// to that host that needs a new connection takes it (waiting for its handshake to end rather than
// dialling a second one); one left unused for IdleConnTimeout is closed. Preconnect sends no HTTP
// request. URLs that do not parse, or are not https, are ignored.
func (t *Transport) Preconnect(rawURLs ...string) {
	for _, raw := range rawURLs {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Hostname() == "" {
			continue
		}
		if proxy, err := t.tr.Proxy(&http.Request{URL: u}); err != nil || proxy != nil {
			continue
		}
		addr := canonicalAddr(u)
		t.mu.Lock()
		if t.dialed[addr] {
			t.mu.Unlock()
			continue
		}
		t.dialed[addr] = true
		e := &earlyConn{ready: make(chan struct{})}
		t.early[addr] = e
		t.mu.Unlock()
		go t.open(addr, e)
	}
}

// open dials e and, once it is connected, closes it after IdleConnTimeout unless it was taken.
func (t *Transport) open(addr string, e *earlyConn) {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	e.conn, _ = t.dial(ctx, addr) // a failed dial leaves the first request to dial anew
	e.opened = time.Now().Round(0)
	close(e.ready)
	time.AfterFunc(t.idle, func() {
		if t.take(addr, e) {
			e.discard()
		}
	})
}

// take removes e from the connections waiting to be taken; false when it was no longer there.
func (t *Transport) take(addr string, e *earlyConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.early[addr] != e {
		return false
	}
	delete(t.early, addr)
	return true
}

// discard closes e's connection once its dial has ended.
func (e *earlyConn) discard() {
	<-e.ready
	if e.conn != nil {
		_ = e.conn.Close()
	}
}

// dialTLS is the Transport's DialTLSContext: the connection Preconnect opened to addr while it
// is fresh, else a new one.
func (t *Transport) dialTLS(ctx context.Context, _, addr string) (net.Conn, error) {
	t.mu.Lock()
	e := t.early[addr]
	delete(t.early, addr)
	t.mu.Unlock()
	if e != nil {
		select {
		case <-e.ready:
			// Wall-clock age, as net/http measures idle connections: a thaw does not hide it.
			if e.conn != nil && time.Now().Round(0).Sub(e.opened) <= t.idle {
				return e.conn, nil
			}
			go e.discard()
		case <-ctx.Done():
			go e.discard()
			return nil, ctx.Err()
		}
	}
	return t.dial(ctx, addr)
}

// dial opens a TCP connection to addr and completes a TLS handshake on it.
func (t *Transport) dial(ctx context.Context, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	raw, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	cfg := t.tls.Clone()
	cfg.ServerName = host
	conn := tls.Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		_ = raw.Close()
		return nil, err
	}
	return conn, nil
}

// canonicalAddr is the "host:port" net/http dials for u.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}
