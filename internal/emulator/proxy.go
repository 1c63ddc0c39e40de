package emulator

import (
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// StartProxy starts a test-only HTTP CONNECT proxy on a free loopback port that tunnels every
// CONNECT, whatever host it names, to target (the emulator's "127.0.0.1:PORT", or its URL). A
// client whose transport uses the proxy (http.ProxyURL(proxyURL), or HTTPS_PROXY=proxyURL for
// Go's default transport) and trusts the emulator's CA thereby reaches "graph.microsoft.us",
// "login.microsoftonline.us" and the other hosts of every cloud on the emulator (the TLS
// handshake stays end to end: the proxy sees only ciphertext). Go's default transport never
// proxies loopback hosts, so the emulator's own address stays direct. Requests other than
// CONNECT answer 405. stop closes the listener and every open tunnel, and waits for them; it may
// be called more than once. StartProxy panics if it cannot listen.
func StartProxy(target string) (proxyURL string, stop func()) {
	target = strings.TrimSuffix(strings.TrimPrefix(target, "https://"), "/")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("emulator: StartProxy: " + err.Error())
	}
	p := &proxy{target: target, conns: map[net.Conn]struct{}{}}
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.srv.Serve(ln)
	}()
	var once sync.Once
	return "http://" + ln.Addr().String(), func() {
		once.Do(func() {
			_ = p.srv.Close() // closes the listener; hijacked tunnels are closed below
			p.mu.Lock()
			p.closed = true
			for c := range p.conns {
				_ = c.Close()
			}
			p.mu.Unlock()
			p.wg.Wait()
		})
	}
}

type proxy struct {
	target string
	srv    *http.Server
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

// open registers a tunnel's connections so that stop closes them and waits for the tunnel; it
// reports false when the proxy is stopping.
func (p *proxy) open(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	p.wg.Add(1)
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		w.Header().Set("Allow", http.MethodConnect)
		http.Error(w, "this test proxy only tunnels CONNECT", http.StatusMethodNotAllowed)
		return
	}
	upstream, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		http.Error(w, "emulator unreachable", http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		_ = upstream.Close()
		http.Error(w, "cannot tunnel over this connection", http.StatusInternalServerError)
		return
	}
	client, buf, err := hj.Hijack()
	if err != nil {
		_ = upstream.Close()
		return
	}
	if !p.open(client, upstream) {
		_ = client.Close()
		_ = upstream.Close()
		return
	}
	defer p.wg.Done()
	defer p.untrack(client)
	defer p.untrack(upstream)
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	var copies sync.WaitGroup
	// buf.Reader holds whatever the client sent right after its CONNECT (a TLS ClientHello).
	copies.Go(func() { pipe(upstream, buf.Reader) })
	copies.Go(func() { pipe(client, upstream) })
	copies.Wait()
}

// pipe copies src to dst until either fails, then half-closes dst's writing side when it can.
func pipe(dst net.Conn, src io.Reader) {
	_, _ = io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
