package main

// The devices and import scripts that cmd/local seeds on the embedded emulator (SPEC §15, §17),
// so that a person can follow devices to ready and try every import path by serial number.
// Seeding adds devices and scripts only: no answer to a request that names none of these serials
// changes.

import (
	"fmt"
	"io"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// How long the seeded devices take, in emulated time, whatever the emulator's options: an import
// ends importTakes after it was posted, and a profile is assigned (or fails) assignTakes after
// the sync that registered its device has completed.
const (
	importTakes = 2 * time.Minute
	assignTakes = 3 * time.Minute
)

// The seeded serial numbers; each says what it does.
const (
	serialSyncThenAssigned  = "SYNC-THEN-ASSIGNED-1"
	serialSyncThenNoTPM     = "SYNC-THEN-NO-TPM-1"
	serialAlreadyRegistered = "ALREADY-REGISTERED-1"
	serialImportOK          = "IMPORT-OK-1"
	serialOtherTenant       = "OTHER-TENANT-1"
	serialDuplicated        = "DUPLICATED-1"
	serialBadHash           = "BAD-HASH-1"
	serialStorageError      = "STORAGE-ERROR-1"
)

// demoHashes are hardware hashes for the banner's import: any base64 will do, as the imports of
// the seeded serial numbers end as scripted; two, as one hash twice in an import is
// ZtdDeviceDuplicated. They are base64 of "hash-1" and "hash-2".
var demoHashes = [2]string{"aGFzaC0x", "aGFzaC0y"}

// seedSerial is one serial number the embedded emulator knows, what it does (as the banner tells it)
// and how it is seeded.
type seedSerial struct {
	serial, does string
	// seed adds the serial to the emulator's seeded tenant; id is its device's fixed id.
	seed func(e *emulator.Emulator, serial, id string)
}

// seededDevices are the serial numbers seedDevices adds, in the order the banner lists them.
var seededDevices = []seedSerial{
	{serialSyncThenAssigned, "registered by the next sync, its profile assigned " + shortDuration(assignTakes) + " later",
		pending(emulator.ProfileAssignment{Status: "assignedUnkownSyncState"})},
	{serialSyncThenNoTPM, "registered by the next sync, its profile failed " + shortDuration(assignTakes) + " later (hardwareRequirementsNotMet)",
		pending(emulator.ProfileAssignment{Status: "failed", DetailedStatus: "hardwareRequirementsNotMet"})},
	{serialAlreadyRegistered, "registered, profile assigned; imported: 806 ZtdDeviceAlreadyAssigned, followed as registered",
		func(e *emulator.Emulator, serial, id string) {
			e.AddDevice(emulator.SeedTenantID, emulator.Device{ID: id, SerialNumber: serial,
				Manufacturer: "HP", Model: "EliteBook 840 G9", DeploymentProfileAssignmentStatus: "assignedInSync"})
			e.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: serial}, imported(emulator.ImportFailure("ZtdDeviceAlreadyAssigned")))
		}},
	{serialImportOK, "imported: complete, registered by the next sync, its profile assigned " + shortDuration(assignTakes) + " later",
		scripted(emulator.ImportOutcome{Status: "complete"})},
	{serialOtherTenant, "imported: 808 ZtdDeviceAssignedToOtherTenant (registered to another tenant)",
		scripted(emulator.ImportFailure("ZtdDeviceAssignedToOtherTenant"))},
	{serialDuplicated, "imported: ZtdDeviceDuplicated (the same hash twice in one import)",
		scripted(emulator.ImportFailure("ZtdDeviceDuplicated"))},
	{serialBadHash, "imported: 802 InvalidZtdHardwareHash (a damaged hash)",
		scripted(emulator.ImportFailure("InvalidZtdHardwareHash"))},
	{serialStorageError, "imported: StorageError, then complete when imported once more",
		scripted(emulator.ImportFailure("StorageError"), emulator.ImportOutcome{Status: "complete"})},
}

// seedDevices adds seededDevices to the emulator's seeded tenant. Seeding again replaces the
// devices (they have fixed ids) and adds scripts that the first ones shadow.
func seedDevices(e *emulator.Emulator) {
	for i, s := range seededDevices {
		s.seed(e, s.serial, fmt.Sprintf("00000000-0000-4000-8000-0000000d%04d", i+1)) // obviously fake
	}
}

// pending seeds a device pending registration whose profile assignment ends as a, assignTakes
// after it registered.
func pending(a emulator.ProfileAssignment) func(*emulator.Emulator, string, string) {
	a.After = assignTakes
	return func(e *emulator.Emulator, serial, id string) {
		e.AddPendingDevice(emulator.SeedTenantID, emulator.Device{ID: id, SerialNumber: serial,
			Manufacturer: "Lenovo", Model: "ThinkPad T14"}, a)
	}
}

// scripted seeds the outcomes of the serial's successive imports.
func scripted(outcomes ...emulator.ImportOutcome) func(*emulator.Emulator, string, string) {
	for i := range outcomes {
		outcomes[i] = imported(outcomes[i])
	}
	return func(e *emulator.Emulator, serial, _ string) {
		e.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: serial}, outcomes...)
	}
}

// imported is o ending importTakes after the import, its device's profile assigned assignTakes
// after it registered.
func imported(o emulator.ImportOutcome) emulator.ImportOutcome {
	o.After, o.Assignment.After = importTakes, assignTakes
	o.Manufacturer, o.Model = "Microsoft Corporation", "Surface Laptop 5"
	return o
}

// printSeededDevices writes the banner's list of seeded serial numbers.
func printSeededDevices(w io.Writer) {
	fmt.Fprintf(w, "Serial numbers to try, as \"serials\" of POST /sync, in GET /status?serial=, or imported as \"devices\" of POST /sync with any base64 \"hardwareHash\" (an import ends %s after it is posted):\n", shortDuration(importTakes))
	for _, s := range seededDevices {
		fmt.Fprintf(w, "  %-21s %s\n", s.serial, s.does)
	}
}
