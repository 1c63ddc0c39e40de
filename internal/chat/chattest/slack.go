package chattest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// Block Kit's documented limits, written here from Slack's reference rather than taken from
// package chat, so that a wrong limit in the product cannot pass its own check. Characters are
// counted as runes, as package chat clips.
const (
	// blocksLimit: "You can include up to 50 blocks in each message"
	// (https://docs.slack.dev/reference/block-kit/blocks).
	blocksLimit = 50
	// textObjectLimit: a text object's text has "minimum length is 1 and maximum length is 3000
	// characters" (https://docs.slack.dev/reference/block-kit/composition-objects/text-object);
	// so has a section's text (https://docs.slack.dev/reference/block-kit/blocks/section-block).
	textObjectLimit = 3000
	// sectionFieldsLimit, sectionFieldLimit: a section's fields hold at most 10 text objects of at
	// most 2000 characters each (section-block).
	sectionFieldsLimit = 10
	sectionFieldLimit  = 2000
	// contextElementsLimit: a context block's elements hold at most 10 items
	// (https://docs.slack.dev/reference/block-kit/blocks/context-block).
	contextElementsLimit = 10
	// headerTextLimit: a header's plain_text holds at most 150 characters
	// (https://docs.slack.dev/reference/block-kit/blocks/header-block).
	headerTextLimit = 150
	// blockIDLimit: "Maximum length for this field is 255 characters" (every block).
	blockIDLimit = 255
	// messageTextLimit: Slack truncates a message's top-level text past 40,000 characters
	// (https://docs.slack.dev/reference/methods/chat.postMessage).
	messageTextLimit = 40000
)

// slackMessageMembers are the members of a slash command's answer or a response_url post
// (https://docs.slack.dev/interactivity/implementing-slash-commands,
// https://docs.slack.dev/messaging/modifying-messages). Legacy attachments are left out: the
// product sends none, and chattest has no rules for them.
var slackMessageMembers = []string{"text", "blocks", "response_type", "replace_original", "delete_original", "thread_ts", "mrkdwn"}

// CheckSlack fails t unless body is a Slack message within Block Kit's documented rules: a
// non-empty text (the notification and fallback text, at most 40,000 characters);
// response_type, when present, ephemeral or in_channel; replace_original and delete_original,
// when present, booleans; at most 50 blocks, each of a type this product may send (section,
// context, divider, header) with no member Block Kit does not document for it; section text and
// context elements text objects of type mrkdwn or plain_text with 1 to 3,000 characters, section
// fields 1 to 10 text objects of at most 2,000, header text plain_text of at most 150, block_id
// at most 255.
func CheckSlack(t testing.TB, body []byte) {
	t.Helper()
	report(t, "Slack message", body, slackProblems(body))
}

// slackProblems says what is wrong with body as a Slack message; nil when nothing is.
func slackProblems(body []byte) []string {
	var p problems
	msg := p.object(body)
	if msg == nil {
		return p
	}
	p.onlyMembers("message", msg, slackMessageMembers...)
	p.length("message.text", msg["text"], messageTextLimit)
	if raw, ok := msg["response_type"]; ok {
		if s, _ := jsonString(raw); s != "ephemeral" && s != "in_channel" {
			p.add(`message.response_type: want "ephemeral" or "in_channel", got %s`, raw)
		}
	}
	for _, name := range []string{"replace_original", "delete_original", "mrkdwn"} {
		if raw, ok := msg[name]; ok && !isBool(raw) {
			p.add("message.%s: want a boolean, got %s", name, raw)
		}
	}
	if raw, ok := msg["thread_ts"]; ok {
		if _, isString := jsonString(raw); !isString {
			p.add("message.thread_ts: want a string, got %s", raw)
		}
	}
	raw, ok := msg["blocks"]
	if !ok {
		return p
	}
	var blocks []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &blocks); err != nil {
		p.add("message.blocks: want an array of objects, got %s", raw)
		return p
	}
	if len(blocks) > blocksLimit {
		p.add("message.blocks: %d blocks, over the documented %d", len(blocks), blocksLimit)
	}
	for i, b := range blocks {
		p.block(fmt.Sprintf("blocks[%d]", i), b)
	}
	return p
}

// block checks one block by its type.
func (p *problems) block(at string, b map[string]json.RawMessage) {
	if raw, ok := b["block_id"]; ok {
		p.length(at+".block_id", raw, blockIDLimit)
	}
	typ, _ := jsonString(b["type"])
	switch typ {
	case "section":
		// accessory and expand are documented too; the product sends neither, so they are
		// refused until someone adds their rules here.
		p.onlyMembers(at, b, "type", "block_id", "text", "fields")
		text, hasText := b["text"]
		fields, hasFields := b["fields"]
		if !hasText && !hasFields {
			p.add("%s: a section needs text or fields", at)
		}
		if hasText {
			p.textObject(at+".text", text, textObjectLimit, "mrkdwn", "plain_text")
		}
		if hasFields {
			p.textObjects(at+".fields", fields, sectionFieldsLimit, sectionFieldLimit)
		}
	case "context":
		// Image elements are documented too; the product sends text objects only.
		p.onlyMembers(at, b, "type", "block_id", "elements")
		p.textObjects(at+".elements", b["elements"], contextElementsLimit, textObjectLimit)
	case "divider":
		p.onlyMembers(at, b, "type", "block_id")
	case "header":
		p.onlyMembers(at, b, "type", "block_id", "text")
		p.textObject(at+".text", b["text"], headerTextLimit, "plain_text")
	default:
		p.add("%s: block type %s is not one this product sends (section, context, divider, header); "+
			"add its documented rules to chattest before sending it", at, orMissing(b["type"]))
	}
}

// textObjects checks an array of 1 to most mrkdwn or plain_text text objects of at most limit
// characters each.
func (p *problems) textObjects(at string, raw json.RawMessage, most, limit int) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 || len(list) > most {
		p.add("%s: want an array of 1 to %d text objects, got %s", at, most, orMissing(raw))
		return
	}
	for i, obj := range list {
		p.textObject(fmt.Sprintf("%s[%d]", at, i), obj, limit, "mrkdwn", "plain_text")
	}
}

// textObject checks a text object: a type among types, a text of 1 to limit characters, emoji
// only on plain_text and verbatim only on mrkdwn (both booleans), nothing else.
func (p *problems) textObject(at string, raw json.RawMessage, limit int, types ...string) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		p.add("%s: want a text object, got %s", at, orMissing(raw))
		return
	}
	p.onlyMembers(at, obj, "type", "text", "emoji", "verbatim")
	typ, _ := jsonString(obj["type"])
	if !slices.Contains(types, typ) {
		p.add("%s.type: want one of %s, got %s", at, strings.Join(types, ", "), orMissing(obj["type"]))
	}
	p.length(at+".text", obj["text"], limit)
	if raw, ok := obj["emoji"]; ok && (typ != "plain_text" || !isBool(raw)) {
		p.add("%s.emoji: a boolean of plain_text only, got %s on %s", at, raw, typ)
	}
	if raw, ok := obj["verbatim"]; ok && (typ != "mrkdwn" || !isBool(raw)) {
		p.add("%s.verbatim: a boolean of mrkdwn only, got %s on %s", at, raw, typ)
	}
}

// length reports raw unless it is a string of 1 to limit characters.
func (p *problems) length(at string, raw json.RawMessage, limit int) {
	s, ok := jsonString(raw)
	switch n := utf8.RuneCountInString(s); {
	case !ok:
		p.add("%s: want a string, got %s", at, orMissing(raw))
	case n == 0:
		p.add("%s: empty (Block Kit wants at least 1 character)", at)
	case n > limit:
		p.add("%s: %d characters, over the documented %d", at, n, limit)
	}
}

// isBool reports whether raw is a JSON boolean.
func isBool(raw json.RawMessage) bool { return string(raw) == "true" || string(raw) == "false" }
