package emulator_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
)

// seen is a device as a test looks at it: serial, status, detailed status, assigned time.
type seen struct {
	Serial, Status, Detail string
	Assigned               time.Time
}

func seenDevices(e *emulator.Emulator) []seen {
	out := []seen{}
	for _, d := range e.Devices(emulator.SeedTenantID) {
		out = append(out, seen{d.SerialNumber, d.DeploymentProfileAssignmentStatus, d.DeploymentProfileAssignmentDetailedStatus, d.DeploymentProfileAssignedDateTime})
	}
	return out
}

// step moves the clock, then acts, then looks: what the device identities hold at that time.
type step struct {
	at   time.Duration // since epoch
	act  func(t *testing.T, e *emulator.Emulator)
	want []seen
}

func runSteps(t *testing.T, o emulator.Options, steps []step) {
	t.Helper()
	clock := emulator.NewManualClock(epoch)
	o.Clock = clock
	e, _ := emutest.Start(t, o)
	for i, st := range steps {
		clock.Set(epoch.Add(st.at))
		if st.act != nil {
			st.act(t, e)
		}
		if diff := cmp.Diff(st.want, seenDevices(e)); diff != "" {
			t.Fatalf("step %d (at +%v) (-want +got):\n%s", i, st.at, diff)
		}
	}
}

func addPending(serial string, a emulator.ProfileAssignment) func(*testing.T, *emulator.Emulator) {
	return func(t *testing.T, e *emulator.Emulator) {
		e.AddPendingDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: serial}, a)
	}
}

func startSync(t *testing.T, e *emulator.Emulator) {
	t.Helper()
	if a := graph(t, e, seededGraphToken(t, e), http.MethodPost, syncPath, ""); a.status != 204 {
		t.Fatalf("sync: %d %s", a.status, a.body)
	}
}

func TestRegistrationAfterASync(t *testing.T) {
	t.Parallel()
	const m = time.Minute
	zero := time.Time{}
	tests := []struct {
		name  string
		o     emulator.Options
		steps []step
	}{
		{"registered when a later sync completes, assigned after the delay", emulator.Options{SyncDuration: 2 * m, ProfileAssignmentDelay: 5 * m}, []step{
			{0, addPending("A1", emulator.ProfileAssignment{}), []seen{}},
			{1 * m, startSync, []seen{}},
			{3*m - time.Second, nil, []seen{}},
			{3 * m, nil, []seen{{"A1", "notAssigned", "none", zero}}},
			{8*m - time.Second, nil, []seen{{"A1", "notAssigned", "none", zero}}},
			{8 * m, nil, []seen{{"A1", "assignedUnkownSyncState", "none", epoch.Add(8 * m)}}},
		}},
		{"a sync started before the device was added does not register it", emulator.Options{SyncDuration: 2 * m}, []step{
			{0, startSync, []seen{}},
			{30 * time.Second, addPending("B1", emulator.ProfileAssignment{After: m, Status: "assignedInSync"}), []seen{}},
			{5 * m, nil, []seen{}},
			{10 * m, startSync, []seen{}},
			{12 * m, nil, []seen{{"B1", "notAssigned", "none", zero}}},
			{13 * m, nil, []seen{{"B1", "assignedInSync", "none", epoch.Add(13 * m)}}},
		}},
		{"a sync triggered at the very time the device was added registers it", emulator.Options{SyncDuration: 2 * m}, []step{
			{0, func(t *testing.T, e *emulator.Emulator) {
				addPending("C1", emulator.ProfileAssignment{})(t, e)
				startSync(t, e)
			}, []seen{}},
			{2 * m, nil, []seen{{"C1", "notAssigned", "none", zero}}},
		}},
		{"a failed sync registers nothing", emulator.Options{SyncDuration: 2 * m}, []step{
			{0, func(t *testing.T, e *emulator.Emulator) {
				addPending("D1", emulator.ProfileAssignment{})(t, e)
				e.SetSyncOutcome(emulator.SeedTenantID, "failed")
				startSync(t, e)
			}, []seen{}},
			{5 * m, nil, []seen{}},
			{10 * m, func(t *testing.T, e *emulator.Emulator) {
				e.SetSyncOutcome(emulator.SeedTenantID, "completed")
				startSync(t, e)
			}, []seen{}},
			{12 * m, nil, []seen{{"D1", "notAssigned", "none", zero}}},
		}},
		{"scripted per device: one fails, one is pending then assigned", emulator.Options{SyncDuration: m}, []step{
			{0, func(t *testing.T, e *emulator.Emulator) {
				addPending("E1", emulator.ProfileAssignment{After: 2 * m, Status: "failed", DetailedStatus: "hardwareRequirementsNotMet"})(t, e)
				e.AddPendingDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: "E2", DeploymentProfileAssignmentStatus: "pending"},
					emulator.ProfileAssignment{After: 4 * m, Status: "assignedInSync"})
				startSync(t, e)
			}, []seen{}},
			{m, nil, []seen{{"E1", "notAssigned", "none", zero}, {"E2", "pending", "none", zero}}},
			{3 * m, nil, []seen{{"E1", "failed", "hardwareRequirementsNotMet", zero}, {"E2", "pending", "none", zero}}},
			{5 * m, nil, []seen{{"E1", "failed", "hardwareRequirementsNotMet", zero}, {"E2", "assignedInSync", "none", epoch.Add(5 * m)}}},
		}},
		{"first looked at long after: times come from the sync, not from the look", emulator.Options{SyncDuration: 2 * m, ProfileAssignmentDelay: m}, []step{
			{0, func(t *testing.T, e *emulator.Emulator) {
				addPending("F1", emulator.ProfileAssignment{})(t, e)
				startSync(t, e)
			}, []seen{}},
			{9 * time.Hour, nil, []seen{{"F1", "assignedUnkownSyncState", "none", epoch.Add(3 * m)}}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runSteps(t, tc.o, tc.steps)
		})
	}
}

func TestPendingDevicesOverGraph(t *testing.T) {
	t.Parallel()
	clock := emulator.NewManualClock(epoch)
	e, _ := emutest.Start(t, emulator.Options{Clock: clock, SyncDuration: time.Minute})
	tok := seededGraphToken(t, e)
	e.AddDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: "OLD1"})
	pending := e.AddPendingDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: "NEW1"}, emulator.ProfileAssignment{})
	list := func() []string {
		t.Helper()
		a := graph(t, e, tok, http.MethodGet, filterPath("contains(serialNumber,'1')"), "")
		return decodePage(t, a).serials(t)
	}
	if got := list(); !cmp.Equal(got, []string{"OLD1"}) {
		t.Errorf("before a sync Graph lists %q", got)
	}
	startSync(t, e)
	clock.Advance(time.Minute)
	if got := list(); !cmp.Equal(got, []string{"OLD1", "NEW1"}) {
		t.Errorf("after the sync Graph lists %q", got)
	}
	a := graph(t, e, tok, http.MethodGet, filterPath("contains(serialNumber,'NEW1')"), "")
	if !strings.Contains(string(a.body), `"id":"`+pending.ID+`"`) {
		t.Errorf("the registered device does not carry the id AddPendingDevice returned: %s", a.body)
	}
}
