package followup

import (
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/google/go-cmp/cmp"
)

// importing is a request importing the devices of serials, records r-<serial>, made at t0.
func importing(serials ...string) Message {
	m := New("id-i", "contoso", t0, Targets{Callback: callbackURL})
	m.Serials = serials
	m.Import = &Imports{}
	for _, s := range serials {
		m.Import.Records = append(m.Import.Records, ImportRecord{SerialNumber: s, ID: "r-" + s, HardwareHash: []byte{1, 2, 3}, GroupTag: "Sales"})
	}
	return m
}

func status(st graph.ImportStatus, name string, code int) RecordReading {
	return RecordReading{State: graph.ImportState{DeviceImportStatus: st, DeviceErrorName: name, DeviceErrorCode: code}}
}

// TestDecideImports: each record's import, as SPEC §17 says; every record that ended is deleted;
// a StorageError imports its device once more.
func TestDecideImports(t *testing.T) {
	t.Parallel()
	s := DefaultSchedule()
	m := importing("A1", "B2")
	tests := []struct {
		name        string
		r           ImportReading
		now         int
		retry       bool
		code        problem.Code
		wantResult  []string // per record
		wantName    []string
		wantDelete  []string
		wantRetried []string
	}{
		{name: "both still pending", r: ImportReading{"r-A1": status(graph.ImportPending, "", 0), "r-B2": status(graph.ImportUnknown, "", 0)}, now: 60,
			wantResult: []string{"", ""}, wantName: []string{"", ""}},
		{name: "complete, and 808", r: ImportReading{"r-A1": status(graph.ImportComplete, "", 0), "r-B2": status(graph.ImportError, graph.ErrorNameAssignedToOtherTenant, 808)}, now: 60,
			wantResult: []string{ImportRegistered, ImportFailed}, wantName: []string{"", graph.ErrorNameAssignedToOtherTenant}, wantDelete: []string{"r-A1", "r-B2"}},
		{name: "806 is registered", r: ImportReading{"r-A1": status(graph.ImportError, graph.ErrorNameAlreadyAssigned, 806), "r-B2": status(graph.ImportPending, "", 0)}, now: 60,
			wantResult: []string{ImportRegistered, ""}, wantName: []string{graph.ErrorNameAlreadyAssigned, ""}, wantDelete: []string{"r-A1"}},
		{name: "partial with or without a registration", r: ImportReading{"r-A1": {State: graph.ImportState{DeviceImportStatus: graph.ImportPartial, DeviceRegistrationID: "d1"}}, "r-B2": status(graph.ImportPartial, "", 0)}, now: 60,
			wantResult: []string{ImportRegistered, ImportFailed}, wantName: []string{"", ""}, wantDelete: []string{"r-A1", "r-B2"}},
		{name: "StorageError: imported once more", r: ImportReading{"r-A1": status(graph.ImportError, graph.ErrorNameStorageError, 0), "r-B2": status(graph.ImportPending, "", 0)}, now: 60,
			wantResult: []string{ImportFailed, ""}, wantName: []string{graph.ErrorNameStorageError, ""}, wantDelete: []string{"r-A1"}, wantRetried: []string{"A1"}},
		{name: "gone: a duplicate delivery handled it", r: ImportReading{"r-A1": {Gone: true}, "r-B2": status(graph.ImportPending, "", 0)}, now: 60,
			wantResult: []string{ImportRegistered, ""}, wantName: []string{"", ""}},
		{name: "a value Graph adds later is not an end", r: ImportReading{"r-A1": status("queued", "", 0), "r-B2": status(graph.ImportPending, "", 0)}, now: 60,
			wantResult: []string{"", ""}, wantName: []string{"", ""}},
		{name: "still pending at DEVICE_MAX_AGE: importTimedOut, deleted", r: ImportReading{"r-A1": status(graph.ImportPending, "", 0), "r-B2": status(graph.ImportComplete, "", 0)}, now: 4 * 3600,
			wantResult: []string{ImportFailed, ImportRegistered}, wantName: []string{ImportTimedOut, ""}, wantDelete: []string{"r-A1", "r-B2"}},
		{name: "a read fails for now: retry", r: ImportReading{"r-A1": {Code: problem.GraphUnavailable}, "r-B2": status(graph.ImportPending, "", 0)}, now: 60, retry: true},
		{name: "a read missing: retry", r: ImportReading{"r-B2": status(graph.ImportPending, "", 0)}, now: 60, retry: true},
		{name: "a read fails for good: error", r: ImportReading{"r-A1": {Code: problem.GraphPermissionDenied}, "r-B2": status(graph.ImportPending, "", 0)}, now: 60, code: problem.GraphPermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			step := DecideImports(m, tt.r, at(tt.now), s)
			if step.Retry != tt.retry || step.Code != tt.code {
				t.Fatalf("retry %v code %q, want %v %q", step.Retry, step.Code, tt.retry, tt.code)
			}
			if tt.retry || tt.code != "" {
				return
			}
			var results, names []string
			for _, r := range step.message.Import.Records {
				results, names = append(results, r.Result), append(names, r.ErrorName)
				if !r.running() && len(r.HardwareHash) > 0 {
					t.Errorf("%s: the hash is kept after its import ended", r.SerialNumber)
				}
			}
			var retried []string
			for _, r := range step.Reimport {
				retried = append(retried, r.SerialNumber)
				if len(r.HardwareHash) == 0 || r.ID != "" {
					t.Errorf("re-import of %s without its hash, or with an id", r.SerialNumber)
				}
			}
			for _, c := range []struct {
				what      string
				got, want []string
			}{{"results", results, tt.wantResult}, {"names", names, tt.wantName}, {"deletes", step.Delete, tt.wantDelete}, {"re-imports", retried, tt.wantRetried}} {
				if diff := cmp.Diff(c.want, c.got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", c.what, diff)
				}
			}
		})
	}
}

// TestImportSettle: what follows a check once its deletes and re-imports were done.
func TestImportSettle(t *testing.T) {
	t.Parallel()
	s := DefaultSchedule()
	m := importing("A1", "B2")
	done := ImportReading{"r-A1": status(graph.ImportComplete, "", 0), "r-B2": status(graph.ImportError, graph.ErrorNameAssignedToOtherTenant, 808)}

	out := DecideImports(m, done, at(60), s).Settle([]string{"r-A1", "r-B2"}, nil, s)
	if !out.Ended || out.Registered != 1 || out.Failed != 1 || !out.Next.Registered() {
		t.Fatalf("settled %+v, want ended with 1 registered and 1 failed", out)
	}
	if _, err := out.Next.Encode(); err != nil {
		t.Fatal(err)
	}
	// A delete that failed is tried at the next check, which reads nothing.
	out = DecideImports(m, done, at(60), s).Settle([]string{"r-A1"}, nil, s)
	if out.Ended || out.Delay != time.Minute || len(out.Next.Running()) != 0 {
		t.Fatalf("settled %+v, want the next check in 60 s for the delete only", out)
	}
	again := DecideImports(out.Next, ImportReading{}, at(120), s)
	if diff := cmp.Diff([]string{"r-B2"}, again.Delete); diff != "" || again.Retry {
		t.Fatalf("the next check's deletes (-want +got):\n%s", diff)
	}
	if out := again.Settle([]string{"r-B2"}, nil, s); !out.Ended || out.Registered != 0 || out.Failed != 0 {
		t.Errorf("settled %+v, want ended, nothing counted twice", out)
	}

	// StorageError: imported once more under a new record, which then fails again for good.
	storage := ImportReading{"r-A1": status(graph.ImportError, graph.ErrorNameStorageError, 0), "r-B2": status(graph.ImportComplete, "", 0)}
	step := DecideImports(m, storage, at(60), s)
	out = step.Settle(step.Delete, map[string]string{"A1": "r-A1-2"}, s)
	rec := out.Next.Import.Records[0]
	if out.Ended || rec.ID != "r-A1-2" || !rec.Retried || !rec.running() || len(rec.HardwareHash) == 0 || out.Failed != 0 {
		t.Fatalf("after the re-import: %+v, settled %+v", rec, out)
	}
	step = DecideImports(out.Next, ImportReading{"r-A1-2": status(graph.ImportError, graph.ErrorNameStorageError, 0)}, at(120), s)
	if len(step.Reimport) != 0 {
		t.Fatalf("a second StorageError imported again: %+v", step.Reimport)
	}
	out = step.Settle(step.Delete, nil, s)
	if !out.Ended || out.Failed != 1 || out.Next.Import.Records[0].ErrorName != graph.ErrorNameStorageError {
		t.Fatalf("settled %+v, want ended with the StorageError reported", out)
	}
}

// TestImportsToSyncAndReport: once the imports ended, the request waits for a sync after the
// trigger read then, and its device checks skip the devices whose import failed; when none
// registered it reports at once.
func TestImportsToSyncAndReport(t *testing.T) {
	t.Parallel()
	s := DefaultSchedule()
	m := importing("A1", "B2")
	step := DecideImports(m, ImportReading{"r-A1": status(graph.ImportComplete, "", 0), "r-B2": status(graph.ImportError, graph.ErrorNameAssignedToOtherTenant, 808)}, at(60), s)
	ended := step.Settle(step.Delete, nil, s).Next
	w := ToSync(ended, at(-600))
	b, err := w.Encode()
	if err != nil {
		t.Fatal(err)
	}
	w, err = Decode(b, at(61))
	if err != nil {
		t.Fatal(err)
	}
	d := Defer(w, settings(graph.SyncStatusCompleted, -600, -500), at(61), s)
	if d.Step != StepSync {
		t.Fatalf("step %d, want a sync (none after the trigger seen)", d.Step)
	}
	followed := devicePhase(Triggered(w, at(61), s).Settle(nil).Next.withoutOutcome())
	if diff := cmp.Diff([]string{"A1"}, followed.Pending()); diff != "" {
		t.Fatalf("devices read (-want +got):\n%s", diff)
	}
	p := DecideDevices(followed, DeviceReading{Readiness: []autopilot.Readiness{state("A1", autopilot.StateAssigned)}}, at(600), s)
	if _, err := p.Message().Encode(); err != nil {
		t.Fatalf("the report's message does not encode: %v", err)
	}
	if p.Outcome == nil || p.Outcome.Result != autopilot.DevicesNotReady || p.Outcome.Devices[1].State != autopilot.StateImportFailed ||
		p.Outcome.Devices[1].Error.Name != graph.ErrorNameAssignedToOtherTenant || p.Outcome.Devices[1].Error.Code != 808 {
		t.Fatalf("outcome %+v, want not ready: A1 assigned, B2 importFailed 808", p.Outcome)
	}

	none := DecideImports(m, ImportReading{"r-A1": status(graph.ImportError, graph.ErrorNameInvalidHardwareHash, 802), "r-B2": status(graph.ImportError, graph.ErrorNameDuplicated, 0)}, at(60), s)
	ended = none.Settle(none.Delete, nil, s).Next
	if ended.Registered() {
		t.Fatal("registered, with every import failed")
	}
	r := ReportImports(ended, at(60))
	if _, err := r.Message().Encode(); err != nil {
		t.Fatalf("the report's message does not encode: %v", err)
	}
	if r.Outcome == nil || r.Outcome.Result != autopilot.DevicesNotReady || r.Outcome.SyncResult != "" || len(r.Notices) != 1 {
		t.Fatalf("report %+v, want not ready with no sync, told once", r.Outcome)
	}
}

// withoutOutcome is m as a check receives it (for chaining plans in tests).
func (m *Message) withoutOutcome() Message { return *m }

// TestImportHandledElsewhere: a record found gone was handled by another delivery of the check;
// if its device never registers, the report says that the other delivery's report tells why.
func TestImportHandledElsewhere(t *testing.T) {
	t.Parallel()
	s := DefaultSchedule()
	m := importing("A1", "B2")
	step := DecideImports(m, ImportReading{"r-A1": {Gone: true}, "r-B2": status(graph.ImportComplete, "", 0)}, at(60), s)
	out := step.Settle(step.Delete, nil, s)
	if rec := out.Next.Import.Records[0]; !rec.Gone || !rec.Deleted || rec.Result != ImportRegistered {
		t.Fatalf("record %+v, want registered, deleted, gone", rec)
	}
	m = out.Next
	m.Devices = &DeviceChecks{SyncResult: autopilot.Completed}
	p := DecideDevices(m, DeviceReading{Readiness: []autopilot.Readiness{state("A1", autopilot.StateNotRegistered), state("B2", autopilot.StateAssigned)}}, at(5*3600), s)
	if p.Outcome == nil || p.Outcome.Devices[0].Note != autopilot.NoteImportElsewhere || p.Outcome.Devices[1].Note != "" {
		t.Fatalf("outcome %+v, want A1 noted, B2 not", p.Outcome)
	}
}
