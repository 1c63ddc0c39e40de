package emulator_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
)

const (
	importedPath = "/deviceManagement/importedWindowsAutopilotDeviceIdentities"
	importPath   = importedPath + "/import"
)

// record is an imported record as Graph answers it.
type record struct {
	ID, SerialNumber, GroupTag, AssignedUserPrincipalName, ImportID string
	HardwareIdentifier                                              *string
	State                                                           struct {
		DeviceImportStatus, DeviceRegistrationID, DeviceErrorName string
		DeviceErrorCode                                           int
	}
}

// hw is a hardware hash of a device: distinct bytes per name, of a length that needs padding.
func hw(name string) []byte { return []byte("4K-hash-of-" + name + "!") }

// importItem is a device of an import request, with its hash padded as Graph wants it.
func importItem(serial string, hash []byte) map[string]any {
	return map[string]any{"serialNumber": serial, "hardwareIdentifier": base64.StdEncoding.EncodeToString(hash), "groupTag": "Sales",
		"assignedUserPrincipalName": "", "state": map[string]any{"deviceImportStatus": "pending", "deviceRegistrationId": "", "deviceErrorCode": 0, "deviceErrorName": ""}}
}

func importBody(items ...map[string]any) string {
	b, _ := json.Marshal(map[string]any{"importedWindowsAutopilotDeviceIdentities": items})
	return string(b)
}

// importDevices imports items and returns the records by serial number.
func importDevices(t *testing.T, e *emulator.Emulator, tok string, items ...map[string]any) map[string]record {
	t.Helper()
	a := graph(t, e, tok, http.MethodPost, importPath, importBody(items...))
	if a.status != 200 {
		t.Fatalf("import: %d %s", a.status, a.body)
	}
	var page struct{ Value []record }
	if err := json.Unmarshal(a.body, &page); err != nil || len(page.Value) != len(items) {
		t.Fatalf("import answer %s: %v", a.body, err)
	}
	out := map[string]record{}
	for _, r := range page.Value {
		if st := r.State.DeviceImportStatus; r.ID == "" || st != "unknown" && st != "pending" {
			t.Errorf("a new record: %+v", r)
		}
		out[r.SerialNumber] = r
	}
	return out
}

func getRecord(t *testing.T, e *emulator.Emulator, tok, id string) (int, record) {
	t.Helper()
	a := graph(t, e, tok, http.MethodGet, importedPath+"/"+id, "")
	var r record
	if a.status == 200 {
		if err := json.Unmarshal(a.body, &r); err != nil {
			t.Fatalf("record %s: %v", a.body, err)
		}
	}
	return a.status, r
}

func TestImportRequests(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	tok := appTokens(t, e, env)
	unpadded := base64.RawStdEncoding.EncodeToString(hw("x"))
	tests := []struct {
		name, token, contentType, body string
		wantStatus                     int
		wantMessage                    string // a part of error.message
	}{
		{"unpadded hash", tok.writer, "", `{"importedWindowsAutopilotDeviceIdentities":[{"serialNumber":"A","hardwareIdentifier":"` + unpadded + `"}]}`,
			400, "Cannot convert the literal '" + unpadded + "' to the expected type 'Edm.Binary'."},
		{"base64url hash", tok.writer, "", `{"importedWindowsAutopilotDeviceIdentities":[{"serialNumber":"A","hardwareIdentifier":"-_-_"}]}`, 400, "'Edm.Binary'"},
		{"a number for a hash", tok.writer, "", `{"importedWindowsAutopilotDeviceIdentities":[{"hardwareIdentifier":5}]}`, 400, "Cannot convert the literal '5'"},
		{"an unknown property", tok.writer, "", `{"importedWindowsAutopilotDeviceIdentities":[{"serialNumber":"A","color":"red"}]}`, 400, "The property 'color' does not exist"},
		{"an unknown parameter", tok.writer, "", `{"devices":[]}`, 400, "'devices' in the request payload is not a valid parameter"},
		{"no parameter", tok.writer, "", `{}`, 400, "is missing"},
		{"not JSON", tok.writer, "", `{"importedWindowsAutopilotDeviceIdentities":[`, 400, "Unable to read JSON"},
		{"not declared JSON", tok.writer, "text/plain", importBody(importItem("A", hw("a"))), 400, "Unable to read JSON"},
		{"a serial that is not a string", tok.writer, "", `{"importedWindowsAutopilotDeviceIdentities":[{"serialNumber":7}]}`, 400, "'Edm.String'"},
		{"Read.All may not import", tok.reader, "", importBody(importItem("A", hw("a"))), 403, "DeviceManagementServiceConfig.ReadWrite.All"},
		{"no token", "", "", importBody(importItem("A", hw("a"))), 401, ""},
		{"a valid import", tok.writer, "", importBody(importItem("A", hw("a")), map[string]any{"serialNumber": "B", "hardwareIdentifier": nil}), 200, ""},
		{"an empty import", tok.writer, "", importBody(), 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.GraphBaseURL()+importPath, strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			req.Header.Set("Content-Type", "application/json")
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := e.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b struct{ Error struct{ Message string } }
			_ = json.NewDecoder(resp.Body).Decode(&b)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(b.Error.Message, tc.wantMessage) {
				t.Errorf("= %d %q, want %d with %q", resp.StatusCode, b.Error.Message, tc.wantStatus, tc.wantMessage)
			}
		})
	}
	t.Run("methods", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			method, path string
			want         int
		}{{http.MethodGet, importPath, 405}, {http.MethodPatch, importedPath + "/x", 405}, {http.MethodGet, importedPath, 405}, {http.MethodGet, importedPath + "/x/y", 400}} {
			if a := graph(t, e, tok.writer, c.method, c.path, ""); a.status != c.want {
				t.Errorf("%s %s = %d %s, want %d", c.method, c.path, a.status, a.body, c.want)
			}
		}
	})
}

func TestImportLifecycle(t *testing.T) {
	t.Parallel()
	clock := emulator.NewManualClock(epoch)
	e, env := emutest.Start(t, emulator.Options{Clock: clock, SyncDuration: time.Minute, ImportDuration: 2 * time.Minute, ProfileAssignmentDelay: time.Minute})
	tok := appTokens(t, e, env)
	recs := importDevices(t, e, tok.writer, importItem("SN-1", hw("1")), importItem("SN-2", hw("2")))
	one := recs["SN-1"]

	if st, r := getRecord(t, e, tok.reader, one.ID); st != 200 || r.State.DeviceImportStatus != "unknown" || r.State.DeviceRegistrationID != "" {
		t.Fatalf("before the import ends: %d %+v", st, r)
	}
	clock.Advance(2 * time.Minute)
	st, r := getRecord(t, e, tok.reader, one.ID)
	if st != 200 || r.State.DeviceImportStatus != "complete" || r.State.DeviceRegistrationID == "" || r.State.DeviceErrorCode != 0 ||
		r.ImportID != one.ID || r.HardwareIdentifier == nil || *r.HardwareIdentifier != base64.StdEncoding.EncodeToString(hw("1")) {
		t.Fatalf("after the import ended: %d %+v", st, r)
	}
	if got := e.Devices(emulator.SeedTenantID); len(got) != 0 {
		t.Fatalf("registered before a sync: %+v", got)
	}
	startSync(t, e)
	clock.Advance(time.Minute)
	devices := e.Devices(emulator.SeedTenantID)
	if len(devices) != 2 || !slices.ContainsFunc(devices, func(d emulator.Device) bool {
		return d.ID == r.State.DeviceRegistrationID && d.SerialNumber == "SN-1" && d.GroupTag == "Sales"
	}) {
		t.Fatalf("after the sync: %+v, want SN-1 with id %s", devices, r.State.DeviceRegistrationID)
	}

	for _, id := range []string{one.ID, recs["SN-2"].ID} {
		if a := graph(t, e, tok.writer, http.MethodDelete, importedPath+"/"+id, ""); a.status != 204 {
			t.Errorf("DELETE = %d %s", a.status, a.body)
		}
	}
	if st, _ := getRecord(t, e, tok.writer, one.ID); st != 404 {
		t.Errorf("GET after DELETE = %d", st)
	}
	if a := graph(t, e, tok.writer, http.MethodDelete, importedPath+"/"+one.ID, ""); a.status != 404 || a.errorCode() != "ResourceNotFound" {
		t.Errorf("DELETE after DELETE = %d %s", a.status, a.body)
	}
	if a := graph(t, e, tok.reader, http.MethodDelete, importedPath+"/"+one.ID, ""); a.status != 403 {
		t.Errorf("DELETE by a reader = %d", a.status)
	}
	if got := e.ImportedRecords(emulator.SeedTenantID); len(got) != 0 {
		t.Errorf("records left: %+v", got)
	}
	want := emulator.DeviceCounts{Imports: 1, RecordsImported: 2, ImportedReads: 3, ImportedDeletes: 3, RecordsDeleted: 2}
	if got := e.Counts().Devices[strings.ToLower(emulator.SeedTenantID)]; got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
}

// TestImportOutcomes imports each device into a tenant where scripts and earlier imports decide
// how it ends, and reads the record once every import has ended.
func TestImportOutcomes(t *testing.T) {
	t.Parallel()
	type want struct {
		status, name string
		code         int
		registered   bool
	}
	complete := want{"complete", "", 0, true}
	tests := []struct {
		name    string
		prepare func(t *testing.T, e *emulator.Emulator, tok string)
		items   []map[string]any
		want    map[string]want // by serial
	}{
		{"complete by default", nil, []map[string]any{importItem("A", hw("a"))}, map[string]want{"A": complete}},
		{"scripted by serial: 808", func(_ *testing.T, e *emulator.Emulator, _ string) {
			e.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: "a"}, emulator.ImportFailure("ZtdDeviceAssignedToOtherTenant"))
		}, []map[string]any{importItem("A", hw("a")), importItem("B", hw("b"))},
			map[string]want{"A": {"error", "ZtdDeviceAssignedToOtherTenant", 808, false}, "B": complete}},
		{"scripted by hash: 806", func(_ *testing.T, e *emulator.Emulator, _ string) {
			e.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{HardwareHash: hw("b")}, emulator.ImportFailure("ZtdDeviceAlreadyAssigned"))
		}, []map[string]any{importItem("A", hw("a")), importItem("B", hw("b"))},
			map[string]want{"A": complete, "B": {"error", "ZtdDeviceAlreadyAssigned", 806, false}}},
		{"the same hash twice in one import", nil, []map[string]any{importItem("A", hw("a")), importItem("A2", hw("a"))},
			map[string]want{"A": complete, "A2": {"error", "ZtdDeviceDuplicated", emulator.CodeZtdDeviceDuplicated, false}}},
		{"an empty hash", nil, []map[string]any{importItem("A", nil)}, map[string]want{"A": {"error", "InvalidZtdHardwareHash", 802, false}}},
		{"a hash this tenant registered before: 806", func(t *testing.T, e *emulator.Emulator, tok string) {
			importDevices(t, e, tok, importItem("A", hw("a")))
		}, []map[string]any{importItem("A-again", hw("a"))},
			map[string]want{"A": complete, "A-again": {"error", "ZtdDeviceAlreadyAssigned", 806, false}}},
		{"StorageError, then complete on the next import", func(t *testing.T, e *emulator.Emulator, tok string) {
			e.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: "A"}, emulator.ImportFailure("StorageError"), emulator.ImportOutcome{})
			importDevices(t, e, tok, importItem("A", hw("a")))
		}, []map[string]any{importItem("A", hw("a"))}, map[string]want{"A": complete}},
		{"partial with and without a registration", func(_ *testing.T, e *emulator.Emulator, _ string) {
			e.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: "A"}, emulator.ImportOutcome{Status: "partial", ErrorName: "SomethingPartial", ErrorCode: 1})
			e.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: "B"}, emulator.ImportOutcome{Status: "partial", NoRegistration: true})
		}, []map[string]any{importItem("A", hw("a")), importItem("B", hw("b"))},
			map[string]want{"A": {"partial", "SomethingPartial", 1, true}, "B": {"partial", "", 0, false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := emulator.NewManualClock(epoch)
			e, _ := emutest.Start(t, emulator.Options{Clock: clock})
			tok := seededGraphToken(t, e)
			if tc.prepare != nil {
				tc.prepare(t, e, tok)
				clock.Advance(time.Hour)
			}
			recs := importDevices(t, e, tok, tc.items...)
			clock.Advance(time.Hour)
			got := map[string]want{}
			for serial, r := range recs {
				_, rec := getRecord(t, e, tok, r.ID)
				got[serial] = want{rec.State.DeviceImportStatus, rec.State.DeviceErrorName, rec.State.DeviceErrorCode, rec.State.DeviceRegistrationID != ""}
			}
			for _, r := range e.ImportedRecords(emulator.SeedTenantID) {
				if _, ok := recs[r.SerialNumber]; !ok && r.Status == "complete" {
					got[r.SerialNumber] = complete // the earlier import of the same device
				}
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImportAcrossTenants(t *testing.T) {
	t.Parallel()
	const other = "00000000-0000-4000-8000-000000000002"
	clock := emulator.NewManualClock(epoch)
	e, _ := emutest.Start(t, emulator.Options{Clock: clock})
	e.AddApp(emulator.App{TenantID: other, ClientID: "other-app", Secret: "s"})
	tok, otherTok := seededGraphToken(t, e), ""
	{
		c := emutest.Credential(t, e, other, "other-app", "s")
		var err error
		if otherTok, err = getToken(t.Context(), c, graphScope); err != nil {
			t.Fatal(err)
		}
	}
	// Both imports end at the same time: the one made first registers, the other is told 808.
	first := importDevices(t, e, tok, importItem("A", hw("a")))["A"]
	second := importDevices(t, e, otherTok, importItem("A", hw("a")))["A"]
	clock.Advance(time.Hour)
	if _, r := getRecord(t, e, otherTok, second.ID); r.State.DeviceErrorCode != 808 || r.State.DeviceErrorName != "ZtdDeviceAssignedToOtherTenant" {
		t.Errorf("the other tenant's import: %+v", r.State)
	}
	if _, r := getRecord(t, e, tok, first.ID); r.State.DeviceImportStatus != "complete" {
		t.Errorf("the first tenant's import: %+v", r.State)
	}
	if st, _ := getRecord(t, e, otherTok, first.ID); st != 404 {
		t.Errorf("a record of another tenant = %d, want 404", st)
	}
}

func TestImportWaitingAndDelay(t *testing.T) {
	t.Parallel()
	clock := emulator.NewManualClock(epoch)
	e, _ := emutest.Start(t, emulator.Options{Clock: clock, SyncDuration: time.Minute})
	tok := seededGraphToken(t, e)
	e.ScriptImport(emulator.SeedTenantID, emulator.ImportMatch{SerialNumber: "A"}, emulator.ImportOutcome{
		Waiting: "pending", After: 5 * time.Minute, Manufacturer: "HP", Model: "EliteBook 840",
		Assignment: emulator.ProfileAssignment{After: time.Minute, Status: "failed", DetailedStatus: "hardwareRequirementsNotMet"},
	})
	id := importDevices(t, e, tok, importItem("A", hw("a")))["A"].ID
	clock.Advance(5*time.Minute - time.Second)
	if _, r := getRecord(t, e, tok, id); r.State.DeviceImportStatus != "pending" {
		t.Errorf("before it ends: %+v", r.State)
	}
	clock.Advance(time.Second)
	startSync(t, e)
	clock.Advance(2 * time.Minute)
	want := []seen{{"A", "failed", "hardwareRequirementsNotMet", time.Time{}}}
	if diff := cmp.Diff(want, seenDevices(e)); diff != "" {
		t.Errorf("the registered device (-want +got):\n%s", diff)
	}
	if d := e.Devices(emulator.SeedTenantID); len(d) != 1 || d[0].Manufacturer != "HP" {
		t.Errorf("devices %+v", d)
	}
}
