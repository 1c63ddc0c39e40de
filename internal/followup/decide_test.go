package followup

import (
	"fmt"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)

const (
	slackURL    = "https://hooks.slack.com/commands/T0001/1234/s3cr3t"
	callbackURL = "https://contoso.service-now.com/api/x_autopilot/done?s3cr3t=1"
)

var (
	running = Reading{Settings: graph.Settings{SyncStatus: "inProgress", LastSyncDateTime: t0.Add(-time.Hour)}}
	allOf   = Targets{Slack: slackURL, Teams: true, Callback: callbackURL}
)

// at returns t0 + seconds.
func at(seconds int) time.Time { return t0.Add(time.Duration(seconds) * time.Second) }

// offset returns how many seconds after t0 t is.
func offset(t time.Time) int { return int(t.Sub(t0) / time.Second) }

// follow runs the checks of a sync that never finishes, each exactly when it is due, and
// returns the offsets of the checks, the targets told "still running" and the final plan.
func follow(t *testing.T, s Schedule, targets Targets) (checks []int, stillRunning []Target, last Plan) {
	t.Helper()
	m := New("id-1", "contoso", t0, targets)
	now := t0.Add(s.FirstDelay())
	for range 100 {
		checks = append(checks, offset(now))
		p := Decide(m, running, now, s)
		for _, n := range p.Notices {
			if n.StillRunning() {
				stillRunning = append(stillRunning, n.Target)
			}
		}
		if p.Outcome != nil {
			return checks, stillRunning, p
		}
		st := p.Settle(nil)
		if st.Next == nil {
			t.Fatalf("check at %d s: pending without a next check", offset(now))
		}
		m, now = *st.Next, now.Add(st.Delay)
	}
	t.Fatal("no outcome after 100 checks")
	return
}

func TestScheduleOfChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		schedule         Schedule
		targets          Targets
		wantChecks       []int
		wantStillRunning []Target
	}{
		{
			name:       "defaults, no Slack",
			schedule:   DefaultSchedule(),
			targets:    Targets{Callback: callbackURL},
			wantChecks: []int{60, 120, 240, 480, 960, 1860, 2760, 3600},
		},
		{
			name:             "defaults, Slack: a check at 29 min",
			schedule:         DefaultSchedule(),
			targets:          Targets{Slack: slackURL},
			wantChecks:       []int{60, 120, 240, 480, 960, 1740, 2640, 3540, 3600},
			wantStillRunning: []Target{Slack},
		},
		{
			name:       "max age under 29 min: Slack gets the timeout instead",
			schedule:   Schedule{FirstCheck: 60 * time.Second, MaxAge: 10 * time.Minute},
			targets:    Targets{Slack: slackURL},
			wantChecks: []int{60, 120, 240, 480, 600},
		},
		{
			name:       "max age of exactly 29 min: timedOut wins",
			schedule:   Schedule{FirstCheck: 900 * time.Second, MaxAge: 29 * time.Minute},
			targets:    Targets{Slack: slackURL},
			wantChecks: []int{900, 960, 1080, 1320, 1740},
		},
		{
			name:       "first check later than the max age",
			schedule:   Schedule{FirstCheck: 900 * time.Second, MaxAge: 5 * time.Minute},
			wantChecks: []int{300},
		},
		{
			name:       "shortest",
			schedule:   Schedule{FirstCheck: time.Second, MaxAge: time.Second},
			wantChecks: []int{1},
		},
		{
			name:     "longest: never a delay over 900 s",
			schedule: Schedule{FirstCheck: 900 * time.Second, MaxAge: 12 * time.Hour},
			wantChecks: func() []int {
				checks := []int{900, 960, 1080, 1320, 1800}
				for c := 2700; c < 43200; c += 900 {
					checks = append(checks, c)
				}
				return append(checks, 43200)
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checks, stillRunning, last := follow(t, tt.schedule, tt.targets)
			if diff := cmp.Diff(tt.wantChecks, checks); diff != "" {
				t.Errorf("check offsets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStillRunning, stillRunning); diff != "" {
				t.Errorf("still-running notices (-want +got):\n%s", diff)
			}
			if got, want := last.Outcome.Result, autopilot.TimedOut; got != want {
				t.Errorf("outcome = %s, want %s", got, want)
			}
			var told []Target
			for _, n := range last.Notices {
				told = append(told, n.Target)
			}
			want := tt.targets.List()
			if len(tt.wantStillRunning) > 0 {
				want = nil // Slack left the follow-up at 29 min
			}
			if diff := cmp.Diff(want, told); diff != "" {
				t.Errorf("timedOut told to (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideFinished(t *testing.T) {
	t.Parallel()
	now := at(300)
	tests := []struct {
		name         string
		reading      Reading
		want         autopilot.Result // "" means still pending
		wantDuration int64
	}{
		{"completed", Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: at(244)}}, autopilot.Completed, 244},
		{"failed", Reading{Settings: graph.Settings{SyncStatus: "failed", LastSyncDateTime: at(61)}}, autopilot.Failed, 61},
		{"rounded to the second", Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: at(10).Add(600 * time.Millisecond)}}, autopilot.Completed, 11},
		{"within the clock skew: duration 0", Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: at(-5)}}, autopilot.Completed, 0},
		{"older than the skew: an earlier sync", Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: at(-6)}}, "", 0},
		{"failed long ago", Reading{Settings: graph.Settings{SyncStatus: "failed", LastSyncDateTime: at(-3600)}}, "", 0},
		{"never synced", Reading{Settings: graph.Settings{SyncStatus: "completed"}}, "", 0},
		{"in progress", Reading{Settings: graph.Settings{SyncStatus: "inProgress", LastSyncDateTime: at(200)}}, "", 0},
		{"unknown", Reading{Settings: graph.Settings{SyncStatus: "unknown", LastSyncDateTime: at(200)}}, "", 0},
		{"a value Graph adds later", Reading{Settings: graph.Settings{SyncStatus: "partiallyCompleted", LastSyncDateTime: at(200)}}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := New("id-1", "", t0, allOf)
			p := Decide(m, tt.reading, now, DefaultSchedule())
			if tt.want == "" {
				if p.Outcome != nil || p.Retry || len(p.Notices) != 0 {
					t.Fatalf("plan = %+v, want pending", p)
				}
				if st := p.Settle(nil); st.Next == nil || st.Next.Attempt != 2 {
					t.Errorf("settlement = %+v, want the second check", st)
				}
				return
			}
			if p.Outcome == nil {
				t.Fatal("no outcome")
			}
			want := Outcome{Result: tt.want, At: now, SyncStatus: string(tt.reading.Settings.SyncStatus),
				LastSyncDateTime: &tt.reading.Settings.LastSyncDateTime, SyncDurationSeconds: &tt.wantDuration}
			if diff := cmp.Diff(want, *p.Outcome); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
			if got, want := len(p.Notices), 3; got != want {
				t.Errorf("%d notices, want %d", got, want)
			}
			for _, n := range p.Notices {
				if n.Outcome != p.Outcome || n.ID != "id-1" || !n.RequestedAt.Equal(t0) {
					t.Errorf("notice %+v does not carry the outcome", n)
				}
			}
			if st := p.Settle(nil); st.Next != nil || len(st.GaveUp) != 0 {
				t.Errorf("settlement after delivery = %+v, want done", st)
			}
		})
	}
}

func TestDecideReadFailures(t *testing.T) {
	t.Parallel()
	m := New("id-1", "contoso", t0, allOf)
	t.Run("transient: the record is retried, nothing else", func(t *testing.T) {
		t.Parallel()
		p := Decide(m, Reading{Code: "graphUnavailable"}, at(60), DefaultSchedule())
		if !p.Retry || p.Outcome != nil || len(p.Notices) != 0 {
			t.Fatalf("plan = %+v, want Retry only", p)
		}
		if st := p.Settle(allOf.List()); st.Next != nil {
			t.Errorf("settlement = %+v, want nothing: SQS redelivers the record", st)
		}
	})
	t.Run("permanent: outcome error with its code", func(t *testing.T) {
		t.Parallel()
		p := Decide(m, Reading{Code: "unknownTenant"}, at(60), DefaultSchedule())
		want := Outcome{Result: autopilot.Error, At: at(60), Code: "unknownTenant"}
		if p.Outcome == nil {
			t.Fatal("no outcome")
		}
		if diff := cmp.Diff(want, *p.Outcome); diff != "" {
			t.Errorf("outcome (-want +got):\n%s", diff)
		}
		if got, want := len(p.Notices), 3; got != want {
			t.Errorf("%d notices, want %d", got, want)
		}
	})
}

func TestSlackTwentyNineMinutes(t *testing.T) {
	t.Parallel()
	slackAndCallback := Targets{Slack: slackURL, Callback: callbackURL}
	tests := []struct {
		name        string
		now         time.Time
		reading     Reading
		wantNotices []string
		wantGaveUp  []Target
		wantNext    *Targets // targets of the next check; nil: no next check
	}{
		{"at 28:59 nothing yet", at(1739), running, nil, nil, &slackAndCallback},
		{"at 29:00 Slack is told once and leaves", at(1740), running, []string{"slack:stillRunning"}, nil, &Targets{Callback: callbackURL}},
		{"finished at 29:00: everyone gets the outcome", at(1740), Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: at(1700)}}, []string{"slack:completed", "callback:completed"}, nil, nil},
		{"a check that comes late, past 30 min: Slack is dropped untold", at(1830), running, nil, []Target{Slack}, &Targets{Callback: callbackURL}},
		{"finished, past 30 min: only the callback", at(1830), Reading{Settings: graph.Settings{SyncStatus: "failed", LastSyncDateTime: at(1800)}}, []string{"callback:failed"}, []Target{Slack}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := New("id-1", "contoso", t0, slackAndCallback)
			m.Attempt = 6
			p := Decide(m, tt.reading, tt.now, DefaultSchedule())
			if diff := cmp.Diff(tt.wantNotices, describe(p.Notices)); diff != "" {
				t.Errorf("notices (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantGaveUp, p.GaveUp); diff != "" {
				t.Errorf("gave up (-want +got):\n%s", diff)
			}
			st := p.Settle([]Target{Slack, Callback}) // a failed still-running notice is not repeated
			switch {
			case tt.wantNext == nil && p.Outcome == nil:
				t.Fatal("test wants no next check of a pending plan")
			case tt.wantNext == nil:
				return
			case st.Next == nil:
				t.Fatalf("settlement = %+v, want a next check", st)
			}
			if diff := cmp.Diff(*tt.wantNext, st.Next.Targets); diff != "" {
				t.Errorf("next targets (-want +got):\n%s", diff)
			}
		})
	}
}

// describe lists notices as "target:what".
func describe(notices []Notice) []string {
	var out []string
	for _, n := range notices {
		what := "stillRunning"
		if n.Outcome != nil {
			what = string(n.Outcome.Result)
		}
		out = append(out, fmt.Sprintf("%s:%s", n.Target, what))
	}
	return out
}

func TestDeliveryRetries(t *testing.T) {
	t.Parallel()
	// The outcome comes at 10 min; Teams answers 503 once, the callback's receiver never
	// recovers, Slack took it at once.
	m := New("id-1", "contoso", t0, allOf)
	now := at(600)
	p := Decide(m, Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: at(590)}}, now, DefaultSchedule())
	if got, want := describe(p.Notices), []string{"slack:completed", "teams:completed", "callback:completed"}; !cmp.Equal(got, want) {
		t.Fatalf("notices = %v, want %v", got, want)
	}
	again := []Target{Teams, Callback}
	var rounds []int
	var gaveUp []Target
	for range 20 {
		st := p.Settle(again)
		gaveUp = append(gaveUp, st.GaveUp...)
		if st.Next == nil {
			break
		}
		next := *st.Next
		if next.Outcome == nil || *next.Outcome.SyncDurationSeconds != 590 {
			t.Fatalf("retry message lost the outcome: %+v", next.Outcome)
		}
		if next.ID != "id-1" {
			t.Fatalf("retry message id = %q, want the follow-up's", next.ID)
		}
		b, err := next.Encode()
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(st.Delay)
		if next, err = Decode(b, now); err != nil {
			t.Fatal(err)
		}
		if next.NeedsCheck() {
			t.Fatal("a retry message asks for another read of the settings")
		}
		rounds = append(rounds, offset(now)-600)
		p = Decide(next, Reading{}, now, DefaultSchedule())
		again = []Target{Callback}
	}
	if diff := cmp.Diff([]int{60, 180, 420, 900, 1800, 2700, 3600}, rounds); diff != "" {
		t.Errorf("delivery rounds after the outcome, in seconds (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Target{Callback}, gaveUp); diff != "" {
		t.Errorf("gave up (-want +got):\n%s", diff)
	}
	if got := describe(p.Notices); !cmp.Equal(got, []string{"callback:completed"}) {
		t.Errorf("last round's notices = %v, want the callback only", got)
	}
}

func TestSlackDeliveryRetryWithinThirtyMinutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		outcomeAt int
		wantRetry bool
	}{
		{"outcome at 28:00: retried at 29:00", 1680, true},
		{"outcome at 29:00: a retry at 30:00 would be too late", 1740, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := New("id-1", "", t0, Targets{Slack: slackURL})
			p := Decide(m, Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: at(tt.outcomeAt - 5)}}, at(tt.outcomeAt), DefaultSchedule())
			st := p.Settle([]Target{Slack})
			if got := st.Next != nil; got != tt.wantRetry {
				t.Fatalf("retried = %v (%+v), want %v", got, st, tt.wantRetry)
			}
			if !tt.wantRetry && !cmp.Equal(st.GaveUp, []Target{Slack}) {
				t.Errorf("gave up = %v, want [slack]", st.GaveUp)
			}
		})
	}
}

func TestDuplicateDelivery(t *testing.T) {
	t.Parallel()
	first := New("id-1", "contoso", t0, allOf)
	first.Attempt = 6
	for _, tt := range []struct {
		name    string
		m       Message
		reading Reading
		now     time.Time
	}{
		{"a pending check", first, running, at(1740)},
		{"the check that finds the outcome", first, Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: at(1000)}}, at(1100)},
		{"a delivery round", func() Message {
			p := Decide(first, Reading{Settings: graph.Settings{SyncStatus: "failed", LastSyncDateTime: at(1000)}}, at(1100), DefaultSchedule())
			return *p.Settle([]Target{Callback}).Next
		}(), Reading{}, at(1160)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := Decide(tt.m, tt.reading, tt.now, DefaultSchedule())
			b := Decide(tt.m, tt.reading, tt.now, DefaultSchedule())
			if diff := cmp.Diff(a, b, cmp.AllowUnexported(Plan{})); diff != "" {
				t.Errorf("a duplicate got another plan (-first +duplicate):\n%s", diff)
			}
			if diff := cmp.Diff(a.Settle([]Target{Callback}), b.Settle([]Target{Callback})); diff != "" {
				t.Errorf("a duplicate settled otherwise (-first +duplicate):\n%s", diff)
			}
		})
	}
}

func TestSettleOnlyRetriesWhatWasTried(t *testing.T) {
	t.Parallel()
	m := New("id-1", "", t0, Targets{Callback: callbackURL})
	p := Decide(m, Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: at(100)}}, at(120), DefaultSchedule())
	if st := p.Settle([]Target{Slack, Teams}); st.Next != nil || len(st.GaveUp) != 0 {
		t.Errorf("settlement = %+v, want nothing: Slack and Teams were never owed", st)
	}
}
