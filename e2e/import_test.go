package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
)

// SPEC §17, import, end to end: the real sync binary under aws-lambda-rie with the rig of
// ready_test.go (its follow-up queue a local SQS seen through the recorder, Graph the emulator,
// callbacks really delivered to a receiver on a host of the test's own). A POST /sync with
// "devices" is checked before any Graph call, imported once (202 importing); its import checks
// read the records until each import has ended; the check that sees an import end writes its
// result into the next message (one second later), and that next check deletes the record (the
// emulator counts GETs and DELETEs) and, for a StorageError, imports the device once more; once
// nothing runs and nothing waits to be deleted, the request waits for a sync after that moment
// (a deferral), follows the registered devices to ready, and reports once, every device of the
// request listed.
//
// Time: as in ready_test.go. Imports end as scripted, importAfter after the import on the
// emulator's clock; a test moves that clock past their end before the check that is to see them
// ended, and keeps it less than two minutes ahead of the function's.

// importAfter is how long the scripted imports take, on the emulator's clock.
const importAfter = 20 * time.Second

// importOutcome is how a scripted import ends, importAfter after it: with the error name (see
// emulator.ImportFailure), or, for "", complete, the device's profile assigned 5 s after the sync
// that registers it.
func importOutcome(errorName string) emulator.ImportOutcome {
	o := emulator.ImportOutcome{Assignment: emulator.ProfileAssignment{After: 5 * time.Second}}
	if errorName != "" {
		o = emulator.ImportFailure(errorName)
	}
	o.After = importAfter
	return o
}

// importCounts returns the emulator's counts of the seeded tenant's import requests.
func importCounts(e *env) emulator.DeviceCounts {
	return e.emu.Counts().Devices[strings.ToLower(emulator.SeedTenantID)]
}

// hardwareHash returns n random bytes: a device's hardware hash, decoded.
func hardwareHash(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// importDevice is one device of a request's "devices", its hash decoded.
type importDevice struct {
	serial, groupTag, assignedUser string
	hash                           []byte
	unpadded                       bool // sent without its base64 padding
}

// field is the device as the body gives it.
func (d importDevice) field() map[string]any {
	enc := base64.StdEncoding
	if d.unpadded {
		enc = base64.RawStdEncoding
	}
	f := map[string]any{"serialNumber": d.serial, "hardwareHash": enc.EncodeToString(d.hash)}
	if d.groupTag != "" {
		f["groupTag"] = d.groupTag
	}
	if d.assignedUser != "" {
		f["assignedUser"] = d.assignedUser
	}
	return f
}

// importBody is the JSON body of a request with devices and callback; when size is set, a member
// the function does not read ("ticket") pads the body to exactly size bytes.
func importBody(t *testing.T, devices []importDevice, callback string, size int) map[string]any {
	t.Helper()
	fields := make([]map[string]any, len(devices))
	for i, d := range devices {
		fields[i] = d.field()
	}
	body := map[string]any{"devices": fields, "callbackUrl": callback}
	if size > 0 {
		body["ticket"] = ""
		data, _ := json.Marshal(body)
		if len(data) > size {
			t.Fatalf("the body is %d bytes without padding, more than %d", len(data), size)
		}
		body["ticket"] = strings.Repeat("x", size-len(data))
	}
	return body
}

// bodySize is the length of the JSON body body.
func bodySize(t *testing.T, body map[string]any) int {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return len(data)
}

// importRequest is a request with devices that Graph accepted.
type importRequest struct {
	readyRequest
	devices   []importDevice
	importIDs []string // the answer's importId of each device, in the order asked
}

// importing POSTs /sync with devices and a callbackUrl of its own under the rig's prefix (the
// body padded to size bytes when size is set), and checks what an import answers, logs, imports
// and sends: 202 importing with each device's importId in the order asked; the line (action
// import, code importing); one Graph import of every device, each record as asked, its hash
// padded; no sync; one message, delayed by FOLLOWUP_FIRST_CHECK, with each device's record.
func (r *readyRig) importing(t *testing.T, devices []importDevice, size int) importRequest {
	t.Helper()
	callback := r.prefix + "done/INC0012345-" + rand.Text()
	r.e.clock.Set(time.Now()) // the imports start: the emulator's clock meets the function's
	before := importCounts(r.e)
	got := decodeHTTP(t, r.fn.invokeLogged(t, serialsRequest(t, "", importBody(t, devices, callback, size))))
	var answer struct {
		Result      string
		RequestedAt time.Time
		Devices     []struct{ SerialNumber, ImportID string }
		FollowUp    struct {
			ID      string
			Targets []string
		}
	}
	if err := json.Unmarshal([]byte(got.Body), &answer); err != nil || got.StatusCode != 202 || answer.Result != "importing" ||
		answer.FollowUp.ID == "" || !slices.Equal(answer.FollowUp.Targets, []string{"callback"}) || len(answer.Devices) != len(devices) {
		t.Fatalf("POST /sync with %d devices: %d %.600s, want 202 importing with each device and a followUp that tells the callback", len(devices), got.StatusCode, got.Body)
	}
	req := importRequest{devices: devices}
	req.id, req.callback = answer.FollowUp.ID, callback
	for i, d := range answer.Devices {
		if d.SerialNumber != devices[i].serial || d.ImportID == "" {
			t.Errorf("answer device %d: %+v, want %s with its importId", i, d, devices[i].serial)
		}
		req.importIDs = append(req.importIDs, d.ImportID)
	}
	line := lastInvocation(t, r.fn)
	if line["action"] != "import" || line["code"] != "importing" || line["status"] != 202.0 || line["followUpId"] != req.id || line["devices"] != float64(len(devices)) {
		t.Errorf("the import's line: action %v code %v status %v followUpId %v devices %v; want import, importing, 202, %s, %d",
			line["action"], line["code"], line["status"], line["followUpId"], line["devices"], req.id, len(devices))
	}

	// Graph: one import of every device, each record as asked, nothing else.
	c := importCounts(r.e)
	if c.Imports-before.Imports != 1 || c.RecordsImported-before.RecordsImported != len(devices) {
		t.Errorf("%d import calls creating %d records, want 1 creating %d", c.Imports-before.Imports, c.RecordsImported-before.RecordsImported, len(devices))
	}
	records := map[string]emulator.ImportedRecord{}
	for _, rec := range r.e.emu.ImportedRecords(emulator.SeedTenantID) {
		records[rec.ID] = rec
	}
	for i, d := range devices {
		rec, ok := records[req.importIDs[i]]
		if !ok || rec.SerialNumber != d.serial || !bytes.Equal(rec.HardwareIdentifier, d.hash) || rec.GroupTag != d.groupTag || rec.AssignedUserPrincipalName != d.assignedUser {
			t.Errorf("%s: record %s found %v: %s, %d-byte hash equal %v, groupTag %q, assignedUser %q; want it as asked",
				d.serial, req.importIDs[i], ok, rec.SerialNumber, len(rec.HardwareIdentifier), bytes.Equal(rec.HardwareIdentifier, d.hash), rec.GroupTag, rec.AssignedUserPrincipalName)
		}
	}
	if n := r.e.emu.Counts().Graph["POST sync"]; n != 0 {
		t.Errorf("%d Graph sync calls at the import, want none", n)
	}

	// One message: the first import check, after FOLLOWUP_FIRST_CHECK.
	sent := r.s.sentTo(r.q)
	if len(sent) != 1 || sent[0].DelaySeconds != 1 {
		t.Fatalf("SendMessage calls %d (first delay %v), want one with DelaySeconds 1 (FOLLOWUP_FIRST_CHECK)", len(sent), sent)
	}
	req.first = sent[0]
	m := decodeMessage(t, sent[0].MessageBody)
	var ids, serials []string
	for _, d := range devices {
		serials = append(serials, d.serial)
	}
	if m.Import != nil {
		for _, rec := range m.Import.Records {
			ids = append(ids, rec.ID)
		}
	}
	if m.ID != req.id || !slices.Equal(m.Serials, serials) || !slices.Equal(ids, req.importIDs) || m.Targets != (followup.Targets{Callback: callback}) ||
		m.Attempt != 1 || m.Deferred != nil || m.TriggeredAt != nil || m.Devices != nil || !m.RequestedAt.Equal(answer.RequestedAt) {
		t.Errorf("first message: follow-up %s attempt %d, serials %q, records %q, deferred %v, triggered %v; want the first import check of %s with the answer's records",
			m.ID, m.Attempt, m.Serials, ids, m.Deferred, m.TriggeredAt, req.id)
	}
	req.requestedAt = m.RequestedAt
	return req
}

// importCheck hands the function body as a due import check (record id rec) and checks what it
// did: outcome importing while an import runs or a record waits to be deleted, imported once
// every one has ended and is deleted with a device registered; DevicesImported and
// DeviceImportFailed the imports that ended for good at it; no device or sync figure, no read of
// device identities, nothing told; a next message.
func (r *readyRig) importCheck(t *testing.T, req importRequest, what, rec, body, outcome string, imported, failed float64) readyCheck {
	t.Helper()
	c := r.check(t, req.id, rec, body)
	if len(c.failed) != 0 || c.line["outcome"] != outcome || c.line["code"] != "ok" || c.line["deliveries"] != nil || c.reads != 0 {
		t.Errorf("%s: batchItemFailures %v, outcome %v, code %v, deliveries %v, %d device reads; want %s, ok, nothing delivered or read",
			what, c.failed, c.line["outcome"], c.line["code"], c.line["deliveries"], c.reads, outcome)
	}
	wantFigures(t, what, c.line, map[string]float64{"DevicesImported": imported, "DeviceImportFailed": failed,
		"DevicesReady": -1, "DevicesNotReady": -1, "SyncOutcomeCompleted": -1, "SyncStarted": -1, "SyncMerged": -1})
	if n := len(r.rcv.posts()); n != 0 {
		t.Errorf("%s: the receiver got %d callbacks, want none yet", what, n)
	}
	if c.next == nil {
		t.Fatalf("%s: no next message", what)
	}
	return c
}

// wantImportCounts checks the emulator's counts of the seeded tenant's import requests (pages of
// device identities not compared).
func wantImportCounts(t *testing.T, r *readyRig, what string, want emulator.DeviceCounts) {
	t.Helper()
	got := importCounts(r.e)
	got.Lists = 0
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: import requests (-want +got):\n%s", what, diff)
	}
}

// wantRecords checks that the emulator holds exactly the imported records ids, in any order.
func wantRecords(t *testing.T, r *readyRig, what string, ids ...string) {
	t.Helper()
	var got []string
	for _, rec := range r.e.emu.ImportedRecords(emulator.SeedTenantID) {
		got = append(got, rec.ID)
	}
	slices.Sort(got)
	ids = slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, ids) {
		t.Errorf("%s: the emulator holds the imported records %q, want %q", what, got, ids)
	}
}

// wantImportsRunning checks the next message of an import check that found imports running:
// after delay, attempt attempt, each record's id as ids says (serial → id, "" for one that
// ended).
func wantImportsRunning(t *testing.T, what string, next *sentMessage, delay int32, attempt int, ids map[string]string) followup.Message {
	t.Helper()
	m := decodeMessage(t, next.MessageBody)
	if next.DelaySeconds != delay || m.Attempt != attempt || m.Import == nil || m.Import.Ended || m.Deferred != nil {
		t.Fatalf("%s: next after %d s, attempt %d, imports %+v; want attempt %d after %d s, imports running", what, next.DelaySeconds, m.Attempt, m.Import, attempt, delay)
	}
	for _, rec := range m.Import.Records {
		id, ok := ids[rec.SerialNumber]
		if ok && (rec.ID != id || rec.Result != "" || len(rec.HardwareHash) == 0) {
			t.Errorf("%s: %s record %s result %q with a %d-byte hash, want %s running with its hash (kept for a re-import)", what, rec.SerialNumber, rec.ID, rec.Result, len(rec.HardwareHash), id)
		}
	}
	return m
}

// wantToDelete checks the next message of an import check after which nothing runs and records
// wait to be deleted: one second later, attempt attempt, each device's result as want says
// ("serial=result/errorName"), the record of each serial of ids still under that id and not
// deleted (the next check deletes it), every other one deleted, and each hash dropped unless a
// StorageError imports the device once more (kept for that import).
func wantToDelete(t *testing.T, what string, next *sentMessage, attempt int, ids map[string]string, want []string) followup.Message {
	t.Helper()
	m := decodeMessage(t, next.MessageBody)
	if next.DelaySeconds != 1 || m.Attempt != attempt || m.Import == nil || m.Import.Ended || m.Deferred != nil || m.TriggeredAt != nil || m.Devices != nil {
		t.Fatalf("%s: next after %d s, attempt %d, deferred %+v; want attempt %d after 1 s, the records to delete", what, next.DelaySeconds, m.Attempt, m.Deferred, attempt)
	}
	var got []string
	for _, rec := range m.Import.Records {
		got = append(got, rec.SerialNumber+"="+rec.Result+"/"+rec.ErrorName)
		id, toDelete := ids[rec.SerialNumber]
		retry := rec.ErrorName == "StorageError" && !rec.Retried
		if (toDelete && rec.ID != id) || rec.Deleted == toDelete || rec.Gone || (len(rec.HardwareHash) != 0) != retry {
			t.Errorf("%s: %s record %s deleted %v gone %v with a %d-byte hash; want it deleted %v (%s), its hash kept %v",
				what, rec.SerialNumber, rec.ID, rec.Deleted, rec.Gone, len(rec.HardwareHash), !toDelete, id, retry)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: imports %q, want %q", what, got, want)
	}
	return m
}

// wantToSync checks the message an import check sent once every import had ended: the wait for a
// sync triggered after that moment (a deferral, SPEC §16), one second later, every record deleted
// and its hash dropped, and each device's result as want says ("serial=result/errorName").
func wantToSync(t *testing.T, what string, next *sentMessage, want []string) followup.Message {
	t.Helper()
	m := decodeMessage(t, next.MessageBody)
	if next.DelaySeconds != 1 || m.Deferred == nil || m.Import == nil || !m.Import.Ended || m.Attempt != 1 || m.TriggeredAt != nil || m.Devices != nil {
		t.Fatalf("%s: next after %d s, attempt %d, deferred %+v, imports %+v; want the wait for a sync, 1 s later, imports ended", what, next.DelaySeconds, m.Attempt, m.Deferred, m.Import)
	}
	var got []string
	for _, rec := range m.Import.Records {
		got = append(got, rec.SerialNumber+"="+rec.Result+"/"+rec.ErrorName)
		if !rec.Deleted || len(rec.HardwareHash) != 0 {
			t.Errorf("%s: %s deleted %v, %d bytes of hash kept; want deleted, the hash dropped", what, rec.SerialNumber, rec.Deleted, len(rec.HardwareHash))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: imports %q, want %q", what, got, want)
	}
	return m
}

// deferredCheck hands the function the wait for a sync after the imports, and checks it: it asks
// Graph for the sync (204: outcome started, SyncStarted 1), or, when merged, finds a sync
// triggered after the imports (outcome merged, SyncMerged 1, no Graph sync call); either way the
// sync's first check comes one second later. It returns that check.
func (r *readyRig) deferredCheck(t *testing.T, req importRequest, body string, merged bool) sentMessage {
	t.Helper()
	what, outcome, figures, calls := "the check that starts the sync", "started", map[string]float64{"SyncMerged": 0, "SyncStarted": 1}, 1
	if merged {
		what, outcome, figures, calls = "the check that merges", "merged", map[string]float64{"SyncMerged": 1, "SyncStarted": -1}, 0
	}
	figures["DevicesImported"], figures["DevicesReady"] = -1, -1
	syncs := r.e.emu.Counts().Graph["POST sync"]
	c := r.check(t, req.id, "deferred", body)
	if len(c.failed) != 0 || c.line["outcome"] != outcome || c.line["deliveries"] != nil {
		t.Errorf("%s: batchItemFailures %v, outcome %v, deliveries %v; want %s, nothing delivered", what, c.failed, c.line["outcome"], c.line["deliveries"], outcome)
	}
	wantFigures(t, what, c.line, figures)
	if n := r.e.emu.Counts().Graph["POST sync"] - syncs; n != calls {
		t.Errorf("%s: %d Graph sync calls, want %d", what, n, calls)
	}
	if c.next == nil {
		t.Fatalf("%s: no next message", what)
	}
	// The check that starts the sync sends the sync's first check (FOLLOWUP_FIRST_CHECK); the one
	// that merges decides at once on the settings it read, the sync running: its second check,
	// after the first backoff (60 s, cut to DEVICE_MAX_AGE from the request).
	m := decodeMessage(t, c.next.MessageBody)
	least, most, attempt := int32(1), int32(1), 1
	if merged {
		least, most, attempt = min(60, int32(time.Until(req.requestedAt.Add(time.Minute)).Seconds())), 60, 2
	}
	if c.next.DelaySeconds < least || c.next.DelaySeconds > most || m.TriggeredAt == nil || m.Deferred != nil || m.Devices != nil || m.Attempt != attempt {
		t.Errorf("%s: next after %d s, attempt %d, triggered %v, deferred %+v; want check %d of the sync after %d to %d s", what, c.next.DelaySeconds, m.Attempt, m.TriggeredAt, m.Deferred, attempt, least, most)
	}
	return *c.next
}

// syncEnd hands the function the sync's check once the emulator's sync has completed, and checks
// it: outcome completed (SyncOutcomeCompleted 1, a duration), told to no one, no device read, and
// the first device check one second later, which it returns.
func (r *readyRig) syncEnd(t *testing.T, req importRequest, body string) sentMessage {
	t.Helper()
	c := r.check(t, req.id, "sync-end", body)
	d, _ := c.line["syncDurationSeconds"].(float64)
	checkOutcomeLine(t, c.line, "completed", d)
	wantFigures(t, "the check of the sync's end", c.line, map[string]float64{"SyncOutcomeCompleted": 1, "DevicesReady": -1, "DevicesImported": -1})
	if len(c.failed) != 0 || c.line["deliveries"] != nil || c.reads != 0 || d < readySyncDuration.Seconds() {
		t.Errorf("the check of the sync's end: batchItemFailures %v, deliveries %v, %d device reads, syncDurationSeconds %v; want nothing told or read, at least %v s",
			c.failed, c.line["deliveries"], c.reads, d, readySyncDuration.Seconds())
	}
	if c.next == nil {
		t.Fatal("the check of the sync's end sent no device check")
	}
	m := decodeMessage(t, c.next.MessageBody)
	if c.next.DelaySeconds != 1 || m.Devices == nil || m.Devices.SyncResult != autopilot.Completed || m.Attempt != 1 {
		t.Errorf("after the sync's end: DelaySeconds %d, devices %+v; want the first device check, 1 s later", c.next.DelaySeconds, m.Devices)
	}
	return *c.next
}

// importSummary is what a report says of each device beyond its readiness: the import's error
// (name, code, meaning) and the note, "-" for none.
func importSummary(rs []autopilot.Readiness) string {
	var parts []string
	for _, r := range rs {
		p := r.SerialNumber + ":"
		if r.Error != nil {
			p += fmt.Sprintf(" error %s %d %q", r.Error.Name, r.Error.Code, r.Error.Meaning)
		}
		if r.Note != "" {
			p += " note " + r.Note
		}
		if r.Error == nil && r.Note == "" {
			p += " -"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// withIDs replaces each {serial} in want by the id of the device identity the emulator lists for
// that serial.
func withIDs(r *readyRig, want string) string {
	for _, d := range r.e.emu.Devices(emulator.SeedTenantID) {
		want = strings.ReplaceAll(want, "{"+d.SerialNumber+"}", d.ID)
	}
	return want
}

// logCallback logs the callback's body, indented: the docs show a real run's.
func logCallback(t *testing.T, p receivedPost) {
	t.Helper()
	var out bytes.Buffer
	if json.Indent(&out, p.body, "", "  ") == nil {
		t.Logf("callback webhook-id %s:\n%s", p.header.Get("webhook-id"), out.String())
	}
}

// TestImportToReady: POST /sync with two devices and a callbackUrl (one hash unpadded, which the
// function re-encodes padded as Graph wants it). Their imports run at the first check (importing,
// nothing deleted), then end: complete for both (DevicesImported 2), or, for the first device
// asked, ZtdDeviceAssignedToOtherTenant (808: DevicesImported 1, DeviceImportFailed 1); that check
// deletes nothing and writes the results into the next message, one second later, which deletes
// both records (imported). The wait for a sync after the imports starts it; the sync ends (told
// to no one) and the registered device(s) are assigned: one callback, signed, lists both devices
// in the order asked: autopilot.devices.ready, or notReady with the 808 one importFailed with its
// name, code and meaning, not followed (no device read of it).
func TestImportToReady(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	tests := []struct {
		name     string
		first    string // the error of the first device's import, "" for none; the second is assigned
		imported float64
		failed   float64
		toSync   []string
		outcome  string
		typ      string
		want     string // readinessSummary, ids as {serial}
		errors   string // importSummary
		reads    int    // device pages the reporting check read
	}{
		{name: "both complete", imported: 2,
			toSync:  []string{"PF-2AB3C=registered/", "5CG1234XYZ=registered/"},
			outcome: "devicesReady", typ: "autopilot.devices.ready",
			want:   "PF-2AB3C=assigned(ready true) [{PF-2AB3C} assignedUnkownSyncState/none ]; 5CG1234XYZ=assigned(ready true) [{5CG1234XYZ} assignedUnkownSyncState/none Sales]",
			errors: "PF-2AB3C: -; 5CG1234XYZ: -", reads: 2},
		{name: "808 for one", first: "ZtdDeviceAssignedToOtherTenant", imported: 1, failed: 1,
			toSync:  []string{"PF-2AB3C=failed/ZtdDeviceAssignedToOtherTenant", "5CG1234XYZ=registered/"},
			outcome: "devicesNotReady", typ: "autopilot.devices.notReady",
			want: "PF-2AB3C=importFailed(ready false); 5CG1234XYZ=assigned(ready true) [{5CG1234XYZ} assignedUnkownSyncState/none Sales]",
			errors: fmt.Sprintf("PF-2AB3C: error ZtdDeviceAssignedToOtherTenant 808 %q; 5CG1234XYZ: -",
				autopilot.ImportMeaning("ZtdDeviceAssignedToOtherTenant", 808)), reads: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newReadyRig(t, s, true, nil)
			devices := []importDevice{
				{serial: "PF-2AB3C", hash: hardwareHash(4001), unpadded: true},
				{serial: "5CG1234XYZ", hash: hardwareHash(4000), groupTag: "Sales", assignedUser: "jane.doe@contoso.example"},
			}
			r.e.emu.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: devices[0].serial}, importOutcome(tt.first))
			r.e.emu.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: devices[1].serial}, importOutcome(""))
			req := r.importing(t, devices, 0)

			// The imports run: read, nothing deleted, the next check after 60 s.
			c := r.importCheck(t, req, "the check while the imports run", "imports-1", req.first.MessageBody, "importing", 0, 0)
			wantImportsRunning(t, "the check while the imports run", c.next, 60, 2, map[string]string{devices[0].serial: req.importIDs[0], devices[1].serial: req.importIDs[1]})
			wantImportCounts(t, r, "the check while the imports run", emulator.DeviceCounts{Imports: 1, RecordsImported: 2, ImportedReads: 2})
			wantRecords(t, r, "while the imports run", req.importIDs...)

			// The imports end: both records read, their results written into the next message,
			// one second later; nothing deleted yet.
			r.e.clock.Advance(importAfter + 10*time.Second)
			c = r.importCheck(t, req, "the check that sees the imports end", "imports-2", c.next.MessageBody, "importing", tt.imported, tt.failed)
			wantToDelete(t, "the check that sees the imports end", c.next, 2, map[string]string{devices[0].serial: req.importIDs[0], devices[1].serial: req.importIDs[1]}, tt.toSync)
			wantImportCounts(t, r, "the check that sees the imports end", emulator.DeviceCounts{Imports: 1, RecordsImported: 2, ImportedReads: 4})
			wantRecords(t, r, "after the imports ended", req.importIDs...)

			// The next check deletes both records, reads none, and the wait for a sync follows.
			c = r.importCheck(t, req, "the check that deletes the records", "imports-3", c.next.MessageBody, "imported", 0, 0)
			wantToSync(t, "the check that deletes the records", c.next, tt.toSync)
			wantImportCounts(t, r, "the check that deletes the records", emulator.DeviceCounts{Imports: 1, RecordsImported: 2, ImportedReads: 4, ImportedDeletes: 2, RecordsDeleted: 2})
			wantRecords(t, r, "after the records were deleted")

			// The sync, then the devices: assigned 5 s after the sync registered them.
			due := r.deferredCheck(t, req, c.next.MessageBody, false)
			r.e.clock.Advance(readySyncDuration + 10*time.Second)
			due = r.syncEnd(t, req, due.MessageBody)
			c = r.check(t, req.id, "devices-1", due.MessageBody)
			if c.reads != tt.reads {
				t.Errorf("the reporting check read %d device pages, want %d: the registered serials only", c.reads, tt.reads)
			}
			wantReport(t, r, req.readyRequest, c, tt.outcome, tt.typ, withIDs(r, tt.want), req.requestedAt)
			if events := r.callbacks(t, req.readyRequest); len(events) == 1 {
				if got := importSummary(events[0].Data.Devices); got != tt.errors {
					t.Errorf("callback errors and notes\n got %s\nwant %s", got, tt.errors)
				}
				logCallback(t, r.rcv.posts()[0])
			}
			if n := r.e.emu.Counts().Graph["POST sync"]; n != 1 {
				t.Errorf("%d Graph sync calls, want 1", n)
			}
			wantImportCounts(t, r, "at the report", emulator.DeviceCounts{Imports: 1, RecordsImported: 2, ImportedReads: 4, ImportedDeletes: 2, RecordsDeleted: 2})
		})
	}
}

// TestImportAlreadyRegisteredAndStorageError: the first device is registered in the tenant
// already (806, ZtdDeviceAlreadyAssigned): followed as registered, its record deleted, and, when a
// groupTag was asked, the report notes that it was not applied. The second's import fails with
// StorageError. The check that sees both end deletes nothing and imports nothing; the next one,
// a second later, deletes both records and then imports the StorageError's device once more (a
// second import POST of it alone, a new record id), never before its old record is gone: when
// that record's DELETE fails (500), the device waits for the check after, which deletes it and
// then imports. The second import completes (followed to ready) or fails with StorageError again
// (importFailed, reported by name, code and meaning, not imported a third time); its record is
// deleted by the check after the one that read it. Every record is deleted.
func TestImportAlreadyRegisteredAndStorageError(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	tests := []struct {
		name     string
		groupTag string // asked for the 806 device
		retry    string // the error of the second import of the StorageError device, "" for none
		// deleteFails: the first DELETE of the StorageError's record answers 500.
		deleteFails bool
		// imported and failed are the figures of the check that sees the retry end.
		imported, failed float64
		toSync           []string
		outcome, typ     string
		want, errors     string
	}{
		{name: "groupTag noted, StorageError twice", groupTag: "Sales", retry: "StorageError", failed: 1,
			toSync:  []string{"5CG806AAA=registered/ZtdDeviceAlreadyAssigned", "PF-STOR1=failed/StorageError"},
			outcome: "devicesNotReady", typ: "autopilot.devices.notReady",
			want: "5CG806AAA=assigned(ready true) [{5CG806AAA} assignedInSync/none Kiosk]; PF-STOR1=importFailed(ready false)",
			errors: "5CG806AAA: note " + autopilot.NoteNotApplied +
				fmt.Sprintf("; PF-STOR1: error StorageError %d %q", emulator.CodeStorageError, autopilot.ImportMeaning("StorageError", emulator.CodeStorageError))},
		{name: "no groupTag, StorageError then complete, a DELETE failing once", deleteFails: true, imported: 1,
			toSync:  []string{"5CG806AAA=registered/ZtdDeviceAlreadyAssigned", "PF-STOR1=registered/"},
			outcome: "devicesReady", typ: "autopilot.devices.ready",
			want:   "5CG806AAA=assigned(ready true) [{5CG806AAA} assignedInSync/none Kiosk]; PF-STOR1=assigned(ready true) [{PF-STOR1} assignedUnkownSyncState/none ]",
			errors: "5CG806AAA: -; PF-STOR1: -"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newReadyRig(t, s, true, nil)
			r.e.emu.AddDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: "5CG806AAA", GroupTag: "Kiosk", DeploymentProfileAssignmentStatus: "assignedInSync"})
			devices := []importDevice{
				{serial: "5CG806AAA", hash: hardwareHash(4002), groupTag: tt.groupTag},
				{serial: "PF-STOR1", hash: hardwareHash(4000), unpadded: true},
			}
			r.e.emu.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: devices[0].serial}, importOutcome("ZtdDeviceAlreadyAssigned"))
			r.e.emu.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{HardwareHash: devices[1].hash}, importOutcome("StorageError"), importOutcome(tt.retry))
			req := r.importing(t, devices, 0)

			// Both end: 806 registered, StorageError to import once more; both records kept for the
			// next check, the StorageError's hash with them.
			r.e.clock.Advance(importAfter + 10*time.Second)
			c := r.importCheck(t, req, "the check that sees 806 and StorageError", "imports-1", req.first.MessageBody, "importing", 1, 0)
			wantToDelete(t, "the check that sees 806 and StorageError", c.next, 1, map[string]string{"5CG806AAA": req.importIDs[0], "PF-STOR1": req.importIDs[1]},
				[]string{"5CG806AAA=registered/ZtdDeviceAlreadyAssigned", "PF-STOR1=failed/StorageError"})
			wantImportCounts(t, r, "the check that sees 806 and StorageError", emulator.DeviceCounts{Imports: 1, RecordsImported: 2, ImportedReads: 2})
			wantRecords(t, r, "after the check that sees 806 and StorageError", req.importIDs...)

			if tt.deleteFails {
				// The StorageError's record is not deleted (the emulator counts a faulted request in
				// Counts.Graph only): its device is not imported again yet.
				r.e.emu.AddFault(emulator.Fault{Service: emulator.Graph, Method: "DELETE", PathContains: req.importIDs[1], Status: 500, Times: 1})
				c = r.importCheck(t, req, "the check whose DELETE fails", "imports-2", c.next.MessageBody, "importing", 0, 0)
				if c.line["recordsNotDeleted"] != 1.0 {
					t.Errorf("the check whose DELETE fails: recordsNotDeleted %v, want 1", c.line["recordsNotDeleted"])
				}
				wantToDelete(t, "the check whose DELETE fails", c.next, 1, map[string]string{"PF-STOR1": req.importIDs[1]},
					[]string{"5CG806AAA=registered/ZtdDeviceAlreadyAssigned", "PF-STOR1=failed/StorageError"})
				wantImportCounts(t, r, "the check whose DELETE fails", emulator.DeviceCounts{Imports: 1, RecordsImported: 2, ImportedReads: 2, ImportedDeletes: 1, RecordsDeleted: 1})
				wantRecords(t, r, "after the check whose DELETE fails", req.importIDs[1])
			}

			// The records are deleted, then PF-STOR1 imported once more, under a new id.
			what := "the check that deletes and imports once more"
			c = r.importCheck(t, req, what, "imports-3", c.next.MessageBody, "importing", 0, 0)
			recs := r.e.emu.ImportedRecords(emulator.SeedTenantID)
			if len(recs) != 1 || recs[0].SerialNumber != "PF-STOR1" || recs[0].ID == req.importIDs[1] || !bytes.Equal(recs[0].HardwareIdentifier, devices[1].hash) {
				var got []string
				for _, rec := range recs {
					got = append(got, fmt.Sprintf("%s %s (its hash as asked: %v)", rec.SerialNumber, rec.ID, bytes.Equal(rec.HardwareIdentifier, devices[1].hash)))
				}
				t.Fatalf("%s: records %q, want one new record of PF-STOR1 with its hash", what, got)
			}
			retried := recs[0].ID
			// The checks that only delete or import again do not grow the reads' backoff: the
			// re-imported record is read 60 s later, a failed DELETE or not.
			wantImportsRunning(t, what, c.next, 60, 2, map[string]string{"PF-STOR1": retried})
			wantImportCounts(t, r, what, emulator.DeviceCounts{Imports: 2, RecordsImported: 3, ImportedReads: 2, ImportedDeletes: 2, RecordsDeleted: 2})

			// The second import ends: read, its result carried, nothing imported a third time;
			// the next check deletes its record.
			r.e.clock.Advance(importAfter + 10*time.Second)
			what = "the check that sees the retry end"
			c = r.importCheck(t, req, what, "imports-4", c.next.MessageBody, "importing", tt.imported, tt.failed)
			wantToDelete(t, what, c.next, 2, map[string]string{"PF-STOR1": retried}, tt.toSync)
			wantRecords(t, r, "after the retry ended", retried)
			c = r.importCheck(t, req, "the check that deletes the retry's record", "imports-5", c.next.MessageBody, "imported", 0, 0)
			wantToSync(t, "the check that deletes the retry's record", c.next, tt.toSync)
			wantRecords(t, r, "after the retry's record was deleted")
			wantImportCounts(t, r, "after the retry's record was deleted", emulator.DeviceCounts{Imports: 2, RecordsImported: 3, ImportedReads: 3, ImportedDeletes: 3, RecordsDeleted: 3})

			due := r.deferredCheck(t, req, c.next.MessageBody, false)
			r.e.clock.Advance(readySyncDuration + 10*time.Second)
			due = r.syncEnd(t, req, due.MessageBody)
			c = r.check(t, req.id, "devices-1", due.MessageBody)
			wantReport(t, r, req.readyRequest, c, tt.outcome, tt.typ, withIDs(r, tt.want), req.requestedAt)
			if events := r.callbacks(t, req.readyRequest); len(events) == 1 {
				if got := importSummary(events[0].Data.Devices); got != tt.errors {
					t.Errorf("callback errors and notes\n got %s\nwant %s", got, tt.errors)
				}
				logCallback(t, r.rcv.posts()[0])
			}
		})
	}
}

// TestImportNear64KiB: ten devices with hashes of about 4.7 KiB (6.3 KB of base64, a real 4K
// hash's size; half of them unpadded) in a body of exactly 64 KiB (padded by a member the
// function does not read) are imported: 202 importing, each record's hash as sent, one message
// holding the ten hashes; the check that sees the ten imports end drops the hashes, and the next
// one deletes all ten records. The same body one byte longer is 413 payloadTooLarge, with no
// Graph call and no message.
func TestImportNear64KiB(t *testing.T) {
	t.Parallel()
	r := newReadyRig(t, startSQS(t), false, nil)
	var devices []importDevice
	for i := range 10 {
		serial := fmt.Sprintf("5CG%07d", i)
		devices = append(devices, importDevice{serial: serial, hash: hardwareHash(4790 + 3*i), unpadded: i%2 == 1, groupTag: "Sales"})
		r.e.emu.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: serial}, importOutcome(""))
	}

	over := importBody(t, devices, r.prefix+"done/INC0012345", api.MaxBodyBytes+1)
	if n := bodySize(t, over); n != api.MaxBodyBytes+1 {
		t.Fatalf("the body over the limit is %d bytes", n)
	}
	got := decodeHTTP(t, r.fn.invokeLogged(t, serialsRequest(t, "", over)))
	if body := got.json(t); got.StatusCode != 413 || body["code"] != "payloadTooLarge" {
		t.Errorf("a body of 64 KiB + 1 byte: %d %s, want 413 payloadTooLarge", got.StatusCode, got.Body)
	}
	if n := r.e.emu.Counts().Requests[emulator.Graph]; n != 0 || len(r.s.sentTo(r.q)) != 0 {
		t.Fatalf("a body of 64 KiB + 1 byte: %d Graph requests, %d messages; want none", n, len(r.s.sentTo(r.q)))
	}

	req := r.importing(t, devices, api.MaxBodyBytes)
	t.Logf("a body of %d bytes with 10 hashes of %d to %d bytes (%d to %d characters of base64); the first message is %d bytes",
		api.MaxBodyBytes, len(devices[0].hash), len(devices[9].hash), len(devices[0].field()["hardwareHash"].(string)),
		len(devices[9].field()["hardwareHash"].(string)), len(req.first.MessageBody))
	r.e.clock.Advance(importAfter + 10*time.Second)
	c := r.importCheck(t, req, "the check of ten imports", "imports-1", req.first.MessageBody, "importing", 10, 0)
	var want []string
	ids := map[string]string{}
	for i, d := range devices {
		want = append(want, d.serial+"=registered/")
		ids[d.serial] = req.importIDs[i]
	}
	wantToDelete(t, "the check of ten imports", c.next, 1, ids, want)
	if len(c.next.MessageBody) >= len(req.first.MessageBody)/10 {
		t.Errorf("the message after the imports is %d bytes, the first %d: want the hashes dropped", len(c.next.MessageBody), len(req.first.MessageBody))
	}
	wantImportCounts(t, r, "the check of ten imports", emulator.DeviceCounts{Imports: 1, RecordsImported: 10, ImportedReads: 10})
	c = r.importCheck(t, req, "the check that deletes ten records", "imports-2", c.next.MessageBody, "imported", 0, 0)
	wantToSync(t, "the check that deletes ten records", c.next, want)
	wantRecords(t, r, "after ten records were deleted")
	wantImportCounts(t, r, "the check that deletes ten records", emulator.DeviceCounts{Imports: 1, RecordsImported: 10, ImportedReads: 10, ImportedDeletes: 10, RecordsDeleted: 10})
}

// TestImportCheckDeliveredTwice: SQS delivers a message at least once. The import check that
// sees the imports end, delivered twice: the record is deleted only by the check after it, so the
// second delivery reads the same records (200, not 404) and decides the same: the same figures
// and a next message equal byte for byte, nothing deleted or imported. The two equal messages
// are the check that deletes, delivered twice: the first deletes both records, the second's
// DELETEs find them gone (404, deleted all the same), and both send the same wait for the sync,
// one of which starts it while the other merges into it. Each reports once under the follow-up's
// webhook-id, and the two reports say the same of every device: both complete (ready), or one
// device ZtdDeviceAssignedToOtherTenant, importFailed with its name, code and meaning in both
// (no note that another report tells how its import went).
func TestImportCheckDeliveredTwice(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	tests := []struct {
		name  string
		first string // the error of the first device's import, "" for none; the second completes
		// imported and failed are the figures of each delivery of the check that sees the end.
		imported, failed float64
		toSync           []string
		report           string // readinessSummary, ids as {serial}
		errors           string // importSummary
		outcome, typ     string
	}{
		{name: "both complete", imported: 2,
			toSync:  []string{"PF-2AB3C=registered/", "5CG1234XYZ=registered/"},
			report:  "PF-2AB3C=assigned(ready true) [{PF-2AB3C} assignedUnkownSyncState/none ]; 5CG1234XYZ=assigned(ready true) [{5CG1234XYZ} assignedUnkownSyncState/none ]",
			errors:  "PF-2AB3C: -; 5CG1234XYZ: -",
			outcome: "devicesReady", typ: "autopilot.devices.ready"},
		{name: "808 for one", first: "ZtdDeviceAssignedToOtherTenant", imported: 1, failed: 1,
			toSync: []string{"PF-2AB3C=failed/ZtdDeviceAssignedToOtherTenant", "5CG1234XYZ=registered/"},
			report: "PF-2AB3C=importFailed(ready false); 5CG1234XYZ=assigned(ready true) [{5CG1234XYZ} assignedUnkownSyncState/none ]",
			errors: fmt.Sprintf("PF-2AB3C: error ZtdDeviceAssignedToOtherTenant 808 %q; 5CG1234XYZ: -",
				autopilot.ImportMeaning("ZtdDeviceAssignedToOtherTenant", 808)),
			outcome: "devicesNotReady", typ: "autopilot.devices.notReady"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newReadyRig(t, s, true, nil)
			devices := []importDevice{{serial: "PF-2AB3C", hash: hardwareHash(4001)}, {serial: "5CG1234XYZ", hash: hardwareHash(4000)}}
			r.e.emu.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: devices[0].serial}, importOutcome(tt.first))
			r.e.emu.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: devices[1].serial}, importOutcome(""))
			req := r.importing(t, devices, 0)
			r.e.clock.Advance(importAfter + 10*time.Second)
			ids := map[string]string{devices[0].serial: req.importIDs[0], devices[1].serial: req.importIDs[1]}

			// The check that sees the imports end, twice: the same reads, the same decisions.
			var forks [2]sentMessage
			for i, what := range []string{"the first delivery", "the second delivery"} {
				c := r.importCheck(t, req, what, "imports-1", req.first.MessageBody, "importing", tt.imported, tt.failed)
				wantToDelete(t, what, c.next, 1, ids, tt.toSync)
				wantImportCounts(t, r, what, emulator.DeviceCounts{Imports: 1, RecordsImported: 2, ImportedReads: 2 * (i + 1)})
				wantRecords(t, r, what, req.importIDs...)
				forks[i] = *c.next
			}
			if forks[0] != forks[1] {
				t.Fatalf("the two deliveries sent different messages:\n%+v\n%+v", forks[0], forks[1])
			}

			// The check that deletes, twice (the two equal messages): the second finds the records
			// gone; both hand the same wait for the sync on.
			for i, what := range []string{"the first delete check", "the second delete check"} {
				c := r.importCheck(t, req, what, fmt.Sprintf("imports-2-%d", i), forks[i].MessageBody, "imported", 0, 0)
				wantToSync(t, what, c.next, tt.toSync)
				wantImportCounts(t, r, what, emulator.DeviceCounts{Imports: 1, RecordsImported: 2, ImportedReads: 4, ImportedDeletes: 2 * (i + 1), RecordsDeleted: 2})
				wantRecords(t, r, what)
				forks[i] = *c.next
			}
			if forks[0] != forks[1] {
				t.Fatalf("the two delete checks sent different waits for the sync:\n%+v\n%+v", forks[0], forks[1])
			}

			// One sync: the first fork starts it, the second merges into it; then each fork's
			// device check finds the registered device assigned and reports.
			due1 := r.deferredCheck(t, req, forks[0].MessageBody, false)
			due2 := r.deferredCheck(t, req, forks[1].MessageBody, true)
			r.e.clock.Advance(readySyncDuration + 10*time.Second)
			due1 = r.syncEnd(t, req, due1.MessageBody)
			due2 = r.syncEnd(t, req, due2.MessageBody)
			if n := r.e.emu.Counts().Graph["POST sync"]; n != 1 {
				t.Errorf("%d Graph sync calls, want 1", n)
			}
			c := r.check(t, req.id, "devices-fork1", due1.MessageBody)
			wantReport(t, r, req.readyRequest, c, tt.outcome, tt.typ, withIDs(r, tt.report), req.requestedAt)
			c = r.check(t, req.id, "devices-fork2", due2.MessageBody)
			if c.line["outcome"] != tt.outcome || len(c.failed) != 0 || c.next != nil {
				t.Errorf("the second fork's report: outcome %v, batchItemFailures %v, next %v; want %s, nothing next", c.line["outcome"], c.failed, c.next, tt.outcome)
			}
			events := r.callbacks(t, req.readyRequest) // each checked: webhook-id is the follow-up's id
			if len(events) != 2 {
				t.Fatalf("the receiver got %d callbacks, want 2 (one per fork)", len(events))
			}
			if events[1].Type != events[0].Type {
				t.Errorf("the two reports are of types %s and %s, want one", events[0].Type, events[1].Type)
			}
			if diff := cmp.Diff(events[0].Data, events[1].Data); diff != "" {
				t.Errorf("the two reports differ (-first +second):\n%s", diff)
			}
			if got := importSummary(events[1].Data.Devices); got != tt.errors {
				t.Errorf("the second report's errors and notes\n got %s\nwant %s", got, tt.errors)
			}
			wantImportCounts(t, r, "at the reports", emulator.DeviceCounts{Imports: 1, RecordsImported: 2, ImportedReads: 4, ImportedDeletes: 4, RecordsDeleted: 2})
			logCallback(t, r.rcv.posts()[1])
		})
	}
}

// TestImportRefusedBeforeGraph: every request with devices that cannot be imported is a 400
// badRequest naming the field (or the reason) before any Graph call, no message sent, and the
// refused value never echoed; the answers are openapi.yaml's (checkContract).
func TestImportRefusedBeforeGraph(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	valid := func(serial string) map[string]any {
		return importDevice{serial: serial, hash: hardwareHash(64)}.field()
	}
	devices := func(n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = valid(fmt.Sprintf("5CG%07d", i))
		}
		return out
	}
	with := func(key string, value any) []map[string]any {
		d := valid("5CG1234XYZ")
		d[key] = value
		return []map[string]any{valid("PF-2AB3C"), d}
	}
	tests := []struct {
		name   string
		query  string
		body   map[string]any
		detail string // a part of the 400's detail
		echo   string // a refused value the answer must not echo
	}{
		{name: "not a list", body: map[string]any{"devices": valid("5CG1234XYZ")}, detail: "devices must be a list of devices"},
		{name: "null", body: map[string]any{"devices": nil}, detail: "devices must be a list of devices"},
		{name: "no device", body: map[string]any{"devices": []any{}}, detail: "devices must name 1 to 10 devices; it names 0."},
		{name: "11 devices", body: map[string]any{"devices": devices(11)}, detail: "devices must name 1 to 10 devices; it names 11."},
		{name: "an unknown field", body: map[string]any{"devices": with("productKey", "XXXXX-XXXXX")}, detail: "devices[1] must be an object of serialNumber, hardwareHash", echo: "XXXXX-XXXXX"},
		{name: "a hash that is a number", body: map[string]any{"devices": with("hardwareHash", 5)}, detail: "devices[1] must be an object"},
		{name: "a bad serial", body: map[string]any{"devices": with("serialNumber", "5CG/1234<XYZ>")}, detail: "devices[1].serialNumber is not a serial number", echo: "5CG/1234<XYZ>"},
		{name: "no serial", body: map[string]any{"devices": with("serialNumber", "")}, detail: "devices[1].serialNumber is not a serial number"},
		{name: "a serial twice", body: map[string]any{"devices": []map[string]any{valid("5CG1234XYZ"), valid("PF-2AB3C"), valid("5cg1234xyz")}},
			detail: "devices[2].serialNumber repeats that of devices[0]."},
		{name: "a hash not base64", body: map[string]any{"devices": with("hardwareHash", "T0sh!not-base64")}, detail: "devices[1].hardwareHash must be the base64 hardware hash", echo: "T0sh!not-base64"},
		{name: "a base64url hash", body: map[string]any{"devices": with("hardwareHash", "-_-_-_-_")}, detail: "devices[1].hardwareHash"},
		{name: "an empty hash", body: map[string]any{"devices": with("hardwareHash", "")}, detail: "devices[1].hardwareHash"},
		{name: "a hash over 8 KiB", body: map[string]any{"devices": with("hardwareHash", base64.StdEncoding.EncodeToString(hardwareHash(followup.MaxHashBytes+1)))},
			detail: "devices[1].hardwareHash must be the base64 hardware hash (padded or not) of 1 byte to 8 KiB"},
		{name: "a groupTag of 129 characters", body: map[string]any{"devices": with("groupTag", strings.Repeat("é", 129))}, detail: "devices[1].groupTag must be at most 128 printable characters."},
		{name: "a groupTag with a control character", body: map[string]any{"devices": with("groupTag", "Sales\x07")}, detail: "devices[1].groupTag"},
		{name: "an assignedUser without a domain", body: map[string]any{"devices": with("assignedUser", "jane.doe")}, detail: "devices[1].assignedUser must be a user principal name, name@domain.", echo: "jane.doe"},
		{name: "an assignedUser with a space", body: map[string]any{"devices": with("assignedUser", "jane doe@contoso.example")}, detail: "devices[1].assignedUser"},
		{name: "devices with serials", body: map[string]any{"devices": devices(1), "serials": []string{"5CG0000000"}}, detail: "serials and devices do not go together"},
		{name: "with wait", query: "wait=10", body: map[string]any{"devices": devices(2)}, detail: "wait does not go with devices"},
		{name: "with defer=false", query: "defer=false", body: map[string]any{"devices": devices(2)}, detail: "defer=false does not go with devices"},
	}
	refused := func(t *testing.T, e *env, fn *function, q, query string, body map[string]any, detail, echo string) {
		t.Helper()
		got := decodeHTTP(t, fn.invokeLogged(t, serialsRequest(t, query, body)))
		answer := got.json(t)
		if got.StatusCode != 400 || answer["code"] != "badRequest" || !strings.Contains(fmt.Sprint(answer["detail"]), detail) {
			t.Errorf("%d %s, want 400 badRequest with %q", got.StatusCode, got.Body, detail)
		}
		if echo != "" && strings.Contains(got.Body, echo) {
			t.Errorf("the answer echoes the refused value %q: %s", echo, got.Body)
		}
		if line := lastInvocation(t, fn); line["status"] != 400.0 || line["code"] != "badRequest" {
			t.Errorf("line: status %v code %v, want 400 badRequest", line["status"], line["code"])
		}
		if n := e.emu.Counts().Requests[emulator.Graph]; n != 0 {
			t.Errorf("%d Graph requests, want none", n)
		}
		if q != "" && len(s.sentTo(q)) != 0 {
			t.Errorf("messages sent %+v, want none", s.sentTo(q))
		}
	}
	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		q := s.newQueue(t)
		fn := e.start(t, binaries.sync, s.vars(e, q))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { refused(t, e, fn, q, tt.query, tt.body, tt.detail, tt.echo) })
		}
	})
	t.Run("no FOLLOWUP_QUEUE_URL", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		fn := e.start(t, binaries.sync, nil)
		refused(t, e, fn, "", "", map[string]any{"devices": devices(2)}, "FOLLOWUP_QUEUE_URL", "")
	})
}
