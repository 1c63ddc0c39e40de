package chat_test

import (
	"embed"
	"encoding/json"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
)

// testdata holds a Slack slash-command body in the shape of Slack's documented example and
// Teams outgoing-webhook activities in the shape Microsoft documents.
//
//go:embed testdata
var testdata embed.FS

func sample(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := testdata.ReadFile(path.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// slackBody is the sample slash command with its fields set to fields ("" deletes one).
func slackBody(t testing.TB, fields map[string]string) []byte {
	t.Helper()
	form, err := url.ParseQuery(string(sample(t, "slack-sync-wait.form")))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		if v == "" {
			form.Del(k)
			continue
		}
		form.Set(k, v)
	}
	return []byte(form.Encode())
}

// teamsBody is the sample activity with its text replaced.
func teamsBody(t testing.TB, text string) []byte {
	t.Helper()
	var a map[string]any
	if err := json.Unmarshal(sample(t, "teams-sync.json"), &a); err != nil {
		t.Fatal(err)
	}
	a["text"] = text
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// parse reads a body the way the functions do: a form as Slack's, else JSON as a Teams activity.
func parse(body []byte) (chat.Command, bool) {
	if form, err := url.ParseQuery(string(body)); err == nil {
		if cmd, ok := chat.FromForm(form); ok {
			return cmd, true
		}
	}
	var a chat.Activity
	if json.Unmarshal(body, &a) != nil {
		return chat.Command{}, false
	}
	return chat.FromActivity(a)
}

func TestTeamsTimestamp(t *testing.T) {
	t.Parallel()
	got, ok := parse(sample(t, "teams-sync.json"))
	if want := time.Date(2026, 11, 28, 15, 0, 7, 437000000, time.UTC); !ok || !got.Sent.Equal(want) {
		t.Errorf("Sent = %v, want %v", got.Sent, want)
	}
	if got, _ := parse([]byte(`{"type":"message","text":"sync","timestamp":"yesterday"}`)); !got.Sent.IsZero() {
		t.Errorf("a timestamp that is not RFC 3339: Sent = %v", got.Sent)
	}
}

func TestSSLCheck(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]bool{"ssl_check=1&token=x": true, string(slackBody(t, nil)): false} {
		form, err := url.ParseQuery(body)
		if err != nil {
			t.Fatal(err)
		}
		if got := chat.IsSSLCheck(form); got != want {
			t.Errorf("IsSSLCheck(%q) = %v, want %v", body, got, want)
		}
	}
}

// TestWords: the command word (lower-cased) and its arguments (as typed), as each platform sends them. What they mean
// is the action table's (package api tests it).
func TestWords(t *testing.T) {
	t.Parallel()
	slack := func(word string, args ...string) chat.Command {
		return chat.Command{Platform: autopilot.SourceSlack, Word: word, Args: args, User: "Steve", ResponseURL: "https://hooks.slack.com/commands/1234/5678"}
	}
	teams := func(word string, args ...string) chat.Command {
		return chat.Command{Platform: autopilot.SourceTeams, Word: word, Args: args, User: "Megan Bowen"}
	}
	text := func(s string) map[string]string { return map[string]string{"text": s} }
	tests := []struct {
		name string
		body []byte
		want chat.Command
		ok   bool
	}{
		{"slack sample", sample(t, "slack-sync-wait.form"), slack("sync", "wait"), true},
		{"slack upper case and spaces", slackBody(t, text("  SYNC   Wait  ")), slack("sync", "Wait"), true},
		{"slack tenant id", slackBody(t, text("status 72F988BF-86F1-41AF-91AB-2D7CD011DB47")), slack("status", "72F988BF-86F1-41AF-91AB-2D7CD011DB47"), true},
		{"slack empty text", slackBody(t, text("")), slack(""), true},
		{"slack blank text", slackBody(t, text(" \t ")), slack(""), true},
		{"slack no user", slackBody(t, map[string]string{"user_name": "", "text": "status"}), chat.Command{Platform: autopilot.SourceSlack, Word: "status", Args: []string{}, ResponseURL: "https://hooks.slack.com/commands/1234/5678"}, true},
		{"slack without command", slackBody(t, map[string]string{"command": ""}), chat.Command{}, false},
		{"slack ssl check", []byte("ssl_check=1&token=gIkuvaNzQIHg97ATvDxqgjtO"), chat.Command{}, false},
		{"teams sample", sample(t, "teams-sync.json"), teams("sync"), true},
		{"teams words in html", teamsBody(t, "<at>Autopilot</at> Sync&nbsp;Wait&nbsp;CONTOSO\n"), teams("sync", "Wait", "CONTOSO"), true},
		{"teams html paragraphs", teamsBody(t, "<p><at>Autopilot</at> status</p><p>contoso</p>\r\n"), teams("status", "contoso"), true},
		{"teams mention with attributes", teamsBody(t, "<at id=\"0\">Autopilot Sync</at> status\n"), teams("status"), true},
		{"teams mention in the middle", teamsBody(t, "status <at>Autopilot</at>"), teams("status"), true},
		{"teams br tags", teamsBody(t, "<at>Autopilot</at>sync<br/>wait"), teams("sync", "wait"), true},
		{"teams only the mention", teamsBody(t, "<at>Autopilot</at>&nbsp;\n"), teams(""), true},
		{"teams escaped tag is a word", teamsBody(t, "<at>Autopilot</at> status &lt;b&gt;"), teams("status", "<b>"), true},
		{"teams conversation update", sample(t, "teams-conversation-update.json"), chat.Command{}, false},
		{"teams type in capitals", []byte(`{"type":"Message","text":"<at>A</at> status","from":{"name":"x"}}`), chat.Command{Platform: autopilot.SourceTeams, Word: "status", Args: []string{}, User: "x"}, true},
		{"json ticketing webhook", []byte(`{"event":{"event_type":"incident.triggered","data":{"title":"sync autopilot"}}}`), chat.Command{}, false},
		{"json type not a string", []byte(`{"type":1,"text":"sync"}`), chat.Command{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parse(tt.body)
			got.Sent = time.Time{} // TestTeamsTimestamp checks it
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample(f, "slack-sync-wait.form"))
	f.Add(sample(f, "teams-sync.json"))
	f.Add(sample(f, "teams-conversation-update.json"))
	f.Add([]byte(`{"type":"message","text":"<at>x</at><p>sync&nbsp;wait</p><at"}`))
	f.Add([]byte("command=%2Fa&text=status+%3Cat%3E"))
	f.Add([]byte("sync"))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := parse(body)
		if !ok {
			if diff := cmp.Diff(chat.Command{}, got); diff != "" {
				t.Fatalf("not ok but a command (-want +got):\n%s", diff)
			}
			return
		}
		if got.Platform != autopilot.SourceSlack && got.Platform != autopilot.SourceTeams {
			t.Errorf("Platform = %q", got.Platform)
		}
		if got.Word != strings.ToLower(got.Word) {
			t.Errorf("word %q is not lower-case", got.Word)
		}
		for _, w := range append([]string{got.Word}, got.Args...) {
			if w != "" && len(strings.Fields(w)) != 1 {
				t.Errorf("word %q is not one word", w)
			}
		}
		if got.Word == "" && len(got.Args) > 0 {
			t.Errorf("arguments without a word: %+v", got)
		}
	})
}
