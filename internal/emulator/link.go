package emulator

// Link: a TCP forwarder that puts a wide-area network's latency, and its failures, between a
// client and a loopback server such as the emulator (issue 17).

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LinkOptions configures StartLink.
type LinkOptions struct {
	// RTT is the round-trip time the link adds; SetRTT changes it for what is read afterwards.
	RTT time.Duration
	// Now and After are the link's clock: After(d) is ready once d has passed. nil: real time.
	// A test injects them to see the delays the link applies without timing anything.
	Now   func() time.Time
	After func(d time.Duration) <-chan time.Time
}

// Link forwards each TCP connection it accepts on its loopback address to a target address,
// shaped like a connection across a wide-area network: one round trip passes before the first
// byte the client sends is delivered (the TCP handshake a real connect costs; loopback's own is
// free), and each chunk read in either direction is delivered half a round trip after it was
// read, in order, without limiting bandwidth. A half-close (FIN) travels the same way.
//
// It also fails as real networks do, on command: CloseFlows closes every open connection (the
// client sees a FIN, as when a server or load balancer ends an idle connection), and Blackhole
// makes every open connection swallow all bytes in both directions with no FIN and no RST, as a
// NAT gateway does once it has forgotten an idle flow. New connections are not affected.
//
// It counts the connections it accepted. Its methods are safe for concurrent use.
type Link struct {
	target string
	ln     net.Listener
	rtt    atomic.Int64
	now    func() time.Time
	after  func(time.Duration) <-chan time.Time
	done   chan struct{}
	wg     sync.WaitGroup

	accepted  atomic.Int64
	swallowed atomic.Int64

	mu     sync.Mutex
	closed bool
	flows  map[*flow]struct{}
}

// flow is one forwarded connection.
type flow struct {
	client, upstream net.Conn
	accepted         time.Time
	blackholed       atomic.Bool
	clientGone       chan struct{} // closed when the client's side ends (FIN, RST or Close)
	closeOnce        sync.Once
}

// StartLink starts a Link on 127.0.0.1:0 to target ("host:port", or a URL whose host is used).
// It fails only when it cannot listen.
func StartLink(target string, o LinkOptions) (*Link, error) {
	target = strings.TrimPrefix(strings.TrimPrefix(target, "https://"), "http://")
	target, _, _ = strings.Cut(target, "/")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &Link{target: target, ln: ln, now: o.Now, after: o.After, done: make(chan struct{}), flows: map[*flow]struct{}{}}
	if l.now == nil {
		l.now = time.Now
	}
	if l.after == nil {
		l.after = time.After
	}
	l.rtt.Store(int64(o.RTT))
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

// Addr returns the link's address, "127.0.0.1:PORT".
func (l *Link) Addr() string { return l.ln.Addr().String() }

// SetRTT sets the round-trip time for chunks read, and connections accepted, from now on.
func (l *Link) SetRTT(d time.Duration) { l.rtt.Store(int64(d)) }

// Accepted returns how many connections the link has accepted since it started (or since
// ResetAccepted).
func (l *Link) Accepted() int { return int(l.accepted.Load()) }

// ResetAccepted sets the count of accepted connections to zero.
func (l *Link) ResetAccepted() { l.accepted.Store(0) }

// Swallowed returns how many bytes blackholed connections have swallowed from their clients: 0
// after a Blackhole means no client wrote to a connection that could no longer answer.
func (l *Link) Swallowed() int64 { return l.swallowed.Load() }

// CloseFlows closes every open connection, both sides, and returns how many there were.
func (l *Link) CloseFlows() int {
	fs := l.open()
	for _, f := range fs {
		f.close()
	}
	return len(fs)
}

// Blackhole makes every open connection swallow all bytes in both directions from now on, with
// no FIN and no RST passed to either side. It returns a channel that is closed once each of
// those connections has been closed by its client (for instance when the client's transport
// drops a connection idle for longer than its idle timeout): a test waits on it.
func (l *Link) Blackhole() (clientsGone <-chan struct{}) {
	fs := l.open()
	for _, f := range fs {
		f.blackholed.Store(true)
	}
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for _, f := range fs {
			select {
			case <-f.clientGone:
			case <-l.done:
				return
			}
		}
	}()
	return gone
}

// Close stops accepting, closes every connection and waits for the link's goroutines. It may be
// called more than once.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	l.mu.Unlock()
	err := l.ln.Close()
	l.CloseFlows()
	l.wg.Wait()
	return err
}

func (l *Link) open() []*flow {
	l.mu.Lock()
	defer l.mu.Unlock()
	fs := make([]*flow, 0, len(l.flows))
	for f := range l.flows {
		fs = append(fs, f)
	}
	return fs
}

func (l *Link) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.accepted.Add(1)
		accepted := l.now()
		up, err := net.DialTimeout("tcp", l.target, 5*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		f := &flow{client: c, upstream: up, accepted: accepted, clientGone: make(chan struct{})}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			f.close()
			return
		}
		l.flows[f] = struct{}{}
		l.wg.Add(2)
		l.mu.Unlock()
		var ends sync.WaitGroup
		ends.Add(2)
		go func() { defer l.wg.Done(); defer ends.Done(); l.pump(f, up, c, true) }()
		go func() { defer l.wg.Done(); defer ends.Done(); l.pump(f, c, up, false) }()
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			ends.Wait()
			f.close()
			l.mu.Lock()
			delete(l.flows, f)
			l.mu.Unlock()
		}()
	}
}

// chunk is what one read brought, and when it is due at the other side; eof marks the end.
type chunk struct {
	data []byte
	due  time.Time
	eof  bool
}

// pump carries src to dst: a reader stamps each chunk with its delivery time, a writer delivers
// it then. fromClient is the client's direction, whose first byte also waits for the connect.
func (l *Link) pump(f *flow, dst, src net.Conn, fromClient bool) {
	queue := make(chan chunk, 256)
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		l.deliver(f, dst, queue)
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if f.blackholed.Load() {
				if fromClient {
					l.swallowed.Add(int64(n))
				}
			} else {
				queue <- chunk{data: append([]byte(nil), buf[:n]...), due: l.due(f, fromClient)}
			}
		}
		if err != nil {
			if fromClient {
				close(f.clientGone)
			}
			if !f.blackholed.Load() && errors.Is(err, io.EOF) {
				queue <- chunk{eof: true, due: l.due(f, fromClient)}
			}
			close(queue)
			<-delivered
			if fromClient && f.blackholed.Load() {
				f.close() // the client has gone: nothing can pass any more
			}
			return
		}
	}
}

// due returns when a chunk read now is delivered.
func (l *Link) due(f *flow, fromClient bool) time.Time {
	rtt := time.Duration(l.rtt.Load())
	from := l.now()
	if connected := f.accepted.Add(rtt); fromClient && from.Before(connected) {
		from = connected
	}
	return from.Add(rtt / 2)
}

// deliver writes each chunk of queue to dst at its due time; a chunk of a flow blackholed since
// is dropped. It drains queue whatever happens, so the reader never blocks on it.
func (l *Link) deliver(f *flow, dst net.Conn, queue <-chan chunk) {
	failed := false
	for c := range queue {
		if failed {
			continue
		}
		if wait := c.due.Sub(l.now()); wait > 0 {
			select {
			case <-l.after(wait):
			case <-l.done:
				failed = true
				continue
			}
		}
		if f.blackholed.Load() {
			continue
		}
		if c.eof {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			continue
		}
		if _, err := dst.Write(c.data); err != nil {
			failed = true
			f.close()
		}
	}
}

func (f *flow) close() {
	f.closeOnce.Do(func() {
		_ = f.client.Close()
		_ = f.upstream.Close()
	})
}
