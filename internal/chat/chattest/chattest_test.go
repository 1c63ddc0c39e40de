package chattest

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestSchemaIsUpstream pins the embedded schema to the file of microsoft/AdaptiveCards by its git
// blob id (testdata/README.md): an edited copy would make every check below meaningless.
func TestSchemaIsUpstream(t *testing.T) {
	t.Parallel()
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(cardSchemaJSON))
	h.Write(cardSchemaJSON)
	if got, want := hex.EncodeToString(h.Sum(nil)), "a65f7af69e84f7fddd39880a29115da427ed5e58"; got != want {
		t.Errorf("testdata/adaptive-card-1.4.json is blob %s, want upstream's %s", got, want)
	}
	if _, err := cardSchema(); err != nil {
		t.Fatal(err)
	}
}

// workflows wraps card in the Workflows message, as the product sends it.
func workflows(card string) string {
	return `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":` + card + `}]}`
}

// card is a 1.4 card with body.
func card(body string) string {
	return `{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[` + body + `]}`
}

const title = `{"type":"TextBlock","text":"Windows Autopilot sync failed","wrap":true,"weight":"bolder","color":"attention"}`

// TestCardProblems: the checker passes what Teams takes and fails, for the reason named, what it
// does not; the schema cases show it validates rather than passing anything.
func TestCardProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want string // "" when the body is fine; else a part of the problem
	}{
		{"title and text", workflows(card(title + `,{"type":"TextBlock","text":"contoso: Sync failed at 17:09 UTC.","wrap":true}`)), ""},
		{"other 1.4 text options", workflows(card(`{"type":"TextBlock","text":"x","size":"large","isSubtle":true,"spacing":"small","separator":true,"fontType":"monospace","horizontalAlignment":"center","maxLines":2}`)), ""},
		{"empty text is the schema's business", workflows(card(`{"type":"TextBlock","text":""}`)), ""},
		{"two cards", `{"type":"message","attachments":[` +
			`{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":` + card(title) + `},` +
			`{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":` + card(title) + `}]}`, ""},

		{"unknown element type", workflows(card(`{"type":"Fancy","text":"x"}`)), `at '/body/0': no Adaptive Cards 1.4 type matches its "type"`},
		{"TextBlock without text", workflows(card(`{"type":"TextBlock","wrap":true}`)), "at '/body/0': missing property 'text'"},
		{"TextBlock text not a string", workflows(card(`{"type":"TextBlock","text":42}`)), "at '/body/0/text'"},
		{"unknown TextBlock property", workflows(card(`{"type":"TextBlock","text":"x","colour":"good"}`)), "additional properties 'colour' not allowed"},
		{"unknown colour", workflows(card(`{"type":"TextBlock","text":"x","color":"purple"}`)), "at '/body/0/color'"},
		{"unknown weight", workflows(card(`{"type":"TextBlock","text":"x","weight":"heavy"}`)), "at '/body/0/weight'"},
		{"wrap not a boolean", workflows(card(`{"type":"TextBlock","text":"x","wrap":"yes"}`)), "at '/body/0/wrap'"},
		{"a 1.5 element", workflows(card(`{"type":"Table","columns":[],"rows":[]}`)), "no Adaptive Cards 1.4 type matches"},
		{"unknown card property", workflows(`{"type":"AdaptiveCard","version":"1.4","body":[` + title + `],"summary":"x"}`), "additional properties 'summary' not allowed"},
		{"not a card", workflows(`{"type":"HeroCard","version":"1.4","body":[` + title + `]}`), "no Adaptive Cards 1.4 type matches"},
		{"content not an object", workflows(`"hello"`), "does not validate"},

		{"version 1.5", workflows(`{"type":"AdaptiveCard","version":"1.5","body":[` + title + `]}`), `content.version: want "1.4", got "1.5"`},
		{"no version", workflows(`{"type":"AdaptiveCard","body":[` + title + `]}`), `content.version: want "1.4", got nothing`},
		{"no type", workflows(`{"version":"1.4","body":[` + title + `]}`), `content.type: want "AdaptiveCard"`},
		{"empty body", workflows(card(``)), "content.body: want a non-empty array"},
		{"no body", workflows(`{"type":"AdaptiveCard","version":"1.4"}`), "content.body: want a non-empty array"},

		{"not JSON", `type=message`, "not a JSON object"},
		{"a card without its envelope", card(title), `unexpected member "$schema"`},
		{"message type in capitals", strings.Replace(workflows(card(title)), `"type":"message"`, `"type":"Message"`, 1), `message.type: want "message"`},
		{"summary beside the attachments", strings.Replace(workflows(card(title)), `{"type":"message",`, `{"type":"message","summary":"x",`, 1), `message: unexpected member "summary"`},
		{"no attachments", `{"type":"message","attachments":[]}`, "message.attachments: want a non-empty array"},
		{"text instead of attachments", `{"type":"message","text":"x"}`, "message.attachments: want a non-empty array of objects, got nothing"},
		{"another content type", strings.Replace(workflows(card(title)), "application/vnd.microsoft.card.adaptive", "application/vnd.microsoft.card.hero", 1), "attachments[0].contentType"},
		{"no contentUrl", strings.Replace(workflows(card(title)), `"contentUrl":null,`, ``, 1), "attachments[0].contentUrl: want null, got nothing"},
		{"a contentUrl", strings.Replace(workflows(card(title)), `"contentUrl":null`, `"contentUrl":"https://example.com/card.json"`, 1), "attachments[0].contentUrl: want null"},
		{"no content", `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null}]}`, "attachments[0].content: missing"},
		{"attachment name", strings.Replace(workflows(card(title)), `"contentUrl":null,`, `"contentUrl":null,"name":"x",`, 1), `attachments[0]: unexpected member "name"`},
		{"over 28 KB", workflows(card(`{"type":"TextBlock","text":"` + strings.Repeat("x", 28<<10) + `"}`)), "over the Teams connector's 28 KB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkProblems(t, cardProblems([]byte(tt.body)), tt.want)
		})
	}
}

func TestTeamsReplyProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{"text", `{"type":"message","text":"contoso: A sync is already running."}`, ""},
		{"no text", `{"type":"message"}`, "message.text: want a non-empty string"},
		{"blank text", `{"type":"message","text":" \n"}`, "message.text: want a non-empty string"},
		{"another type", `{"type":"typing","text":"x"}`, `message.type: want "message"`},
		{"a card", workflows(card(title)), `unexpected member "attachments"`},
		{"not JSON", `x`, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkProblems(t, teamsReplyProblems([]byte(tt.body)), tt.want)
		})
	}
}

// slackMessage is a Slack message with blocks (JSON objects, joined).
func slackMessage(blocks ...string) string {
	return `{"response_type":"ephemeral","text":"x","blocks":[` + strings.Join(blocks, ",") + `]}`
}

// mrkdwn is a section block of mrkdwn text s.
func mrkdwn(s string) string {
	return `{"type":"section","text":{"type":"mrkdwn","text":` + quote(s) + `}}`
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestSlackProblems(t *testing.T) {
	t.Parallel()
	fifty := make([]string, 50)
	for i := range fifty {
		fifty[i] = mrkdwn(fmt.Sprint(i))
	}
	context := func(elements ...string) string {
		return `{"type":"context","elements":[` + strings.Join(elements, ",") + `]}`
	}
	text := `{"type":"mrkdwn","text":"x"}`
	tests := []struct {
		name string
		body string
		want string // "" when the body is fine; else a part of the problem
	}{
		{"section and context", slackMessage(mrkdwn("Sync started."), context(text)), ""},
		{"response_url post", `{"response_type":"ephemeral","replace_original":false,"text":"x","blocks":[` + mrkdwn("x") + `]}`, ""},
		{"in channel, no blocks", `{"response_type":"in_channel","text":"x"}`, ""},
		{"header, divider, fields", slackMessage(`{"type":"header","text":{"type":"plain_text","text":"Sync","emoji":true}}`, `{"type":"divider","block_id":"d1"}`,
			`{"type":"section","fields":[{"type":"mrkdwn","text":"a","verbatim":true},{"type":"plain_text","text":"b"}]}`), ""},
		{"50 blocks", slackMessage(fifty...), ""},
		{"3000 characters of two bytes each", slackMessage(mrkdwn(strings.Repeat("é", 3000))), ""},
		{"10 context elements", slackMessage(context(strings.Repeat(text+",", 9) + text)), ""},

		{"not JSON", `text=x`, "not a JSON object"},
		{"no text", `{"blocks":[` + mrkdwn("x") + `]}`, "message.text: want a string, got nothing"},
		{"empty text", `{"text":""}`, "message.text: empty"},
		{"text over 40,000", `{"text":"` + strings.Repeat("x", 40001) + `"}`, "message.text: 40001 characters, over the documented 40000"},
		{"response type public", `{"response_type":"public","text":"x"}`, "message.response_type"},
		{"replace_original a string", `{"replace_original":"false","text":"x"}`, "message.replace_original: want a boolean"},
		{"legacy attachments", `{"text":"x","attachments":[]}`, `message: unexpected member "attachments"`},
		{"blocks an object", `{"text":"x","blocks":{}}`, "message.blocks: want an array of objects"},
		{"51 blocks", slackMessage(append(fifty, mrkdwn("one more"))...), "message.blocks: 51 blocks, over the documented 50"},
		{"image block", slackMessage(`{"type":"image","image_url":"https://example.com/a.png","alt_text":"a"}`), `blocks[0]: block type "image" is not one this product sends`},
		{"block without type", slackMessage(`{"text":{"type":"mrkdwn","text":"x"}}`), "blocks[0]: block type nothing"},
		{"section accessory", slackMessage(`{"type":"section","text":{"type":"mrkdwn","text":"x"},"accessory":{"type":"button"}}`), `blocks[0]: unexpected member "accessory"`},
		{"section without text or fields", slackMessage(`{"type":"section"}`), "blocks[0]: a section needs text or fields"},
		{"section text of 3001 characters", slackMessage(mrkdwn(strings.Repeat("é", 3001))), "blocks[0].text.text: 3001 characters, over the documented 3000"},
		{"empty section text", slackMessage(mrkdwn("")), "blocks[0].text.text: empty"},
		{"section text a string", slackMessage(`{"type":"section","text":"x"}`), "blocks[0].text: want a text object"},
		{"markdown type", slackMessage(`{"type":"section","text":{"type":"markdown","text":"x"}}`), "blocks[0].text.type: want one of mrkdwn, plain_text"},
		{"text object style", slackMessage(`{"type":"section","text":{"type":"mrkdwn","text":"x","style":"bold"}}`), `blocks[0].text: unexpected member "style"`},
		{"emoji on mrkdwn", slackMessage(`{"type":"section","text":{"type":"mrkdwn","text":"x","emoji":true}}`), "blocks[0].text.emoji"},
		{"verbatim on plain_text", slackMessage(`{"type":"section","text":{"type":"plain_text","text":"x","verbatim":true}}`), "blocks[0].text.verbatim"},
		{"11 fields", slackMessage(`{"type":"section","fields":[` + strings.Repeat(text+",", 10) + text + `]}`), "blocks[0].fields: want an array of 1 to 10"},
		{"field of 2001 characters", slackMessage(`{"type":"section","fields":[{"type":"mrkdwn","text":"` + strings.Repeat("x", 2001) + `"}]}`), "blocks[0].fields[0].text: 2001 characters, over the documented 2000"},
		{"11 context elements", slackMessage(context(strings.Repeat(text+",", 10) + text)), "blocks[0].elements: want an array of 1 to 10"},
		{"no context elements", slackMessage(context()), "blocks[0].elements: want an array of 1 to 10"},
		{"context element of 3001 characters", slackMessage(context(`{"type":"mrkdwn","text":"` + strings.Repeat("x", 3001) + `"}`)), "blocks[0].elements[0].text: 3001 characters"},
		{"context image element", slackMessage(context(`{"type":"image","image_url":"https://example.com/a.png","alt_text":"a"}`)), `blocks[0].elements[0]: unexpected member "image_url"`},
		{"mrkdwn header", slackMessage(`{"type":"header","text":{"type":"mrkdwn","text":"x"}}`), "blocks[0].text.type: want one of plain_text"},
		{"header of 151 characters", slackMessage(`{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("x", 151) + `"}}`), "blocks[0].text.text: 151 characters, over the documented 150"},
		{"divider with text", slackMessage(`{"type":"divider","text":{"type":"mrkdwn","text":"x"}}`), `blocks[0]: unexpected member "text"`},
		{"block_id of 256 characters", slackMessage(`{"type":"divider","block_id":"` + strings.Repeat("x", 256) + `"}`), "blocks[0].block_id: 256 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkProblems(t, slackProblems([]byte(tt.body)), tt.want)
		})
	}
}

// checkProblems fails unless got is empty when want is, and otherwise holds a problem
// containing want.
func checkProblems(t *testing.T, got []string, want string) {
	t.Helper()
	if want == "" {
		if len(got) > 0 {
			t.Errorf("problems:\n%s\nwant none", strings.Join(got, "\n"))
		}
		return
	}
	for _, p := range got {
		if strings.Contains(p, want) {
			return
		}
	}
	t.Errorf("problems:\n%s\nwant one containing %q", strings.Join(got, "\n"), want)
}

// recorder is a testing.TB that keeps its errors.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestChecksReport: the exported checks report through t, with the body.
func TestChecksReport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		check func(testing.TB, []byte)
		good  string
		bad   string
	}{
		{"CheckCard", CheckCard, workflows(card(title)), workflows(card(`{"type":"TextBlock"}`))},
		{"CheckSlack", CheckSlack, slackMessage(mrkdwn("x")), slackMessage(mrkdwn(""))},
		{"CheckTeamsReply", CheckTeamsReply, `{"type":"message","text":"x"}`, `{"type":"message","text":""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &recorder{TB: t}
			tt.check(r, []byte(tt.good))
			if len(r.errors) > 0 {
				t.Errorf("a good message: %q", r.errors)
			}
			tt.check(r, []byte(tt.bad))
			if len(r.errors) != 1 || !strings.Contains(r.errors[0], tt.bad) {
				t.Errorf("a bad message: %q, want one error showing the body", r.errors)
			}
		})
	}
}
