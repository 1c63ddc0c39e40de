package chat

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
)

// Command is a chat request: which platform asked, its command word and the words after it.
// What the words mean is the action's business (the action table declares each word and its
// arguments); this package only reads them.
type Command struct {
	// Platform is autopilot.SourceSlack or autopilot.SourceTeams.
	Platform autopilot.Source
	// Word is the first word, lower-cased; "" when the text holds no word.
	Word string
	// Args are the words after it, as typed, in order.
	Args []string
	// Sent is the Teams activity's timestamp (zero when absent or not RFC 3339).
	Sent time.Time
	// User is who asked (Slack user_name, Teams from.name), for logs; never a secret.
	User string
	// ResponseURL is a Slack slash command's response_url, where a follow-up may post later
	// (SPEC §13). It is a credential for logging purposes: String hides it.
	ResponseURL string
}

// String describes cmd without its response_url or its arguments (caller text).
func (cmd Command) String() string {
	return fmt.Sprintf("%s %q command with %d arguments", cmd.Platform, cmd.Word, len(cmd.Args))
}

// FromForm reads a Slack slash command
// (https://api.slack.com/interactivity/slash-commands#app_command_handling) from its parsed form
// body. ok is false for a form without a non-empty `command`.
func FromForm(form url.Values) (Command, bool) {
	if strings.TrimSpace(form.Get("command")) == "" {
		return Command{}, false
	}
	cmd := words(strings.Fields(form.Get("text")))
	cmd.Platform, cmd.User, cmd.ResponseURL = autopilot.SourceSlack, form.Get("user_name"), form.Get("response_url")
	return cmd, true
}

// IsSSLCheck reports whether a Slack form is Slack's check of a slash command's URL
// (ssl_check=1), which expects an empty 200.
func IsSSLCheck(form url.Values) bool { return form.Get("ssl_check") == "1" }

// Activity is the part of a Teams outgoing-webhook activity that a command is read from
// (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-outgoing-webhook).
// A JSON request body is decoded once into a struct that embeds it.
type Activity struct {
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

// FromActivity reads the command of a Teams activity of type message; ok is false for any other
// activity. The words are in "text", after the <at>…</at> mention of the webhook, with HTML tags
// and entities (&nbsp;) removed.
func FromActivity(a Activity) (Command, bool) {
	if !strings.EqualFold(a.Type, "message") {
		return Command{}, false
	}
	text := mention.ReplaceAllString(a.Text, " ")
	text = tag.ReplaceAllString(text, " ")
	// strings.Fields splits on U+00A0 too, which is what &nbsp; becomes.
	cmd := words(strings.Fields(html.UnescapeString(text)))
	cmd.Platform, cmd.User = autopilot.SourceTeams, a.From.Name
	if t, err := time.Parse(time.RFC3339Nano, a.Timestamp); err == nil {
		cmd.Sent = t
	}
	return cmd, true
}

// words splits the text into the command word, lower-cased, and its arguments, as typed.
func words(ws []string) Command {
	if len(ws) == 0 {
		return Command{}
	}
	return Command{Word: strings.ToLower(ws[0]), Args: ws[1:]}
}
