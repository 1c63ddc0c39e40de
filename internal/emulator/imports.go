package emulator

// Imports of Windows Autopilot devices (SPEC §17, issue 24): the outcomes an import can have,
// how tests script them per serial or per hash, and how imports end over time. The Graph
// endpoints are in importapi.go.
//
// An import ends a delay after it was posted (Options.ImportDuration, or as scripted). Unless
// scripted, it ends as the service decides: InvalidZtdHardwareHash (802) for an empty hash,
// ZtdDeviceAlreadyAssigned (806) for a hash registered in the tenant, ZtdDeviceAssignedToOtherTenant
// (808) for one registered in another tenant of this emulator, else complete. A hash posted twice
// in one import is ZtdDeviceDuplicated for all but the first. A complete import (or a partial one
// with a registration) adds the device pending registration (registration.go), its id being the
// record's deviceRegistrationId: it appears after the next completed sync.
//
// Error codes: 802, 806 and 808 are Microsoft's (MicrosoftDocs/SupportArticles-docs
// import-windows-autopilot-device-csv-files-errors.md for 806 and 808; the Device Directory
// Service table of Microsoft Managed Desktop's registration draft, 801–814, for 802). No public
// source gives numbers for ZtdDeviceDuplicated or StorageError: the values below are plausible
// stand-ins, marked as such.

import (
	"bytes"
	"slices"
	"strings"
	"time"
)

// defaultImportDuration is how long an import takes unless scripted: Microsoft documents no bound,
// and its own script polls every 30 s.
const defaultImportDuration = 2 * time.Minute

// The deviceErrorCode values of the import errors the emulator knows.
const (
	CodeInvalidZtdHardwareHash         = 802
	CodeZtdDeviceAlreadyAssigned       = 806
	CodeZtdDeviceAssignedToOtherTenant = 808
	CodeZtdDeviceDuplicated            = 805 // plausible stand-in: no public source gives it
	CodeStorageError                   = 500 // plausible stand-in: no public source gives it
)

var importErrorCodes = map[string]int{
	"InvalidZtdHardwareHash":         CodeInvalidZtdHardwareHash,
	"ZtdDeviceAlreadyAssigned":       CodeZtdDeviceAlreadyAssigned,
	"ZtdDeviceAssignedToOtherTenant": CodeZtdDeviceAssignedToOtherTenant,
	"ZtdDeviceDuplicated":            CodeZtdDeviceDuplicated,
	"StorageError":                   CodeStorageError,
}

// ImportOutcome scripts how an imported record ends. The zero value completes after
// Options.ImportDuration and registers the device.
type ImportOutcome struct {
	// Status is the final deviceImportStatus: complete (default), error or partial.
	Status    string
	ErrorCode int    // deviceErrorCode, with error (and partial)
	ErrorName string // deviceErrorName, e.g. ZtdDeviceAssignedToOtherTenant
	// NoRegistration makes a partial outcome carry no deviceRegistrationId and register nothing
	// (complete always registers, error never does).
	NoRegistration bool
	// After is how long after the import the status is final; 0 means Options.ImportDuration.
	After time.Duration
	// Waiting is the status until then: unknown (default) or pending.
	Waiting string
	// Assignment is how the registered device's profile assignment ends (registration.go).
	Assignment ProfileAssignment
	// Manufacturer and Model of the registered device; default Microsoft Corporation, Virtual Machine.
	Manufacturer, Model string
}

// ImportFailure returns the error outcome of an import error name, with its code: one of
// InvalidZtdHardwareHash, ZtdDeviceAlreadyAssigned, ZtdDeviceAssignedToOtherTenant,
// ZtdDeviceDuplicated, StorageError (another name gets code 0).
func ImportFailure(name string) ImportOutcome {
	return ImportOutcome{Status: "error", ErrorCode: importErrorCodes[name], ErrorName: name}
}

func (o ImportOutcome) registers() bool {
	return o.Status == "complete" || o.Status == "partial" && !o.NoRegistration
}

// ImportMatch selects the device an import script applies to: by hardware hash (the decoded
// bytes) when HardwareHash is set, else by serial number, ignoring case.
type ImportMatch struct {
	SerialNumber string
	HardwareHash []byte
}

func (m ImportMatch) matches(serial string, hash []byte) bool {
	if m.HardwareHash != nil {
		return bytes.Equal(m.HardwareHash, hash)
	}
	return strings.EqualFold(m.SerialNumber, serial)
}

// ImportedRecord is an importedWindowsAutopilotDeviceIdentity a tenant holds (not deleted).
type ImportedRecord struct {
	ID, SerialNumber, GroupTag, AssignedUserPrincipalName string
	HardwareIdentifier                                    []byte
	ImportedAt                                            time.Time
	Status                                                string // deviceImportStatus now
}

type importScript struct {
	match    ImportMatch
	outcomes []ImportOutcome // the next imports take them in turn; the last one stays
}

// importState is a tenant's imports.
type importState struct {
	records    map[string]*importRec // by id, deleted ones removed
	scripts    []*importScript
	registered map[string]string // hardware hash → device id, of devices its imports registered
}

type importRec struct {
	ImportedRecord
	seq      int            // order of import, for ties between records that end together
	scripted *ImportOutcome // nil: decided by the service's rules when it ends
	after    time.Duration
	waiting  string
	final    *ImportOutcome // set when it ended
	regID    string
}

func (r *importRec) ends() time.Time { return r.ImportedAt.Add(r.after) }

// state returns the record's deviceImportStatus, deviceRegistrationId, deviceErrorCode and
// deviceErrorName. Imports must have been settled (settleImportsLocked).
func (r *importRec) state() (status, regID string, code int, name string) {
	if r.final == nil {
		return r.waiting, "", 0, ""
	}
	return r.final.Status, r.regID, r.final.ErrorCode, r.final.ErrorName
}

// ScriptImport sets how the next imports of a device into a tenant end: successive imports
// matching m take outcomes in turn, and the last one stays (StorageError then complete: the
// retry completes). Scripts added earlier are matched first. An import that repeats a hash of
// the same request is ZtdDeviceDuplicated whatever the scripts say.
func (e *Emulator) ScriptImport(tenantID string, m ImportMatch, outcomes ...ImportOutcome) {
	if len(outcomes) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	m.HardwareHash = bytes.Clone(m.HardwareHash)
	ts := e.tenantLocked(tenantID)
	ts.imp.scripts = append(ts.imp.scripts, &importScript{match: m, outcomes: slices.Clone(outcomes)})
}

// ImportedRecords returns the imported records a tenant holds now (those not deleted), in the
// order they were imported.
func (e *Emulator) ImportedRecords(tenantID string) []ImportedRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	ts := e.tenantLocked(tenantID)
	recs := make([]*importRec, 0, len(ts.imp.records))
	for _, r := range ts.imp.records {
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b *importRec) int { return a.seq - b.seq })
	out := make([]ImportedRecord, 0, len(recs))
	for _, r := range recs {
		ir := r.ImportedRecord
		ir.Status, _, _, _ = r.state()
		ir.HardwareIdentifier = bytes.Clone(ir.HardwareIdentifier)
		out = append(out, ir)
	}
	return out
}

// newImportLocked records the import of one device at now. seen holds the hashes earlier in the
// same request. e.mu must be held.
func (e *Emulator) newImportLocked(ts *tenantState, ir ImportedRecord, seen [][]byte, now time.Time) *importRec {
	if ts.imp.records == nil {
		ts.imp.records = map[string]*importRec{}
	}
	e.importSeq++
	r := &importRec{ImportedRecord: ir, seq: e.importSeq}
	r.ID, r.ImportedAt = newUUID(), now
	switch {
	case len(ir.HardwareIdentifier) > 0 && slices.ContainsFunc(seen, func(h []byte) bool { return bytes.Equal(h, ir.HardwareIdentifier) }):
		o := ImportFailure("ZtdDeviceDuplicated")
		r.scripted = &o
	default:
		for _, s := range ts.imp.scripts {
			if s.match.matches(ir.SerialNumber, ir.HardwareIdentifier) {
				o := s.outcomes[0]
				if len(s.outcomes) > 1 {
					s.outcomes = s.outcomes[1:]
				}
				r.scripted = &o
				break
			}
		}
	}
	r.after, r.waiting = e.dev.importDur, "unknown"
	if r.scripted != nil {
		if r.scripted.After > 0 {
			r.after = r.scripted.After
		}
		if r.scripted.Waiting != "" {
			r.waiting = r.scripted.Waiting
		}
	}
	ts.imp.records[r.ID] = r
	return r
}

// settleImportsLocked ends, in the order they end, the imports of every tenant that have ended
// by now: an 808 depends on what another tenant registered before. Called by tenantLocked, so
// that the devices they register are pending before a sync's completion is settled.
func (e *Emulator) settleImportsLocked(now time.Time) {
	type due struct {
		ts *tenantState
		r  *importRec
	}
	var dues []due
	for _, ts := range e.tenants {
		for _, r := range ts.imp.records {
			if r.final == nil && !now.Before(r.ends()) {
				dues = append(dues, due{ts, r})
			}
		}
	}
	slices.SortFunc(dues, func(a, b due) int {
		if c := a.r.ends().Compare(b.r.ends()); c != 0 {
			return c
		}
		return a.r.seq - b.r.seq
	})
	for _, d := range dues {
		e.endImportLocked(d.ts, d.r)
	}
}

// endImportLocked decides how r ends and registers its device.
func (e *Emulator) endImportLocked(ts *tenantState, r *importRec) {
	hash := string(r.HardwareIdentifier)
	o := ImportOutcome{Status: "complete"}
	switch {
	case r.scripted != nil:
		o = *r.scripted
		if o.Status == "" {
			o.Status = "complete"
		}
	case hash == "":
		o = ImportFailure("InvalidZtdHardwareHash")
	case ts.imp.registered[hash] != "":
		o = ImportFailure("ZtdDeviceAlreadyAssigned")
	case e.registeredElsewhereLocked(ts, hash):
		o = ImportFailure("ZtdDeviceAssignedToOtherTenant")
	}
	r.final = &o
	if !o.registers() {
		return
	}
	d := Device{SerialNumber: r.SerialNumber, GroupTag: r.GroupTag, UserPrincipalName: r.AssignedUserPrincipalName,
		Manufacturer: o.Manufacturer, Model: o.Model}
	if d.Manufacturer == "" {
		d.Manufacturer, d.Model = "Microsoft Corporation", "Virtual Machine"
	}
	d = withDeviceDefaults(d)
	r.regID = d.ID
	ts.putDevice(e.pendingRec(d, o.Assignment, r.ends()))
	if hash != "" {
		if ts.imp.registered == nil {
			ts.imp.registered = map[string]string{}
		}
		ts.imp.registered[hash] = d.ID
	}
}

func (e *Emulator) registeredElsewhereLocked(self *tenantState, hash string) bool {
	for _, ts := range e.tenants {
		if ts != self && ts.imp.registered[hash] != "" {
			return true
		}
	}
	return false
}
