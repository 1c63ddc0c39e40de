package chat

import (
	"strings"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
)

// Style is how a platform marks up plain words: command words, paragraphs, and text that came
// from outside (a tenant word, a value Graph added), which must stay inert in the platform's
// markup.
type Style struct {
	code func(word string) string
	// paragraphBreak separates paragraphs.
	paragraphBreak string
	// deadline is how long the platform waits for an answer, in words.
	deadline string
	// syncExample shows how to reach the sync command.
	syncExample string
	// echo makes outside text inert; esc only escapes what would break the markup, for our own
	// details (which may use Markdown).
	echo, esc *strings.Replacer
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
	// cardEscaper escapes an Adaptive Card TextBlock's Markdown subset (no HTML there): its
	// punctuation backslash-escaped.
	cardEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`,
		"(", `\(`, ")", `\)`, "#", `\#`, "+", `\+`, "!", `\!`, "|", `\|`, "<", `\<`, ">", `\>`, "~", `\~`)
)

// The styles.
var (
	// Slack is Slack's mrkdwn, for slash-command answers and response_url posts.
	Slack = Style{
		code:           func(w string) string { return "`" + w + "`" },
		paragraphBreak: "\n",
		deadline:       "the 3 seconds Slack allows",
		syncExample:    "`/autopilot-sync sync`",
		echo:           slackEscaper,
		esc:            slackEscaper,
	}
	// Teams is a Teams outgoing webhook's answer: HTML and Markdown.
	Teams = Style{
		code:           func(w string) string { return "**" + w + "**" },
		paragraphBreak: "\n\n",
		deadline:       "the 5 seconds Teams allows",
		syncExample:    "**@autopilot-sync sync**",
		echo:           teamsEscaper,
		esc:            slackEscaper,
	}
	// Card is an Adaptive Card TextBlock, as posted to a Teams Workflows webhook: a report, not
	// an answer to a command, so it has no Deadline and no SyncExample.
	Card = Style{
		code:           func(w string) string { return "**" + w + "**" },
		paragraphBreak: "\n\n",
		echo:           cardEscaper,
		esc:            cardEscaper,
	}
)

// StyleOf returns the style of a chat platform's answers: Teams for autopilot.SourceTeams, Slack
// for any other.
func StyleOf(platform autopilot.Source) Style {
	if platform == autopilot.SourceTeams {
		return Teams
	}
	return Slack
}

// Code marks a command word (which may hold an echoed word, escaped by the caller).
func (st Style) Code(word string) string { return st.code(word) }

// Echo makes text that came from outside inert in the platform's markup.
func (st Style) Echo(text string) string { return st.echo.Replace(text) }

// Esc escapes our own text, which may use the platform's Markdown, so that it cannot break the
// markup (a detail that names "<name>").
func (st Style) Esc(text string) string { return st.esc.Replace(text) }

// Deadline says how long the platform waits for an answer ("the 3 seconds Slack allows").
func (st Style) Deadline() string { return st.deadline }

// SyncExample shows how to reach the sync command on the platform.
func (st Style) SyncExample() string { return st.syncExample }
