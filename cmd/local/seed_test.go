package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/contract"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// TestSeededDevices: every serial number that cmd/local seeds on its embedded emulator does what
// the banner says, through the product at -speed 600 (the emulator, the functions and the queue
// on one clock 600× as fast): a POST /sync with the two serials pending registration is answered
// autopilot.devices.notReady, SYNC-THEN-ASSIGNED-1 assigned and SYNC-THEN-NO-TPM-1 failed with
// hardwareRequirementsNotMet; an import of the six import serials, each with a hash of its own, is
// answered notReady with IMPORT-OK-1 assigned, OTHER-TENANT-1 importFailed 808
// ZtdDeviceAssignedToOtherTenant, ALREADY-REGISTERED-1 assigned (806, followed as registered),
// DUPLICATED-1 importFailed ZtdDeviceDuplicated, BAD-HASH-1 importFailed 802
// InvalidZtdHardwareHash and STORAGE-ERROR-1 assigned (imported once more, then complete). Seven
// records were imported and every one deleted. Each callback is one openapi.yaml documents, and
// the banner lists every seeded serial with what it does.
func TestSeededDevices(t *testing.T) {
	t.Parallel()
	clock := newScaledClock(600)
	emu := startEmulator(t, clock, time.Minute)
	r := startReceiver(t, always(204))
	base, stdout, _, stop := startLocalWith(t, local{emu: emu, timeouts: defaultTimeouts, now: clock.Now, queueDelay: clock.Real})
	t.Cleanup(stop)
	for _, s := range seededDevices {
		if line := fmt.Sprintf("  %-21s %s\n", s.serial, s.does); !strings.Contains(stdout.String(), line) {
			t.Errorf("the banner lacks %q:\n%s", line, stdout.String())
		}
	}

	type device struct {
		SerialNumber string `json:"serialNumber"`
		HardwareHash string `json:"hardwareHash"`
	}
	imports := []string{serialImportOK, serialOtherTenant, serialAlreadyRegistered, serialDuplicated, serialBadHash, serialStorageError}
	var devices []device
	for i, serial := range imports {
		devices = append(devices, device{serial, base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "hash-%d", i+1))})
	}
	requests := []struct {
		path, result string
		body         map[string]any
		want         []string // each device told (devicesEvent.told)
	}{
		{"/serials", "started", map[string]any{"serials": []string{serialSyncThenAssigned, serialSyncThenNoTPM}}, []string{
			serialSyncThenAssigned + " assigned",
			serialSyncThenNoTPM + " failed hardwareRequirementsNotMet",
		}},
		{"/import", "importing", map[string]any{"devices": devices}, []string{
			serialImportOK + " assigned",
			serialOtherTenant + " importFailed 808 ZtdDeviceAssignedToOtherTenant",
			serialAlreadyRegistered + " assigned",
			serialDuplicated + fmt.Sprintf(" importFailed %d ZtdDeviceDuplicated", emulator.CodeZtdDeviceDuplicated),
			serialBadHash + " importFailed 802 InvalidZtdHardwareHash",
			serialStorageError + " assigned",
		}},
	}
	for _, req := range requests {
		req.body["callbackUrl"] = r.url + req.path
		body, _ := json.Marshal(req.body)
		if a := acceptedSync(t, base+"/sync", string(body)); a.Result != req.result {
			t.Fatalf("POST /sync %s: %+v, want %s", body, a, req.result)
		}
	}
	told := map[string]callback{}
	for range requests {
		c := r.next(t)
		told[c.path] = c
	}
	for _, req := range requests {
		c := told[req.path]
		if err := contract.CheckCallback(c.header, c.body); err != nil {
			t.Errorf("the callback to %s: %v", req.path, err)
		}
		event := readDevicesEvent(t, c)
		if diff := cmp.Diff(req.want, event.told()); diff != "" || event.Type != "autopilot.devices.notReady" {
			t.Errorf("the callback to %s: %s, want autopilot.devices.notReady; its devices (-want +got):\n%s", req.path, event.Type, diff)
		}
	}
	counts := emu.Counts().Devices[emulator.SeedTenantID]
	if got, want := [2]int{counts.RecordsImported, counts.RecordsDeleted}, [2]int{len(imports) + 1, len(imports) + 1}; got != want {
		t.Errorf("imported records created and deleted: %v, want %v (each device once, STORAGE-ERROR-1 twice)", got, want)
	}
	if left := emu.ImportedRecords(emulator.SeedTenantID); len(left) > 0 {
		t.Errorf("imported records left: %+v", left)
	}
}
