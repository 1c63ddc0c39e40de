package chattest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// cardSchemaJSON is the official Adaptive Cards 1.4 schema, byte for byte as Microsoft publishes
// it (testdata/README.md says where from; TestSchemaIsUpstream pins it).
//
//go:embed testdata/adaptive-card-1.4.json
var cardSchemaJSON []byte

// cardSchemaURL is the schema's own id (its "id" member, draft-06).
const cardSchemaURL = "http://adaptivecards.io/schemas/adaptive-card.json"

// cardContentType is the attachment content type of an Adaptive Card.
const cardContentType = "application/vnd.microsoft.card.adaptive"

// cardVersion is the card version the product sends: the highest Teams renders everywhere.
const cardVersion = "1.4"

// cardSizeLimit: Microsoft documents that posting a card to a chat or channel through the Teams
// connector (what a Workflows webhook flow does) fails with "Request Entity too large" above
// about 28 KB (https://learn.microsoft.com/connectors/teams/#known-issues-and-limitations).
const cardSizeLimit = 28 << 10

// cardSchema compiles the embedded schema once. The compiler has no URL loader: references are
// resolved within the document and the draft-06 meta-schema the library embeds, never fetched.
var cardSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(cardSchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("decode the Adaptive Cards schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft6) // the file says so itself; this only pins it
	if err := c.AddResource(cardSchemaURL, doc); err != nil {
		return nil, fmt.Errorf("add the Adaptive Cards schema: %w", err)
	}
	s, err := c.Compile(cardSchemaURL)
	if err != nil {
		return nil, fmt.Errorf("compile the Adaptive Cards schema: %w", err)
	}
	return s, nil
})

// CheckCard fails t unless body is a message a Teams Workflows webhook ("When a Teams webhook
// request is received", then "Post card in a chat or channel") takes:
//
//	{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive",
//	  "contentUrl":null,"content":<card>}]}
//
// with no other member, under the connector's 28 KB, and each card valid against the official
// Adaptive Cards 1.4 schema with type AdaptiveCard, version "1.4" and a non-empty body (the
// schema leaves those three optional, though its own description says a top-level card needs
// its version, and a card without a body shows nothing).
func CheckCard(t testing.TB, body []byte) {
	t.Helper()
	report(t, "Teams card", body, cardProblems(body))
}

// cardProblems says what is wrong with body as a Workflows message; nil when nothing is.
func cardProblems(body []byte) []string {
	var p problems
	if len(body) > cardSizeLimit {
		p.add("%d bytes: over the Teams connector's 28 KB", len(body))
	}
	msg := p.object(body)
	if msg == nil {
		return p
	}
	p.onlyMembers("message", msg, "type", "attachments")
	p.equalString("message.type", msg["type"], "message")
	var attachments []map[string]json.RawMessage
	if err := json.Unmarshal(msg["attachments"], &attachments); err != nil || len(attachments) == 0 {
		p.add("message.attachments: want a non-empty array of objects, got %s", orMissing(msg["attachments"]))
		return p
	}
	for i, a := range attachments {
		at := fmt.Sprintf("attachments[%d]", i)
		p.onlyMembers(at, a, "contentType", "contentUrl", "content")
		p.equalString(at+".contentType", a["contentType"], cardContentType)
		if raw, ok := a["contentUrl"]; !ok || string(raw) != "null" {
			p.add("%s.contentUrl: want null, got %s", at, orMissing(raw))
		}
		p.card(at+".content", a["content"])
	}
	return p
}

// card checks one card against the schema and what the schema leaves optional.
func (p *problems) card(at string, raw json.RawMessage) {
	if raw == nil {
		p.add("%s: missing", at)
		return
	}
	schema, err := cardSchema()
	if err != nil {
		p.add("%s: %v", at, err)
		return
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		p.add("%s: %v", at, err)
		return
	}
	if err := schema.Validate(doc); err != nil {
		p.add("%s does not validate against the Adaptive Cards 1.4 schema:\n  %s", at, strings.Join(explain(err), "\n  "))
	}
	var card map[string]json.RawMessage
	if json.Unmarshal(raw, &card) != nil {
		return // the schema said so
	}
	p.equalString(at+".type", card["type"], "AdaptiveCard")
	p.equalString(at+".version", card["version"], cardVersion)
	var body []json.RawMessage
	if json.Unmarshal(card["body"], &body) != nil || len(body) == 0 {
		p.add("%s.body: want a non-empty array of elements, got %s", at, orMissing(card["body"]))
	}
}

// CheckTeamsReply fails t unless body is the product's answer to a Teams outgoing webhook: a
// Bot Framework message activity with a non-empty text, {"type":"message","text":"…"}, and no
// other member (the webhook's answer "can include any Bot Framework message content":
// https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-outgoing-webhook).
// It is not a card: CheckCard is for the Workflows notices.
func CheckTeamsReply(t testing.TB, body []byte) {
	t.Helper()
	report(t, "Teams reply", body, teamsReplyProblems(body))
}

// teamsReplyProblems says what is wrong with body as an outgoing-webhook answer.
func teamsReplyProblems(body []byte) []string {
	var p problems
	msg := p.object(body)
	if msg == nil {
		return p
	}
	p.onlyMembers("message", msg, "type", "text")
	p.equalString("message.type", msg["type"], "message")
	if s, ok := jsonString(msg["text"]); !ok || strings.TrimSpace(s) == "" {
		p.add("message.text: want a non-empty string, got %s", orMissing(msg["text"]))
	}
	return p
}

// explain lists why a card failed the schema, one line per failed keyword, without the
// branches of an anyOf that are about another element type: the schema tries every element
// type in turn, and "value must be 'ActionSet'" says nothing about a TextBlock.
func explain(err error) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	var lines []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		causes := e.Causes
		if _, anyOf := e.ErrorKind.(*kind.AnyOf); anyOf {
			causes = slices.DeleteFunc(slices.Clone(causes), func(c *jsonschema.ValidationError) bool {
				return otherType(c, e.InstanceLocation)
			})
			if len(causes) == 0 {
				lines = append(lines, "at '"+pointer(e.InstanceLocation)+"': no Adaptive Cards 1.4 type matches its \"type\"")
				return
			}
		}
		if len(causes) == 0 {
			lines = append(lines, e.Error()) // a leaf says "at '<pointer>': <what failed>"
		}
		for _, c := range causes {
			walk(c)
		}
	}
	walk(ve)
	return lines
}

// otherType reports whether e failed because the value at at is of another type: an enum
// failure of at's "type" member anywhere below e.
func otherType(e *jsonschema.ValidationError, at []string) bool {
	if _, enum := e.ErrorKind.(*kind.Enum); enum && slices.Equal(e.InstanceLocation, append(slices.Clone(at), "type")) {
		return true
	}
	return slices.ContainsFunc(e.Causes, func(c *jsonschema.ValidationError) bool { return otherType(c, at) })
}

// pointer is a JSON pointer to a location in the card.
func pointer(tokens []string) string {
	if len(tokens) == 0 {
		return ""
	}
	return "/" + strings.Join(tokens, "/")
}
