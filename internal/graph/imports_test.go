package graph_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

const importCounter = "POST importedWindowsAutopilotDeviceIdentities/import"

// hash is a device's hardware hash: 20 bytes, so that its base64 needs padding.
func hash(name string) []byte { return []byte(("hash-of-" + name + strings.Repeat("#", 20))[:20]) }

func deviceCounts(e *emulator.Emulator) emulator.DeviceCounts {
	return e.Counts().Devices[strings.ToLower(emulator.SeedTenantID)]
}

// bySerial indexes imported records by serial number, as callers must match them.
func bySerial(t *testing.T, recs []graph.ImportedDevice) map[string]graph.ImportedDevice {
	t.Helper()
	out := map[string]graph.ImportedDevice{}
	for _, r := range recs {
		if r.ID == "" {
			t.Errorf("a record without an id: %+v", r)
		}
		out[r.SerialNumber] = r
	}
	return out
}

// TestImportToReady walks SPEC §17 through the client: import two devices, one registered to
// another tenant; read both records until they end; delete both; sync; find the one registered.
func TestImportToReady(t *testing.T) {
	t.Parallel()
	e, clock, c := setupWith(t, emulator.Options{ImportDuration: 2 * time.Minute, ProfileAssignmentDelay: time.Minute})
	e.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: "5CG-OTHER"}, emulator.ImportFailure("ZtdDeviceAssignedToOtherTenant"))
	ctx := context.Background()

	recs, resp, err := c.Import(ctx, []graph.ImportedDevice{
		{SerialNumber: "5CG-NEW", HardwareIdentifier: hash("new"), GroupTag: "Sales"},
		{SerialNumber: "5CG-OTHER", HardwareIdentifier: hash("other")},
	})
	if err != nil || resp.StatusCode != 200 || resp.RequestID == "" {
		t.Fatalf("Import = %+v, %v", resp, err)
	}
	got := bySerial(t, recs)
	for _, s := range []string{"5CG-NEW", "5CG-OTHER"} {
		if st := got[s].State.DeviceImportStatus; st != graph.ImportUnknown {
			t.Errorf("%s starts %q, want unknown", s, st)
		}
	}

	clock.Advance(2 * time.Minute)
	final := map[string]graph.ImportState{}
	for s, r := range got {
		rec, _, err := c.GetImported(ctx, r.ID)
		if err != nil {
			t.Fatalf("GetImported(%s): %v", s, err)
		}
		if rec.SerialNumber != s || string(rec.HardwareIdentifier) != string(hash(strings.ToLower(strings.TrimPrefix(s, "5CG-")))) {
			t.Errorf("record %+v", rec)
		}
		final[s] = rec.State
		if _, err := c.DeleteImported(ctx, r.ID); err != nil {
			t.Errorf("DeleteImported(%s): %v", s, err)
		}
	}
	registered := final["5CG-NEW"].DeviceRegistrationID
	want := map[string]graph.ImportState{
		"5CG-NEW":   {DeviceImportStatus: graph.ImportComplete, DeviceRegistrationID: registered},
		"5CG-OTHER": {DeviceImportStatus: graph.ImportError, DeviceErrorCode: 808, DeviceErrorName: graph.ErrorNameAssignedToOtherTenant},
	}
	if diff := cmp.Diff(want, final); diff != "" || registered == "" {
		t.Errorf("final states (-want +got):\n%s", diff)
	}

	if _, err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(90*time.Second + time.Minute)
	devices, _, err := devicesOf(c, ctx, "5cg-new")
	if err != nil || len(devices) != 1 || devices[0].ID != registered || devices[0].GroupTag != "Sales" ||
		devices[0].DeploymentProfileAssignmentStatus != graph.ProfileAssignedUnknownSyncState {
		t.Errorf("after the sync: %+v, %v", devices, err)
	}
	if n := deviceCounts(e).RecordsDeleted; n != 2 || len(e.ImportedRecords(emulator.SeedTenantID)) != 0 {
		t.Errorf("%d records deleted, %d left; want every record deleted", n, len(e.ImportedRecords(emulator.SeedTenantID)))
	}
	var ge *graph.Error
	if _, _, err := c.GetImported(ctx, got["5CG-NEW"].ID); !errors.As(err, &ge) || ge.StatusCode != 404 {
		t.Errorf("GetImported after DeleteImported: %v, want Graph 404", err)
	}
	if _, err := c.DeleteImported(ctx, got["5CG-NEW"].ID); !errors.As(err, &ge) || ge.StatusCode != 404 {
		t.Errorf("DeleteImported twice: %v, want Graph 404", err)
	}
}

func TestImportIsNeverRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault emulator.Fault
	}{
		{"429", emulator.Fault{Service: emulator.Graph, Status: 429, Header: http.Header{"Retry-After": {"0"}}}},
		{"500", emulator.Fault{Service: emulator.Graph, Status: 500}},
		{"502", emulator.Fault{Service: emulator.Graph, Status: 502}},
		{"503", emulator.Fault{Service: emulator.Graph, Status: 503}},
		{"504", emulator.Fault{Service: emulator.Graph, Status: 504}},
		{"a broken connection", emulator.Fault{Service: emulator.Graph, Reset: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _, c := setup(t)
			tc.fault.PathContains, tc.fault.Times = "/import", 1
			e.AddFault(tc.fault)
			recs, resp, err := c.Import(context.Background(), []graph.ImportedDevice{{SerialNumber: "A", HardwareIdentifier: hash("a")}})
			if err == nil || recs != nil {
				t.Fatalf("Import = %v, %v; want the failure", recs, err)
			}
			if n := e.Counts().Graph[importCounter]; n != 1 {
				t.Errorf("Graph saw %d imports, want 1", n)
			}
			if resp == nil || resp.ClientRequestID == "" {
				t.Errorf("Response = %+v", resp)
			}
		})
	}
	t.Run("a deadline", func(t *testing.T) {
		t.Parallel()
		e, _, c := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e.AddFault(emulator.Fault{Service: emulator.Graph, PathContains: "/import", Hang: true, Arrived: cancel})
		if _, _, err := c.Import(ctx, []graph.ImportedDevice{{SerialNumber: "A", HardwareIdentifier: hash("a")}}); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want the context's", err)
		}
		if n := e.Counts().Graph[importCounter]; n != 1 {
			t.Errorf("Graph saw %d imports, want 1", n)
		}
	})
}

func TestImportedReadsAreRetried(t *testing.T) {
	t.Parallel()
	e, _, c := setup(t)
	ctx := context.Background()
	recs, _, err := c.Import(ctx, []graph.ImportedDevice{{SerialNumber: "A", HardwareIdentifier: hash("a")}})
	if err != nil {
		t.Fatal(err)
	}
	e.AddFault(emulator.Fault{Service: emulator.Graph, Method: http.MethodGet, Status: 503, Times: 2})
	if _, _, err := c.GetImported(ctx, recs[0].ID); err != nil {
		t.Errorf("GetImported after two 503s: %v", err)
	}
	e.AddFault(emulator.Fault{Service: emulator.Graph, Method: http.MethodDelete, Status: 502, Times: 1})
	if _, err := c.DeleteImported(ctx, recs[0].ID); err != nil {
		t.Errorf("DeleteImported after a 502: %v", err)
	}
	if got := e.Counts().Graph; got["GET importedWindowsAutopilotDeviceIdentities/{id}"] != 3 || got["DELETE importedWindowsAutopilotDeviceIdentities/{id}"] != 2 {
		t.Errorf("Counts.Graph = %v", got)
	}
}

func TestImportedIDs(t *testing.T) {
	t.Parallel()
	e, _, c := setup(t)
	for _, id := range []string{"", ".", ".."} {
		if _, _, err := c.GetImported(context.Background(), id); !errors.Is(err, graph.ErrInvalidID) {
			t.Errorf("GetImported(%q) = %v, want ErrInvalidID", id, err)
		}
		if _, err := c.DeleteImported(context.Background(), id); !errors.Is(err, graph.ErrInvalidID) {
			t.Errorf("DeleteImported(%q) = %v, want ErrInvalidID", id, err)
		}
	}
	var ge *graph.Error
	if _, _, err := c.GetImported(context.Background(), "../windowsAutopilotSettings"); !errors.As(err, &ge) || ge.StatusCode/100 != 4 {
		t.Errorf("an id with a slash: %v, want a Graph 4xx (it is one escaped segment)", err)
	}
	if n := e.Counts().Graph["GET"]; n != 0 {
		t.Errorf("the settings were read %d times", n)
	}
}
