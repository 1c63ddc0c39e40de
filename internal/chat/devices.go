package chat

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/jsonenc"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Budget bounds the bytes of a chat answer's text as JSON carries it: its lines, the tenant word
// that may lead it and the "and 12 more." that may end it. A Slack message carries its text twice
// (text and the section block), and an answer stays under 2 KB (SPEC §7, §15).
const Budget = 900

// longestTenant is the length of the longest tenant word an answer may lead with: a registry
// name (autopilot.IsTenantName); a GUID is shorter.
const longestTenant = 63

// DevicesLines say, after head, per serial whether the laptop can be handed out, within Budget
// ("and 12 more." for the rest). The budget keeps room for the longest tenant word that
// SlackReply, TeamsReply or CardText may put in front, and for the "and 12 more." line.
func DevicesLines(st Style, head string, rs []autopilot.Readiness, now time.Time) []string {
	lines := []string{head}
	brk := jsonLen(st.paragraphBreak) // at least "\n", which joins lines within a paragraph
	size := tenantRoom(st) + jsonLen(head)
	for i, r := range rs {
		line := "• " + st.Code(st.Echo(r.SerialNumber)) + ": " + ReadinessText(st, r, now)
		need := size + brk + jsonLen(line)
		if rest := len(rs) - i - 1; rest > 0 {
			need += brk + jsonLen(more(rest))
		}
		if need > Budget {
			lines = append(lines, more(len(rs)-i))
			break
		}
		size += brk + jsonLen(line)
		lines = append(lines, line)
	}
	return lines
}

// more is the line that stands for n serials not shown.
func more(n int) string { return "and " + strconv.Itoa(n) + " more." }

// tenantRoom is the most bytes a tenant word in front takes in st: the longest registry name, each
// character as wide as st makes the widest of its characters, and ": ".
func tenantRoom(st Style) int {
	widest := 0
	for _, c := range "abcdefghijklmnopqrstuvwxyz0123456789-" {
		widest = max(widest, jsonLen(st.Echo(string(c))))
	}
	return longestTenant*widest + len(": ")
}

// jsonLen is how many bytes s takes inside a JSON string.
func jsonLen(s string) int {
	b, err := jsonenc.Marshal(s)
	if err != nil { // not for a string: invalid UTF-8 is replaced
		return 6 * len(s)
	}
	return len(b) - len(`""`)
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
