package chat_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/chat/chattest"
)

// markup is a tenant word as a caller may type it: every character Slack's mrkdwn or Teams'
// Markdown and HTML give a meaning to.
const markup = "<!channel>&*_[x](y)#|~`\\{}+-!"

// TestRepliesKeepToLimits passes the answer of words of every shape, at every length around
// Block Kit's 3,000 characters, through the platforms' rules: Slack's as Block Kit documents
// them, Teams' outgoing-webhook answer. What each action says is package action's test; this is
// what SlackReply and TeamsReply make of any words.
func TestRepliesKeepToLimits(t *testing.T) {
	t.Parallel()
	repeat := func(s string, n int) string { return strings.Repeat(s, n) }
	tests := []struct {
		name   string
		words  chat.Words
		tenant string
	}{
		{"one paragraph", chat.Words{Paragraphs: []string{"Sync started."}}, ""},
		{"paragraphs and a note", chat.Words{Paragraphs: []string{"A sync is running.", "Last sync: 12:00 UTC."}, Note: "Microsoft Graph request-id: abc"}, "contoso"},
		{"tenant of markup", chat.Words{Paragraphs: []string{"No such tenant."}}, markup},
		{"the longest tenant name, all of it escaped", chat.Words{Paragraphs: []string{"Sync started."}}, repeat("<&>", 21)},
		{"a paragraph of 3,000 characters", chat.Words{Paragraphs: []string{repeat("x", 3000)}}, ""},
		{"a paragraph of 3,001 characters", chat.Words{Paragraphs: []string{repeat("x", 3001)}}, ""},
		{"3,000 characters with the tenant in front", chat.Words{Paragraphs: []string{repeat("x", 3000)}}, "contoso"},
		{"two-byte characters", chat.Words{Paragraphs: []string{repeat("é", 3001)}}, ""},
		{"four-byte characters", chat.Words{Paragraphs: []string{repeat("🙂", 3001)}}, ""},
		{"many short paragraphs", chat.Words{Paragraphs: strings.Fields(repeat("tenant-name ", 400))}, ""},
		{"a long note", chat.Words{Paragraphs: []string{"Microsoft Graph refused the request."}, Note: "Microsoft Graph request-id: " + repeat("a", 5000)}, ""},
		{"a note of 3,000 characters", chat.Words{Paragraphs: []string{"x"}, Note: repeat("n", 3000)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			slack, err := chat.Reply(autopilot.SourceSlack, tt.words, tt.tenant)
			if err != nil {
				t.Fatal(err)
			}
			chattest.CheckSlack(t, slack)
			checkClipped(t, slack, tt.words)
			teams, err := chat.Reply(autopilot.SourceTeams, tt.words, tt.tenant)
			if err != nil {
				t.Fatal(err)
			}
			chattest.CheckTeamsReply(t, teams)
		})
	}
}

// checkClipped checks a Slack answer's blocks against the words: the section holds the
// message's text (the paragraphs, whole) and the context block the note, each as it is when it
// fits Block Kit's 3,000 characters, else its first 2,999 and "…".
func checkClipped(t *testing.T, body []byte, w chat.Words) {
	t.Helper()
	var m chat.SlackMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(m.Text, w.Paragraphs[len(w.Paragraphs)-1]) {
		t.Errorf("the message's text %.60q… lost the last paragraph", m.Text)
	}
	wantBlocks := 1
	if w.Note != "" {
		wantBlocks = 2
	}
	if len(m.Blocks) != wantBlocks || m.Blocks[0].Text == nil || (w.Note != "" && len(m.Blocks[1].Elements) != 1) {
		t.Fatalf("blocks %+v, want a section and, with a note, a context block of one element", m.Blocks)
	}
	fits := func(what, got, whole string) {
		if utf8.RuneCountInString(whole) <= chat.SlackTextLimit {
			if got != whole {
				t.Errorf("%s was changed although it fits: %.60q…", what, got)
			}
			return
		}
		kept, cut := strings.CutSuffix(got, "…")
		if n := utf8.RuneCountInString(got); n != chat.SlackTextLimit || !cut || !strings.HasPrefix(whole, kept) {
			t.Errorf("%s of %d characters is %d characters ending %q, want the first %d and …", what,
				utf8.RuneCountInString(whole), n, got[max(len(got)-8, 0):], chat.SlackTextLimit-1)
		}
	}
	fits("the section", m.Blocks[0].Text.Text, m.Text)
	if w.Note != "" {
		fits("the note", m.Blocks[1].Elements[0].Text, w.Note)
	}
}

// FuzzReply: any words with a first paragraph, about any tenant word, make a Slack answer within
// Block Kit's rules and a Teams answer of the documented shape. The first paragraph is repeated
// (up to 16 KB) so that short inputs reach the 3,000-character limit and stay cheap to minimize.
func FuzzReply(f *testing.F) {
	f.Add("Sync started.", "", "", "", uint16(0))
	f.Add("A sync is running.", "Last sync: 12:00 UTC.", "Microsoft Graph request-id: abc", "contoso", uint16(0))
	f.Add("é", "", "n", markup, uint16(3000))
	f.Add("\xff\xfe", "<at>x</at>", "&amp;", "\x00", uint16(1500))
	f.Fuzz(func(t *testing.T, first, second, note, tenant string, repeat uint16) {
		if strings.TrimSpace(first) == "" {
			t.Skip("no action says nothing in its first paragraph")
		}
		first = strings.Repeat(first, max(1, min(int(repeat), (16<<10)/len(first))))
		w := chat.Words{Paragraphs: []string{first, second}, Note: note}
		slack, err := chat.Reply(autopilot.SourceSlack, w, tenant)
		if err != nil {
			t.Fatal(err)
		}
		chattest.CheckSlack(t, slack)
		teams, err := chat.Reply(autopilot.SourceTeams, w, tenant)
		if err != nil {
			t.Fatal(err)
		}
		chattest.CheckTeamsReply(t, teams)
	})
}
