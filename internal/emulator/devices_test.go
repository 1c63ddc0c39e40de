package emulator_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
)

const devicesPath = "/deviceManagement/windowsAutopilotDeviceIdentities"

// devicePage is a page of windowsAutopilotDeviceIdentities.
type devicePage struct {
	Context  string            `json:"@odata.context"`
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"@odata.nextLink"`
}

// serials returns the serial numbers on the page.
func (p devicePage) serials(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, raw := range p.Value {
		var d struct{ SerialNumber string }
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("device %s: %v", raw, err)
		}
		out = append(out, d.SerialNumber)
	}
	return out
}

func decodePage(t *testing.T, a graphAnswer) devicePage {
	t.Helper()
	var p devicePage
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
	return p
}

// filterPath is the device list filtered by f, encoded as a client would.
func filterPath(f string) string {
	return devicesPath + "?$filter=" + url.QueryEscape(f)
}

// intuneMessage returns the Message of the stringified document in a Graph error's message.
func intuneMessage(t *testing.T, a graphAnswer) string {
	t.Helper()
	var b struct{ Error struct{ Message string } }
	var inner struct{ Message string }
	if json.Unmarshal(a.body, &b) != nil || json.Unmarshal([]byte(b.Error.Message), &inner) != nil {
		t.Fatalf("not an Intune error: %s", a.body)
	}
	return inner.Message
}

func TestDeviceFilter(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{Devices: map[string][]emulator.Device{emulator.SeedTenantID: {
		{SerialNumber: "5CG1234XYZ"}, {SerialNumber: "5CG1234XYZ2"}, {SerialNumber: "ec2a1bbf-7e9f-45f0"},
		{SerialNumber: "VMware-12 3e 45"}, {SerialNumber: "PF1'GHX"},
	}}})
	tok := seededGraphToken(t, e)
	tests := []struct {
		name, path string
		want       []string // serials in list order; nil with wantStatus 400
		wantStatus int
	}{
		{"no filter lists every device", devicesPath, []string{"5CG1234XYZ", "5CG1234XYZ2", "ec2a1bbf-7e9f-45f0", "VMware-12 3e 45", "PF1'GHX"}, 200},
		{"contains is a substring match", filterPath("contains(serialNumber,'1234XYZ')"), []string{"5CG1234XYZ", "5CG1234XYZ2"}, 200},
		{"contains ignores case", filterPath("contains(serialNumber,'5cg1234xyz2')"), []string{"5CG1234XYZ2"}, 200},
		{"contains with spaces around its arguments", filterPath("contains( serialNumber , 'EC2A1BBF' )"), []string{"ec2a1bbf-7e9f-45f0"}, 200},
		{"a doubled quote is a quote", filterPath("contains(serialNumber,'PF1''G')"), []string{"PF1'GHX"}, 200},
		{"no match is an empty page", filterPath("contains(serialNumber,'NOPE')"), []string{}, 200},
		{"eq is refused", filterPath("serialNumber eq '5CG1234XYZ'"), nil, 400},
		{"a hyphen fails even with contains", filterPath("contains(serialNumber,'ec2a1bbf-7e9f')"), nil, 400},
		{"a space fails even with contains", filterPath("contains(serialNumber,'12 3e')"), nil, 400},
		{"another property is refused", filterPath("contains(groupTag,'Sales')"), nil, 400},
		{"startswith is refused", filterPath("startswith(serialNumber,'5CG')"), nil, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := graph(t, e, tok, http.MethodGet, tc.path, "")
			if a.status != tc.wantStatus {
				t.Fatalf("status %d %s, want %d", a.status, a.body, tc.wantStatus)
			}
			if tc.wantStatus == 400 {
				if a.errorCode() != "BadRequest" || !strings.HasPrefix(intuneMessage(t, a), "An error has occurred - Operation ID") {
					t.Errorf("400 body %s, want Intune's BadRequest 'An error has occurred'", a.body)
				}
				return
			}
			p := decodePage(t, a)
			if got := p.serials(t); !cmp.Equal(got, tc.want, cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })) {
				t.Errorf("serials %q, want %q", got, tc.want)
			}
			if p.NextLink != "" || p.Context != "https://graph.microsoft.com/beta/$metadata#deviceManagement/windowsAutopilotDeviceIdentities" {
				t.Errorf("page %+v", p)
			}
		})
	}
}

func TestDevicePaging(t *testing.T) {
	t.Parallel()
	var seeded []emulator.Device
	for _, s := range []string{"A1", "A2", "A3", "A4", "A5", "B1"} {
		seeded = append(seeded, emulator.Device{SerialNumber: s})
	}
	e, _ := emutest.Start(t, emulator.Options{DevicePageSize: 2, Devices: map[string][]emulator.Device{emulator.SeedTenantID: seeded}})
	tok := seededGraphToken(t, e)

	tests := []struct {
		name, path string
		want       [][]string // serials of each page
	}{
		{"page size", filterPath("contains(serialNumber,'a')"), [][]string{{"A1", "A2"}, {"A3", "A4"}, {"A5"}}},
		{"smaller $top", filterPath("contains(serialNumber,'A')") + "&$top=1", [][]string{{"A1"}, {"A2"}, {"A3"}, {"A4"}, {"A5"}}},
		{"larger $top", devicesPath + "?$top=5", [][]string{{"A1", "A2"}, {"A3", "A4"}, {"A5", "B1"}}},
		{"$top=0", devicesPath + "?$top=0", [][]string{{}}},
		{"exact pages", filterPath("contains(serialNumber,'A')") + "&$top=5", [][]string{{"A1", "A2"}, {"A3", "A4"}, {"A5"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got [][]string
			next := e.GraphBaseURL() + tc.path
			for next != "" && len(got) < 10 {
				a := graph(t, e, tok, http.MethodGet, strings.TrimPrefix(next, e.GraphBaseURL()), "")
				if a.status != 200 {
					t.Fatalf("page %d: %d %s", len(got)+1, a.status, a.body)
				}
				p := decodePage(t, a)
				got = append(got, append([]string{}, p.serials(t)...))
				next = p.NextLink
				if next != "" && !strings.HasPrefix(next, e.GraphBaseURL()+devicesPath+"?") {
					t.Fatalf("nextLink %q is not on the emulator", next)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("pages (-want +got):\n%s", diff)
			}
		})
	}

	for _, bad := range []string{"?$top=-1", "?$top=ten", "?$skiptoken=bm9wZQ", "?$skiptoken=%%%"} {
		if a := graph(t, e, tok, http.MethodGet, devicesPath+bad, ""); a.status != 400 || a.errorCode() != "BadRequest" {
			t.Errorf("GET %s = %d %s, want 400 BadRequest", bad, a.status, a.body)
		}
	}
}

func TestDeviceFields(t *testing.T) {
	t.Parallel()
	assigned := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	e, _ := emutest.Start(t, emulator.Options{Clock: emulator.NewManualClock(epoch)})
	added := e.AddDevice(emulator.SeedTenantID, emulator.Device{
		SerialNumber: "5CG1234XYZ", GroupTag: "Sales", Manufacturer: "HP", Model: "EliteBook 840",
		DeploymentProfileAssignmentStatus: "assignedUnkownSyncState", DeploymentProfileAssignedDateTime: assigned,
	})
	future := e.AddDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: "NEXT1", DeploymentProfileAssignmentStatus: "someFutureValue"})
	if added.ID == "" || added.ID == future.ID || added.DeploymentProfileAssignmentDetailedStatus != "none" || future.EnrollmentState != "notContacted" {
		t.Fatalf("defaults not filled: %+v %+v", added, future)
	}

	a := graph(t, e, seededGraphToken(t, e), http.MethodGet, devicesPath, "")
	p := decodePage(t, a)
	if len(p.Value) != 2 {
		t.Fatalf("%d devices: %s", len(p.Value), a.body)
	}
	var got map[string]any
	if err := json.Unmarshal(p.Value[0], &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"@odata.type": "#microsoft.graph.windowsAutopilotDeviceIdentity", "id": added.ID,
		"serialNumber": "5CG1234XYZ", "groupTag": "Sales", "manufacturer": "HP", "model": "EliteBook 840",
		"deploymentProfileAssignmentStatus":         "assignedUnkownSyncState",
		"deploymentProfileAssignmentDetailedStatus": "none",
		"deploymentProfileAssignedDateTime":         "2026-03-01T09:30:00Z",
		"enrollmentState":                           "notContacted",
		"lastContactedDateTime":                     "0001-01-01T00:00:00Z",
		"azureActiveDirectoryDeviceId":              added.AzureADDeviceID,
		"azureAdDeviceId":                           added.AzureADDeviceID,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// The other properties of the real resource are there too, as noise a decoder must skip.
	for _, k := range []string{"purchaseOrderIdentifier", "productKey", "addressableUserName", "userPrincipalName", "resourceName",
		"skuNumber", "systemFamily", "managedDeviceId", "displayName", "deviceAccountUpn", "deviceAccountPassword",
		"deviceFriendlyName", "remediationState", "remediationStateLastModifiedDateTime", "userlessEnrollmentStatus"} {
		if _, ok := got[k]; !ok {
			t.Errorf("property %s missing", k)
		}
	}
	if !strings.Contains(string(p.Value[1]), `"deploymentProfileAssignmentStatus":"someFutureValue"`) {
		t.Errorf("an unknown status does not pass through: %s", p.Value[1])
	}
	if got := e.Devices(emulator.SeedTenantID); len(got) != 2 || got[0] != added || got[1] != future {
		t.Errorf("Devices = %+v", got)
	}
	if got := e.Devices("00000000-0000-4000-8000-000000000002"); len(got) != 0 {
		t.Errorf("another tenant holds %+v", got)
	}
}

func TestDeviceFaultsAndCounts(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{Devices: map[string][]emulator.Device{emulator.SeedTenantID: {{SerialNumber: "X1"}}}})
	tok := seededGraphToken(t, e)
	e.AddFault(emulator.Fault{Service: emulator.Graph, PathContains: "windowsAutopilotDeviceIdentities", Status: 503, Times: 1})
	if a := graph(t, e, tok, http.MethodGet, devicesPath, ""); a.status != 503 || a.errorCode() != "ServiceUnavailable" {
		t.Errorf("with a fault: %d %s", a.status, a.body)
	}
	if a := graph(t, e, tok, http.MethodGet, devicesPath, ""); a.status != 200 {
		t.Errorf("after the fault: %d %s", a.status, a.body)
	}
	graph(t, e, tok, http.MethodGet, filterPath("serialNumber eq 'X1'"), "")
	graph(t, e, "", http.MethodGet, devicesPath, "")
	c := e.Counts()
	if got := c.Graph["GET windowsAutopilotDeviceIdentities"]; got != 4 {
		t.Errorf("Counts.Graph = %v, want 4 device lists (fault and 401 included)", c.Graph)
	}
	if got, want := c.Devices[strings.ToLower(emulator.SeedTenantID)], (emulator.DeviceCounts{Lists: 2}); got != want {
		t.Errorf("Counts.Devices = %+v, want %+v (after the token and role checks)", got, want)
	}
}

func TestDeviceAuth(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	tok := appTokens(t, e, env)
	tests := []struct {
		name, token string
		wantStatus  int
		wantCode    string
	}{
		{"no token", "", 401, "InvalidAuthenticationToken"},
		{"a token for another audience", tok.otherHost, 401, "InvalidAuthenticationToken"},
		{"an app without roles", tok.noRoles, 403, "Forbidden"},
		{"Read.All", tok.reader, 200, ""},
		{"ReadWrite.All", tok.writer, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := graph(t, e, tc.token, http.MethodGet, devicesPath, "")
			if a.status != tc.wantStatus || a.errorCode() != tc.wantCode {
				t.Fatalf("= %d %s, want %d %s", a.status, a.body, tc.wantStatus, tc.wantCode)
			}
		})
	}
}
