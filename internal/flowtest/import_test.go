package flowtest_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/flowtest"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
)

// Issue 24 (SPEC §17, import) over the emulator: POST /sync with devices imports them, the
// follow-up reads and deletes the imported records, syncs after the import (a deferral) and
// follows the registered devices to ready; one callback lists every device in the order asked.

// hashOf is a hardware hash of n bytes for serial, the same on every call: real ones are about
// 3 KB (4 KB of base64).
func hashOf(serial string, n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	block := sha256.Sum256([]byte(serial))
	for len(out) < n {
		out = append(out, block[:]...)
		block = sha256.Sum256(block[:])
	}
	return out[:n]
}

// device is one device of a POST /sync "devices" body.
type device struct {
	SerialNumber string `json:"serialNumber"`
	HardwareHash string `json:"hardwareHash"`
	GroupTag     string `json:"groupTag,omitempty"`
	AssignedUser string `json:"assignedUser,omitempty"`
}

// deviceOf is serial's device with a realistic hash (3 KB, 4 KB of base64).
func deviceOf(serial string) device {
	return device{SerialNumber: serial, HardwareHash: base64.StdEncoding.EncodeToString(hashOf(serial, 3000))}
}

// importBody is a POST /sync body importing ds, with the receiver's callbackUrl.
func importBody(f *flowtest.Flow, ds ...device) string {
	b, _ := json.Marshal(map[string]any{"devices": ds, "callbackUrl": f.CallbackURL("ticket")})
	return string(b)
}

// importing is the 202 of an import.
type importing struct {
	Result      string `json:"result"`
	RequestedAt string `json:"requestedAt"`
	Devices     []struct {
		SerialNumber string `json:"serialNumber"`
		ImportID     string `json:"importId"`
	} `json:"devices"`
	FollowUp struct {
		ID string `json:"id"`
	} `json:"followUp"`
}

// startImport posts an import and ends the test unless it is answered 202 importing, with the
// devices in the order asked.
func startImport(t *testing.T, f *flowtest.Flow, ds ...device) importing {
	t.Helper()
	a := postChecked(t, f, "", importBody(f, ds...))
	var im importing
	if err := a.Decode(&im); err != nil || a.Status != http.StatusAccepted || im.Result != "importing" || im.FollowUp.ID == "" {
		t.Fatalf("POST /sync with %d devices: %d %.300s, want 202 importing", len(ds), a.Status, a.Body)
	}
	var got, want []string
	for i, d := range im.Devices {
		got = append(got, d.SerialNumber)
		want = append(want, ds[i].SerialNumber)
		if d.ImportID == "" {
			t.Errorf("device %s has no importId", d.SerialNumber)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("202 devices (-want +got):\n%s", diff)
	}
	return im
}

// checkRecordsDeleted: every record imported was deleted (Microsoft expects it), none is left.
func checkRecordsDeleted(t *testing.T, f *flowtest.Flow, imports int) {
	t.Helper()
	c := f.Emulator().Counts().Devices[strings.ToLower(tenantID)]
	if left := f.Emulator().ImportedRecords(tenantID); len(left) > 0 || c.RecordsDeleted != c.RecordsImported || c.Imports != imports {
		t.Errorf("imports %d (want %d), records imported %d, deleted %d, left %d: want every one deleted", c.Imports, imports, c.RecordsImported, c.RecordsDeleted, len(left))
	}
}

func TestImport(t *testing.T) {
	t.Parallel()
	const user = "ana@contoso.example"
	tests := []struct {
		name    string
		env     map[string]string
		setup   func(e *emulator.Emulator)
		devices []device
		// The report: its type, each serial's state (in the order asked), the import errors'
		// names and codes, and the notes.
		wantType   string
		wantStates []string
		wantErrors map[string]string
		wantNotes  map[string]string
		imports    int  // import calls: one, and one more per StorageError retried
		synced     bool // a sync ran (at least one device registered)
	}{
		{
			name:     "complete, sync, assigned: ready",
			devices:  []device{deviceOf("5CG0000AAA")},
			wantType: "autopilot.devices.ready", wantStates: []string{"5CG0000AAA=assigned"},
			imports: 1, synced: true,
		},
		{
			name: "808: importFailed while the other device is followed",
			setup: func(e *emulator.Emulator) {
				e.ScriptImport(tenantID, emulator.ImportMatch{SerialNumber: "5CG0000BBB"}, emulator.ImportFailure("ZtdDeviceAssignedToOtherTenant"))
			},
			devices:  []device{deviceOf("5CG0000BBB"), deviceOf("5CG0000AAA")},
			wantType: "autopilot.devices.notReady", wantStates: []string{"5CG0000BBB=importFailed", "5CG0000AAA=assigned"},
			wantErrors: map[string]string{"5CG0000BBB": "ZtdDeviceAssignedToOtherTenant 808"},
			imports:    1, synced: true,
		},
		{
			name: "806: followed as registered, the groupTag asked not applied",
			setup: func(e *emulator.Emulator) {
				for _, s := range []string{"5CG0000TAG", "5CG0000BARE"} {
					e.ScriptImport(tenantID, emulator.ImportMatch{SerialNumber: s}, emulator.ImportFailure("ZtdDeviceAlreadyAssigned"))
					e.AddDevice(tenantID, emulator.Device{SerialNumber: s, DeploymentProfileAssignmentStatus: "assignedInSync"})
				}
			},
			devices: []device{
				{SerialNumber: "5CG0000TAG", HardwareHash: deviceOf("5CG0000TAG").HardwareHash, GroupTag: "Sales", AssignedUser: user},
				deviceOf("5CG0000BARE"),
			},
			wantType: "autopilot.devices.ready", wantStates: []string{"5CG0000TAG=assigned", "5CG0000BARE=assigned"},
			wantNotes: map[string]string{"5CG0000TAG": autopilot.NoteNotApplied},
			imports:   1, synced: true,
		},
		{
			name: "StorageError retried once, then complete",
			setup: func(e *emulator.Emulator) {
				e.ScriptImport(tenantID, emulator.ImportMatch{SerialNumber: "5CG0000AAA"}, emulator.ImportFailure("StorageError"), emulator.ImportOutcome{})
			},
			devices:  []device{deviceOf("5CG0000AAA")},
			wantType: "autopilot.devices.ready", wantStates: []string{"5CG0000AAA=assigned"},
			imports: 2, synced: true,
		},
		{
			name: "StorageError retried once, then reported: nothing registered, no sync",
			setup: func(e *emulator.Emulator) {
				e.ScriptImport(tenantID, emulator.ImportMatch{SerialNumber: "5CG0000AAA"}, emulator.ImportFailure("StorageError"))
			},
			devices:  []device{deviceOf("5CG0000AAA")},
			wantType: "autopilot.devices.notReady", wantStates: []string{"5CG0000AAA=importFailed"},
			wantErrors: map[string]string{"5CG0000AAA": "StorageError 500"},
			imports:    2,
		},
		{
			// The sync waits for every import to end (SPEC §17): the device that registered in
			// minutes waits with the slow one, and at DEVICE_MAX_AGE no sync is started any more.
			name: "an import still running at DEVICE_MAX_AGE: importTimedOut, its record deleted",
			env:  map[string]string{"DEVICE_MAX_AGE": "1h"},
			setup: func(e *emulator.Emulator) {
				e.ScriptImport(tenantID, emulator.ImportMatch{SerialNumber: "5CG0000SLOW"}, emulator.ImportOutcome{After: 3 * time.Hour})
			},
			devices:  []device{deviceOf("5CG0000SLOW"), deviceOf("5CG0000AAA")},
			wantType: "autopilot.devices.notReady", wantStates: []string{"5CG0000SLOW=importFailed", "5CG0000AAA=notRegistered"},
			wantErrors: map[string]string{"5CG0000SLOW": "importTimedOut 0"},
			imports:    1,
		},
		{
			// The report lists every device in the order asked, whatever became of each.
			name: "three fates, in the order asked",
			setup: func(e *emulator.Emulator) {
				e.ScriptImport(tenantID, emulator.ImportMatch{SerialNumber: "5CG0000MMM"}, emulator.ImportFailure("InvalidZtdHardwareHash"))
				e.ScriptImport(tenantID, emulator.ImportMatch{SerialNumber: "5CG0000ZZZ"}, emulator.ImportFailure("ZtdDeviceAlreadyAssigned"))
				e.AddDevice(tenantID, emulator.Device{SerialNumber: "5CG0000ZZZ", DeploymentProfileAssignmentStatus: "failed"})
			},
			devices:  []device{deviceOf("5CG0000ZZZ"), deviceOf("5CG0000AAA"), deviceOf("5CG0000MMM")},
			wantType: "autopilot.devices.notReady", wantStates: []string{"5CG0000ZZZ=failed", "5CG0000AAA=assigned", "5CG0000MMM=importFailed"},
			wantErrors: map[string]string{"5CG0000MMM": "InvalidZtdHardwareHash 802"},
			imports:    1, synced: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := flowtest.Start(t, flowtest.Options{Env: tt.env, SignCallbacks: true})
			if tt.setup != nil {
				tt.setup(f.Emulator())
			}
			im := startImport(t, f, tt.devices...)
			if err := f.Run(t.Context()); err != nil {
				t.Fatal(err)
			}
			ev, n := outcome(t, f, im.FollowUp.ID)
			if n != 1 || len(f.Callbacks()) != 1 {
				t.Errorf("%d callbacks (%d in all), want 1", n, len(f.Callbacks()))
			}
			checkReport(t, ev, tt.wantType, tt.wantStates)
			errs, notes := map[string]string{}, map[string]string{}
			for _, d := range ev.Data.Devices {
				if e := d.Error; e != nil {
					errs[d.SerialNumber] = fmt.Sprintf("%s %d", e.Name, e.Code)
					if e.Meaning == "" {
						t.Errorf("%s: import error %s without its meaning", d.SerialNumber, e.Name)
					}
				}
				if d.Note != "" {
					notes[d.SerialNumber] = d.Note
				}
			}
			if diff := cmp.Diff(tt.wantErrors, errs, cmpEmpty); diff != "" {
				t.Errorf("import errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotes, notes, cmpEmpty); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
			checkRecordsDeleted(t, f, tt.imports)
			checkImportSync(t, f, tt.synced, ev)
			if errs := errorLines(f); len(errs) > 0 {
				t.Errorf("the function logged errors: %s", errs)
			}
		})
	}
}

// cmpEmpty makes a nil map equal an empty one.
var cmpEmpty = cmp.Comparer(func(a, b map[string]string) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })

// checkImportSync: the import request itself calls no sync; when a device registered, one check
// triggered one, after every import had ended, and the report names its result; else none ran.
func checkImportSync(t *testing.T, f *flowtest.Flow, synced bool, ev devicesEvent) {
	t.Helper()
	if n := f.CountCalls(flowtest.FromRequest, "POST sync", 0); n != 0 {
		t.Errorf("the import request called sync %d times, want 0", n)
	}
	triggers := f.Triggers()
	if !synced {
		if len(triggers) != 0 || ev.Data.SyncResult != nil {
			t.Errorf("syncs %v, syncResult %v; want none: no device registered", triggers, ev.Data.SyncResult)
		}
		return
	}
	if len(triggers) != 1 || ev.Data.SyncResult == nil || *ev.Data.SyncResult != "completed" {
		t.Errorf("syncs %v, syncResult %v; want one, completed", triggers, ev.Data.SyncResult)
		return
	}
	var lastRead time.Time
	for _, c := range f.Calls() {
		if c.Name() == "GET importedWindowsAutopilotDeviceIdentities/{id}" {
			lastRead = c.At
		}
	}
	if triggers[0].Before(lastRead) {
		t.Errorf("the sync was triggered at %s, before the last import read at %s", triggers[0], lastRead)
	}
}

// TestImportRefused: every device list §17 refuses is a 400 naming the field, before any Graph
// call (the emulator saw none); so are an import without a follow-up queue, with defer=false or
// with wait; a body over 64 KiB is a 413.
func TestImportRefused(t *testing.T) {
	t.Parallel()
	ok := deviceOf("5CG0000AAA")
	with := func(change func(*device)) string {
		d := ok
		change(&d)
		b, _ := json.Marshal(map[string]any{"devices": []device{d}})
		return string(b)
	}
	eleven := make([]device, 11)
	for i := range eleven {
		eleven[i] = deviceOf(fmt.Sprintf("5CG00000%02d", i))
	}
	elevenBody, _ := json.Marshal(map[string]any{"devices": eleven})
	tooLong := base64.StdEncoding.EncodeToString(hashOf("long", followup.MaxHashBytes+1))
	tests := []struct {
		name, query, body string
		noQueue           bool
		wantStatus        int
		// wantField is named in the problem's detail; secret is never echoed.
		wantField, secret string
	}{
		{name: "not a list", body: `{"devices":{"serialNumber":"5CG0000AAA"}}`, wantField: "devices"},
		{name: "an empty list", body: `{"devices":[]}`, wantField: "devices"},
		{name: "11 devices", body: string(elevenBody), wantField: "devices"},
		{name: "an item not an object", body: `{"devices":["5CG0000AAA"]}`, wantField: "devices[0]"},
		{name: "an unknown field", body: `{"devices":[{"serialNumber":"5CG0000AAA","hardwareHash":"AAAA","owner":"x"}]}`, wantField: "devices[0]"},
		{name: "no serial", body: with(func(d *device) { d.SerialNumber = "" }), wantField: "devices[0].serialNumber"},
		{name: "a bad serial", body: with(func(d *device) { d.SerialNumber = "5CG/../x" }), wantField: "devices[0].serialNumber", secret: "5CG/../x"},
		{name: "no hash", body: with(func(d *device) { d.HardwareHash = "" }), wantField: "devices[0].hardwareHash"},
		{name: "a hash not base64", body: with(func(d *device) { d.HardwareHash = "not base64!" }), wantField: "devices[0].hardwareHash"},
		{name: "a hash that decodes to nothing", body: with(func(d *device) { d.HardwareHash = "====" }), wantField: "devices[0].hardwareHash"},
		{name: "a hash over 8 KiB", body: with(func(d *device) { d.HardwareHash = tooLong }), wantField: "devices[0].hardwareHash"},
		{name: "a groupTag of 129 characters", body: with(func(d *device) { d.GroupTag = strings.Repeat("é", 129) }), wantField: "devices[0].groupTag"},
		{name: "a groupTag with a control character", body: with(func(d *device) { d.GroupTag = "Sales\nHR" }), wantField: "devices[0].groupTag"},
		{name: "an assignedUser not a UPN", body: with(func(d *device) { d.AssignedUser = "ana at contoso" }), wantField: "devices[0].assignedUser", secret: "ana at contoso"},
		{name: "the same serial twice", body: `{"devices":[` + strings.TrimSuffix(strings.TrimPrefix(with(func(*device) {}), `{"devices":[`), `]}`) + "," +
			strings.TrimSuffix(strings.TrimPrefix(with(func(d *device) { d.SerialNumber = "5cg0000aaa" }), `{"devices":[`), `]}`) + `]}`, wantField: "devices"},
		{name: "a callbackUrl not allowed", body: strings.TrimSuffix(with(func(*device) {}), "}") + `,"callbackUrl":"https://example.com/x"}`, wantField: "callbackUrl"},
		{name: "defer=false", query: "?defer=false", body: with(func(*device) {}), wantField: "defer=false"},
		{name: "wait", query: "?wait=30", body: with(func(*device) {}), wantField: "wait"},
		{name: "no follow-up queue", body: with(func(*device) {}), noQueue: true, wantField: "FOLLOWUP_QUEUE_URL"},
		{name: "a body over 64 KiB", body: with(func(d *device) { d.GroupTag = "x" }) + strings.Repeat(" ", api.MaxBodyBytes), wantStatus: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := tt.wantStatus
			if want == 0 {
				want = http.StatusBadRequest
			}
			a := refused(t, tt.noQueue, tt.query, tt.body)
			var p struct {
				Detail string `json:"detail"`
			}
			if err := a.Decode(&p); err != nil || a.Status != want || !strings.Contains(p.Detail, tt.wantField) {
				t.Errorf("%d %.300s; want %d naming %s", a.Status, a.Body, want, tt.wantField)
			}
			if tt.secret != "" && strings.Contains(string(a.Body), tt.secret) {
				t.Errorf("the answer echoes what it refuses: %s", a.Body)
			}
		})
	}
}

// TestImportNear64KiB: ten devices with realistic hashes (3 KB, 4 KB of base64), and ten whose
// hashes fill a body of exactly 64 KiB (§5's limit, which §17 says holds about ten real hashes),
// are imported and followed to ready, reported in the order asked; one byte more is a 413.
func TestImportNear64KiB(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		hashBytes int
		fill      bool // pad the body with JSON whitespace to exactly api.MaxBodyBytes
	}{
		{name: "ten realistic hashes", hashBytes: 3000},
		{name: "a body of exactly 64 KiB", hashBytes: 4800, fill: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := flowtest.Start(t, flowtest.Options{})
			var ds []device
			var serials []string
			for i := range 10 {
				s := fmt.Sprintf("5CG%07dX", 9-i) // not in sorted order
				serials = append(serials, s+"=assigned")
				ds = append(ds, device{SerialNumber: s, HardwareHash: base64.StdEncoding.EncodeToString(hashOf(s, tt.hashBytes)), GroupTag: "Sales"})
			}
			body := importBody(f, ds...)
			if tt.fill {
				if len(body) > api.MaxBodyBytes {
					t.Fatalf("the body is %d bytes before filling", len(body))
				}
				body = body[:len(body)-1] + strings.Repeat(" ", api.MaxBodyBytes-len(body)) + "}"
				over := f.Post(t.Context(), "", body[:len(body)-1]+" }")
				if over.Status != http.StatusRequestEntityTooLarge || len(f.Calls()) != 0 {
					t.Errorf("a body of 64 KiB + 1 byte: %d, %d Graph calls; want 413 and none", over.Status, len(f.Calls()))
				}
			}
			t.Logf("body: %d bytes (limit %d)", len(body), api.MaxBodyBytes)
			a := postChecked(t, f, "", body)
			var im importing
			if err := a.Decode(&im); err != nil || a.Status != http.StatusAccepted || len(im.Devices) != 10 {
				t.Fatalf("%d %.300s, want 202 importing 10 devices", a.Status, a.Body)
			}
			if err := f.Run(t.Context()); err != nil {
				t.Fatal(err)
			}
			ev, _ := outcome(t, f, im.FollowUp.ID)
			checkReport(t, ev, "autopilot.devices.ready", serials)
			checkRecordsDeleted(t, f, 1)
			if errs := errorLines(f); len(errs) > 0 {
				t.Errorf("the function logged errors: %s", errs)
			}
		})
	}
}

// TestImportDuplicateChecks: any check of an import handed twice (together, racing, or one after
// the other) tells each target one outcome, under the follow-up's webhook-id, however many
// times it is told (SPEC §13: at least once, so that a receiver dedupes on the id); every record
// is still deleted.
func TestImportDuplicateChecks(t *testing.T) {
	t.Parallel()
	importCheck := func(_ flowtest.Record, m followup.Message) bool {
		return m.Import != nil && !m.Import.Ended && m.Deferred == nil && m.Devices == nil
	}
	// endedCheck is the first import check after the imports ended (2 min): it reads their final
	// state; the check after it deletes the records.
	endedCheck := func(r flowtest.Record, m followup.Message) bool {
		return importCheck(r, m) && !r.Due.Before(flowtest.DefaultStart.Add(2*time.Minute))
	}
	reimportedCheck := func(r flowtest.Record, m followup.Message) bool {
		return importCheck(r, m) && slices.ContainsFunc(m.Import.Records, func(r followup.ImportRecord) bool { return r.Retried })
	}
	deferredCheck := func(_ flowtest.Record, m followup.Message) bool { return m.Deferred != nil }
	deviceCheck := func(_ flowtest.Record, m followup.Message) bool { return m.Devices != nil }
	// storage: the first import of 5CG0000AAA fails with StorageError after 30 s, so the first
	// import check imports it once more.
	storage := func(e *emulator.Emulator) {
		o := emulator.ImportFailure("StorageError")
		o.After = 30 * time.Second
		e.ScriptImport(tenantID, emulator.ImportMatch{SerialNumber: "5CG0000AAA"}, o, emulator.ImportOutcome{})
	}
	otherTenant := func(e *emulator.Emulator) {
		e.ScriptImport(tenantID, emulator.ImportMatch{SerialNumber: "5CG0000BBB"}, emulator.ImportFailure("ZtdDeviceAssignedToOtherTenant"))
	}
	ready := []string{"5CG0000AAA=assigned", "5CG0000BBB=assigned"}
	both := []bool{true, false}
	tests := []struct {
		name   string
		stage  func(flowtest.Record, followup.Message) bool
		script func(e *emulator.Emulator)
		// imports are the numbers of import calls that may be made (the racing copies of a check
		// may both read a record before either deletes it, or not).
		imports    []int
		wantStates []string
		together   []bool // the copies handed at once (true), one after the other (false)
	}{
		{name: "an import check", stage: importCheck, imports: []int{1}, wantStates: ready, together: both},
		// Both copies read the StorageError and carry it; their next checks each delete the
		// record (one of them meets a 404, taken as deleted) and import the device once more:
		// 3 import calls, each record read and deleted.
		{name: "the check that imports once more", stage: importCheck, script: storage, imports: []int{2, 3}, wantStates: ready, together: both},
		{name: "the check after the one that imported once more", stage: reimportedCheck, script: storage, imports: []int{2}, wantStates: ready, together: both},
		// A record is deleted by the check after the one that read its end: the second copy reads
		// the 808 as the first did, and both report it importFailed.
		{name: "the check that reads an 808", stage: endedCheck, script: otherTenant, imports: []int{1},
			wantStates: []string{"5CG0000AAA=assigned", "5CG0000BBB=importFailed"}, together: both},
		{name: "the check that syncs", stage: deferredCheck, imports: []int{1}, wantStates: ready, together: both},
		{name: "a device check", stage: deviceCheck, imports: []int{1}, wantStates: ready, together: both},
	}
	for _, tt := range tests {
		for _, together := range tt.together {
			t.Run(fmt.Sprintf("%s, together %v", tt.name, together), func(t *testing.T) {
				t.Parallel()
				f := flowtest.Start(t, flowtest.Options{SignCallbacks: true})
				if tt.script != nil {
					tt.script(f.Emulator())
				}
				done := false
				f.HandTwice(func(r flowtest.Record, m followup.Message) bool {
					if done || !tt.stage(r, m) {
						return false
					}
					done = true
					return true
				}, together)
				im := startImport(t, f, deviceOf("5CG0000AAA"), deviceOf("5CG0000BBB"))
				if err := f.Run(t.Context()); err != nil {
					t.Fatal(err)
				}
				if got := f.Counts().Duplicates; got != 1 {
					t.Fatalf("%d records handed twice, want 1", got)
				}
				ev, n := outcome(t, f, im.FollowUp.ID)
				wantType := "autopilot.devices.ready"
				if !slices.Equal(tt.wantStates, ready) {
					wantType = "autopilot.devices.notReady"
				}
				checkReport(t, ev, wantType, tt.wantStates)
				if all := len(f.Callbacks()); all != n {
					t.Errorf("%d callbacks in all, %d of the follow-up: one came under another webhook-id", all, n)
				}
				c := f.Emulator().Counts().Devices[strings.ToLower(tenantID)]
				if left := f.Emulator().ImportedRecords(tenantID); len(left) > 0 || c.RecordsDeleted != c.RecordsImported {
					t.Errorf("records imported %d, deleted %d, left %v: want every one deleted", c.RecordsImported, c.RecordsDeleted, left)
				}
				if !slices.Contains(tt.imports, c.Imports) {
					t.Errorf("%d import calls, want one of %v", c.Imports, tt.imports)
				}
				if errs := errorLines(f); len(errs) > 0 {
					t.Errorf("the function logged errors: %s", errs)
				}
				t.Logf("told %d times; %d import calls, %d records; %d syncs accepted", n, c.Imports, c.RecordsImported, len(f.Triggers()))
			})
		}
	}
}

// TestImportGraphFailures: the import call is made once whatever Graph answers (never retried:
// a retry could leave a record nobody deletes) and a failure is answered as SPEC §5 says, with
// nothing followed; a record read or delete that fails for now is tried again, and the request
// ends as it would have, every record deleted.
func TestImportGraphFailures(t *testing.T) {
	t.Parallel()
	t.Run("the import call answered 503", func(t *testing.T) {
		t.Parallel()
		f := flowtest.Start(t, flowtest.Options{})
		f.Emulator().AddFault(emulator.Fault{Service: emulator.Graph, Method: http.MethodPost, PathContains: "/import", Status: http.StatusServiceUnavailable})
		a := postChecked(t, f, "", importBody(f, deviceOf("5CG0000AAA")))
		var p struct {
			Code string `json:"code"`
		}
		if err := a.Decode(&p); err != nil || a.Status != http.StatusServiceUnavailable {
			t.Errorf("%d %s, want 503", a.Status, a.Body)
		}
		if n := f.CountCalls(flowtest.FromRequest, "POST importedWindowsAutopilotDeviceIdentities/import", 0); n != 1 {
			t.Errorf("%d import calls, want 1: an import is never retried", n)
		}
		if err := f.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if c := f.Counts(); c.Deliveries != 0 || len(f.Callbacks()) != 0 {
			t.Errorf("%d checks, %d callbacks; want nothing followed", c.Deliveries, len(f.Callbacks()))
		}
		t.Logf("answered %d %s", a.Status, p.Code)
	})
	// A 429 is Graph still throttling after its retries: tried again later, as a 503 is.
	for _, tt := range []struct {
		name, method, path string // path: in the faulty call's URL
		resource           string // the call, as flowtest names it
		status             int
	}{
		{name: "a record read answered 503", method: http.MethodGet, path: "importedWindowsAutopilotDeviceIdentities/", resource: "importedWindowsAutopilotDeviceIdentities/{id}", status: http.StatusServiceUnavailable},
		{name: "a record delete answered 503", method: http.MethodDelete, path: "importedWindowsAutopilotDeviceIdentities/", resource: "importedWindowsAutopilotDeviceIdentities/{id}", status: http.StatusServiceUnavailable},
		{name: "a record read answered 429", method: http.MethodGet, path: "importedWindowsAutopilotDeviceIdentities/", resource: "importedWindowsAutopilotDeviceIdentities/{id}", status: http.StatusTooManyRequests},
		{name: "a record delete answered 429", method: http.MethodDelete, path: "importedWindowsAutopilotDeviceIdentities/", resource: "importedWindowsAutopilotDeviceIdentities/{id}", status: http.StatusTooManyRequests},
		{name: "the settings read before the sync answered 503", method: http.MethodGet, path: "windowsAutopilotSettings", resource: "settings", status: http.StatusServiceUnavailable},
		{name: "the settings read before the sync answered 429", method: http.MethodGet, path: "windowsAutopilotSettings", resource: "settings", status: http.StatusTooManyRequests},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := flowtest.Start(t, flowtest.Options{})
			// The first read (60 s, the import runs 2 min) or delete (once it has ended).
			f.Emulator().AddFault(emulator.Fault{Service: emulator.Graph, Method: tt.method, PathContains: tt.path,
				Status: tt.status, Header: http.Header{"Retry-After": {"3600"}}, Times: 1})
			im := startImport(t, f, deviceOf("5CG0000AAA"))
			if err := f.Run(t.Context()); err != nil {
				t.Fatal(err)
			}
			ev, n := outcome(t, f, im.FollowUp.ID)
			checkReport(t, ev, "autopilot.devices.ready", []string{"5CG0000AAA=assigned"})
			if n != 1 {
				t.Errorf("told %d times, want once", n)
			}
			answered := 0
			for _, c := range f.Calls() {
				if c.Origin == flowtest.FromCheck && c.Status == tt.status && c.Method == tt.method && c.Resource == tt.resource {
					answered++
				}
			}
			if answered != 1 {
				t.Errorf("%d checks' calls answered %d, want 1", answered, tt.status)
			}
			checkRecordsDeleted(t, f, 1)
			c := f.Counts()
			t.Logf("%d checks, %d redelivered, dead letters %d", c.Deliveries, c.Redelivered, c.DeadLetters)
			if c.DeadLetters != 0 {
				t.Errorf("%d records in the dead-letter queue", c.DeadLetters)
			}
		})
	}
}
