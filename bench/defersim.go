package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/flowtest"
)

// deferSim is a deterministic discrete-event simulation of deferred syncs (SPEC §16, issue 22)
// on flowtest's driver: the real sync function, wired as its main wires it with
// SYNC_WHEN_BUSY=defer, against the emulator over TLS on loopback, all on one manual clock, its
// follow-up queue one that keeps each message until it is due. run has each request arrive at
// its instant; the Flow serves everything of one instant at once, each request and each record
// in its own goroutine and invocation, so that checks race against the emulator as they would on
// Lambda; then it moves on. The events and their instants are deterministic; which of the racing
// checks wins Graph's 204 is not. Callbacks go to the Flow's HTTPS receiver on loopback, which
// keeps each outcome with its webhook-id.
type deferSim struct {
	flow  *flowtest.Flow
	query string // of every request: "?defer=true", or "" (SYNC_WHEN_BUSY decides)

	mu       sync.Mutex
	requests []*simRequest
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

// newDeferSim starts a Flow of the sync function with SYNC_WHEN_BUSY=defer. Close stops it.
func newDeferSim(o simOptions) (*deferSim, error) {
	f, err := flowtest.New(flowtest.Options{Start: o.Start, Emulator: emulator.Options{SyncDuration: o.SyncDuration},
		Env: map[string]string{"SYNC_WHEN_BUSY": "defer"}})
	if err != nil {
		return nil, err
	}
	return &deferSim{flow: f, query: o.Query}, nil
}

// Close stops the Flow.
func (s *deferSim) Close() { s.flow.Close() }

// run serves requests arriving at the given times (in any order, none before the clock), then
// every message they cause, until the queue is empty. It returns the first failure of the
// driver itself (a request not answered 202, a callback the receiver could not read); what the
// function decided is left to the caller to judge.
func (s *deferSim) run(ctx context.Context, arrivals []time.Time) error {
	arrivals = slices.SortedFunc(slices.Values(arrivals), time.Time.Compare)
	if len(arrivals) > 0 && arrivals[0].Before(s.flow.Now()) {
		return fmt.Errorf("a request arrives at %s, before the clock's %s", arrivals[0], s.flow.Now())
	}
	for _, at := range arrivals {
		s.flow.At(at, func(ctx context.Context) error { return s.request(ctx, at) })
	}
	return s.flow.Run(ctx)
}

// request sends one POST /sync through the function's HTTP handler, with a callback of its own.
func (s *deferSim) request(ctx context.Context, at time.Time) error {
	s.mu.Lock()
	r := &simRequest{At: at}
	s.requests = append(s.requests, r)
	n := len(s.requests)
	s.mu.Unlock()
	body := fmt.Sprintf(`{"callbackUrl":%q}`, s.flow.CallbackURL(fmt.Sprintf("request/%d", n)))
	a := s.flow.Post(ctx, s.query, body)
	var answer struct {
		Result   string `json:"result"`
		FollowUp struct {
			ID string `json:"id"`
		} `json:"followUp"`
	}
	err := a.Decode(&answer)
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Status, r.Result, r.FollowUpID = a.Status, answer.Result, answer.FollowUp.ID
	if err != nil || a.Status != http.StatusAccepted || r.FollowUpID == "" {
		return fmt.Errorf("request %d at %s: answered %d %s, want 202 with a followUp", n, at.Format(time.RFC3339), a.Status, a.Body)
	}
	return nil
}

// callback is one outcome a request's callback URL received.
type callback struct {
	Type        string
	RequestedAt string
	LastSync    string
	Result      string
}

// outcomes returns the outcomes delivered for a follow-up id.
func (s *deferSim) outcomes(id string) []callback {
	var out []callback
	for _, c := range s.flow.CallbacksOf(id) {
		var body struct {
			Type string `json:"type"`
			Data struct {
				Result           string `json:"result"`
				RequestedAt      string `json:"requestedAt"`
				LastSyncDateTime string `json:"lastSyncDateTime"`
			} `json:"data"`
		}
		_ = json.Unmarshal(c.Body, &body)
		out = append(out, callback{Type: body.Type, RequestedAt: body.Data.RequestedAt, LastSync: body.Data.LastSyncDateTime, Result: body.Data.Result})
	}
	return out
}
