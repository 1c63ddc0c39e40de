package followup

import (
	"errors"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeMessage checks that Decode never panics, refuses with ErrMalformed only, and that
// whatever it accepts can be decided, settled and written again as a message it accepts.
func FuzzDecodeMessage(f *testing.F) {
	withSerials := typical()
	withSerials.Serials = []string{"5CG1234XYZ", "PF-2AB3C"}
	inDevices := withSerials
	inDevices.Devices = &DeviceChecks{SyncResult: "completed", Final: []autopilot.Readiness{state("PF-2AB3C", autopilot.StateAssigned)}}
	for _, m := range []Message{typical(), withDone(typical()), New("id", "", t0, Targets{Teams: true}), withSerials, inDevices} {
		b, err := m.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, body := range malformed {
		if len(body) <= 1024 { // long seeds make the fuzzer spend its time minimizing
			f.Add([]byte(body))
		}
	}
	now := t0.Add(time.Hour)
	f.Fuzz(func(t *testing.T, body []byte) {
		m, ok := decodeAgain(t, body, now)
		if !ok {
			return
		}
		for _, r := range []Reading{running, {Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: now}}, {Code: "unknownTenant"}} {
			checkNext(t, Decide(m, r, now, DefaultSchedule()))
		}
		if m.Devices == nil || m.Outcome != nil {
			return
		}
		// A device check, whatever it reads, leaves a message that encodes.
		for _, st := range []string{autopilot.StateAssigned, autopilot.StateRegistered, autopilot.StateFailed, autopilot.StateError} {
			var r DeviceReading
			for _, serial := range m.Pending() {
				r.Readiness = append(r.Readiness, state(serial, st))
			}
			checkNext(t, DecideDevices(m, r, now, DefaultSchedule()))
		}
		checkNext(t, DecideDevices(m, DeviceReading{Code: problem.GraphPermissionDenied}, now, DefaultSchedule()))
	})
}

// FuzzDecodeDeferred checks the messages of deferred requests (SPEC §16) as FuzzDecodeMessage
// does, and that every step of a check of one (merge, wait, sync, refused, end) leaves a next
// message that encodes, within SQS's delays, never merged into a trigger the deferral had seen.
func FuzzDecodeDeferred(f *testing.F) {
	for _, m := range []Message{
		NewDeferred("id", "contoso", t0, t0.Add(-5*time.Minute), Targets{Slack: slackURL, Callback: callbackURL}),
		NewDeferred("id", "", t0, time.Time{}, Targets{}),
		served(NewDeferred("id", "", t0, t0, Targets{Teams: true}), timePtr(t0.Add(time.Minute))),
		withOutcome(NewDeferred("id", "", t0, t0, Targets{Teams: true}), Outcome{Result: autopilot.TimedOut, At: t0.Add(time.Hour)}),
	} {
		b, err := m.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, int64(600), int64(300))
	}
	now := t0.Add(time.Hour)
	f.Fuzz(func(t *testing.T, body []byte, trigger, nextAllowed int64) {
		m, ok := decodeAgain(t, body, now)
		if !ok || m.Deferred == nil || !m.NeedsCheck() {
			return
		}
		seen := m.deferredBefore()
		s := DefaultSchedule()
		tr := t0.Add(time.Duration(trigger%(1<<20)) * time.Second)
		readings := []Reading{
			{Settings: graph.Settings{SyncStatus: graph.SyncStatusInProgress, LastManualSyncTriggerDateTime: tr}},
			{Settings: graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastManualSyncTriggerDateTime: tr, LastSyncDateTime: tr.Add(time.Minute)}},
			{Code: problem.GraphUnavailable}, {Code: problem.UnknownTenant},
		}
		for _, r := range readings {
			steps := []Deferral{Defer(m, r, now, s)}
			for _, conflict := range []bool{true, false} {
				steps = append(steps, Refused(m, r, now, now.Add(time.Duration(nextAllowed%(1<<20))*time.Second), conflict, s))
			}
			for _, d := range steps {
				switch d.Step {
				case StepMerge:
					at := d.Message.TriggeredAt
					if at == nil || seen != nil && !at.After(*seen) {
						t.Fatalf("merged into the trigger at %v, which the deferral had seen (%v)", at, seen)
					}
					if _, err := d.Message.Encode(); err != nil {
						t.Fatalf("merged message does not encode: %v", err)
					}
					checkNext(t, Decide(d.Message, r, now, s))
				case StepSync:
					checkNext(t, Triggered(m, now, s))
				default:
					checkNext(t, d.Plan)
				}
			}
		}
	})
}

// decodeAgain decodes body and checks that an accepted message encodes and decodes to itself;
// false: Decode refused it (with ErrMalformed only).
func decodeAgain(t *testing.T, body []byte, now time.Time) (Message, bool) {
	t.Helper()
	m, err := Decode(body, now)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
		return Message{}, false
	}
	b, err := m.Encode()
	if err != nil {
		t.Fatalf("accepted message does not encode: %v", err)
	}
	again, err := Decode(b, now)
	if err != nil {
		t.Fatalf("re-encoded message refused: %v", err)
	}
	if diff := cmp.Diff(m, again); diff != "" {
		t.Fatalf("round trip changed the message (-first +again):\n%s", diff)
	}
	return m, true
}

// checkNext checks that what remains of p after every delivery failed encodes, with a delay SQS
// takes.
func checkNext(t *testing.T, p Plan) {
	t.Helper()
	st := p.Settle([]Target{Slack, Teams, Callback})
	if st.Next == nil {
		return
	}
	if _, err := st.Next.Encode(); err != nil {
		t.Fatalf("next message does not encode: %v", err)
	}
	if st.Delay < time.Second || st.Delay > MaxDelay {
		t.Fatalf("delay %s outside 1 s to %s", st.Delay, MaxDelay)
	}
}
