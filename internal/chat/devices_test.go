package chat_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
)

// TestDevicesAnswersKeepToBudget: the answer of 20 serials, their texts of every length around
// the budget's edges, about the longest tenant name a registry allows, stays under 2,000 bytes
// on both platforms, and says how many serials it does not show.
func TestDevicesAnswersKeepToBudget(t *testing.T) {
	t.Parallel()
	tenant := strings.Repeat("a-", 31) + "a" // hyphens: the one tenant character Teams escapes
	if !autopilot.IsTenantName(tenant) || autopilot.IsTenantName(tenant+"a") {
		t.Fatalf("%q is not the longest tenant name a registry allows", tenant)
	}
	now := time.Date(2026, 11, 28, 17, 5, 0, 0, time.UTC)
	for _, platform := range []autopilot.Source{autopilot.SourceSlack, autopilot.SourceTeams} {
		t.Run(string(platform), func(t *testing.T) {
			t.Parallel()
			st := chat.StyleOf(platform)
			for extra := 0; extra <= 200; extra++ {
				rs := make([]autopilot.Readiness, 20)
				for i := range rs {
					rs[i] = autopilot.Readiness{SerialNumber: fmt.Sprintf("%02d", i) + strings.Repeat("S", 62), State: autopilot.StateFailed,
						Note: autopilot.NoteNotApplied, Devices: []autopilot.Device{{Manufacturer: "Microsoft Corporation", Model: "Surface Laptop 7",
							GroupTag: "Sales-" + strings.Repeat("g", extra), DeploymentProfileAssignmentDetailedStatus: "hardwareRequirementsNotMet"}}}
				}
				lines := chat.DevicesLines(st, chat.ReadyOf(rs)+".", rs, now)
				if shown := len(lines) - 2; shown >= len(rs) {
					t.Fatalf("values of %d more bytes: all %d serials shown, want some cut", extra, len(rs))
				} else if got, want := lines[len(lines)-1], fmt.Sprintf("and %d more.", len(rs)-shown); got != want {
					t.Errorf("values of %d more bytes: last line %q, want %q", extra, got, want)
				}
				b, err := chat.Reply(platform, chat.Words{Paragraphs: lines}, tenant)
				if err != nil {
					t.Fatal(err)
				}
				if len(b) >= 2000 {
					t.Errorf("values of %d more bytes: answer of %d bytes, want under 2,000", extra, len(b))
				}
			}
		})
	}
}
