package notify

import (
	"fmt"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/jsonenc"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// words are the plain-words report of n at now, in style st: one paragraph, without the tenant
// word, which chat's reply builders put in front.
func words(st chat.Style, n followup.Notice, now time.Time) chat.Words {
	return chat.Words{Paragraphs: []string{text(st, n, now)}}
}

// text is words' one paragraph.
func text(st chat.Style, n followup.Notice, now time.Time) string {
	now = now.UTC()
	status := st.Code("status")
	if n.Tenant != "" {
		status = st.Code("status " + st.Echo(n.Tenant))
	}
	o := n.Outcome
	switch {
	case len(n.Serials) > 0:
		return devicesText(st, n, now) // devices.go
	case o == nil && n.Waiting:
		return fmt.Sprintf("No sync has started yet after %d min: Intune allowed none; I will keep trying, check later with %s.", int(now.Sub(n.RequestedAt).Minutes()), status)
	case o == nil:
		return fmt.Sprintf("Still running after %d min; check later with %s.", int(now.Sub(n.RequestedAt).Minutes()), status)
	case n.Waiting && o.Result == autopilot.TimedOut:
		return fmt.Sprintf("The sync requested at %s could not start within %s: Intune allowed none (a sync kept running, or one ran every 10 minutes); ask again later.",
			chat.Past(n.RequestedAt, now), chat.Took(o.At.Sub(n.RequestedAt)))
	case n.Waiting: // autopilot.Error
		return fmt.Sprintf("The sync requested at %s did not start: %s.", chat.Past(n.RequestedAt, now), meaning(o.Code))
	case o.Result == autopilot.Completed, o.Result == autopilot.Failed:
		at, took := o.At, ""
		if o.LastSyncDateTime != nil {
			at = *o.LastSyncDateTime
		}
		if o.SyncDurationSeconds != nil {
			took = ", " + chat.Took(time.Duration(*o.SyncDurationSeconds)*time.Second) + " after it was requested"
		}
		if o.Result == autopilot.Completed {
			return fmt.Sprintf("Sync completed at %s%s.", chat.Past(at, now), took)
		}
		return fmt.Sprintf("Sync failed at %s%s: %s.", chat.Past(at, now), took, chat.IntuneHint)
	case o.Result == autopilot.TimedOut:
		return fmt.Sprintf("The sync requested at %s has not finished after %s; check later with %s.",
			chat.Past(n.RequestedAt, now), chat.Took(o.At.Sub(n.RequestedAt)), status)
	}
	// autopilot.Error
	return fmt.Sprintf("The outcome of the sync requested at %s is unknown: %s.", chat.Past(n.RequestedAt, now), meaning(o.Code))
}

// meaning is the plain meaning of the problem code that ended a follow-up: never an internal
// error.
func meaning(code problem.Code) string {
	switch code {
	case problem.GraphPermissionDenied:
		return "the Graph app may no longer read Windows Autopilot settings (grant " + graph.PermissionRead + ")"
	case problem.UnknownTenant:
		return "the tenant is no longer in autopilot-sync's tenant registry"
	case problem.GraphError:
		return "Microsoft Graph refused to read the Windows Autopilot settings"
	case problem.GraphUnavailable, problem.UpstreamTimeout:
		return "Microsoft Graph did not answer"
	case problem.SecretStoreUnavailable:
		return "Azure Key Vault, which holds autopilot-sync's credentials, did not answer"
	}
	return "autopilot-sync could not read the settings; ask its operators to check the logs"
}

// SlackBody is the POST to a response_url reporting n at now: chat's ephemeral answer about
// n.Tenant (chat.SlackReply, within Block Kit's limits), set to add to, and not replace, the
// command's first answer (https://api.slack.com/interactivity/handling#message_responses).
func SlackBody(n followup.Notice, now time.Time) ([]byte, error) {
	m := chat.SlackReply(words(chat.Slack, n, now), n.Tenant)
	replace := false
	m.ReplaceOriginal = &replace
	return jsonenc.Marshal(m)
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
	if o := n.Outcome; len(n.Serials) > 0 {
		title, color = devicesTitle(o) // devices.go
	} else if o != nil {
		switch o.Result {
		case autopilot.Completed:
			title, color = "Windows Autopilot sync completed", "good"
		case autopilot.Failed:
			title, color = "Windows Autopilot sync failed", "attention"
		default:
			title, color = "Windows Autopilot sync: no outcome", "warning"
		}
	}
	return jsonenc.Marshal(teamsMessage{
		Type: "message",
		Attachments: []teamsAttachment{{
			ContentType: "application/vnd.microsoft.card.adaptive",
			Content: teamsCard{
				Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
				Type:    "AdaptiveCard",
				Version: "1.4",
				Body: []teamsTextBlock{
					{Type: "TextBlock", Text: title, Wrap: true, Weight: "bolder", Color: color},
					{Type: "TextBlock", Text: chat.CardText(words(chat.Card, n, now), n.Tenant), Wrap: true},
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
	if o.Devices != nil {
		return devicesBody(n, tenantID) // devices.go
	}
	d := CallbackData{Tenant: n.Tenant, Result: string(o.Result), RequestedAt: rfc3339(n.RequestedAt),
		SyncDurationSeconds: o.SyncDurationSeconds, Code: string(o.Code)}
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
	return jsonenc.Marshal(CallbackEvent{Type: "autopilot.sync." + string(o.Result), Timestamp: rfc3339(o.At), Data: d})
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
