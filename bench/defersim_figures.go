package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/flowtest"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
)

// The bounds SPEC §16 promises for deferred requests (issue 22): at most one sync per 10 minutes
// (Graph's own rule, so at most 6 per hour), and no request waits longer for the start of the
// sync that serves it than the 10 minutes between syncs and one check interval.
const (
	maxSyncsPerHour = 6
	maxDeferredWait = 10*time.Minute + followup.RecheckAfter
)

// simStart is the simulated clock's first reading: fixed, so that a seed repeats a run.
var simStart = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

// simSpec is one simulation of deferred requests: Requests POST /sync arriving at uniformly random
// whole seconds of Window (math/rand/v2's PCG with Seed), under SYNC_WHEN_BUSY=defer, against
// an emulator whose syncs run SyncDuration.
type simSpec struct {
	Requests     int
	Window       time.Duration
	Seed         uint64
	SyncDuration time.Duration
}

// arrivals are the spec's request times, from simStart.
func (p simSpec) arrivals() []time.Time {
	rng := rand.New(rand.NewPCG(p.Seed, p.Seed^0x5eed))
	seconds := int(p.Window / time.Second)
	at := make([]time.Time, p.Requests)
	for i := range at {
		at[i] = simStart.Add(time.Duration(rng.IntN(seconds)) * time.Second)
	}
	return at
}

// simulateDeferrals runs p against the real sync function (deferSim) until every follow-up has
// ended, and returns what happened.
func simulateDeferrals(ctx context.Context, p simSpec) (simFigures, error) {
	began := time.Now()
	s, err := newDeferSim(simOptions{Start: simStart, SyncDuration: p.SyncDuration})
	if err != nil {
		return simFigures{}, err
	}
	defer s.Close()
	if err := s.run(ctx, p.arrivals()); err != nil {
		return simFigures{}, err
	}
	f := s.figures(simStart, p.Window)
	f.Spec, f.Wall = p, time.Since(began)
	return f, nil
}

// simFigures are what a simulation measured: Graph's answers to the sync calls (by whom they were
// asked), how the checks ended, and per request the one outcome it was told and its wait.
type simFigures struct {
	Spec     simSpec
	Requests int
	// Answered counts the requests' answers by result (started, deferred).
	Answered map[string]int
	// Answers are Graph's answers to POST …/sync by origin (request, check) and status.
	Answers map[flowtest.Origin]map[int]int
	// Triggers are the trigger times of the syncs Graph accepted; InWindow how many fell in the
	// simulated window, MaxPerHour the most in any hour.
	Triggers   []time.Time
	InWindow   int
	MaxPerHour int
	// Checks are the follow-up checks' log lines by outcome (merged, started, deferred, pending,
	// completed, …).
	Checks map[string]int
	// Outcomes counts each request's first callback by result; Missing the requests told
	// nothing, Repeated those told more than once, Early those served by a sync triggered before
	// them, Unmatched those whose lastSyncDateTime matches no accepted sync.
	Outcomes                            map[string]int
	Missing, Repeated, Early, Unmatched int
	WrongRequestedAt                    int
	Waits                               []time.Duration // request → start of its sync, sorted
	DeadLetters                         int
	LastEvent                           time.Time
	Wall                                time.Duration
	FirstErrors                         []string
}

// figures reads the simulation's results; window is the simulated span of the arrivals.
func (s *deferSim) figures(start time.Time, window time.Duration) simFigures {
	answers := map[flowtest.Origin]map[int]int{}
	for _, c := range s.flow.Calls() {
		if c.Name() != "POST sync" {
			continue
		}
		if answers[c.Origin] == nil {
			answers[c.Origin] = map[int]int{}
		}
		answers[c.Origin][c.Status]++
	}
	triggers := s.flow.Triggers()
	f := simFigures{Answers: answers, Triggers: triggers, Checks: map[string]int{}, Outcomes: map[string]int{}, Answered: map[string]int{},
		LastEvent: s.flow.Now()}
	for _, l := range s.flow.Lines() {
		if l.Action == "followUp" {
			f.Checks[l.Outcome]++
		}
		if l.Level == "ERROR" && len(f.FirstErrors) < 5 {
			f.FirstErrors = append(f.FirstErrors, string(l.Raw))
		}
	}
	for _, t := range triggers {
		if !t.Before(start) && t.Before(start.Add(window)) {
			f.InWindow++
		}
		n := 0
		for _, u := range triggers {
			if !u.Before(t) && u.Before(t.Add(time.Hour)) {
				n++
			}
		}
		f.MaxPerHour = max(f.MaxPerHour, n)
	}
	s.mu.Lock()
	requests := slices.Clone(s.requests)
	s.mu.Unlock()
	deadLetters := s.flow.Counts().DeadLetters
	f.Requests, f.DeadLetters = len(requests), deadLetters
	for _, r := range requests {
		f.Answered[r.Result]++
		got := s.outcomes(r.FollowUpID)
		switch {
		case len(got) == 0:
			f.Missing++
			continue
		case len(got) > 1:
			f.Repeated++
		}
		c := got[0]
		f.Outcomes[c.Result]++
		if c.RequestedAt != r.At.UTC().Format(time.RFC3339) {
			f.WrongRequestedAt++
		}
		lastSync, err := time.Parse(time.RFC3339, c.LastSync)
		if err != nil {
			continue // an outcome with no sync (timedOut, error): no wait to measure
		}
		i := servingSync(triggers, lastSync)
		switch {
		case i < 0:
			f.Unmatched++
		case triggers[i].Before(r.At):
			f.Early++
		default:
			f.Waits = append(f.Waits, triggers[i].Sub(r.At))
		}
	}
	slices.Sort(f.Waits)
	return f
}

// servingSync is the index of the sync that ended at lastSync: the last one triggered at or
// before it (syncs never overlap), or -1.
func servingSync(triggers []time.Time, lastSync time.Time) int {
	i, _ := slices.BinarySearchFunc(triggers, lastSync, func(t, target time.Time) int {
		if t.After(target) {
			return 1
		}
		return -1
	})
	return i - 1
}

// answered is how many sync calls from o Graph answered with status.
func (f simFigures) answered(o flowtest.Origin, status int) int { return f.Answers[o][status] }

// accepted is how many sync calls Graph accepted (204), from anyone.
func (f simFigures) accepted() int {
	return f.answered(flowtest.FromRequest, http.StatusNoContent) + f.answered(flowtest.FromCheck, http.StatusNoContent)
}

// longest is the longest wait from a request to the start of its sync.
func (f simFigures) longest() time.Duration {
	if len(f.Waits) == 0 {
		return 0
	}
	return f.Waits[len(f.Waits)-1]
}

// problems lists where the simulation broke SPEC §16's promises: every request told exactly one
// outcome, completed, of a sync triggered at or after it, within maxDeferredWait; at most
// maxSyncsPerHour accepted syncs in any hour; nothing left in the dead-letter queue.
func (f simFigures) problems() []string {
	var out []string
	add := func(n int, format string, args ...any) {
		if n != 0 {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	add(f.Missing, "%d of %d requests were told no outcome", f.Missing, f.Requests)
	add(f.Repeated, "%d requests were told their outcome more than once", f.Repeated)
	notCompleted := f.Requests - f.Missing - f.Outcomes["completed"]
	add(notCompleted, "%d requests ended otherwise than completed: %v", notCompleted, f.Outcomes)
	add(f.Early, "%d requests were served by a sync triggered before them", f.Early)
	add(f.Unmatched, "%d outcomes name a lastSyncDateTime of no accepted sync", f.Unmatched)
	add(f.WrongRequestedAt, "%d callbacks carry another requestedAt than their request's", f.WrongRequestedAt)
	add(f.DeadLetters, "%d records went to the dead-letter queue", f.DeadLetters)
	if f.MaxPerHour > maxSyncsPerHour {
		out = append(out, fmt.Sprintf("%d syncs accepted within one hour, want at most %d", f.MaxPerHour, maxSyncsPerHour))
	}
	if f.longest() > maxDeferredWait {
		out = append(out, fmt.Sprintf("the longest wait for a sync was %v, want at most %v", f.longest(), maxDeferredWait))
	}
	if len(f.FirstErrors) > 0 {
		out = append(out, "the function logged errors, the first: "+strings.TrimSpace(f.FirstErrors[0]))
	}
	return out
}
