package followup

import (
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/google/go-cmp/cmp"
)

// withSerialsAt is a request with serials made at t0, followed to targets.
func withSerialsAt(targets Targets, serials ...string) Message {
	m := New("id-s", "contoso", t0, targets)
	m.Serials = serials
	return m
}

// state is a serial's readiness in state st (with one device when the state has one).
func state(serial, st string) autopilot.Readiness {
	status := map[string]graph.ProfileAssignmentStatus{autopilot.StateAssigned: graph.ProfileAssignedInSync,
		autopilot.StateFailed: graph.ProfileFailed, autopilot.StateRegistered: graph.ProfileNotAssigned}[st]
	if st == autopilot.StateNotRegistered {
		return autopilot.ReadinessOf(serial, nil)
	}
	if st == autopilot.StateError {
		return autopilot.ReadinessError(serial, problem.GraphError)
	}
	return autopilot.ReadinessOf(serial, []graph.DeviceIdentity{{ID: "d-" + serial, SerialNumber: serial, GroupTag: "Sales", DeploymentProfileAssignmentStatus: status}})
}

// TestSyncEndGoesOnToDevices: the end of the sync of a request with serials, whatever it is, is
// logged (the plan's outcome) and reported to no one; the device checks start a second later,
// with the sync's result; a deferral that never got a sync has none.
func TestSyncEndGoesOnToDevices(t *testing.T) {
	t.Parallel()
	s := DefaultSchedule()
	m := withSerialsAt(allOf, "5CG1234XYZ", "PF-2AB3C")
	done := Reading{Settings: graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastSyncDateTime: at(200)}}
	for name, tt := range map[string]struct {
		plan Plan
		want autopilot.Result
	}{
		"completed":               {Decide(m, done, at(240), s), autopilot.Completed},
		"failed":                  {Decide(m, Reading{Settings: graph.Settings{SyncStatus: graph.SyncStatusFailed, LastSyncDateTime: at(200)}}, at(240), s), autopilot.Failed},
		"error":                   {Decide(m, Reading{Code: problem.GraphPermissionDenied}, at(240), s), autopilot.Error},
		"timedOut at 4 h":         {Decide(m, running, at(4*3600), s), autopilot.TimedOut},
		"deferral, no sync in 4h": {Defer(NewDeferredSerials(m), settings(graph.SyncStatusInProgress, -300, -3600), at(4*3600), s).Plan, ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := tt.plan
			if p.Outcome == nil || len(p.Notices) != 0 {
				t.Fatalf("outcome %+v notices %d, want the sync's end logged and told to no one", p.Outcome, len(p.Notices))
			}
			st := p.Settle(nil)
			if st.Next == nil || st.Delay != time.Second || st.Next.Devices == nil || st.Next.Devices.SyncResult != tt.want || st.Next.Deferred != nil || st.Next.Attempt != 1 {
				t.Fatalf("next %+v after %s, want the device checks at once with sync result %q", st.Next, st.Delay, tt.want)
			}
			if _, err := st.Next.Encode(); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Before 4 h, a request with serials is not timed out at FOLLOWUP_MAX_AGE.
	if p := Decide(m, running, at(3700), s); p.Outcome != nil {
		t.Errorf("timed out at %v, before DEVICE_MAX_AGE", p.Outcome.At)
	}
}

// NewDeferredSerials is m deferred, keeping its serials.
func NewDeferredSerials(m Message) Message {
	d := NewDeferred(m.ID, m.Tenant, m.RequestedAt, at(-300), m.Targets)
	d.Serials = m.Serials
	return d
}

// devicePhase is m in its device checks after a completed sync, with final already known.
func devicePhase(m Message, final ...autopilot.Readiness) Message {
	m.Devices = &DeviceChecks{SyncResult: autopilot.Completed, Final: final}
	return m
}

func TestDecideDevices(t *testing.T) {
	t.Parallel()
	s := DefaultSchedule()
	serials := []string{"5CG1234XYZ", "PF-2AB3C", "TPM_LESS.1"}
	m := withSerialsAt(Targets{Callback: callbackURL}, serials...)
	tests := []struct {
		name      string
		m         Message
		r         DeviceReading
		now       int
		retry     bool
		want      autopilot.Result // "": the next check
		wantRead  []string         // m.Pending()
		wantFinal int              // serials final in the next message
		wantDelay time.Duration
	}{
		{name: "all assigned: ready", m: devicePhase(m), now: 600,
			r:        DeviceReading{Readiness: []autopilot.Readiness{state(serials[0], "assigned"), state(serials[1], "assigned"), state(serials[2], "assigned")}},
			wantRead: serials, want: autopilot.DevicesReady},
		{name: "one failed, the others final: not ready", m: devicePhase(m, state(serials[0], "assigned")), now: 600,
			r:        DeviceReading{Readiness: []autopilot.Readiness{state(serials[1], "assigned"), state(serials[2], "failed")}},
			wantRead: serials[1:], want: autopilot.DevicesNotReady},
		{name: "one not assigned yet: the next check, finals kept", m: devicePhase(m), now: 600,
			r:        DeviceReading{Readiness: []autopilot.Readiness{state(serials[0], "assigned"), state(serials[1], "registered"), state(serials[2], "notRegistered")}},
			wantRead: serials, wantFinal: 1, wantDelay: time.Minute},
		{name: "the backoff is capped at DEVICE_CHECK_INTERVAL", m: func() Message { x := devicePhase(m); x.Attempt = 6; return x }(), now: 3600,
			r:        DeviceReading{Readiness: []autopilot.Readiness{state(serials[0], "registered"), state(serials[1], "registered"), state(serials[2], "registered")}},
			wantRead: serials, wantDelay: 5 * time.Minute},
		{name: "DEVICE_MAX_AGE passed: not ready", m: devicePhase(m, state(serials[0], "assigned")), now: 4 * 3600,
			r:        DeviceReading{Readiness: []autopilot.Readiness{state(serials[1], "registered"), state(serials[2], "assigned")}},
			wantRead: serials[1:], want: autopilot.DevicesNotReady},
		{name: "a transient read failure of one serial: retry", m: devicePhase(m), now: 600,
			r:        DeviceReading{Readiness: []autopilot.Readiness{state(serials[0], "assigned"), autopilot.ReadinessError(serials[1], problem.GraphUnavailable), state(serials[2], "assigned")}},
			wantRead: serials, retry: true},
		{name: "the tenant unreadable for now: retry", m: devicePhase(m), now: 600, r: DeviceReading{Code: problem.SecretStoreUnavailable}, wantRead: serials, retry: true},
		{name: "the tenant unreadable for good: error", m: devicePhase(m), now: 600, r: DeviceReading{Code: problem.GraphPermissionDenied}, wantRead: serials, want: autopilot.Error},
		{name: "one serial past the page cap: final, not ready", m: devicePhase(m, state(serials[0], "assigned"), state(serials[1], "assigned")), now: 600,
			r: DeviceReading{Readiness: []autopilot.Readiness{state(serials[2], "error")}}, wantRead: serials[2:], want: autopilot.DevicesNotReady},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.wantRead, tt.m.Pending()); diff != "" {
				t.Fatalf("Pending (-want +got):\n%s", diff)
			}
			p := DecideDevices(tt.m, tt.r, at(tt.now), s)
			if p.Retry != tt.retry {
				t.Fatalf("retry %v, want %v", p.Retry, tt.retry)
			}
			if tt.retry {
				return
			}
			if tt.want != "" {
				if p.Outcome == nil || p.Outcome.Result != tt.want || len(p.Outcome.Devices) != len(serials) || len(p.Notices) != 1 {
					t.Fatalf("outcome %+v, %d notices; want %s of every serial, told once", p.Outcome, len(p.Notices), tt.want)
				}
				for i, r := range p.Outcome.Devices {
					if r.SerialNumber != serials[i] {
						t.Errorf("devices[%d] is %s, want the order asked", i, r.SerialNumber)
					}
				}
				if p.Outcome.SyncResult != autopilot.Completed {
					t.Errorf("syncResult %q", p.Outcome.SyncResult)
				}
				b, err := p.Message().Encode()
				if err != nil {
					t.Fatalf("the delivery message does not encode: %v", err)
				}
				if _, err := Decode(b, at(tt.now)); err != nil {
					t.Fatalf("the delivery message does not decode: %v", err)
				}
				return
			}
			st := p.Settle(nil)
			if p.Outcome != nil || st.Next == nil || st.Delay != tt.wantDelay || len(st.Next.Devices.Final) != tt.wantFinal {
				t.Fatalf("outcome %+v next %+v after %s, want the next check after %s with %d final", p.Outcome, st.Next, st.Delay, tt.wantDelay, tt.wantFinal)
			}
			if _, err := st.Next.Encode(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDeviceSlackNotice: Slack's 29-minute notice of a device check carries the readiness so
// far, once; the report then goes to the others.
func TestDeviceSlackNotice(t *testing.T) {
	t.Parallel()
	m := devicePhase(withSerialsAt(allOf, "5CG1234XYZ"))
	p := DecideDevices(m, DeviceReading{Readiness: []autopilot.Readiness{state("5CG1234XYZ", "registered")}}, at(29*60), DefaultSchedule())
	if len(p.Notices) != 1 || p.Notices[0].Target != Slack || len(p.Notices[0].Devices) != 1 || p.Notices[0].Serials[0] != "5CG1234XYZ" {
		t.Fatalf("notices %+v, want Slack's with the readiness so far", p.Notices)
	}
	if st := p.Settle(nil); st.Next == nil || st.Next.Targets.Slack != "" {
		t.Errorf("next %+v, want Slack dropped", st.Next)
	}
}

// TestCompactKeepsMessagesSmall: twenty serials of the longest, each with many devices of long
// texts, fit a message: each keeps three devices (the one that decided first) with texts clipped
// to printable characters. Texts of quotes, the characters JSON escapes, fit too: pending, and at
// the delivery round, which carries the readiness once (in the outcome).
func TestCompactKeepsMessagesSmall(t *testing.T) {
	t.Parallel()
	var serials []string
	var final []autopilot.Readiness
	for i := range MaxSerials {
		serial := strings.Repeat("X", 62) + string(rune('A'+i/10)) + string(rune('0'+i%10))
		serials = append(serials, serial)
		var ds []graph.DeviceIdentity
		for j := range 30 {
			status := graph.ProfileNotAssigned
			if j == 29 {
				status = graph.ProfileAssignedInSync
			}
			ds = append(ds, graph.DeviceIdentity{ID: strings.Repeat("i", 300), SerialNumber: serial, GroupTag: strings.Repeat("ü", 200) + "\x00\n",
				Manufacturer: strings.Repeat(`"`, 300), Model: "\xff" + strings.Repeat(`<\`, 150), DeploymentProfileAssignmentStatus: status})
		}
		r := compact(autopilot.ReadinessOf(serial, ds))
		if len(r.Devices) != maxDevicesKept || r.Devices[r.Shown()].DeploymentProfileAssignmentStatus != string(graph.ProfileAssignedInSync) {
			t.Fatalf("compact kept %d devices, shown %d", len(r.Devices), r.Shown())
		}
		final = append(final, r)
	}
	m := New("id", "contoso", t0, Targets{Slack: "https://hooks.slack.com/" + strings.Repeat("s", 2000), Callback: "https://contoso.example/" + strings.Repeat("c", 2000)})
	m.Serials = serials
	m.Devices = &DeviceChecks{SyncResult: autopilot.Completed, Final: final}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b, at(60)); err != nil {
		t.Fatal(err)
	}
	delivery, err := withOutcome(m, Outcome{Result: autopilot.DevicesReady, At: at(60), Devices: final, SyncResult: autopilot.Completed}).Encode()
	if err != nil {
		t.Fatalf("the delivery round: %v", err)
	}
	if _, err := Decode(delivery, at(60)); err != nil {
		t.Fatal(err)
	}
	t.Logf("20 serials × 3 devices of clipped texts: %d bytes pending, %d at the delivery round (limit %d)", len(b), len(delivery), MaxMessageBytes)
}
