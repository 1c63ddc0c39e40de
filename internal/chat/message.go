package chat

import (
	"strings"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/jsonenc"
)

// Words are an answer in plain words, already marked up in a Style: paragraphs (at least one)
// and small print (the identifiers an admin quotes to Microsoft support).
type Words struct {
	Paragraphs []string
	Note       string
}

// Text is the words as one text: the paragraphs, then the note.
func (w Words) Text(st Style) string {
	text := strings.Join(w.Paragraphs, st.paragraphBreak)
	if w.Note != "" {
		text += st.paragraphBreak + w.Note
	}
	return text
}

// SlackTextLimit is Block Kit's limit (https://docs.slack.dev/reference/block-kit/blocks): a
// section's or context element's text holds at most 3,000 characters.
const SlackTextLimit = 3000

// SlackMessage is a Slack message: the answer to a slash command
// (https://api.slack.com/interactivity/slash-commands#responding_to_commands), or a post to its
// response_url (then ReplaceOriginal is set to false, so that it adds to the first answer).
type SlackMessage struct {
	ResponseType    string       `json:"response_type"`
	ReplaceOriginal *bool        `json:"replace_original,omitempty"`
	Text            string       `json:"text"`
	Blocks          []SlackBlock `json:"blocks"`
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

// SlackReply is words as an ephemeral Slack message: a section block with the paragraphs and,
// when there is a note, a context block with it in small print; each within Block Kit's limit.
// tenant, when set, is the tenant word the answer is about: it leads the first paragraph,
// escaped.
func SlackReply(w Words, tenant string) SlackMessage {
	w = about(Slack, w, tenant)
	text := strings.Join(w.Paragraphs, Slack.paragraphBreak)
	blocks := []SlackBlock{{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: clip(text, SlackTextLimit)}}}
	if w.Note != "" {
		blocks = append(blocks, SlackBlock{Type: "context", Elements: []SlackText{{Type: "mrkdwn", Text: clip(w.Note, SlackTextLimit)}}})
	}
	return SlackMessage{ResponseType: "ephemeral", Text: text, Blocks: blocks}
}

// TeamsReply is words as a Teams message: the paragraphs, then the note. tenant as for
// SlackReply.
func TeamsReply(w Words, tenant string) TeamsMessage {
	return TeamsMessage{Type: "message", Text: about(Teams, w, tenant).Text(Teams)}
}

// CardText is words as the text of an Adaptive Card TextBlock (a post to a Teams Workflows
// webhook): the paragraphs, then the note. tenant as for SlackReply.
func CardText(w Words, tenant string) string { return about(Card, w, tenant).Text(Card) }

// Reply encodes words as the answer to a command from platform (autopilot.SourceSlack or
// autopilot.SourceTeams). Its error is encoding's (a text that is not valid UTF-8 is replaced,
// so in practice none).
func Reply(platform autopilot.Source, w Words, tenant string) ([]byte, error) {
	if platform == autopilot.SourceTeams {
		return jsonenc.Marshal(TeamsReply(w, tenant))
	}
	return jsonenc.Marshal(SlackReply(w, tenant))
}

// about leads the first paragraph with the tenant the answer is about.
func about(st Style, w Words, tenant string) Words {
	if tenant == "" || len(w.Paragraphs) == 0 {
		return w
	}
	paragraphs := append([]string{st.Echo(tenant) + ": " + w.Paragraphs[0]}, w.Paragraphs[1:]...)
	return Words{Paragraphs: paragraphs, Note: w.Note}
}

// clip shortens s to at most limit runes, marking the cut.
func clip(s string, limit int) string {
	r := []rune(s)
	if len(r) <= limit {
		return s
	}
	return string(r[:limit-1]) + "…"
}
