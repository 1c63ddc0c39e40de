package chat

import (
	"encoding/json"
	"fmt"
	"html"
	"mime"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Platform is the chat service a request came from.
type Platform string

// The chat platforms.
const (
	Slack Platform = "slack"
	Teams Platform = "teams"
)

// The command words (Command.Action).
const (
	ActionSync   = "sync"
	ActionStatus = "status"
	ActionHelp   = "help"
)

// waitWord asks the sync command to wait briefly for the sync to finish.
const waitWord = "wait"

// Command is a chat request: which platform asked, and what for.
type Command struct {
	Platform Platform
	// Action is ActionSync, ActionStatus or ActionHelp (empty text, "help", or anything not
	// understood).
	Action string
	// Wait is set by "sync wait".
	Wait bool
	// Tenant is the optional tenant word of SPEC §11 ("sync contoso", "status contoso",
	// "sync wait contoso"), lower-cased and not yet checked against the registry. Only a word
	// shaped like a registry name ([a-z0-9-], 1–63) or a GUID is kept; any other word sets
	// BadTenant instead, and is never echoed.
	Tenant    string
	BadTenant bool
	// Sent is the Teams activity's timestamp (zero when absent or not RFC 3339).
	Sent time.Time
	// User is who asked (Slack user_name, Teams from.name), for logs and answers; never a secret.
	User string
	// ResponseURL is a Slack slash command's response_url, where a follow-up may post later
	// (SPEC §13). It is a credential for logging purposes: String hides it.
	ResponseURL string
}

// String describes cmd without its response_url.
func (cmd Command) String() string {
	return fmt.Sprintf("%s %s command (tenant %q, wait %v)", cmd.Platform, cmd.Action, cmd.Tenant, cmd.Wait)
}

// Parse recognises a chat request from its Content-Type and raw body:
//   - Slack: application/x-www-form-urlencoded with a non-empty `command` field; the words are
//     in `text`.
//   - Teams: application/json holding an activity whose "type" is "message"; the words are in
//     "text", after the <at>…</at> mention of the webhook, with HTML tags and entities (&nbsp;)
//     removed.
//
// ok is false for anything else (ticketing webhooks, other JSON, malformed bodies). Words are
// case-insensitive and may be separated by any white space; text that is not a command gives
// Action "help".
func Parse(contentType string, body []byte) (cmd Command, ok bool) {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return Command{}, false
	}
	switch mediaType {
	case "application/x-www-form-urlencoded":
		return ParseSlack(body)
	case "application/json":
		return ParseTeams(body)
	}
	return Command{}, false
}

// ParseSlack reads body as a slash command
// (https://api.slack.com/interactivity/slash-commands#app_command_handling), whatever its
// Content-Type: a body that a Slack signature covers is acted on only as Slack. ok is false
// for a body that is not a form with a non-empty `command`.
func ParseSlack(body []byte) (Command, bool) {
	form, err := url.ParseQuery(string(body))
	if err != nil || strings.TrimSpace(form.Get("command")) == "" {
		return Command{}, false
	}
	cmd := words(strings.Fields(form.Get("text")))
	cmd.Platform, cmd.User, cmd.ResponseURL = Slack, form.Get("user_name"), form.Get("response_url")
	return cmd, true
}

// IsSlackSSLCheck reports whether body is Slack's SSL check of a slash command's URL
// (ssl_check=1), which expects an empty 200.
func IsSlackSSLCheck(body []byte) bool {
	form, err := url.ParseQuery(string(body))
	return err == nil && form.Get("ssl_check") == "1"
}

// activity is the part of a Teams outgoing-webhook activity that Parse reads
// (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-outgoing-webhook).
type activity struct {
	Type      string `json:"type"`
	Text      string `json:"text"`
	Timestamp string `json:"timestamp"`
	From      struct {
		Name string `json:"name"`
	} `json:"from"`
}

var (
	// mention is an <at>Name</at> mention, the webhook's own name included.
	mention = regexp.MustCompile(`(?is)<at(?:\s[^>]*)?>.*?</at\s*>`)
	// tag is any other HTML tag (<p>, </div>, <br/>): it separates words.
	tag = regexp.MustCompile(`<[^>]*>`)
)

// ParseTeams reads body as a Teams outgoing-webhook activity of type message, whatever its
// Content-Type: a body that a Teams signature covers is acted on only as Teams.
func ParseTeams(body []byte) (Command, bool) {
	var a activity
	if err := json.Unmarshal(body, &a); err != nil || !strings.EqualFold(a.Type, "message") {
		return Command{}, false
	}
	text := mention.ReplaceAllString(a.Text, " ")
	text = tag.ReplaceAllString(text, " ")
	// strings.Fields splits on U+00A0 too, which is what &nbsp; becomes.
	cmd := words(strings.Fields(html.UnescapeString(text)))
	cmd.Platform, cmd.User = Teams, a.From.Name
	if t, err := time.Parse(time.RFC3339Nano, a.Timestamp); err == nil {
		cmd.Sent = t
	}
	return cmd, true
}

// words reads the command words: "help", "sync [wait] [tenant]" (wait and the tenant in either
// order), "status [tenant]". Anything else asks for help.
func words(ws []string) Command {
	help := Command{Action: ActionHelp}
	if len(ws) == 0 {
		return help
	}
	for i, w := range ws {
		ws[i] = strings.ToLower(w)
	}
	switch ws[0] {
	case ActionStatus:
		switch len(ws) {
		case 1:
			return Command{Action: ActionStatus}
		case 2:
			return withTenant(Command{Action: ActionStatus}, ws[1])
		}
	case ActionSync:
		cmd := Command{Action: ActionSync}
		for _, w := range ws[1:] {
			switch {
			case w == waitWord && !cmd.Wait:
				cmd.Wait = true
			case cmd.Tenant == "" && !cmd.BadTenant:
				cmd = withTenant(cmd, w)
			default:
				return help
			}
		}
		return cmd
	}
	return help
}

var (
	tenantName = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)
	tenantGUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// withTenant sets the tenant word when it is shaped like a registry name or a GUID (the words
// are lower-cased already), and BadTenant otherwise.
func withTenant(cmd Command, word string) Command {
	if tenantName.MatchString(word) || tenantGUID.MatchString(word) {
		cmd.Tenant = word
	} else {
		cmd.BadTenant = true
	}
	return cmd
}
