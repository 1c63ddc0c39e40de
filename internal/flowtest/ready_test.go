package flowtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/flowtest"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
)

// Issue 23 (SPEC §15, follow to ready) over the emulator: POST /sync with serials starts the
// sync, its follow-up reads the serials once the sync has ended, and one callback tells every
// serial's readiness.

const tenantID = emulator.SeedTenantID

// serialsBody is a POST /sync body with serials and the receiver's callbackUrl.
func serialsBody(f *flowtest.Flow, serials ...string) string {
	list, _ := json.Marshal(serials)
	return fmt.Sprintf(`{"serials":%s,"callbackUrl":%q}`, list, f.CallbackURL("ticket"))
}

// assigned and failed are profile assignments the emulator ends a pending device's with.
var (
	assigned = emulator.ProfileAssignment{After: 2 * time.Minute}
	failed   = emulator.ProfileAssignment{After: 2 * time.Minute, Status: "failed", DetailedStatus: "hardwareRequirementsNotMet"}
)

func TestFollowToReady(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		devices func(e *emulator.Emulator)
		serials []string
		// The report: its type, each serial's state, and the ids of the devices each lists.
		wantType   string
		wantStates []string
		wantIDs    map[string][]string
		// The report comes within [after, before) of the request.
		after, before time.Duration
	}{
		{
			name: "ready",
			devices: func(e *emulator.Emulator) {
				e.AddPendingDevice(tenantID, emulator.Device{ID: "d-5cg", SerialNumber: "5CG1234XYZ", GroupTag: "Sales"}, assigned)
			},
			serials:  []string{"5CG1234XYZ"},
			wantType: "autopilot.devices.ready", wantStates: []string{"5CG1234XYZ=assigned"},
			wantIDs: map[string][]string{"5CG1234XYZ": {"d-5cg"}},
			// The sync ends at 90 s, the profile 2 min later.
			after: 90*time.Second + 2*time.Minute, before: 90*time.Second + 2*time.Minute + followup.DefaultDeviceCheckInterval,
		},
		{
			name: "notReady: one failed",
			devices: func(e *emulator.Emulator) {
				e.AddPendingDevice(tenantID, emulator.Device{ID: "d-a", SerialNumber: "5CG0000AAA"}, assigned)
				e.AddPendingDevice(tenantID, emulator.Device{ID: "d-b", SerialNumber: "5CG0000BBB"}, failed)
			},
			serials:  []string{"5CG0000BBB", "5CG0000AAA"},
			wantType: "autopilot.devices.notReady", wantStates: []string{"5CG0000BBB=failed", "5CG0000AAA=assigned"},
			wantIDs: map[string][]string{"5CG0000AAA": {"d-a"}, "5CG0000BBB": {"d-b"}},
			// Both are final once both profiles have ended: no wait for DEVICE_MAX_AGE.
			after: 90*time.Second + 2*time.Minute, before: 90*time.Second + 2*time.Minute + followup.DefaultDeviceCheckInterval,
		},
		{
			name: "notReady by DEVICE_MAX_AGE",
			env:  map[string]string{"DEVICE_MAX_AGE": "1h"},
			devices: func(e *emulator.Emulator) {
				e.AddPendingDevice(tenantID, emulator.Device{ID: "d-a", SerialNumber: "5CG0000AAA"}, assigned)
				// Registered, its profile never assigned.
				e.AddDevice(tenantID, emulator.Device{ID: "d-c", SerialNumber: "5CG0000CCC", DeploymentProfileAssignmentStatus: "notAssigned"})
			},
			serials:  []string{"5CG0000AAA", "5CG0000CCC", "5CG0000NONE"},
			wantType: "autopilot.devices.notReady", wantStates: []string{"5CG0000AAA=assigned", "5CG0000CCC=registered", "5CG0000NONE=notRegistered"},
			wantIDs: map[string][]string{"5CG0000AAA": {"d-a"}, "5CG0000CCC": {"d-c"}, "5CG0000NONE": nil},
			after:   time.Hour, before: time.Hour + followup.DefaultDeviceCheckInterval,
		},
		{
			// Graph's contains() fails on a hyphen or a space: the product filters on the longest
			// letter/digit run and keeps exact matches, so a neighbour sharing that run is not listed.
			name: "hyphenated serials found",
			devices: func(e *emulator.Emulator) {
				e.AddDevice(tenantID, emulator.Device{ID: "d-vm", SerialNumber: "VMware-56 4d 8e a1", DeploymentProfileAssignmentStatus: "assignedInSync"})
				e.AddDevice(tenantID, emulator.Device{ID: "d-vm2", SerialNumber: "VMware-42 1c 77 b0", DeploymentProfileAssignmentStatus: "failed"})
				e.AddDevice(tenantID, emulator.Device{ID: "d-czc", SerialNumber: "CZC-2024-HX9", DeploymentProfileAssignmentStatus: "assignedOutOfSync"})
			},
			serials:  []string{"VMware-56 4d 8e a1", "czc-2024-hx9"},
			wantType: "autopilot.devices.ready", wantStates: []string{"VMware-56 4d 8e a1=assigned", "czc-2024-hx9=assigned"},
			wantIDs: map[string][]string{"VMware-56 4d 8e a1": {"d-vm"}, "czc-2024-hx9": {"d-czc"}},
			// Registered and assigned already: the first device check, just after the sync's end.
			after: 90 * time.Second, before: 90*time.Second + followup.DefaultDeviceCheckInterval,
		},
		{
			// contains('5CG123') also finds 5CG1234 and X5CG123, both assigned: were either kept,
			// the serial would be ready.
			name: "a substring neighbour not reported",
			devices: func(e *emulator.Emulator) {
				e.AddDevice(tenantID, emulator.Device{ID: "d-exact", SerialNumber: "5CG123", DeploymentProfileAssignmentStatus: "failed"})
				e.AddDevice(tenantID, emulator.Device{ID: "d-longer", SerialNumber: "5CG1234", DeploymentProfileAssignmentStatus: "assignedInSync"})
				e.AddDevice(tenantID, emulator.Device{ID: "d-prefixed", SerialNumber: "X5CG123", DeploymentProfileAssignmentStatus: "assignedInSync"})
			},
			serials:  []string{"5CG123"},
			wantType: "autopilot.devices.notReady", wantStates: []string{"5CG123=failed"},
			wantIDs: map[string][]string{"5CG123": {"d-exact"}},
			after:   90 * time.Second, before: 90*time.Second + followup.DefaultDeviceCheckInterval,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := flowtest.Start(t, flowtest.Options{Env: tt.env, SignCallbacks: true})
			tt.devices(f.Emulator())
			requested := f.Now()
			a := postChecked(t, f, "", serialsBody(f, tt.serials...))
			var s started
			if err := a.Decode(&s); err != nil || a.Status != http.StatusAccepted || s.Result != "started" {
				t.Fatalf("POST /sync: %d %s, want 202 started", a.Status, a.Body)
			}
			if err := f.Run(t.Context()); err != nil {
				t.Fatal(err)
			}
			ev, n := outcome(t, f, s.FollowUp.ID)
			if n != 1 {
				t.Errorf("%d callbacks, want 1 (no duplicate was delivered)", n)
			}
			checkReport(t, ev, tt.wantType, tt.wantStates)
			ids := map[string][]string{}
			for _, d := range ev.Data.Devices {
				ids[d.SerialNumber] = nil
				for _, x := range d.Devices {
					ids[d.SerialNumber] = append(ids[d.SerialNumber], x.ID)
				}
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" {
				t.Errorf("device identities listed (-want +got):\n%s", diff)
			}
			if ev.Data.SyncResult == nil || *ev.Data.SyncResult != "completed" || ev.Data.RequestedAt != requested.Format(time.RFC3339) || ev.Data.Tenant != tenantID {
				t.Errorf("syncResult %v, requestedAt %s, tenant %s; want completed, %s, %s", ev.Data.SyncResult, ev.Data.RequestedAt, ev.Data.Tenant, requested.Format(time.RFC3339), tenantID)
			}
			at, _ := time.Parse(time.RFC3339, ev.Timestamp)
			if d := at.Sub(requested); d < tt.after || d >= tt.before {
				t.Errorf("reported %v after the request, want within [%v, %v)", d, tt.after, tt.before)
			}
			checkReadyLines(t, f, s.FollowUp.ID, tt.wantType, at.Sub(requested))
			if n := f.CountCalls("", "POST sync", 0); n != 1 {
				t.Errorf("%d sync calls, want 1", n)
			}
			if errs := errorLines(f); len(errs) > 0 {
				t.Errorf("the function logged errors: %s", errs)
			}
		})
	}
}

// checkReadyLines: the follow-up's lines are the sync's checks (pending, then completed), device
// checks (pending), and one report (devicesReady or devicesNotReady) with DevicesReady,
// DevicesNotReady and DeviceWaitSeconds.
func checkReadyLines(t *testing.T, f *flowtest.Flow, id, wantType string, wait time.Duration) {
	t.Helper()
	lines := linesOf(f, id)
	var outcomes []string
	for _, l := range lines {
		outcomes = append(outcomes, fmt.Sprint(l["outcome"]))
	}
	joined := strings.Join(outcomes, " ")
	want := map[string]string{"autopilot.devices.ready": "devicesReady", "autopilot.devices.notReady": "devicesNotReady"}[wantType]
	if !strings.HasPrefix(joined, "pending completed ") || !strings.HasSuffix(joined, " "+want) || strings.Count(joined, "devices") != 1 {
		t.Errorf("followUp outcomes %q, want pending, completed, device checks, then one %s", joined, want)
		return
	}
	last := lines[len(lines)-1]
	ready := 0.0
	if want == "devicesReady" {
		ready = 1
	}
	got := []any{last["DevicesReady"], last["DevicesNotReady"], last["DeviceWaitSeconds"]}
	if diff := cmp.Diff([]any{ready, 1 - ready, wait.Seconds()}, got); diff != "" {
		t.Errorf("DevicesReady, DevicesNotReady, DeviceWaitSeconds (-want +got):\n%s", diff)
	}
}

// TestFollowToReadyAfterADeferral: a request with serials while a sync runs is deferred (SPEC
// §16) and served by the next sync, which registers its device (added after the first sync
// started, so that one could not): one report, ready.
func TestFollowToReadyAfterADeferral(t *testing.T) {
	t.Parallel()
	f := flowtest.Start(t, flowtest.Options{})
	first := post(t, f, "", "{}")
	if first.Result != "started" {
		t.Fatalf("first sync: %s, want started", first.Result)
	}
	if err := f.RunUntil(t.Context(), f.Now().Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.Emulator().AddPendingDevice(tenantID, emulator.Device{ID: "d-new", SerialNumber: "5CG9999NEW"}, assigned)
	requested := f.Now()
	a := postChecked(t, f, "", serialsBody(f, "5CG9999NEW"))
	var s started
	if err := a.Decode(&s); err != nil || a.Status != http.StatusAccepted || s.Result != "deferred" {
		t.Fatalf("POST /sync while a sync runs: %d %s, want 202 deferred", a.Status, a.Body)
	}
	if err := f.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	ev, _ := outcome(t, f, s.FollowUp.ID)
	checkReport(t, ev, "autopilot.devices.ready", []string{"5CG9999NEW=assigned"})
	triggers := f.Triggers()
	if len(triggers) != 2 || triggers[1].Before(requested) {
		t.Errorf("syncs triggered at %v, want 2, the second after the request at %s", triggers, requested)
	}
}

// TestFollowToReadyDuplicateChecks: SQS delivers at least once. A device check handed twice
// (together, racing, or one after the other), or the report's check handed twice, makes the
// follow-up go on twice: the receiver may be told twice, always under the same webhook-id and
// with the same outcome, so that it can dedupe (SPEC §13); never two different outcomes.
func TestFollowToReadyDuplicateChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		together bool
		// which device check is handed twice: the first (the device not assigned yet), or the
		// one that reports.
		reporting bool
	}{
		{name: "the first device check, together", together: true},
		{name: "the first device check, one after the other"},
		{name: "the reporting check, together", together: true, reporting: true},
		{name: "the reporting check, one after the other", reporting: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := flowtest.Start(t, flowtest.Options{SignCallbacks: true})
			f.Emulator().AddPendingDevice(tenantID, emulator.Device{ID: "d-a", SerialNumber: "5CG0000AAA"}, assigned)
			f.Emulator().AddPendingDevice(tenantID, emulator.Device{ID: "d-b", SerialNumber: "5CG0000BBB"}, emulator.ProfileAssignment{After: 4 * time.Minute})
			// The profiles end 2 and 4 min after the sync's end (90 s).
			lastAssigned := f.Now().Add(90*time.Second + 4*time.Minute)
			done := false
			f.HandTwice(func(r flowtest.Record, m followup.Message) bool {
				if done || m.Devices == nil || tt.reporting && r.Due.Before(lastAssigned) {
					return false
				}
				done = true
				return true
			}, tt.together)
			s := post(t, f, "", serialsBody(f, "5CG0000AAA", "5CG0000BBB"))
			if err := f.Run(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := f.Counts().Duplicates; got != 1 {
				t.Fatalf("%d records handed twice, want 1", got)
			}
			ev, n := outcome(t, f, s.FollowUp.ID)
			checkReport(t, ev, "autopilot.devices.ready", []string{"5CG0000AAA=assigned", "5CG0000BBB=assigned"})
			if ids := len(f.Callbacks()); ids != n {
				t.Errorf("%d callbacks in all, %d of the follow-up: one came under another webhook-id", ids, n)
			}
			t.Logf("the receiver was told %d times under webhook-id %s", n, s.FollowUp.ID)
		})
	}
}

// TestFollowToReadyGraphUnavailable: a device check whose read Graph answers 503, or 429 (a
// Graph still throttling reads), with a Retry-After longer than the invocation has (not retried
// within it) is listed in batchItemFailures, received again 30 s later, and the follow-up ends as
// it would have: a throttled read is not the end of a follow-up.
func TestFollowToReadyGraphUnavailable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status int
		code   string
	}{
		{http.StatusServiceUnavailable, "graphUnavailable"},
		{http.StatusTooManyRequests, "syncThrottled"},
	} {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()
			f := flowtest.Start(t, flowtest.Options{})
			f.Emulator().AddPendingDevice(tenantID, emulator.Device{ID: "d-a", SerialNumber: "5CG0000AAA"}, assigned)
			f.Emulator().AddFault(emulator.Fault{Service: emulator.Graph, Method: http.MethodGet, PathContains: "windowsAutopilotDeviceIdentities",
				Status: tt.status, Header: http.Header{"Retry-After": {"3600"}}, Times: 1})
			s := post(t, f, "", serialsBody(f, "5CG0000AAA"))
			if err := f.Run(t.Context()); err != nil {
				t.Fatal(err)
			}
			var failedChecks []flowtest.Delivery
			for _, d := range f.Deliveries() {
				if d.Failed {
					failedChecks = append(failedChecks, d)
				}
			}
			c := f.Counts()
			if len(failedChecks) != 1 || c.Redelivered != 1 || c.DeadLetters != 0 {
				t.Fatalf("failed deliveries %d, redelivered %d, dead letters %d; want 1, 1, 0", len(failedChecks), c.Redelivered, c.DeadLetters)
			}
			again := false
			for _, d := range f.Deliveries() {
				again = again || d.ID == failedChecks[0].ID && d.Receive == 2 && d.At.Equal(failedChecks[0].At.Add(flowtest.DefaultRedeliverAfter))
			}
			if !again {
				t.Errorf("the failed device check was not received again 30 s later, receive 2")
			}
			if n := f.CountCalls(flowtest.FromCheck, "GET windowsAutopilotDeviceIdentities", tt.status); n != 1 {
				t.Errorf("%d reads answered %d, want 1 (no retry past the Retry-After)", n, tt.status)
			}
			ev, n := outcome(t, f, s.FollowUp.ID)
			checkReport(t, ev, "autopilot.devices.ready", []string{"5CG0000AAA=assigned"})
			if n != 1 {
				t.Errorf("told %d times, want once", n)
			}
			var codes []string
			for _, l := range linesOf(f, s.FollowUp.ID) {
				if l["outcome"] == "pending" && l["code"] != "ok" {
					codes = append(codes, fmt.Sprint(l["code"]))
				}
			}
			if diff := cmp.Diff([]string{tt.code}, codes); diff != "" {
				t.Errorf("codes of the failed check's line (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSerialsRefused: a request with serials that cannot be followed is a 400 before any Graph
// call (SPEC §15, §16): no follow-up queue, defer=false, serials that break §15's rules.
func TestSerialsRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query, body string
		noQueue           bool
	}{
		{name: "no follow-up queue", body: `{"serials":["5CG1234XYZ"]}`, noQueue: true},
		{name: "defer=false", query: "?defer=false", body: `{"serials":["5CG1234XYZ"]}`},
		{name: "an empty list", body: `{"serials":[]}`},
		{name: "21 serials", body: `{"serials":["S1","S2","S3","S4","S5","S6","S7","S8","S9","S10","S11","S12","S13","S14","S15","S16","S17","S18","S19","S20","S21"]}`},
		{name: "the same serial twice", body: `{"serials":["5CG1234XYZ","5cg1234xyz"]}`},
		{name: "a serial of punctuation", body: `{"serials":["--"]}`},
		{name: "a serial of 65 characters", body: `{"serials":["` + strings.Repeat("A", 65) + `"]}`},
		{name: "not a list", body: `{"serials":"5CG1234XYZ"}`},
		{name: "serials and devices", body: `{"serials":["5CG1234XYZ"],"devices":[{"serialNumber":"5CG1234XYZ","hardwareHash":"AAAA"}]}`},
		// Names match as callbackUrl's do: another case is the same field, never a plain sync.
		{name: "Serials not a list", body: `{"Serials":"5CG1234XYZ"}`},
		{name: "DEVICES empty", body: `{"DEVICES":[]}`},
		{name: "Serials and Devices", body: `{"Serials":["5CG1234XYZ"],"Devices":[{"serialNumber":"5CG1234XYZ","hardwareHash":"AAAA"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := refused(t, tt.noQueue, tt.query, tt.body)
			var p struct {
				Code string `json:"code"`
			}
			if err := a.Decode(&p); err != nil || a.Status != http.StatusBadRequest || p.Code != "badRequest" {
				t.Errorf("%d %s, want 400 badRequest", a.Status, a.Body)
			}
		})
	}
}
