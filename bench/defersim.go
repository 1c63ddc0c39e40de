package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/logs"
	"github.com/autopilot-sync/autopilot-sync/internal/outbound"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/wiring"
)

// deferSim is a deterministic discrete-event driver of deferred syncs (SPEC §16, issue 22): the
// real sync function, wired as its main wires it (config.Load, wiring.Build,
// wiring.WithFollowUp) with SYNC_WHEN_BUSY=defer, against the emulator over TLS on loopback, all
// on one manual clock (the emulator's Graph and the functions' tenant.Options.Now). Its
// follow-up queue is simQueue, which keeps each message until it is due. run moves the clock to
// the next event (a request arriving, a message due) and serves everything of that instant at
// once, each request and each record in its own goroutine and invocation, so that checks race
// against the emulator as they would on Lambda; then it moves on. The events and their instants
// are deterministic; which of the racing checks wins Graph's 204 is not. Callbacks go to an HTTPS
// receiver on loopback under a urlPrefix of CALLBACK_TARGETS_SECRET_NAME (outbound's
// AllowLoopback, as cmd/local's), which records each outcome with its webhook-id.
type deferSim struct {
	clock     *emulator.ManualClock
	emu       *emulator.Emulator
	fn        *api.Function
	queue     *simQueue
	graph     *syncTally
	callbacks *callbackLog
	checks    *checkTally
	receiver  *httptest.Server
	pool      *http.Transport // the function's connections to the emulator
	query     string          // of every request: "?defer=true", or "" (SYNC_WHEN_BUSY decides)

	mu          sync.Mutex
	requests    []*simRequest
	deadLetters int
	errs        []error
}

// simOptions configure a deferSim.
type simOptions struct {
	Start        time.Time     // the clock's first reading (whole seconds: SQS delays are whole seconds)
	SyncDuration time.Duration // how long the emulator's syncs run; 0: its default (90 s)
	Query        string        // appended to every request's POST /sync
}

// simRequest is one POST /sync: when it arrived and what it was answered.
type simRequest struct {
	At         time.Time
	Status     int
	Result     string // "started", "deferred", …
	FollowUpID string
}

// The SQS behaviour the driver copies: a record listed in batchItemFailures (or of an invocation
// that failed) is received again after the visibility timeout, at most maxSimReceives times in
// all, then moved to the dead-letter queue.
const (
	redeliverAfter = 30 * time.Second
	maxSimReceives = 5
)

// simQueueARN is the ARN of the driver's follow-up queue, which its records carry.
const simQueueARN = "arn:aws:sqs:eu-west-1:123456789012:autopilot-sync-followup-sim"

// newDeferSim starts an emulator on a manual clock, a callback receiver, and the sync function
// wired against both. Close stops them.
func newDeferSim(o simOptions) (*deferSim, error) {
	start := o.Start.Truncate(time.Second)
	clock := emulator.NewManualClock(start)
	emu, err := emulator.Start(emulator.Options{Clock: clock, SyncDuration: o.SyncDuration})
	if err != nil {
		return nil, err
	}
	s := &deferSim{clock: clock, emu: emu, queue: &simQueue{clock: clock}, callbacks: &callbackLog{byID: map[string][]callback{}},
		checks: &checkTally{outcomes: map[string]int{}}, query: o.Query}
	if s.receiver, err = startReceiver(s.callbacks); err != nil {
		s.Close()
		return nil, err
	}
	roots := s.receiver.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	targets, _ := json.Marshal([]map[string]any{{"urlPrefix": s.receiver.URL + "/api/x_autopilot/"}})
	emu.SetSecret("callback-targets", string(targets), "")
	vars := emu.Seed()
	vars["ALLOW_UNAUTHENTICATED"] = "true"
	vars["FOLLOWUP_QUEUE_URL"] = "https://sqs.eu-west-1.amazonaws.com/123456789012/autopilot-sync-followup-sim"
	vars["CALLBACK_TARGETS_SECRET_NAME"] = "callback-targets"
	vars["SYNC_WHEN_BUSY"] = "defer"
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		s.Close()
		return nil, err
	}
	log := logs.New(s.checks, cfg.LogFormat, cfg.LogLevel)
	// The emulator's own client keeps 16 idle connections; the checks of one instant number
	// hundreds, and would each pay a handshake: the simulation measures decisions, not TLS.
	s.pool = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: emu.CertPool()}, MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}
	s.graph = &syncTally{next: &http.Client{Transport: s.pool}, emu: emu, answers: map[origin]map[int]int{}}
	opts := tenant.Options{Transport: s.graph, Now: clock.Now}
	deps, vault := wiring.Build(cfg, nil, opts, log)
	deps = wiring.WithFollowUp(deps, cfg, vault, s.queue, nil, wiring.FollowUpOptions{
		Outbound: outbound.Options{AllowLoopback: true, RootCAs: roots}, Log: log})
	if deps.Err != nil {
		s.Close()
		return nil, deps.Err
	}
	s.fn = api.New(autopilot.FunctionSync, deps)
	return s, nil
}

// startReceiver starts the callback receiver: HTTPS on loopback with an ECDSA certificate of its
// own (httptest's RSA one makes each of the outbound client's handshakes cost a millisecond of
// CPU, and the outbound client keeps few idle connections).
func startReceiver(h http.Handler) (*httptest.Server, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "callback receiver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // handshakes cut short by Close
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, CurvePreferences: []tls.CurveID{tls.X25519}}
	srv.StartTLS()
	return srv, nil
}

// Close stops the receiver and the emulator, and closes the function's idle connections.
func (s *deferSim) Close() {
	if s.receiver != nil {
		s.receiver.Close()
	}
	_ = s.emu.Close()
	if s.pool != nil {
		s.pool.CloseIdleConnections()
	}
}

// maxSimSteps bounds run: a product that kept sending messages forever must fail, not hang.
const maxSimSteps = 100_000

// run serves requests arriving at the given times (in any order, none before the clock), then
// every message they cause, until the queue is empty. It returns the first failure of the
// driver itself (a request not answered 202, a callback the receiver could not read); what the
// function decided is left to the caller to judge.
func (s *deferSim) run(ctx context.Context, arrivals []time.Time) error {
	arrivals = slices.SortedFunc(slices.Values(arrivals), time.Time.Compare)
	if len(arrivals) > 0 && arrivals[0].Before(s.clock.Now()) {
		return fmt.Errorf("a request arrives at %s, before the clock's %s", arrivals[0], s.clock.Now())
	}
	next := 0
	for step := 0; ; step++ {
		if step == maxSimSteps {
			return fmt.Errorf("still running after %d instants (at %s): the follow-ups do not end", step, s.clock.Now())
		}
		at, ok := s.queue.nextDue()
		if next < len(arrivals) && (!ok || !arrivals[next].After(at)) {
			at, ok = arrivals[next], true
		}
		if !ok {
			break
		}
		s.clock.Set(at)
		var wg sync.WaitGroup
		for ; next < len(arrivals) && arrivals[next].Equal(at); next++ {
			wg.Go(func() { s.request(ctx, at) })
		}
		for _, m := range s.queue.takeDue(at) {
			wg.Go(func() { s.deliver(ctx, m) })
		}
		wg.Wait()
		if err := s.firstError(); err != nil {
			return err
		}
	}
	return s.callbacks.err()
}

// origin tells the Graph calls of requests from those of checks (syncTally reads it from the
// call's context).
type origin string

const (
	fromRequest origin = "request"
	fromCheck   origin = "check"
)

type originKey struct{}

// request sends one POST /sync through the function's HTTP handler, with a callback of its own.
func (s *deferSim) request(ctx context.Context, at time.Time) {
	s.mu.Lock()
	r := &simRequest{At: at}
	s.requests = append(s.requests, r)
	n := len(s.requests)
	s.mu.Unlock()
	body := fmt.Sprintf(`{"callbackUrl":%q}`, fmt.Sprintf("%s/api/x_autopilot/request/%d", s.receiver.URL, n))
	req := httptest.NewRequestWithContext(context.WithValue(ctx, originKey{}, fromRequest), http.MethodPost, "/sync"+s.query, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.fn.ServeHTTP(w, req)
	var answer struct {
		Result   string `json:"result"`
		FollowUp struct {
			ID string `json:"id"`
		} `json:"followUp"`
	}
	err := json.Unmarshal(w.Body.Bytes(), &answer)
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Status, r.Result, r.FollowUpID = w.Code, answer.Result, answer.FollowUp.ID
	if err != nil || w.Code != http.StatusAccepted || r.FollowUpID == "" {
		s.errs = append(s.errs, fmt.Errorf("request %d at %s: answered %d %s, want 202 with a followUp", n, at.Format(time.RFC3339), w.Code, w.Body.Bytes()))
	}
}

// deliver hands one record to the function as an SQS event of its own invocation, and puts it
// back as SQS would when the function lists it in batchItemFailures or the invocation fails.
func (s *deferSim) deliver(ctx context.Context, m simMessage) {
	event, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: m.id, Body: string(m.body), EventSource: "aws:sqs", EventSourceARN: simQueueARN,
		Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(m.receive)},
	}}})
	ctx = lambdacontext.NewContext(context.WithValue(ctx, originKey{}, fromCheck), &lambdacontext.LambdaContext{AwsRequestID: m.id})
	out, err := s.fn.Invoke(ctx, event)
	var resp events.SQSEventResponse
	if err == nil {
		err = json.Unmarshal(out, &resp)
	}
	if err == nil && len(resp.BatchItemFailures) == 0 {
		return
	}
	if m.receive >= maxSimReceives {
		s.mu.Lock()
		s.deadLetters++
		s.mu.Unlock()
		return
	}
	s.queue.redeliver(m, redeliverAfter)
}

// firstError is the driver's first failure so far, if any.
func (s *deferSim) firstError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}
