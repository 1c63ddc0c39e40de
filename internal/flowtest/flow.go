// Package flowtest drives the real sync function through whole follow-ups (SPEC §13, §15-§17)
// against the loopback emulator, on one manual clock, as a discrete-event simulation: the
// function wired as its main wires it (config.Load from the emulator's Seed environment,
// wiring.Build, wiring.WithFollowUp), its follow-up queue a Queue of the Flow's own that keeps
// each message until it is due, every message due at one instant handed to the function at
// once (each record its own SQS invocation, so that checks race at Graph as they would on
// Lambda), records listed in batchItemFailures received again after the visibility timeout, and
// callbacks posted over HTTPS to a receiver on loopback under a CALLBACK_TARGETS urlPrefix. A
// transport around the emulator's records every Graph call with its origin.
//
// It is test support, like emutest: imported by tests and by the bench command only, never by
// a function binary (emutest's TestNotLinkedIntoTheFunctions checks it). It never sleeps for
// real time, never reaches beyond loopback, and never logs a secret. The flow tests of SPEC §15
// and §17 over the emulator live beside it.
package flowtest

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/logs"
	"github.com/autopilot-sync/autopilot-sync/internal/outbound"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/wiring"
)

// DefaultStart is the clock's first reading when Options.Start is zero.
var DefaultStart = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

// Secret names a Flow stores in the emulator's Key Vault.
const (
	CallbackTargetsSecret = "callback-targets"
	CallbackSigningSecret = "callback-signing"
)

// callbackPath is the path of the receiver's urlPrefix.
const callbackPath = "/api/x_autopilot/"

// Options configure a Flow.
type Options struct {
	// Start is the clock's first reading, cut to whole seconds (SQS delays are whole seconds);
	// zero: DefaultStart.
	Start time.Time
	// Emulator configures the emulator (SyncDuration, ProfileAssignmentDelay, ImportDuration, …);
	// its Clock is the Flow's.
	Emulator emulator.Options
	// Env changes the function's environment: each variable is set, or removed when "". It starts
	// as the emulator's Seed with ALLOW_UNAUTHENTICATED=true, FOLLOWUP_QUEUE_URL (removing it wires
	// no follow-up, as main does) and CALLBACK_TARGETS_SECRET_NAME.
	Env map[string]string
	// SignCallbacks sets CALLBACK_SIGNING_SECRET_NAME to a secret of the Flow's: callbacks carry
	// Standard Webhooks signatures.
	SignCallbacks bool
	// RedeliverAfter is the visibility timeout after a failed record (default 30 s); MaxReceives
	// how often a record is received before it goes to the dead-letter queue (default 5).
	RedeliverAfter time.Duration
	MaxReceives    int
	// Log, when set, also gets every log line of the function.
	Log io.Writer
}

// Flow is the sync function in a discrete-event simulation. Its methods are safe for concurrent
// use, but Run and RunUntil are not to be called concurrently.
type Flow struct {
	o        Options
	clock    *emulator.ManualClock
	emu      *emulator.Emulator
	fn       *api.Function
	queue    *Queue
	graph    *graphTally
	log      *lineLog
	callback *receiver
	server   *httptest.Server
	pool     *http.Transport // the function's connections to the emulator

	mu          sync.Mutex
	events      []event
	twice       []twice
	counts      Counts
	deliveries  []Delivery
	invocations int
	errs        []error
}

// New starts an emulator on a manual clock, a callback receiver, and the sync function wired
// against both, as its main wires it. Close stops them.
func New(o Options) (*Flow, error) {
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	if o.RedeliverAfter <= 0 {
		o.RedeliverAfter = DefaultRedeliverAfter
	}
	if o.MaxReceives <= 0 {
		o.MaxReceives = DefaultMaxReceives
	}
	clock := emulator.NewManualClock(o.Start.Truncate(time.Second))
	eo := o.Emulator
	eo.Clock = clock
	emu, err := emulator.Start(eo)
	if err != nil {
		return nil, err
	}
	f := &Flow{o: o, clock: clock, emu: emu, queue: NewQueue(clock), log: &lineLog{tee: o.Log},
		callback: &receiver{clock: clock, byID: map[string][]int{}}}
	if err := f.wire(); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// wire starts the receiver and builds the function.
func (f *Flow) wire() error {
	var err error
	if f.server, err = startReceiver(f.callback); err != nil {
		return err
	}
	roots := f.server.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	targets, _ := json.Marshal([]map[string]any{{"urlPrefix": f.server.URL + callbackPath}})
	f.emu.SetSecret(CallbackTargetsSecret, string(targets), "")
	vars := f.emu.Seed()
	vars["ALLOW_UNAUTHENTICATED"] = "true"
	vars["FOLLOWUP_QUEUE_URL"] = queueURL
	vars["CALLBACK_TARGETS_SECRET_NAME"] = CallbackTargetsSecret
	if f.o.SignCallbacks {
		f.emu.SetSecret(CallbackSigningSecret, "whsec_"+base64.StdEncoding.EncodeToString([]byte("flowtest-signing-key-0123456789ab")), "")
		vars["CALLBACK_SIGNING_SECRET_NAME"] = CallbackSigningSecret
	}
	for k, v := range f.o.Env {
		if v == "" {
			delete(vars, k)
		} else {
			vars[k] = v
		}
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		return err
	}
	log := logs.New(f.log, cfg.LogFormat, cfg.LogLevel)
	// The emulator's own client keeps 16 idle connections; the checks of one instant may number
	// hundreds, and would each pay a handshake: a flow measures decisions, not TLS.
	f.pool = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.emu.CertPool()}, MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}
	f.graph = &graphTally{next: &http.Client{Transport: f.pool}, emu: f.emu, clock: f.clock}
	deps, vault := wiring.Build(cfg, nil, tenant.Options{Transport: f.graph, Now: f.clock.Now}, log)
	if cfg.FollowUpQueueURL != "" {
		deps = wiring.WithFollowUp(deps, cfg, vault, f.queue, nil, wiring.FollowUpOptions{
			Outbound: outbound.Options{AllowLoopback: true, RootCAs: roots}, Log: log})
	}
	if deps.Err != nil {
		return deps.Err
	}
	f.fn = api.New(autopilot.FunctionSync, deps)
	return nil
}

// Start is New for a test: it ends the test with Fatal when the Flow cannot start, and closes
// the Flow when the test and its subtests end.
func Start(t testing.TB, o Options) *Flow {
	t.Helper()
	f, err := New(o)
	if err != nil {
		t.Fatalf("flowtest: %v", err)
	}
	t.Cleanup(f.Close)
	return f
}

// Close stops the receiver and the emulator, and closes the function's idle connections.
func (f *Flow) Close() {
	if f.server != nil {
		f.server.Close()
	}
	_ = f.emu.Close()
	if f.pool != nil {
		f.pool.CloseIdleConnections()
	}
}

// Emulator is the Flow's emulator.
func (f *Flow) Emulator() *emulator.Emulator { return f.emu }

// Clock is the Flow's clock, shared by the emulator and the function.
func (f *Flow) Clock() *emulator.ManualClock { return f.clock }

// Now is the clock's reading.
func (f *Flow) Now() time.Time { return f.clock.Now() }

// Queue is the function's follow-up queue.
func (f *Flow) Queue() *Queue { return f.queue }

// CallbackURL is a callbackUrl under the receiver's allowed prefix, ending in name.
func (f *Flow) CallbackURL(name string) string { return f.server.URL + callbackPath + name }

// Answer is the function's answer to a Post.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode decodes the answer's body into v.
func (a Answer) Decode(v any) error { return json.Unmarshal(a.Body, v) }

// Post sends POST /sync with query ("" or "?defer=true", …) and a JSON body through the
// function's HTTP handler, now on the clock, and returns the answer. Its Graph calls count as
// FromRequest.
func (f *Flow) Post(ctx context.Context, query, body string) Answer {
	f.mu.Lock()
	f.counts.Requests++
	f.mu.Unlock()
	req := httptest.NewRequestWithContext(context.WithValue(ctx, originKey{}, FromRequest), http.MethodPost, "/sync"+query, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	f.fn.ServeHTTP(w, req)
	return Answer{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// Counts returns what the Flow did so far.
func (f *Flow) Counts() Counts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts
}

// Deliveries returns every record handed to the function so far, in the order they returned.
func (f *Flow) Deliveries() []Delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deliveries)
}

// Calls returns every Graph call of the function so far, in the order they were answered.
func (f *Flow) Calls() []Call {
	calls, _ := f.graph.snapshot()
	return calls
}

// CountCalls is how many Graph calls named name ("POST sync", "GET
// windowsAutopilotDeviceIdentities", …) came from origin ("" any) and were answered status (0
// any).
func (f *Flow) CountCalls(origin Origin, name string, status int) int {
	n := 0
	for _, c := range f.Calls() {
		if (origin == "" || c.Origin == origin) && c.Name() == name && (status == 0 || c.Status == status) {
			n++
		}
	}
	return n
}

// Triggers returns the trigger times of the syncs Graph accepted, in order.
func (f *Flow) Triggers() []time.Time {
	_, triggers := f.graph.snapshot()
	return triggers
}

// Callbacks returns every callback the receiver got, in the order they came.
func (f *Flow) Callbacks() []Callback { return f.callback.callbacks() }

// CallbacksOf returns the callbacks of one webhook-id (a follow-up's id), in the order they came.
func (f *Flow) CallbacksOf(id string) []Callback { return f.callback.of(id) }

// Lines returns the function's log lines so far.
func (f *Flow) Lines() []Line { return f.log.snapshot() }
