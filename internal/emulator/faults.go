package emulator

// Faults: statuses, delays, holds, hangs and connection resets injected per service.

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
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
// counted); the first match applies. Its steps run in the order of its fields
// below: Arrived, Hold, Delay, Hang, Reset, then Status.
type Fault struct {
	Service      Service
	Method       string // "" any
	PathContains string // "" any
	// Arrived, when set, is called each time the fault applies, before anything else it does
	// (from the goroutine serving the request): a test waits on it, instead of sleeping, to know
	// that a request has reached the emulator. It is called once per matching request, so a
	// fault that may match more than once must not close a channel in it unguarded.
	Arrived func()
	// Hold, when set, makes a matching request wait until Hold is closed, then the rest of the
	// fault applies (a fault with only Hold answers normally once released). A request whose
	// client goes away, or that is held when the emulator closes, is aborted.
	Hold   <-chan struct{}
	Status int           // 0: no status fault (e.g. only Delay)
	Header http.Header   // extra headers (e.g. Retry-After)
	Body   string        // raw body; "" => a realistic error body for that service and status
	Delay  time.Duration // real-time delay before answering (honours the request's context)
	Hang   bool          // never answer until the client goes away or the emulator closes
	Reset  bool          // close the connection without answering
	Times  int           // how many requests it applies to; 0 = until removed
}

type fault struct{ Fault }

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

// applyFault performs f's steps. It reports whether the request has been fully handled
// (answered or aborted); when it returns false and f.Status is 0 the caller answers normally.
func (e *Emulator) applyFault(w http.ResponseWriter, r *http.Request, f Fault, errBody func(status int) []byte) bool {
	if f.Arrived != nil {
		f.Arrived()
	}
	if f.Hold != nil {
		wait(e, r, f.Hold)
	}
	if f.Hang || (f.Delay > 0 && f.Status != 0) {
		// The body will not be used: consume it so that the server notices
		// when the client goes away.
		_, _ = io.Copy(io.Discard, r.Body)
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		wait(e, r, t.C)
	}
	if f.Hang {
		wait[struct{}](e, r, nil) // a nil channel is never ready: only the client or Close ends it
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

// wait returns when ready is ready; it aborts the request (panics with http.ErrAbortHandler, as
// net/http expects) when the request's context ends or the emulator closes first.
func wait[T any](e *Emulator, r *http.Request, ready <-chan T) {
	select {
	case <-ready:
	case <-r.Context().Done():
		panic(http.ErrAbortHandler)
	case <-e.closing:
		panic(http.ErrAbortHandler)
	}
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
