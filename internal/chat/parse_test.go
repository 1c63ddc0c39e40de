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

const (
	form     = "application/x-www-form-urlencoded"
	jsonType = "application/json; charset=utf-8"
)

func TestTeamsTimestamp(t *testing.T) {
	t.Parallel()
	got, ok := chat.ParseTeams(sample(t, "teams-sync.json"))
	if want := time.Date(2026, 11, 28, 15, 0, 7, 437000000, time.UTC); !ok || !got.Sent.Equal(want) {
		t.Errorf("Sent = %v, want %v", got.Sent, want)
	}
	if got, _ := chat.ParseTeams([]byte(`{"type":"message","text":"sync","timestamp":"yesterday"}`)); !got.Sent.IsZero() {
		t.Errorf("a timestamp that is not RFC 3339: Sent = %v", got.Sent)
	}
}

// TestSignedBodiesWhateverTheirContentType: ParseSlack and ParseTeams read a body as their
// platform's, whatever it was sent as; IsSlackSSLCheck tells Slack's SSL check.
func TestSignedBodiesWhateverTheirContentType(t *testing.T) {
	t.Parallel()
	if got, ok := chat.ParseSlack(slackBody(t, map[string]string{"text": "status"})); !ok || got.Action != "status" {
		t.Errorf("ParseSlack = %+v, %v", got, ok)
	}
	if _, ok := chat.ParseSlack([]byte(`{"type":"message","text":"sync"}`)); ok {
		t.Error("ParseSlack took a JSON body")
	}
	if got, ok := chat.ParseTeams([]byte(`{"type":"message","text":"sync"}`)); !ok || got.Action != "sync" {
		t.Errorf("ParseTeams = %+v, %v", got, ok)
	}
	if _, ok := chat.ParseTeams([]byte("command=%2Fa&text=sync")); ok {
		t.Error("ParseTeams took a form")
	}
	if !chat.IsSlackSSLCheck([]byte("ssl_check=1&token=x")) || chat.IsSlackSSLCheck(slackBody(t, nil)) {
		t.Error("IsSlackSSLCheck")
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	slack := func(action string, wait bool, tenant string) chat.Command {
		return chat.Command{Platform: chat.Slack, Action: action, Wait: wait, Tenant: tenant, User: "Steve"}
	}
	teams := func(action string, wait bool, tenant string) chat.Command {
		return chat.Command{Platform: chat.Teams, Action: action, Wait: wait, Tenant: tenant, User: "Megan Bowen"}
	}
	text := func(s string) map[string]string { return map[string]string{"text": s} }
	tests := []struct {
		name        string
		contentType string
		body        []byte
		want        chat.Command
		wantOK      bool
	}{
		// Slack slash commands.
		{"slack sample", form, sample(t, "slack-sync-wait.form"), slack("sync", true, ""), true},
		{"slack sync", form, slackBody(t, text("sync")), slack("sync", false, ""), true},
		{"slack status", form, slackBody(t, text("status")), slack("status", false, ""), true},
		{"slack upper case and spaces", form, slackBody(t, text("  SYNC   Wait  ")), slack("sync", true, ""), true},
		{"slack sync tenant", form, slackBody(t, text("sync Contoso")), slack("sync", false, "contoso"), true},
		{"slack sync wait tenant", form, slackBody(t, text("sync wait contoso")), slack("sync", true, "contoso"), true},
		{"slack sync tenant wait", form, slackBody(t, text("sync contoso wait")), slack("sync", true, "contoso"), true},
		{"slack tenant named wait", form, slackBody(t, text("sync wait wait")), slack("sync", true, "wait"), true},
		{"slack status tenant", form, slackBody(t, text("status fabrikam-eu")), slack("status", false, "fabrikam-eu"), true},
		{"slack status tenant id", form, slackBody(t, text("status 72F988BF-86F1-41AF-91AB-2D7CD011DB47")), slack("status", false, "72f988bf-86f1-41af-91ab-2d7cd011db47"), true},
		{"slack help", form, slackBody(t, text("help")), slack("help", false, ""), true},
		{"slack empty text", form, slackBody(t, text("")), slack("help", false, ""), true},
		{"slack blank text", form, slackBody(t, text(" \t ")), slack("help", false, ""), true},
		{"slack unknown word", form, slackBody(t, text("deploy")), slack("help", false, ""), true},
		{"slack too many words", form, slackBody(t, text("sync contoso fabrikam")), slack("help", false, ""), true},
		{"slack status too many words", form, slackBody(t, text("status contoso now")), slack("help", false, ""), true},
		{"slack no user", form, slackBody(t, map[string]string{"user_name": "", "text": "status"}), chat.Command{Platform: chat.Slack, Action: "status"}, true},
		{"slack content type with charset", "application/x-www-form-urlencoded; charset=utf-8", slackBody(t, text("status")), slack("status", false, ""), true},
		{"slack without command", form, slackBody(t, map[string]string{"command": ""}), chat.Command{}, false},
		{"slack ssl check", form, []byte("ssl_check=1&token=gIkuvaNzQIHg97ATvDxqgjtO"), chat.Command{}, false},
		{"slack malformed form", form, []byte("command=%2Fautopilot&text=%zz"), chat.Command{}, false},
		{"form as json content type", jsonType, sample(t, "slack-sync-wait.form"), chat.Command{}, false},

		// Teams outgoing webhooks.
		{"teams sample", jsonType, sample(t, "teams-sync.json"), teams("sync", false, ""), true},
		{"teams sync wait tenant", "application/json", teamsBody(t, "<at>Autopilot</at> Sync&nbsp;Wait&nbsp;CONTOSO\n"), teams("sync", true, "contoso"), true},
		{"teams html paragraphs", jsonType, teamsBody(t, "<p><at>Autopilot</at> status</p><p>contoso</p>\r\n"), teams("status", false, "contoso"), true},
		{"teams mention with attributes", jsonType, teamsBody(t, "<at id=\"0\">Autopilot Sync</at> status\n"), teams("status", false, ""), true},
		{"teams mention in the middle", jsonType, teamsBody(t, "status <at>Autopilot</at>"), teams("status", false, ""), true},
		{"teams br tags", jsonType, teamsBody(t, "<at>Autopilot</at>sync<br/>wait"), teams("sync", true, ""), true},
		{"teams only the mention", jsonType, teamsBody(t, "<at>Autopilot</at>&nbsp;\n"), teams("help", false, ""), true},
		{"teams empty text", jsonType, teamsBody(t, ""), teams("help", false, ""), true},
		{"teams escaped tag is no tenant word", jsonType, teamsBody(t, "<at>Autopilot</at> status &lt;b&gt;"), chat.Command{Platform: chat.Teams, Action: "status", BadTenant: true, User: "Megan Bowen"}, true},
		{"teams markdown link is no tenant word", jsonType, teamsBody(t, "<at>Autopilot</at> sync [sign-in](https://evil.example)"), chat.Command{Platform: chat.Teams, Action: "sync", BadTenant: true, User: "Megan Bowen"}, true},
		{"slack long word is no tenant word", form, slackBody(t, text("status "+strings.Repeat("a", 64))), chat.Command{Platform: chat.Slack, Action: "status", BadTenant: true, User: "Steve"}, true},
		{"slack 63 characters is a tenant word", form, slackBody(t, text("status "+strings.Repeat("a", 63))), slack("status", false, strings.Repeat("a", 63)), true},
		{"slack sync wait with a bad tenant word", form, slackBody(t, text("sync wait <!channel>")), chat.Command{Platform: chat.Slack, Action: "sync", Wait: true, BadTenant: true, User: "Steve"}, true},
		{"teams unknown words", jsonType, teamsBody(t, "<at>Autopilot</at> what can you do?"), teams("help", false, ""), true},
		{"teams conversation update", jsonType, sample(t, "teams-conversation-update.json"), chat.Command{}, false},
		{"teams type in capitals", jsonType, []byte(`{"type":"Message","text":"<at>A</at> status","from":{"name":"x"}}`), chat.Command{Platform: chat.Teams, Action: "status", User: "x"}, true},
		{"teams no from", jsonType, []byte(`{"type":"message","text":"sync"}`), chat.Command{Platform: chat.Teams, Action: "sync"}, true},
		{"json ticketing webhook", jsonType, []byte(`{"event":{"event_type":"incident.triggered","data":{"title":"sync autopilot"}}}`), chat.Command{}, false},
		{"json type not a string", jsonType, []byte(`{"type":1,"text":"sync"}`), chat.Command{}, false},
		{"json array", jsonType, []byte(`[{"type":"message","text":"sync"}]`), chat.Command{}, false},
		{"json truncated", jsonType, []byte(`{"type":"message","text":"sy`), chat.Command{}, false},
		{"json empty", jsonType, nil, chat.Command{}, false},
		{"teams body as form", form, sample(t, "teams-sync.json"), chat.Command{}, false},

		// Neither.
		{"no content type", "", sample(t, "teams-sync.json"), chat.Command{}, false},
		{"bad content type", "application/", sample(t, "teams-sync.json"), chat.Command{}, false},
		{"plain text", "text/plain", []byte("sync"), chat.Command{}, false},
		{"schedule event", jsonType, []byte(`{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`), chat.Command{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := chat.Parse(tt.contentType, tt.body)
			got.Sent = time.Time{} // TestTeamsTimestamp checks it
			if got.Platform == chat.Slack && got.ResponseURL != "https://hooks.slack.com/commands/1234/5678" && tt.name != "slack ssl check" {
				t.Errorf("ResponseURL = %q", got.ResponseURL)
			}
			got.ResponseURL = ""
			if ok != tt.wantOK {
				t.Fatalf("Parse ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(form, sample(f, "slack-sync-wait.form"))
	f.Add(jsonType, sample(f, "teams-sync.json"))
	f.Add(jsonType, sample(f, "teams-conversation-update.json"))
	f.Add(jsonType, []byte(`{"type":"message","text":"<at>x</at><p>sync&nbsp;wait</p><at"}`))
	f.Add(form, []byte("command=%2Fa&text=status+%3Cat%3E"))
	f.Add("text/plain", []byte("sync"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		got, ok := chat.Parse(contentType, body)
		if !ok {
			if diff := cmp.Diff(chat.Command{}, got); diff != "" {
				t.Fatalf("not ok but a command (-want +got):\n%s", diff)
			}
			return
		}
		if got.Platform != chat.Slack && got.Platform != chat.Teams {
			t.Errorf("Platform = %q", got.Platform)
		}
		switch got.Action {
		case chat.ActionSync:
		case chat.ActionStatus:
			if got.Wait {
				t.Errorf("status with Wait: %+v", got)
			}
		case chat.ActionHelp:
			if got.Wait || got.Tenant != "" {
				t.Errorf("help with words: %+v", got)
			}
		default:
			t.Errorf("Action = %q", got.Action)
		}
		if got.Tenant != strings.ToLower(got.Tenant) || len(strings.Fields(got.Tenant)) > 1 {
			t.Errorf("Tenant = %q: not one lower-case word", got.Tenant)
		}
	})
}
