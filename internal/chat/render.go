package chat

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// The actions an Outcome answers, besides the command words.
const (
	// ActionSyncNotHere answers "sync" at the status function, which holds read rights only.
	ActionSyncNotHere = "syncNotHere"
)

// Outcome is what happened, in the terms the answer needs. The caller (package api) fills it.
type Outcome struct {
	// Action is ActionSync, ActionStatus, ActionHelp or ActionSyncNotHere.
	Action string
	// Result is the sync's result (started, or after "sync wait" completed, failed or
	// inProgress); empty for a problem and for status.
	Result autopilot.Result
	// RequestedAt and NextSyncAllowedAt belong to a sync Graph accepted.
	RequestedAt, NextSyncAllowedAt time.Time
	// Status is the status document, for status and for the settings after "sync wait".
	Status *autopilot.Status
	// Problem is any failure: a SPEC §5 code, or unknownTenant (SPEC §11), whose Detail is shown.
	Problem *problem.Problem
	// TimedOut reports that Graph did not answer within the chat platform's deadline.
	TimedOut bool
	// Tenant names the selected tenant; empty when none was selected.
	Tenant string
	// FollowUp says whether the end of a started sync will be posted later (SPEC §13).
	FollowUp FollowUp
}

// FollowUp is what a sync answer says of the follow-up.
type FollowUp int

// What an answer says of the follow-up.
const (
	// FollowUpUnsaid: follow-ups are off, or none applies: the answer says nothing.
	FollowUpUnsaid FollowUp = iota
	// FollowUpComing: the outcome will be posted here when the sync ends.
	FollowUpComing
	// FollowUpRefused: the platform's reply address is not an allowed one: none will come.
	FollowUpRefused
)

// SlackMessage is the answer to a Slack slash command
// (https://api.slack.com/interactivity/slash-commands#responding_to_commands).
type SlackMessage struct {
	ResponseType string       `json:"response_type"`
	Text         string       `json:"text"`
	Blocks       []SlackBlock `json:"blocks"`
}

// SlackBlock is a Block Kit section (Text) or context (Elements) block.
type SlackBlock struct {
	Type     string      `json:"type"`
	Text     *SlackText  `json:"text,omitempty"`
	Elements []SlackText `json:"elements,omitempty"`
}

// SlackText is a Block Kit text object.
type SlackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// TeamsMessage is the answer to a Teams outgoing webhook.
type TeamsMessage struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Render returns the JSON-ready answer to o at now: a SlackMessage (ephemeral, with a section
// block and, when a problem carries Graph's identifiers, a context block with them in small
// print) for Slack, a TeamsMessage for Teams. Any other platform gets the Slack shape.
func Render(p Platform, o Outcome, now time.Time) any {
	st := styles[Slack]
	if p == Teams {
		st = styles[Teams]
	}
	now = now.UTC()
	paragraphs, note := compose(st, o, now)
	if o.Tenant != "" {
		paragraphs[0] = st.echoed(o.Tenant) + ": " + paragraphs[0]
	}
	text := strings.Join(paragraphs, st.paragraphBreak)
	if p == Teams {
		if note != "" {
			text += st.paragraphBreak + note
		}
		return TeamsMessage{Type: "message", Text: text}
	}
	blocks := []SlackBlock{{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: clip(text, slackSectionLimit)}}}
	if note != "" {
		blocks = append(blocks, SlackBlock{Type: "context", Elements: []SlackText{{Type: "mrkdwn", Text: clip(note, slackSectionLimit)}}})
	}
	return SlackMessage{ResponseType: "ephemeral", Text: text, Blocks: blocks}
}

// slackSectionLimit is the most characters Slack takes in a section's text.
const slackSectionLimit = 3000

// clip shortens s to at most limit runes, marking the cut.
func clip(s string, limit int) string {
	r := []rune(s)
	if len(r) <= limit {
		return s
	}
	return string(r[:limit-1]) + "…"
}

// style is how a platform marks up answer text.
type style struct {
	// code marks a command word.
	code func(word string) string
	// paragraphBreak separates paragraphs.
	paragraphBreak string
	// deadline is how long the platform waits for an answer.
	deadline string
	// syncExample shows how to reach the sync function.
	syncExample string
	// echo makes text that came from outside (a tenant word, a value Graph added) inert in the
	// platform's markup; esc only escapes HTML, for our own details, which may use Markdown.
	echo *strings.Replacer
}

var styles = map[Platform]style{
	Slack: {
		code:           func(w string) string { return "`" + w + "`" },
		paragraphBreak: "\n",
		deadline:       "the 3 seconds Slack allows",
		syncExample:    "`/autopilot-sync sync`",
		echo:           slackEscaper,
	},
	Teams: {
		code:           func(w string) string { return "**" + w + "**" },
		paragraphBreak: "\n\n",
		deadline:       "the 5 seconds Teams allows",
		syncExample:    "**@autopilot-sync sync**",
		echo:           teamsEscaper,
	},
}

var (
	// slackEscaper escapes Slack mrkdwn as Slack documents: &, < and > (Slack would otherwise
	// read <!channel> or <url|label>).
	slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	// teamsEscaper escapes the HTML and the Markdown that a Teams message renders: entities for
	// &, < and >, a backslash before every Markdown mark ([label](url) links, emphasis, code,
	// headings, lists, tables).
	teamsEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;",
		`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "{", `\{`, "}", `\}`, "[", `\[`, "]", `\]`,
		"(", `\(`, ")", `\)`, "#", `\#`, "+", `\+`, "-", `\-`, "!", `\!`, "|", `\|`, "~", `\~`)
)

func (style) esc(s string) string { return slackEscaper.Replace(s) }

func (st style) echoed(s string) string { return st.echo.Replace(s) }

// intuneHint says where to look when a sync failed.
const intuneHint = "check Windows Autopilot devices in the Intune admin center"

// compose returns the answer's paragraphs (at least one) and its small print.
func compose(st style, o Outcome, now time.Time) (paragraphs []string, note string) {
	switch {
	case o.TimedOut:
		return []string{timedOut(st, o.Action)}, ""
	case o.Problem != nil && o.Action == ActionStatus && o.Problem.Code == problem.SyncThrottled:
		// Graph throttled a read: the 10-minute rule of manual syncs has nothing to do with it.
		return []string{"Microsoft Graph is throttling requests right now; try " + st.code("status") + " again in a minute."}, graphNote(st, o.Problem.Graph)
	case o.Problem != nil:
		return []string{problemText(st, o.Problem, now)}, graphNote(st, o.Problem.Graph)
	}
	switch o.Action {
	case ActionSync:
		return []string{syncText(st, o, now)}, ""
	case ActionStatus:
		if o.Status == nil {
			return []string{"No status is available right now; try " + st.code("status") + " again in a minute."}, ""
		}
		return statusText(st, *o.Status, now), ""
	case ActionSyncNotHere:
		return []string{"This command only reads status. Use the sync command (e.g. " + st.syncExample + ") to start a sync."}, ""
	}
	return helpText(st), ""
}

func timedOut(st style, action string) string {
	if action == ActionSync {
		return "Microsoft Graph has not answered within " + st.deadline + "; the sync may or may not have started. Check with " + st.code("status") + " in a minute."
	}
	return "Microsoft Graph has not answered within " + st.deadline + "; try " + st.code("status") + " again in a minute."
}

func syncText(st style, o Outcome, now time.Time) string {
	var b strings.Builder
	switch o.Result {
	case autopilot.Completed, autopilot.Failed:
		at := now
		if o.Status != nil && !o.Status.LastSyncDateTime.IsZero() {
			at = o.Status.LastSyncDateTime
		}
		if o.Result == autopilot.Completed {
			fmt.Fprintf(&b, "Sync of Windows Autopilot devices completed at %s.", past(at, now))
		} else {
			fmt.Fprintf(&b, "Sync of Windows Autopilot devices failed at %s: %s.", past(at, now), intuneHint)
		}
	case autopilot.InProgress:
		running := max(int(math.Round(now.Sub(o.RequestedAt).Seconds())), 0)
		fmt.Fprintf(&b, "Sync of Windows Autopilot devices started at %s; still running after %d s. Use %s to follow it.",
			past(o.RequestedAt, now), running, st.code("status"))
	default: // started
		fmt.Fprintf(&b, "Sync of Windows Autopilot devices started at %s.", past(o.RequestedAt, now))
	}
	if !o.NextSyncAllowedAt.IsZero() {
		fmt.Fprintf(&b, " Next manual sync allowed at %s.", future(o.NextSyncAllowedAt, now))
	}
	switch {
	case o.FollowUp == FollowUpComing:
		b.WriteString(" I will post here when it has finished.")
	case o.FollowUp == FollowUpRefused:
		b.WriteString(" No follow-up will come: this command's reply address is not an allowed one; use " + st.code("status") + " to follow it.")
	case o.Result != autopilot.Completed && o.Result != autopilot.Failed && o.Result != autopilot.InProgress:
		fmt.Fprintf(&b, " Use %s to follow it.", st.code("status"))
	}
	return b.String()
}

func statusText(st style, s autopilot.Status, now time.Time) []string {
	var lines []string
	last := ""
	if !s.LastSyncDateTime.IsZero() {
		last = fmt.Sprintf("%s (%s)", past(s.LastSyncDateTime, now), ago(now.Sub(s.LastSyncDateTime)))
	}
	switch {
	case s.SyncStatus == graph.SyncStatusCompleted && last != "":
		lines = append(lines, "Last sync completed at "+last+".")
	case s.SyncStatus == graph.SyncStatusCompleted:
		lines = append(lines, "Last sync completed.")
	case s.SyncStatus == graph.SyncStatusFailed && last != "":
		lines = append(lines, "Last sync failed at "+last+": "+intuneHint+".")
	case s.SyncStatus == graph.SyncStatusFailed:
		lines = append(lines, "Last sync failed: "+intuneHint+".")
	default:
		switch s.SyncStatus {
		case graph.SyncStatusInProgress:
			lines = append(lines, "A sync is running.")
		case graph.SyncStatusUnknown, "":
			lines = append(lines, "Sync status is unknown.")
		default: // a value Graph added later: shown as it is
			lines = append(lines, "Sync status: "+st.echoed(string(s.SyncStatus))+".")
		}
		if last != "" {
			lines = append(lines, "Last sync: "+last+".")
		} else {
			lines = append(lines, "No sync has been recorded yet.")
		}
	}
	if t := s.LastManualSyncTriggerDateTime; !t.IsZero() {
		lines = append(lines, fmt.Sprintf("Last manual sync requested at %s (%s).", past(t, now), ago(now.Sub(t))))
	} else {
		lines = append(lines, "No manual sync has been requested yet.")
	}
	next := s.NextManualSyncAllowedAt
	switch {
	case s.CanSyncNow:
		lines = append(lines, "You can sync now.")
	case next != nil && next.After(now):
		line := fmt.Sprintf("Next manual sync allowed in %s (%s)", in(next.Sub(now)), future(*next, now))
		if s.SyncStatus == graph.SyncStatusInProgress {
			line += ", once the running sync has finished"
		}
		lines = append(lines, line+".")
	case s.SyncStatus == graph.SyncStatusInProgress:
		lines = append(lines, "You can sync again once the running sync has finished.")
	default:
		lines = append(lines, "Next manual sync allowed in less than a minute.")
	}
	return lines
}

func problemText(st style, p *problem.Problem, now time.Time) string {
	switch p.Code {
	case problem.SyncInProgress:
		if t := p.LastManualSyncTriggerDateTime; t != nil && !t.IsZero() {
			return fmt.Sprintf("A sync is already running (started %s). Wait for it to finish.", past(*t, now))
		}
		return "A sync is already running. Wait for it to finish."
	case problem.SyncThrottled:
		const rule = "Intune allows one manual sync every 10 minutes."
		next := p.NextSyncAllowedAt
		if next == nil && p.RetryAfterSeconds > 0 {
			t := now.Add(time.Duration(p.RetryAfterSeconds) * time.Second)
			next = &t
		}
		if next == nil {
			return rule + " Try again in a few minutes."
		}
		return fmt.Sprintf("%s Next sync allowed in %s (%s).", rule, in(next.Sub(now)), future(*next, now))
	case problem.GraphPermissionDenied:
		return "The Graph app lacks permission: grant DeviceManagementServiceConfig.ReadWrite.All (application) and admin consent."
	case problem.GraphUnavailable, problem.UpstreamTimeout:
		return "Microsoft Graph is not answering right now; try again in a few minutes."
	case problem.SecretStoreUnavailable:
		return "Azure Key Vault, which holds autopilot-sync's credentials, is not answering right now; try again in a few minutes."
	case problem.GraphError:
		return "Microsoft Graph refused the request; ask autopilot-sync's operators to check the logs."
	case problem.CredentialRejected, problem.Misconfigured:
		return "autopilot-sync is not configured correctly; ask its operators to check the logs."
	}
	// unknownTenant, badRequest and anything else: the detail is written for the caller.
	if p.Detail != "" {
		return st.esc(p.Detail)
	}
	if p.Title != "" {
		return st.esc(p.Title) + "."
	}
	return "Something went wrong; ask autopilot-sync's operators to check the logs."
}

// graphNote is the small print admins quote to Microsoft support.
func graphNote(st style, g *problem.Graph) string {
	if g == nil || (g.RequestID == "" && g.ClientRequestID == "") {
		return ""
	}
	var parts []string
	for _, f := range []struct{ name, value string }{
		{"request-id", g.RequestID},
		{"client-request-id", g.ClientRequestID},
		{"date", g.Date},
	} {
		if f.value != "" {
			parts = append(parts, f.name+": "+st.esc(f.value))
		}
	}
	return "Microsoft Graph " + strings.Join(parts, " · ")
}

// past is the time of day of an event that happened, in UTC, to the minute (rounded down), with
// the date when it was not today.
func past(t, now time.Time) string { return clock(t.UTC().Truncate(time.Minute), now) }

// future is the time of day from which something is allowed, rounded up to the minute so that
// trying at the time shown never fails.
func future(t, now time.Time) string {
	t = t.UTC()
	if r := t.Truncate(time.Minute); r.Before(t) {
		t = r.Add(time.Minute)
	}
	return clock(t, now)
}

func clock(t, now time.Time) string {
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04 UTC")
	}
	return t.Format("2006-01-02 15:04 UTC")
}

// in says how long until something, in minutes rounded up.
func in(d time.Duration) string {
	if d < time.Minute {
		return "less than a minute"
	}
	minutes := int(math.Ceil(d.Minutes()))
	if minutes < 60 {
		return fmt.Sprintf("%d min", minutes)
	}
	if minutes%60 == 0 {
		return fmt.Sprintf("%d h", minutes/60)
	}
	return fmt.Sprintf("%d h %d min", minutes/60, minutes%60)
}

// ago says how long since something, rounded down.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute ago"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	case d < 48*time.Hour:
		return "1 day ago"
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func helpText(st style) []string {
	return []string{
		"Commands:",
		"• " + st.code("sync") + ": start a sync of Windows Autopilot devices (Intune allows one manual sync every 10 minutes)",
		"• " + st.code("sync wait") + ": start a sync and wait briefly for it to finish",
		"• " + st.code("status") + ": show the last sync and when the next manual sync is allowed",
		"• " + st.code("help") + ": show this list",
		"Add a tenant name to choose a tenant: " + st.code("sync contoso") + ", " + st.code("sync wait contoso") + ", " + st.code("status contoso") + ".",
	}
}
