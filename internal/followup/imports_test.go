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
		{name: "complete, and 808: deleted at the next check", r: ImportReading{"r-A1": status(graph.ImportComplete, "", 0), "r-B2": status(graph.ImportError, graph.ErrorNameAssignedToOtherTenant, 808)}, now: 60,
			wantResult: []string{ImportRegistered, ImportFailed}, wantName: []string{"", graph.ErrorNameAssignedToOtherTenant}},
		{name: "806 is registered", r: ImportReading{"r-A1": status(graph.ImportError, graph.ErrorNameAlreadyAssigned, 806), "r-B2": status(graph.ImportPending, "", 0)}, now: 60,
			wantResult: []string{ImportRegistered, ""}, wantName: []string{graph.ErrorNameAlreadyAssigned, ""}},
		{name: "partial with or without a registration", r: ImportReading{"r-A1": {State: graph.ImportState{DeviceImportStatus: graph.ImportPartial, DeviceRegistrationID: "d1"}}, "r-B2": status(graph.ImportPartial, "", 0)}, now: 60,
			wantResult: []string{ImportRegistered, ImportFailed}, wantName: []string{"", ""}},
		{name: "StorageError: kept to import once more", r: ImportReading{"r-A1": status(graph.ImportError, graph.ErrorNameStorageError, 0), "r-B2": status(graph.ImportPending, "", 0)}, now: 60,
			wantResult: []string{ImportFailed, ""}, wantName: []string{graph.ErrorNameStorageError, ""}, wantRetried: []string{"A1"}},
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
				if !r.running() && !r.retrying(false) && len(r.HardwareHash) > 0 {
					t.Errorf("%s: the hash is kept after its import ended", r.SerialNumber)
				}
			}
			var retried []string
			for _, r := range step.Reimports([]string{"r-A1", "r-B2"}) {
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

// TestImportSettle: what follows a check once its deletes and re-imports were done: the records
// that ended are deleted at the next check (a second later when nothing runs), a StorageError's
// device is imported again once its record is gone.
func TestImportSettle(t *testing.T) {
	t.Parallel()
	s := DefaultSchedule()
	m := importing("A1", "B2")
	done := ImportReading{"r-A1": status(graph.ImportComplete, "", 0), "r-B2": status(graph.ImportError, graph.ErrorNameAssignedToOtherTenant, 808)}

	step := DecideImports(m, done, at(60), s)
	out := step.Settle(step.Delete, nil, s)
	if out.Ended || out.Delay != time.Second || out.Registered != 1 || out.Failed != 1 || len(out.Next.Running()) != 0 {
		t.Fatalf("settled %+v, want the deletes in a second, 1 registered and 1 failed counted", out)
	}
	// A copy of that check delivered again reads the records as it did: the same next message.
	again := DecideImports(m, done, at(61), s)
	if out2 := again.Settle(again.Delete, nil, s); cmp.Diff(out.Next, out2.Next) != "" {
		t.Errorf("a repeated check decides otherwise (-first +again):\n%s", cmp.Diff(out.Next, out2.Next))
	}
	del := DecideImports(out.Next, ImportReading{}, at(61), s)
	if diff := cmp.Diff([]string{"r-A1", "r-B2"}, del.Delete); diff != "" {
		t.Fatalf("the next check's deletes (-want +got):\n%s", diff)
	}
	// One delete fails: tried again a second later, nothing counted twice.
	out = del.Settle([]string{"r-A1"}, nil, s)
	if out.Ended || out.Delay != time.Second || out.Registered != 0 || out.Failed != 0 {
		t.Fatalf("settled %+v, want the other delete again in a second", out)
	}
	last := DecideImports(out.Next, ImportReading{}, at(62), s)
	if out = last.Settle(last.Delete, nil, s); !out.Ended || !out.Next.Registered() {
		t.Fatalf("settled %+v, want ended", out)
	}
	if _, err := out.Next.Encode(); err != nil {
		t.Fatal(err)
	}

	// StorageError: its record deleted at the next check, then imported once more under a new
	// record, which then fails again for good.
	storage := ImportReading{"r-A1": status(graph.ImportError, graph.ErrorNameStorageError, 0), "r-B2": status(graph.ImportComplete, "", 0)}
	step = DecideImports(m, storage, at(60), s)
	if len(step.Reimports(nil)) != 0 {
		t.Fatal("imported again before its record was deleted")
	}
	out = step.Settle(step.Delete, nil, s)
	if out.Failed != 0 || out.Registered != 1 {
		t.Fatalf("settled %+v: a StorageError to import again counted as failed", out)
	}
	step = DecideImports(out.Next, ImportReading{}, at(61), s)
	re := step.Reimports(step.Delete)
	if len(re) != 1 || re[0].SerialNumber != "A1" || len(re[0].HardwareHash) == 0 || re[0].ID != "" {
		t.Fatalf("re-imports %+v, want A1 with its hash", re)
	}
	out = step.Settle(step.Delete, map[string]string{"A1": "r-A1-2"}, s)
	rec := out.Next.Import.Records[0]
	if out.Ended || rec.ID != "r-A1-2" || !rec.Retried || !rec.running() || len(rec.HardwareHash) == 0 || out.Failed != 0 {
		t.Fatalf("after the re-import: %+v, settled %+v", rec, out)
	}
	step = DecideImports(out.Next, ImportReading{"r-A1-2": status(graph.ImportError, graph.ErrorNameStorageError, 0)}, at(120), s)
	if len(step.Reimports([]string{"r-A1-2"})) != 0 {
		t.Fatal("a second StorageError imported again")
	}
	out = step.Settle(step.Delete, nil, s)
	if out.Ended || out.Failed != 1 || out.Next.Import.Records[0].ErrorName != graph.ErrorNameStorageError || len(out.Next.Import.Records[0].HardwareHash) != 0 {
		t.Fatalf("settled %+v, want the StorageError reported, its hash dropped, its record still to delete", out)
	}
}

// TestImportsToSyncAndReport: once the imports ended, the request waits for a sync after the
// trigger read then, and its device checks skip the devices whose import failed; when none
// registered it reports at once.
func TestImportsToSyncAndReport(t *testing.T) {
	t.Parallel()
	s := DefaultSchedule()
	m := importing("A1", "B2")
	ended := settleAll(t, m, ImportReading{"r-A1": status(graph.ImportComplete, "", 0), "r-B2": status(graph.ImportError, graph.ErrorNameAssignedToOtherTenant, 808)}, s)
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

	ended = settleAll(t, m, ImportReading{"r-A1": status(graph.ImportError, graph.ErrorNameInvalidHardwareHash, 802), "r-B2": status(graph.ImportError, graph.ErrorNameDuplicated, 0)}, s)
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
	m = settleAll(t, m, ImportReading{"r-A1": {Gone: true}, "r-B2": status(graph.ImportComplete, "", 0)}, s)
	if rec := m.Import.Records[0]; !rec.Gone || !rec.Deleted || rec.Result != ImportRegistered {
		t.Fatalf("record %+v, want registered, deleted, gone", rec)
	}
	m.Devices = &DeviceChecks{SyncResult: autopilot.Completed}
	p := DecideDevices(m, DeviceReading{Readiness: []autopilot.Readiness{state("A1", autopilot.StateNotRegistered), state("B2", autopilot.StateAssigned)}}, at(5*3600), s)
	if p.Outcome == nil || p.Outcome.Devices[0].Note != autopilot.NoteImportElsewhere || p.Outcome.Devices[1].Note != "" {
		t.Fatalf("outcome %+v, want A1 noted, B2 not", p.Outcome)
	}
}

// settleAll runs the checks of m, reading r at the first, every delete succeeding, until its
// imports have ended.
func settleAll(t *testing.T, m Message, r ImportReading, s Schedule) Message {
	t.Helper()
	for i := range 5 {
		step := DecideImports(m, r, at(60+i), s)
		out := step.Settle(step.Delete, nil, s)
		if out.Ended {
			return out.Next
		}
		m, r = out.Next, ImportReading{}
	}
	t.Fatal("the imports did not end in 5 checks")
	return m
}

// TestImportOddErrorsAreCarried: whatever name and code Graph gives an import that failed, the
// next message is sent and reports it: a name that is no identifier is left out (the code says
// why), a negative code (an HRESULT) is kept. Encoding it failed once, so the check was delivered
// again and again, reading the same, until the dead-letter queue.
func TestImportOddErrorsAreCarried(t *testing.T) {
	t.Parallel()
	s := DefaultSchedule()
	tests := []struct {
		name     string
		reading  RecordReading
		wantName string
		wantCode int
	}{
		{name: "a name with a space and an underscore", reading: status(graph.ImportError, "Ztd_Device Error", 807), wantCode: 807},
		{name: "a negative code", reading: status(graph.ImportError, "ZtdSomethingNew", -2147024809), wantName: "ZtdSomethingNew", wantCode: -2147024809},
		{name: "a name too long, with control characters", reading: status(graph.ImportError, strings.Repeat("Ztd\n", 100), 1), wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := importing("A1")
			step := DecideImports(m, ImportReading{"r-A1": tt.reading}, at(60), s)
			next := step.Settle(nil, nil, s).Next
			body, err := next.Encode()
			if err != nil {
				t.Fatalf("the next message: %v", err)
			}
			back, err := Decode(body, at(61))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			rec := back.Import.Records[0]
			if rec.Result != ImportFailed || rec.ErrorName != tt.wantName || rec.ErrorCode != tt.wantCode {
				t.Errorf("record %s %q %d, want %s %q %d", rec.Result, rec.ErrorName, rec.ErrorCode, ImportFailed, tt.wantName, tt.wantCode)
			}
			got := back.importReadiness("A1")
			if got.Error == nil || got.Error.Code != tt.wantCode || got.Error.Meaning == "" {
				t.Errorf("readiness error %+v, want code %d with a meaning", got.Error, tt.wantCode)
			}
		})
	}
}
