package followup

import (
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/google/go-cmp/cmp"
)

// deferredAt is a request deferred at t0 whose deferral saw the trigger at before (zero: none).
func deferredAt(before time.Time, targets Targets) Message {
	return NewDeferred("id-d", "contoso", t0, before, targets)
}

// settings is a reading: status, the last trigger and the last sync, as offsets from t0.
func settings(status graph.SyncStatus, trigger, lastSync int) Reading {
	return Reading{Settings: graph.Settings{SyncStatus: status, LastManualSyncTriggerDateTime: at(trigger), LastSyncDateTime: at(lastSync)}}
}

func TestDeferSteps(t *testing.T) {
	t.Parallel()
	before := at(-300) // the trigger of the sync that ran when the request was deferred
	tests := []struct {
		name     string
		m        Message
		r        Reading
		now      int
		want     Step
		retry    bool
		outcome  autopilot.Result
		delay    time.Duration
		mergedAt int // the merged trigger, as an offset from t0
	}{
		{name: "a transient read retries", m: deferredAt(before, allOf), r: Reading{Code: problem.GraphUnavailable}, now: 300, retry: true},
		{name: "a permanent read failure ends it", m: deferredAt(before, allOf), r: Reading{Code: problem.UnknownTenant}, now: 300, want: StepEnd, outcome: autopilot.Error},
		{name: "a trigger after the one seen merges", m: deferredAt(before, allOf), r: settings(graph.SyncStatusInProgress, 200, -3600), now: 300, want: StepMerge, mergedAt: 200},
		{name: "a finished trigger after the one seen merges too", m: deferredAt(before, allOf), r: settings(graph.SyncStatusCompleted, 200, 250), now: 300, want: StepMerge, mergedAt: 200},
		{name: "the trigger seen does not merge", m: deferredAt(before, allOf), r: settings(graph.SyncStatusCompleted, -300, -200), now: 300, want: StepSync},
		{name: "the trigger seen, still running: wait 60 s", m: deferredAt(before, allOf), r: settings(graph.SyncStatusInProgress, -300, -3600), now: 300, want: StepWait, delay: RecheckAfter},
		{name: "none seen, none since: sync", m: deferredAt(time.Time{}, Targets{}), r: Reading{Settings: graph.Settings{SyncStatus: graph.SyncStatusUnknown}}, now: 60, want: StepSync},
		{name: "none seen, any trigger merges", m: deferredAt(time.Time{}, Targets{}), r: settings(graph.SyncStatusInProgress, -10, -3600), now: 60, want: StepMerge, mergedAt: -10},
		{name: "past the max age: timedOut, no sync", m: deferredAt(before, allOf), r: settings(graph.SyncStatusCompleted, -300, -200), now: 3600, want: StepEnd, outcome: autopilot.TimedOut},
		{name: "a merge wins over the max age", m: deferredAt(before, allOf), r: settings(graph.SyncStatusCompleted, 3000, 3100), now: 3700, want: StepMerge, mergedAt: 3000},
		{name: "a wait never passes the max age", m: deferredAt(before, Targets{Callback: callbackURL}), r: settings(graph.SyncStatusInProgress, -300, -3600), now: 3580, want: StepWait, delay: 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := Defer(tt.m, tt.r, at(tt.now), DefaultSchedule())
			if d.Step != tt.want || d.Retry != tt.retry {
				t.Fatalf("step %d retry %v, want %d %v", d.Step, d.Retry, tt.want, tt.retry)
			}
			switch d.Step {
			case StepEnd:
				if d.Plan.Outcome == nil || d.Plan.Outcome.Result != tt.outcome {
					t.Fatalf("outcome %+v, want %s", d.Plan.Outcome, tt.outcome)
				}
				if told := len(d.Plan.Notices) + len(d.Plan.GaveUp); told != len(tt.m.Targets.List()) {
					t.Errorf("%d notices and %d given up for %d targets", len(d.Plan.Notices), len(d.Plan.GaveUp), len(tt.m.Targets.List()))
				}
				for _, n := range d.Plan.Notices {
					if !n.Waiting {
						t.Errorf("notice to %s does not say that no sync started", n.Target)
					}
				}
			case StepWait:
				st := d.Plan.Settle(nil)
				if tt.delay == RecheckAfter {
					tt.delay += Spread(tt.m.ID)
				}
				if st.Next == nil || st.Next.Deferred == nil || st.Delay != tt.delay {
					t.Fatalf("settled %+v, want the deferred request again after %s", st, tt.delay)
				}
			case StepMerge:
				m := d.Message
				if m.Deferred != nil || m.TriggeredAt == nil || !m.TriggeredAt.Equal(at(tt.mergedAt)) || m.Attempt != 1 {
					t.Fatalf("merged message %+v, want the follow-up of the trigger at %d s", m, tt.mergedAt)
				}
				if !m.RequestedAt.Equal(tt.m.RequestedAt) || m.ID != tt.m.ID || m.Targets != tt.m.Targets {
					t.Errorf("merged message lost the request: %+v", m)
				}
			}
		})
	}
}

func TestTriggeredIsFollowedFromItsTrigger(t *testing.T) {
	t.Parallel()
	s := DefaultSchedule()
	m := deferredAt(at(-300), allOf)
	p := Triggered(m, at(400), s)
	st := p.Settle(nil)
	if st.Next == nil || st.Delay != s.FirstDelay() {
		t.Fatalf("settled %+v, want the first check after %s", st, s.FirstDelay())
	}
	f := *st.Next
	if f.Deferred != nil || f.TriggeredAt == nil || !f.TriggeredAt.Equal(at(400)) || f.Attempt != 1 || f.Targets != allOf {
		t.Fatalf("follow-up %+v, want triggeredAt 400 s, attempt 1, every target", f)
	}
	b, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b, at(460)); err != nil {
		t.Fatalf("the follow-up does not decode: %v", err)
	}
	// A sync that finished after the request but before this trigger is not the one that
	// serves it; one that finished after the trigger (less the skew) is.
	if p := Decide(f, settings(graph.SyncStatusCompleted, -300, 200), at(460), s); p.Outcome != nil {
		t.Errorf("a sync finished at 200 s ended the follow-up of the trigger at 400 s: %+v", p.Outcome)
	}
	p = Decide(f, settings(graph.SyncStatusCompleted, 400, 450), at(460), s)
	if p.Outcome == nil || p.Outcome.Result != autopilot.Completed || *p.Outcome.SyncDurationSeconds != 50 {
		t.Fatalf("outcome %+v, want completed in 50 s (from the trigger)", p.Outcome)
	}
	// Graph's clock 3 s behind ours: its end still counts (§13's skew), and lasted 0 s.
	p = Decide(f, settings(graph.SyncStatusCompleted, 397, 397), at(460), s)
	if p.Outcome == nil || *p.Outcome.SyncDurationSeconds != 0 {
		t.Fatalf("outcome %+v, want completed, 0 s", p.Outcome)
	}
}

// TestDeferDelay: the deferral of a request (action's, after Graph refused the request's sync)
// and a check's re-deferral (Refused) wait by the same rule, SPEC §16: until the sync allowed,
// never less than MinDefer (1 s) or MinRedefer (30 s), then the spread; never past the max age.
func TestDeferDelay(t *testing.T) {
	t.Parallel()
	m := deferredAt(at(-300), Targets{Callback: callbackURL})
	withSerials := m
	withSerials.Serials = []string{"SN-1"}
	short := DefaultSchedule()
	short.MaxAge = 5 * time.Minute
	spread := Spread(m.ID)
	tests := []struct {
		name   string
		m      Message
		now    time.Time
		syncAt time.Time
		least  time.Duration
		s      Schedule
		want   time.Duration
	}{
		{name: "deferral after a 409: 60 s", m: m, now: at(0), syncAt: at(60), least: MinDefer, want: 60*time.Second + spread},
		{name: "deferral after a 429 allowing one in 5 s: 5 s", m: m, now: at(0), syncAt: at(5), least: MinDefer, want: 5*time.Second + spread},
		{name: "deferral after a 429 allowing one in 9 min", m: m, now: at(0), syncAt: at(540), least: MinDefer, want: 540*time.Second + spread},
		{name: "deferral after a 429 allowing one already: 1 s", m: m, now: at(0), syncAt: at(-3), least: MinDefer, want: time.Second + spread},
		{name: "deferral, a fraction counts as a whole second", m: m, now: at(0).Add(400 * time.Millisecond), syncAt: at(5), least: MinDefer, want: 5*time.Second + spread},
		{name: "deferral past the max age: up to it", m: m, now: at(0), syncAt: at(540), least: MinDefer, s: short, want: 300 * time.Second},
		{name: "deferral with serials: DEVICE_MAX_AGE, not FOLLOWUP_MAX_AGE", m: withSerials, now: at(0), syncAt: at(540), least: MinDefer, s: short, want: 540*time.Second + spread},
		{name: "deferral at the max age: 1 s", m: m, now: at(300), syncAt: at(540), least: MinDefer, s: short, want: time.Second},
		{name: "deferral never over SQS's 900 s", m: m, now: at(0), syncAt: at(900), least: MinDefer, want: MaxDelay},
		{name: "re-deferral after a 409: 60 s", m: m, now: at(300), syncAt: at(360), least: MinRedefer, want: 60*time.Second + spread},
		{name: "re-deferral after a 429 allowing one in 5 s: 30 s", m: m, now: at(300), syncAt: at(305), least: MinRedefer, want: MinRedefer + spread},
		{name: "re-deferral after a 429 allowing one in 9 min", m: m, now: at(300), syncAt: at(840), least: MinRedefer, want: 540*time.Second + spread},
		{name: "re-deferral after a 429 allowing one already: 30 s", m: m, now: at(300), syncAt: at(290), least: MinRedefer, want: MinRedefer + spread},
		{name: "re-deferral near the max age: up to it", m: m, now: at(3580), syncAt: at(3640), least: MinRedefer, want: 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.s
			if s == (Schedule{}) {
				s = DefaultSchedule()
			}
			got := DeferDelay(tt.m, tt.now, tt.syncAt, tt.least, s)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DeferDelay (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefusedDefersAgain(t *testing.T) {
	t.Parallel()
	m := deferredAt(at(-300), Targets{Callback: callbackURL})
	now := at(300)
	tests := []struct {
		name        string
		r           Reading
		nextAllowed time.Time
		conflict    bool
		want        Step
		delay       time.Duration
	}{
		{name: "409: 60 s", r: settings(graph.SyncStatusInProgress, -300, -3600), conflict: true, want: StepWait, delay: RecheckAfter},
		{name: "409, a trigger now visible: merge", r: settings(graph.SyncStatusInProgress, 299, -3600), conflict: true, want: StepMerge},
		{name: "429: the next allowed time", r: settings(graph.SyncStatusCompleted, -300, -200), nextAllowed: at(540), want: StepWait, delay: 240 * time.Second},
		{name: "429 allowing one in 5 s: 30 s", r: settings(graph.SyncStatusCompleted, -300, -200), nextAllowed: at(305), want: StepWait, delay: MinRedefer},
		{name: "429 allowing one already: 30 s", r: settings(graph.SyncStatusCompleted, -300, -200), nextAllowed: at(290), want: StepWait, delay: MinRedefer},
		{name: "429 naming no time: 60 s", r: settings(graph.SyncStatusCompleted, -300, -200), want: StepWait, delay: RecheckAfter},
		{name: "429, a trigger now visible: merge", r: settings(graph.SyncStatusInProgress, 298, -200), nextAllowed: at(898), want: StepMerge},
		{name: "429, no reading: the next allowed time", r: Reading{Code: problem.GraphUnavailable}, nextAllowed: at(420), want: StepWait, delay: 120 * time.Second},
		{name: "429 past the max age: up to the max age", r: settings(graph.SyncStatusCompleted, -300, -200), nextAllowed: at(4000), want: StepWait, delay: 3300 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := Refused(m, tt.r, now, tt.nextAllowed, tt.conflict, DefaultSchedule())
			if d.Step != tt.want {
				t.Fatalf("step %d, want %d", d.Step, tt.want)
			}
			if d.Step == StepMerge {
				return
			}
			st := d.Plan.Settle(nil)
			want := min(tt.delay+Spread(m.ID), MaxDelay)
			if st.Next == nil || st.Next.Deferred == nil || st.Delay != want {
				t.Fatalf("settled %+v, want the deferred request again after %s", st, want)
			}
		})
	}
}

// TestWaitingSlackNotice: a deferred request that still waits after 29 minutes tells Slack so
// once, as a waiting notice; the other targets wait on.
func TestWaitingSlackNotice(t *testing.T) {
	t.Parallel()
	m := deferredAt(at(-300), allOf)
	d := Defer(m, settings(graph.SyncStatusInProgress, -300, -3600), at(29*60), DefaultSchedule())
	if d.Step != StepWait || len(d.Plan.Notices) != 1 {
		t.Fatalf("step %d notices %+v, want a wait with Slack's notice", d.Step, d.Plan.Notices)
	}
	n := d.Plan.Notices[0]
	if n.Target != Slack || !n.Waiting || n.Outcome != nil {
		t.Errorf("notice %+v, want Slack's waiting notice", n)
	}
	st := d.Plan.Settle(nil)
	if want := (Targets{Teams: true, Callback: callbackURL}); st.Next == nil || st.Next.Targets != want {
		t.Errorf("next %+v, want the other targets", st.Next)
	}
}

func TestDeferredMessageRoundTrip(t *testing.T) {
	t.Parallel()
	for name, m := range map[string]Message{
		"deferred":                 deferredAt(at(-300), allOf),
		"deferred, none seen":      deferredAt(time.Time{}, Targets{}),
		"served by a trigger":      served(deferredAt(at(-300), allOf), timePtr(at(30))),
		"deferral ended, delivery": withOutcome(deferredAt(at(-300), allOf), Outcome{Result: autopilot.TimedOut, At: at(3600)}),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b, at(3600))
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			if diff := cmp.Diff(m, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}
