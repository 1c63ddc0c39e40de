package followup

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// SPEC §17: a request with devices starts with their import. Its checks read the imported
// records whose import has not ended, with the device checks' backoff; each record that ended is
// deleted (Microsoft expects it), a StorageError imports its device once more, and an import
// still running when DEVICE_MAX_AGE runs out fails as importTimedOut. Once every import has ended
// and its record is gone, the request waits for a sync triggered after that moment (a deferral,
// SPEC §16) and follows the devices that registered to ready (SPEC §15); one report lists every
// device of the request, those whose import failed included.

const (
	// MaxImports is the most devices one request imports.
	MaxImports = 10
	// MaxHashBytes bounds a decoded hardware hash.
	MaxHashBytes = 8 << 10

	// ImportTimedOut names the failure of an import still running when DEVICE_MAX_AGE ran out.
	ImportTimedOut = "importTimedOut"
	// ImportNotAccepted names the failure of a device Graph's import answer did not list.
	ImportNotAccepted = "importNotAccepted"
)

// The results of one device's import.
const (
	// ImportRegistered: the device is in Windows Autopilot (complete, partial with a
	// registration, 806, or a record a duplicate delivery already handled): it is followed.
	ImportRegistered = "registered"
	// ImportFailed: it is not; the report says why (ErrorName, ErrorCode).
	ImportFailed = "failed"
)

// Imports are the imports of a request with devices.
type Imports struct {
	Records []ImportRecord `json:"records"`
	// Ended is set once every import has ended and its record is deleted.
	Ended bool `json:"ended,omitempty"`
}

// ImportRecord is one device of a request with devices and how its import went.
type ImportRecord struct {
	SerialNumber string `json:"serialNumber"`
	// ID is the id of Graph's imported record of the device ("" when Graph's answer listed
	// none).
	ID string `json:"id,omitempty"`
	// HardwareHash (decoded), GroupTag and AssignedUser are the device as asked. The hash is kept
	// while the import runs (a StorageError imports the device once more), then dropped.
	HardwareHash []byte `json:"hardwareHash,omitempty"`
	GroupTag     string `json:"groupTag,omitempty"`
	AssignedUser string `json:"assignedUser,omitempty"`
	// Retried is set once a StorageError imported the device a second time.
	Retried bool `json:"retried,omitempty"`
	// Result is "" while the import runs, then ImportRegistered or ImportFailed; ErrorName and
	// ErrorCode are the service's deviceErrorName and deviceErrorCode (806 for a registered one
	// that was registered already).
	Result    string `json:"result,omitempty"`
	ErrorName string `json:"errorName,omitempty"`
	ErrorCode int    `json:"errorCode,omitempty"`
	// Deleted is set once the record is gone (deleted, or found gone); Gone when it was found
	// gone (404): another delivery of the same check handled it, and its result is not known here.
	Deleted bool `json:"deleted,omitempty"`
	Gone    bool `json:"gone,omitempty"`
}

// running reports whether r's import has not ended.
func (r ImportRecord) running() bool { return r.Result == "" }

// RecordReading is what a check read of one imported record: its state, that it is gone (404:
// a duplicate delivery handled it), or the problem of a read that failed.
type RecordReading struct {
	State graph.ImportState
	Gone  bool
	Code  problem.Code
}

// ImportStep is what an import check does after its reads: delete the records of Delete, import
// the devices of Reimports once more (StorageError), then Settle with what came of both.
type ImportStep struct {
	// Retry: a read failed for a transient reason; SQS delivers the record again.
	Retry bool
	// Code is a read that failed for good: the follow-up ends with error (ReportImportError).
	Code   problem.Code
	Delete []string // record ids

	message, before Message
	now             time.Time
	late            bool
}

// ImportReading maps the id of each running record to what the check read of it.
type ImportReading map[string]RecordReading

// Running returns the ids of the records whose import has not ended: those a check reads.
func (m Message) Running() []string {
	var ids []string
	if m.Import == nil {
		return nil
	}
	for _, r := range m.Import.Records {
		if r.running() && r.ID != "" {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// DecideImports says what an import check of m does at now, given what it read (one entry per id
// of m.Running()). A read that failed for a transient reason retries; one that failed for good
// ends the request with error. Each record whose import ended is marked registered or failed, as
// SPEC §17 says, and is deleted at the next check, once the message carries its result: a copy
// of this check that SQS delivers again then reads the record as this one did, rather than a 404
// (past DEVICE_MAX_AGE, what ended is deleted at once). An import still running when
// DEVICE_MAX_AGE has passed fails as importTimedOut.
func DecideImports(m Message, r ImportReading, now time.Time, s Schedule) ImportStep {
	now = now.UTC()
	step := ImportStep{now: now, before: m, late: !now.Before(m.RequestedAt.Add(s.DeviceMaxAge))}
	for _, id := range m.Running() {
		rd, ok := r[id]
		switch {
		case !ok || rd.Code.Transient():
			return ImportStep{Retry: true, message: m, before: m, now: now}
		case rd.Code != "" && step.Code == "":
			step.Code = rd.Code
		}
	}
	if step.Code != "" {
		step.message = m
		return step
	}
	next := m
	next.Import = &Imports{Records: append([]ImportRecord(nil), m.Import.Records...)}
	for i := range next.Import.Records {
		rec := &next.Import.Records[i]
		endedBefore := !rec.running()
		if rec.running() && rec.ID != "" {
			if rd := r[rec.ID]; rd.Gone {
				rec.Result, rec.Deleted, rec.Gone = ImportRegistered, true, true // a duplicate delivery handled it
			} else {
				ended(rec, rd.State)
			}
		}
		if rec.running() && (step.late || rec.ID == "") {
			rec.Result, rec.ErrorName = ImportFailed, ImportTimedOut
			if rec.ID == "" {
				rec.ErrorName = ImportNotAccepted
			}
		}
		if !rec.running() && !rec.retrying(step.late) {
			rec.HardwareHash = nil
		}
		if !rec.running() && !rec.Deleted && rec.ID != "" && (endedBefore || step.late) {
			step.Delete = append(step.Delete, rec.ID)
		}
	}
	step.message = next
	return step
}

// retrying reports whether r failed with a StorageError that imports its device once more.
func (r ImportRecord) retrying(late bool) bool {
	return r.Result == ImportFailed && r.ErrorName == graph.ErrorNameStorageError && !r.Retried && !late
}

// ended records in rec how its import went, when its state says it has ended.
func ended(rec *ImportRecord, st graph.ImportState) {
	switch st.DeviceImportStatus {
	case graph.ImportComplete:
		rec.Result = ImportRegistered
	case graph.ImportPartial:
		rec.Result = ImportRegistered
		if st.DeviceRegistrationID == "" {
			rec.Result = ImportFailed
		}
	case graph.ImportError:
		rec.Result = ImportFailed
	default: // unknown, pending, or a value Graph adds later: not ended
		return
	}
	// A name that is no identifier is left out (the code and its meaning still say why): the
	// message keeps only names it can carry, so that a check never fails to send what it read.
	// The code is Graph's Int32 as it is, negative (an HRESULT) included.
	rec.ErrorName, rec.ErrorCode = st.DeviceErrorName, st.DeviceErrorCode
	if !validName(rec.ErrorName, maxTextLength, "") {
		rec.ErrorName = ""
	}
	if rec.Result == ImportFailed && st.DeviceErrorName == graph.ErrorNameAlreadyAssigned {
		rec.Result = ImportRegistered // 806: registered here already, followed as any other
	}
}

// Reimports returns the devices to import once more now, once the check's deletes are done
// (deleted): a StorageError whose record is gone.
func (st ImportStep) Reimports(deleted []string) []ImportRecord {
	var out []ImportRecord
	for _, rec := range st.message.Import.Records {
		if rec.retrying(st.late) && (rec.Deleted || slices.Contains(deleted, rec.ID)) {
			retry := rec
			retry.ID, retry.Result, retry.ErrorName, retry.ErrorCode, retry.Deleted = "", "", "", 0, false
			out = append(out, retry)
		}
	}
	return out
}

// ImportSettlement is what follows an import check: the next message after Delay, or, once
// every import has ended and its record is gone (Ended), the sync (ToSync) or, when no device
// registered, the report (ReportImports). Registered and Failed count the imports that ended at
// this check for good (EMF DevicesImported, DeviceImportFailed).
type ImportSettlement struct {
	Next               Message
	Delay              time.Duration
	Ended              bool
	Registered, Failed int
}

// Settle returns what follows the check once its deletes and re-imports were done: deleted are
// the ids now gone; reimported maps the serial of each device imported once more to its new
// record id ("" when that import failed: the device fails with its StorageError). Past
// DEVICE_MAX_AGE a record that could not be deleted is left (the caller logs it). While records
// wait to be deleted or imported again, and nothing runs, the next check comes in a second.
func (st ImportStep) Settle(deleted []string, reimported map[string]string, s Schedule) ImportSettlement {
	m := st.message
	for i := range m.Import.Records {
		rec := &m.Import.Records[i]
		if !rec.running() && (st.late || slices.Contains(deleted, rec.ID)) {
			rec.Deleted = true
		}
		newID, ok := reimported[rec.SerialNumber]
		if !ok || !rec.retrying(st.late) {
			continue
		}
		rec.Retried = true
		if newID != "" {
			rec.ID, rec.Result, rec.ErrorName, rec.ErrorCode, rec.Deleted = newID, "", "", 0, false
		} else {
			rec.HardwareHash = nil
		}
	}
	out := ImportSettlement{}
	for i, rec := range m.Import.Records {
		was := st.before.Import.Records[i]
		if (was.running() || was.retrying(st.late)) && !rec.running() && !rec.retrying(st.late) {
			if rec.Result == ImportRegistered {
				out.Registered++
			} else {
				out.Failed++
			}
		}
	}
	running, waiting := false, false
	for _, rec := range m.Import.Records {
		running = running || rec.running()
		waiting = waiting || !rec.running() && !rec.Deleted && rec.ID != "" || rec.retrying(st.late)
	}
	switch {
	case running:
		delay := min(after(m.Attempt), s.DeviceCheckInterval, m.RequestedAt.Add(s.DeviceMaxAge).Sub(st.now))
		m.Attempt = min(m.Attempt+1, maxAttempt)
		out.Next, out.Delay = m, queueDelay(delay)
	case waiting: // deletes and re-imports only: the backoff of the reads does not grow
		out.Next, out.Delay = m, queueDelay(0)
	default:
		m.Import.Ended = true
		out.Next, out.Ended = m, true
	}
	return out
}

// ReportImportError is the report of m when its imported records can no longer be read (a
// permission removed, the tenant gone): error, with code.
func ReportImportError(m Message, code problem.Code, now time.Time) Plan {
	now = now.UTC()
	all := make([]autopilot.Readiness, len(m.Serials))
	for i, serial := range m.Serials {
		all[i] = autopilot.ReadinessError(serial, code)
	}
	return deliver(withOutcome(m, Outcome{Result: autopilot.Error, At: now, Code: code, Devices: all}), now)
}

// Registered reports whether any device of m registered.
func (m Message) Registered() bool {
	for _, r := range m.Import.Records {
		if r.Result == ImportRegistered {
			return true
		}
	}
	return false
}

// ToSync is m, whose imports have ended, waiting for a sync triggered after before (the
// settings' lastManualSyncTriggerDateTime read now; zero when none was ever triggered): a
// deferral (SPEC §16) whose first check comes at once.
func ToSync(m Message, before time.Time) Message {
	m.Deferred, m.Attempt = &Deferred{}, 1
	if !before.IsZero() {
		m.Deferred.Before = timePtr(before)
	}
	return m
}

// ReportImports is the report of m when no device registered: every device failed its import.
func ReportImports(m Message, now time.Time) Plan {
	now = now.UTC()
	all := make([]autopilot.Readiness, len(m.Serials))
	for i, serial := range m.Serials {
		all[i] = m.importReadiness(serial)
	}
	o := Outcome{Result: autopilot.DevicesNotReady, At: now, Devices: all}
	return deliver(withOutcome(m, o), now)
}

// importReadiness is the readiness of a device whose import failed.
func (m Message) importReadiness(serial string) autopilot.Readiness {
	rec, _ := m.importOf(serial)
	return autopilot.ImportFailedReadiness(serial, rec.ErrorName, rec.ErrorCode)
}

// importOf finds serial's import record.
func (m Message) importOf(serial string) (ImportRecord, bool) {
	if m.Import == nil {
		return ImportRecord{}, false
	}
	for _, r := range m.Import.Records {
		if r.SerialNumber == serial {
			return r, true
		}
	}
	return ImportRecord{}, false
}

// importFailed reports whether serial's import failed: it is not followed.
func (m Message) importFailed(serial string) bool {
	r, ok := m.importOf(serial)
	return ok && r.Result == ImportFailed
}

// importNote is what a report says of serial beside its readiness x: a groupTag or assignedUser
// asked for a device that was registered already (806) was not applied; the import of a device
// not registered was handled by another delivery of the same check, whose report says how it went.
func (m Message) importNote(serial string, x autopilot.Readiness) string {
	r, ok := m.importOf(serial)
	switch {
	case !ok:
		return ""
	case r.Gone && x.State == autopilot.StateNotRegistered:
		return autopilot.NoteImportElsewhere
	case r.ErrorName == graph.ErrorNameAlreadyAssigned && (r.GroupTag != "" || r.AssignedUser != ""):
		return autopilot.NoteNotApplied
	}
	return ""
}

// validImports checks the imports of a message.
func (m Message) validImports() error {
	if m.Import == nil {
		return nil
	}
	rs := m.Import.Records
	if len(rs) == 0 || len(rs) > MaxImports || len(rs) != len(m.Serials) {
		return fmt.Errorf("import.records must be 1-%d, one per serial", MaxImports)
	}
	for i, r := range rs {
		switch {
		case r.SerialNumber != m.Serials[i]:
			return errors.New("import.records must follow serials")
		case len(r.HardwareHash) > MaxHashBytes:
			return errors.New("import.records[].hardwareHash is too long")
		case r.ID != "" && (!validName(r.ID, maxIDLength, "_.") || r.ID == "." || r.ID == ".."):
			return errors.New("import.records[].id is not an id")
		case len(r.GroupTag) > 4*128 || !printable(r.GroupTag) || len(r.AssignedUser) > 256 || !printable(r.AssignedUser):
			return errors.New("import.records[] has a groupTag or assignedUser too long or not printable")
		case r.Result != "" && r.Result != ImportRegistered && r.Result != ImportFailed:
			return errors.New("import.records[].result is unknown")
		case !validName(r.ErrorName, maxTextLength, ""):
			return errors.New("import.records[] has a bad errorName")
		case r.running() && r.Deleted:
			return errors.New("import.records[]: a running import has no deleted record")
		}
	}
	if m.Import.Ended {
		for _, r := range rs {
			if r.running() || len(r.HardwareHash) > 0 {
				return errors.New("import.ended with an import running")
			}
		}
	}
	return nil
}
