package chat

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Budget bounds the characters of a chat answer's lines: a Slack message carries its text twice
// (text and the section block), and an answer stays under 2 KB (SPEC §7).
const Budget = 900

// DevicesLines say, after head, per serial whether the laptop can be handed out, within Budget
// ("and 12 more." for the rest).
func DevicesLines(st Style, head string, rs []autopilot.Readiness, now time.Time) []string {
	lines := []string{head}
	size := len(head)
	for i, r := range rs {
		line := "• " + st.Code(st.Echo(r.SerialNumber)) + ": " + ReadinessText(st, r, now)
		if size += len(line) + 2; size > Budget {
			lines = append(lines, "and "+strconv.Itoa(len(rs)-i)+" more.")
			break
		}
		lines = append(lines, line)
	}
	return lines
}

// ReadyOf is "2 of 3 ready".
func ReadyOf(rs []autopilot.Readiness) string {
	return fmt.Sprintf("%d of %d ready", autopilot.Ready(rs), len(rs))
}

// ReadinessText says one serial's state in plain words, and its note.
func ReadinessText(st Style, r autopilot.Readiness, now time.Time) string {
	text := readinessText(st, r, now)
	if r.Note != "" {
		text += " Note: " + st.Echo(r.Note) + "."
	}
	return text
}

func readinessText(st Style, r autopilot.Readiness, now time.Time) string {
	var about string
	shown := r.Shown()
	if shown >= 0 {
		d := r.Devices[shown]
		var parts []string
		for _, s := range []string{d.Manufacturer + " " + d.Model, groupTag(d.GroupTag)} {
			if s = strings.TrimSpace(s); s != "" {
				parts = append(parts, st.Echo(s))
			}
		}
		if len(parts) > 0 {
			about = " (" + strings.Join(parts, ", ") + ")"
		}
	}
	switch r.State {
	case autopilot.StateAssigned:
		return "ready: deployment profile assigned" + about + "."
	case autopilot.StateFailed:
		why := ""
		if s := r.Devices[shown].DeploymentProfileAssignmentDetailedStatus; s != "" && s != "none" {
			why = " (" + st.Echo(s) + ")"
		}
		return "not ready: the deployment profile could not be assigned" + why + about + "."
	case autopilot.StateRegistered:
		return "registered in Windows Autopilot, deployment profile not assigned yet" + about + "."
	case autopilot.StateNotRegistered:
		return "not registered in Windows Autopilot."
	case autopilot.StateImportFailed:
		e := r.Error
		if e == nil {
			return "not imported."
		}
		return "not imported: " + st.Echo(e.Meaning) + " (" + st.Echo(e.Name) + ")."
	}
	return "could not be read: " + strings.TrimSuffix(problemText(st, problem.New(r.Code, ""), now.UTC()), ".") + "."
}

func groupTag(t string) string {
	if t == "" {
		return ""
	}
	return "group tag " + t
}
