package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/flowtest"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
)

// TestDeferredRequestsRace is issue 22's acceptance on the emulator: after one sync, N deferred
// requests in its 10-minute window (spread over it: the first ones while the sync runs, answered
// 409 by Graph, the later ones after, answered 429; or all at once while it runs) cause exactly
// one more sync that Graph accepts, plus at most N−1 409s to the checks that race for it; each
// request's callback is told exactly one outcome, completed, of a sync triggered at or after
// the request.
func TestDeferredRequestsRace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int
		// at is when request i of n arrives after the first sync's trigger.
		at func(i, n int) time.Duration
	}{
		{name: "8 spread over the window", n: 8, at: spread},
		{name: "32 spread over the window", n: 32, at: spread},
		{name: "8 at once while the sync runs", n: 8, at: func(int, int) time.Duration { return 30 * time.Second }},
		{name: "32 at once while the sync runs", n: 32, at: func(int, int) time.Duration { return 30 * time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := newDeferSim(simOptions{Start: simStart, Query: "?defer=true"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			arrivals := []time.Time{simStart}
			for i := range tt.n {
				arrivals = append(arrivals, simStart.Add(tt.at(i, tt.n)))
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.run(ctx, arrivals); err != nil {
				t.Fatal(err)
			}
			f := s.figures(simStart, 10*time.Minute)
			for _, p := range f.problems() {
				t.Error(p)
			}

			refusedRequests := f.answered(flowtest.FromRequest, http.StatusConflict) + f.answered(flowtest.FromRequest, http.StatusTooManyRequests)
			got := map[string]int{
				"accepted for a request": f.answered(flowtest.FromRequest, http.StatusNoContent),
				"accepted for a check":   f.answered(flowtest.FromCheck, http.StatusNoContent),
				"refused to a request":   refusedRequests,
				"completed":              f.Outcomes["completed"],
			}
			want := map[string]int{
				"accepted for a request": 1, "accepted for a check": 1, "refused to a request": tt.n, "completed": tt.n + 1,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("sync calls and outcomes (-want +got):\n%s", diff)
			}
			if n := f.answered(flowtest.FromCheck, http.StatusConflict); n > tt.n-1 {
				t.Errorf("the checks were answered %d 409s, want at most N−1 = %d", n, tt.n-1)
			}
			if len(f.Triggers) == 2 {
				// At the first moment Graph allows, or as soon after it as the first check comes
				// (its spread).
				if d := f.Triggers[1].Sub(f.Triggers[0]); d < 10*time.Minute || d >= 10*time.Minute+followup.MaxSpread {
					t.Errorf("the second sync started %v after the first, want 10m0s to 10m%.0fs", d, followup.MaxSpread.Seconds())
				}
			}
			if tt.at(0, tt.n) == tt.at(tt.n-1, tt.n) {
				return
			}
			// Spread: Graph answered both refusals, and the requests deferred by a 409 looked
			// again while the sync still ran.
			if f.answered(flowtest.FromRequest, http.StatusConflict) == 0 || f.answered(flowtest.FromRequest, http.StatusTooManyRequests) == 0 {
				t.Errorf("the requests were answered %v by Graph, want both 409s and 429s", f.Answers[flowtest.FromRequest])
			}
			if f.Checks["deferred"] == 0 {
				t.Errorf("no check deferred again (checks: %v), want those of the requests answered 409", f.Checks)
			}
		})
	}
}

// spread is request i of n, in whole seconds from 5 s to 9 min 55 s after the first sync.
func spread(i, n int) time.Duration {
	return 5*time.Second + time.Duration(i)*(590*time.Second/time.Duration(n)).Truncate(time.Second)
}

// TestDeferSimulation is issue 22's simulation: 1,000 requests at random seconds of one hour,
// SYNC_WHEN_BUSY=defer, each sync running 90 s (the emulator's default) or 5 min: at most 6 syncs
// that Graph accepted in any hour, and every request told once that a sync triggered at or after
// it completed, within 10 min + one check interval of the request. `go run ./bench` reports the
// same simulation's figures.
func TestDeferSimulation(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{90 * time.Second, 5 * time.Minute} {
		t.Run("sync runs "+d.String(), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			f, err := simulateDeferrals(ctx, simSpec{Requests: 1000, Window: time.Hour, Seed: 22, SyncDuration: d})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range f.problems() {
				t.Error(p)
			}
			if f.InWindow > maxSyncsPerHour || f.InWindow == 0 {
				t.Errorf("%d syncs accepted in the simulated hour, want 1 to %d", f.InWindow, maxSyncsPerHour)
			}
			t.Logf("%d requests: %d syncs accepted (%d in the hour), checks %v, Graph answered requests %v and checks %v, longest wait %v, wall %v",
				f.Requests, f.accepted(), f.InWindow, f.Checks, f.Answers[flowtest.FromRequest], f.Answers[flowtest.FromCheck], f.longest(), f.Wall)
		})
	}
}

// TestReplaceSection: -defer-only replaces its own section of RESULTS.md, wherever it stands,
// and leaves the others as they were.
func TestReplaceSection(t *testing.T) {
	t.Parallel()
	section := "\n" + deferHeading + "10 requests\n\nnew\n"
	tests := []struct{ name, doc, want string }{
		{name: "appended", doc: "# Bench\n\n## Cold\n\nold\n",
			want: "# Bench\n\n## Cold\n\nold\n\n" + deferHeading + "10 requests\n\nnew\n"},
		{name: "replaced at the end", doc: "# Bench\n\n## Cold\n\nold\n\n\n" + deferHeading + "5 requests\n\nold\n",
			want: "# Bench\n\n## Cold\n\nold\n\n" + deferHeading + "10 requests\n\nnew\n"},
		{name: "replaced before another section", doc: "# Bench\n\n" + deferHeading + "5 requests\n\nold\n\n## Thaw\n\nkept\n",
			want: "# Bench\n\n" + deferHeading + "10 requests\n\nnew\n\n## Thaw\n\nkept\n"},
		{name: "an empty file", doc: "", want: deferHeading + "10 requests\n\nnew\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := replaceSection(tt.doc, section)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("replaceSection (-want +got):\n%s", diff)
			}
			if again := replaceSection(got, section); again != got {
				t.Errorf("a second run changed the file:\n%s", cmp.Diff(got, again))
			}
		})
	}
}
