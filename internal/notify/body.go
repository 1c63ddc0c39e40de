package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/followup"
)

// markup is how a platform marks up the plain words.
type markup struct {
	code func(word string) string
	esc  func(text string) string
}

var (
	// Slack mrkdwn: &, < and > escaped, so echoed text can never become <!channel> or a link.
	slackMarkup = markup{
		code: func(w string) string { return "`" + w + "`" },
		esc:  strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace,
	}
	// Adaptive Card TextBlock markdown: its punctuation backslash-escaped.
	teamsMarkup = markup{
		code: func(w string) string { return "**" + w + "**" },
		esc:  teamsEscaper.Replace,
	}
	teamsEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`,
		"(", `\(`, ")", `\)`, "#", `\#`, "+", `\+`, "!", `\!`, "|", `\|`, "<", `\<`, ">", `\>`, "~", `\~`)
)

// text is the plain-words report of n at now.
func text(mk markup, n followup.Notice, now time.Time) string {
	now = now.UTC()
	status := mk.code("status")
	if n.Tenant != "" {
		status = mk.code("status " + mk.esc(n.Tenant))
	}
	var s string
	o := n.Outcome
	switch {
	case o == nil:
		s = fmt.Sprintf("Still running after %d min; check later with %s.", int(now.Sub(n.RequestedAt).Minutes()), status)
	case o.Result == followup.Completed, o.Result == followup.Failed:
		at, took := o.At, ""
		if o.LastSyncDateTime != nil {
			at = *o.LastSyncDateTime
		}
		if o.SyncDurationSeconds != nil {
			took = ", " + duration(time.Duration(*o.SyncDurationSeconds)*time.Second) + " after it was requested"
		}
		if o.Result == followup.Completed {
			s = fmt.Sprintf("Sync completed at %s%s.", clock(at, now), took)
		} else {
			s = fmt.Sprintf("Sync failed at %s%s: check Windows Autopilot devices in the Intune admin center.", clock(at, now), took)
		}
	case o.Result == followup.TimedOut:
		s = fmt.Sprintf("The sync requested at %s has not finished after %s; check later with %s.",
			clock(n.RequestedAt, now), duration(o.At.Sub(n.RequestedAt)), status)
	default: // followup.Error
		s = fmt.Sprintf("The outcome of the sync requested at %s is unknown: %s.", clock(n.RequestedAt, now), meaning(o.Code))
	}
	if n.Tenant != "" {
		s = mk.esc(n.Tenant) + ": " + s
	}
	return s
}

// meaning is the plain meaning of the problem code that ended a follow-up: never an internal
// error.
func meaning(code string) string {
	switch code {
	case "graphPermissionDenied":
		return "the Graph app may no longer read Windows Autopilot settings (grant DeviceManagementServiceConfig.Read.All)"
	case "unknownTenant":
		return "the tenant is no longer in autopilot-sync's tenant registry"
	case "graphError":
		return "Microsoft Graph refused to read the Windows Autopilot settings"
	case "graphUnavailable", "upstreamTimeout":
		return "Microsoft Graph did not answer"
	case "secretStoreUnavailable":
		return "Azure Key Vault, which holds autopilot-sync's credentials, did not answer"
	}
	return "autopilot-sync could not read the settings; ask its operators to check the logs"
}

// clock is a time of day in UTC, to the minute, with the date when it is not now's.
func clock(t, now time.Time) string {
	t = t.UTC().Truncate(time.Minute)
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04 UTC")
	}
	return t.Format("2006-01-02 15:04 UTC")
}

// duration says how long something took, in minutes rounded down.
func duration(d time.Duration) string {
	minutes := int(d / time.Minute)
	switch {
	case minutes < 1:
		return "less than a minute"
	case minutes < 60:
		return fmt.Sprintf("%d min", minutes)
	case minutes%60 == 0:
		return fmt.Sprintf("%d h", minutes/60)
	}
	return fmt.Sprintf("%d h %d min", minutes/60, minutes%60)
}

// slackMessage is a message posted to a response_url
// (https://api.slack.com/interactivity/handling#message_responses).
type slackMessage struct {
	ResponseType    string       `json:"response_type"`
	ReplaceOriginal bool         `json:"replace_original"`
	Text            string       `json:"text"`
	Blocks          []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type string    `json:"type"`
	Text slackText `json:"text"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// SlackBody is the POST to a response_url reporting n at now: an ephemeral message that adds
// to, and does not replace, the command's first answer.
func SlackBody(n followup.Notice, now time.Time) ([]byte, error) {
	t := text(slackMarkup, n, now)
	return marshal(slackMessage{
		ResponseType: "ephemeral",
		Text:         t,
		Blocks:       []slackBlock{{Type: "section", Text: slackText{Type: "mrkdwn", Text: t}}},
	})
}

// teamsMessage is what a Teams Workflows flow "When a Teams webhook request is received"
// takes: a message with one Adaptive Card attachment.
type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string    `json:"contentType"`
	ContentURL  *string   `json:"contentUrl"`
	Content     teamsCard `json:"content"`
}

type teamsCard struct {
	Schema  string           `json:"$schema"`
	Type    string           `json:"type"`
	Version string           `json:"version"`
	Body    []teamsTextBlock `json:"body"`
}

type teamsTextBlock struct {
	Type   string `json:"type"`
	Text   string `json:"text"`
	Wrap   bool   `json:"wrap"`
	Weight string `json:"weight,omitempty"`
	Color  string `json:"color,omitempty"`
}

// TeamsBody is the POST to the Teams Workflows URL reporting n at now: an Adaptive Card 1.4
// with a title and the outcome in plain words.
func TeamsBody(n followup.Notice, now time.Time) ([]byte, error) {
	title, color := "Windows Autopilot sync", "default"
	if o := n.Outcome; o != nil {
		switch o.Result {
		case followup.Completed:
			title, color = "Windows Autopilot sync completed", "good"
		case followup.Failed:
			title, color = "Windows Autopilot sync failed", "attention"
		default:
			title, color = "Windows Autopilot sync: no outcome", "warning"
		}
	}
	return marshal(teamsMessage{
		Type: "message",
		Attachments: []teamsAttachment{{
			ContentType: "application/vnd.microsoft.card.adaptive",
			Content: teamsCard{
				Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
				Type:    "AdaptiveCard",
				Version: "1.4",
				Body: []teamsTextBlock{
					{Type: "TextBlock", Text: title, Wrap: true, Weight: "bolder", Color: color},
					{Type: "TextBlock", Text: text(teamsMarkup, n, now), Wrap: true},
				},
			},
		}},
	})
}

// CallbackEvent is the body of an HTTP callback (SPEC §13), also the OpenAPI webhooks entry.
type CallbackEvent struct {
	// Type is autopilot.sync.completed, .failed, .timedOut or .error.
	Type string `json:"type"`
	// Timestamp is when the outcome was found (RFC 3339): the same on every retry.
	Timestamp string       `json:"timestamp"`
	Data      CallbackData `json:"data"`
}

// CallbackData is a callback's data. Fields not known for an outcome are null (code is
// present for an error only).
type CallbackData struct {
	Tenant              string  `json:"tenant"`
	Result              string  `json:"result"`
	RequestedAt         string  `json:"requestedAt"`
	LastSyncDateTime    *string `json:"lastSyncDateTime"`
	SyncStatus          *string `json:"syncStatus"`
	SyncDurationSeconds *int64  `json:"syncDurationSeconds"`
	Code                string  `json:"code,omitempty"`
}

// CallbackBody is the body of the callback reporting n's outcome. tenant names the tenant:
// n.Tenant (the registry name), or when that is empty the given tenant id. The body is the
// same on every retry of the follow-up.
func CallbackBody(n followup.Notice, tenantID string) ([]byte, error) {
	o := n.Outcome
	if o == nil {
		return nil, fmt.Errorf("notify: a callback reports outcomes only")
	}
	d := CallbackData{Tenant: n.Tenant, Result: string(o.Result), RequestedAt: rfc3339(n.RequestedAt),
		SyncDurationSeconds: o.SyncDurationSeconds, Code: o.Code}
	if d.Tenant == "" {
		d.Tenant = tenantID
	}
	if o.LastSyncDateTime != nil {
		s := rfc3339(*o.LastSyncDateTime)
		d.LastSyncDateTime = &s
	}
	if o.SyncStatus != "" {
		d.SyncStatus = &o.SyncStatus
	}
	return marshal(CallbackEvent{Type: "autopilot.sync." + string(o.Result), Timestamp: rfc3339(o.At), Data: d})
}

// marshal is json.Marshal without HTML escaping: the escaped markup stays as it is (&lt;,
// not \u0026lt;), which keeps bodies short and readable.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
