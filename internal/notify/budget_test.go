package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
)

// longestTenant is the longest tenant name a registry allows: 63 label characters, hyphens
// (the one such character a style may escape) between letters.
var longestTenant = strings.Repeat("a-", 31) + "a"

// longReadiness is serial i's readiness in state, its texts as long as they come: a serial of 64
// characters, Graph's values of extra bytes each.
func longReadiness(i int, state string, extra int) autopilot.Readiness {
	serial := fmt.Sprintf("%02d", i) + strings.Repeat("S", 62)
	d := autopilot.Device{Manufacturer: "Microsoft Corporation" + strings.Repeat("m", extra), Model: "Surface Laptop 7" + strings.Repeat("x", extra),
		GroupTag: "Sales-" + strings.Repeat("g", extra), DeploymentProfileAssignmentStatus: "failed",
		DeploymentProfileAssignmentDetailedStatus: "hardwareRequirementsNotMet" + strings.Repeat("d", extra)}
	switch state {
	case autopilot.StateImportFailed:
		r := autopilot.ImportFailedReadiness(serial, "ZtdDeviceAssignedToOtherTenant"+strings.Repeat("z", extra), 808)
		r.Note = autopilot.NoteImportElsewhere
		return r
	case autopilot.StateError:
		return autopilot.ReadinessError(serial, "graphPermissionDenied")
	}
	return autopilot.Readiness{SerialNumber: serial, State: state, Note: autopilot.NoteNotApplied, Devices: []autopilot.Device{d}}
}

// TestDevicesBodiesKeepToBudget: a report of 20 serials about the longest tenant name, with
// the longest texts of every state and every length of Graph's values around the budget's
// edges, stays under 2,000 bytes in Slack and in the Teams card.
func TestDevicesBodiesKeepToBudget(t *testing.T) {
	t.Parallel()
	if !autopilot.IsTenantName(longestTenant) || autopilot.IsTenantName(longestTenant+"a") {
		t.Fatalf("%q is not the longest tenant name a registry allows", longestTenant)
	}
	states := []string{autopilot.StateFailed, autopilot.StateAssigned, autopilot.StateRegistered,
		autopilot.StateNotRegistered, autopilot.StateImportFailed, autopilot.StateError}
	for _, state := range states {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			longest := 0
			for extra := 0; extra <= 200; extra++ {
				rs := make([]autopilot.Readiness, 20)
				serials := make([]string, 20)
				for i := range rs {
					rs[i] = longReadiness(i, state, extra)
					serials[i] = rs[i].SerialNumber
				}
				for name, n := range map[string]followup.Notice{
					"notReady": {Target: followup.Slack, ID: "f-1", Tenant: longestTenant, RequestedAt: t0, Serials: serials,
						Outcome: &followup.Outcome{Result: autopilot.DevicesNotReady, At: t0.Add(4 * time.Hour), SyncResult: autopilot.TimedOut, Devices: rs}},
					"stillRunning": {Target: followup.Slack, ID: "f-1", Tenant: longestTenant, RequestedAt: t0, Serials: serials, Devices: rs},
				} {
					slack, err := SlackBody(n, t0.Add(29*time.Minute))
					if err != nil {
						t.Fatal(err)
					}
					teams, err := TeamsBody(n, t0.Add(29*time.Minute))
					if err != nil {
						t.Fatal(err)
					}
					longest = max(longest, len(slack), len(teams))
					if len(slack) >= 2000 || len(teams) >= 2000 {
						t.Errorf("%s, values of %d more bytes: Slack body of %d bytes, Teams card of %d, want each under 2,000", name, extra, len(slack), len(teams))
					}
				}
			}
			t.Logf("longest body: %d bytes", longest)
		})
	}
}
