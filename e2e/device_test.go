package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// TestDevicesEndToEnd: the status binary under the runtime emulator reads device readiness from
// the emulator's Graph over HTTPS: a hyphenated serial is found (Graph cannot filter on a hyphen,
// so the function filters on its longest run of letters and digits), a substring neighbour is not
// reported, and many pages are followed; the direct invocation answers the same document.
func TestDevicesEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, emulator.Options{DevicePageSize: 2})
	for _, d := range []emulator.Device{
		{SerialNumber: "PF-2AB3C", GroupTag: "Sales", DeploymentProfileAssignmentStatus: "assignedInSync"},
		{SerialNumber: "PF-2AB3CD", DeploymentProfileAssignmentStatus: "assignedInSync"},
		{SerialNumber: "X2AB3C", DeploymentProfileAssignmentStatus: "failed", DeploymentProfileAssignmentDetailedStatus: "hardwareRequirementsNotMet"},
		{SerialNumber: "QQ-2AB3C-1", DeploymentProfileAssignmentStatus: "notAssigned"},
		{SerialNumber: "5CG1234XYZ", DeploymentProfileAssignmentStatus: "notAssigned"},
	} {
		e.emu.AddDevice(emulator.SeedTenantID, d)
	}
	fn := e.start(t, binaries.status, nil)
	got := decodeHTTP(t, fn.invoke(t, httpAPIEvent(t, "httpapi-status.json", func(ev *awsevents.APIGatewayV2HTTPRequest) {
		ev.RawQueryString = "serial=pf-2ab3c,5CG1234XYZ,NOPE-1"
		ev.QueryStringParameters = map[string]string{"serial": "pf-2ab3c,5CG1234XYZ,NOPE-1"}
	})))
	if got.StatusCode != 200 {
		t.Fatalf("GET /status?serial=: %d %s", got.StatusCode, got.Body)
	}
	summary := func(body []byte) string {
		var doc struct {
			Devices []struct {
				SerialNumber, State string
				Devices             []struct{ GroupTag string }
			}
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var parts []string
		for _, r := range doc.Devices {
			p := r.SerialNumber + "=" + r.State
			for _, d := range r.Devices {
				p += "/" + d.GroupTag
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, " ")
	}
	if got, want := summary([]byte(got.Body)), "pf-2ab3c=assigned/Sales 5CG1234XYZ=registered/ NOPE-1=notRegistered"; got != want {
		t.Errorf("devices %s, want %s", got, want)
	}
	out := fn.invoke(t, []byte(`{"action":"device","serials":["PF-2AB3C"]}`))
	if got, want := summary(out), "PF-2AB3C=assigned/Sales"; got != want {
		t.Errorf("direct device %s, want %s", got, want)
	}
	if n := e.emu.Counts().Graph["GET windowsAutopilotDeviceIdentities"]; n < 5 {
		t.Errorf("Graph saw %d device pages, want the pages of 2AB3C (3) and of the others", n)
	}
}
