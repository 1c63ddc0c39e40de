package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/google/go-cmp/cmp"
)

// slowIntune never answers before the context ends, like a Graph that hangs.
type slowIntune struct{}

func (slowIntune) Do(ctx context.Context, _ func(*graph.Client) (*graph.Response, error)) (tenant.Call, error) {
	<-ctx.Done()
	return tenant.Call{}, ctx.Err()
}

// deadlineIntune records the deadline of the call it gets.
type deadlineIntune struct {
	fakeIntune
	deadline chan time.Time
}

func (d *deadlineIntune) Do(ctx context.Context, call func(*graph.Client) (*graph.Response, error)) (tenant.Call, error) {
	deadline, _ := ctx.Deadline()
	d.deadline <- deadline
	return d.fakeIntune.Do(ctx, call)
}

const slackForm = "application/x-www-form-urlencoded"

func slackBody(text string) string {
	return "token=x&team_id=T1&command=%2Fautopilot-sync&text=" + strings.ReplaceAll(text, " ", "+") +
		"&user_name=roadrunner&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F1%2Fx"
}

func teamsBody(text string) string {
	return `{"type":"message","text":"<at>Autopilot</at> ` + text + `","from":{"name":"Ada"}}`
}

func TestChat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		kind        autopilot.Function
		intune      action.Intune
		contentType string
		body        string
		wantField   string // "text" for both platforms
		wantText    string
		wantType    string
	}{
		{"slack sync started", autopilot.FunctionSync, &fakeIntune{}, slackForm, slackBody("sync"), "text", "Sync of Windows Autopilot devices started at 15:00 UTC", ""},
		{"slack sync throttled", autopilot.FunctionSync, &fakeIntune{syncErr: &graph.Error{StatusCode: 429, RetryAfter: 6 * time.Minute, HasRetryAfter: true}},
			slackForm, slackBody("sync"), "text", "Next sync allowed in 6 min (15:06 UTC)", ""},
		{"slack sync in progress", autopilot.FunctionSync, &fakeIntune{syncErr: &graph.Error{StatusCode: 409},
			settings: graph.Settings{SyncStatus: graph.SyncStatusInProgress, LastManualSyncTriggerDateTime: now.Add(-2 * time.Minute)}},
			slackForm, slackBody("sync"), "text", "A sync is already running (started 14:58 UTC)", ""},
		{"slack status at the sync function", autopilot.FunctionSync, &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastManualSyncTriggerDateTime: now.Add(-time.Hour)}},
			slackForm, slackBody("status"), "text", "You can sync now", ""},
		{"slack permission missing", autopilot.FunctionSync, &fakeIntune{syncErr: &graph.Error{StatusCode: 403}},
			slackForm, slackBody("sync"), "text", "DeviceManagementServiceConfig.ReadWrite.All", ""},
		{"teams sync", autopilot.FunctionSync, &fakeIntune{}, "application/json", teamsBody("sync"), "text", "started at 15:00 UTC", "message"},
		{"teams status at the status function", autopilot.FunctionStatus, &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusInProgress}},
			"application/json", teamsBody("status"), "text", "A sync is running", "message"},
		{"teams sync at the status function points to sync", autopilot.FunctionStatus, &fakeIntune{}, "application/json", teamsBody("sync"), "text", "only reads status", "message"},
		{"slack help", autopilot.FunctionStatus, &fakeIntune{}, slackForm, slackBody(""), "text", "sync", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := New(tt.kind, Deps{Deps: action.Deps{Intune: tt.intune, Now: func() time.Time { return now }}, AllowUnauthenticated: true})
			got := do(t, f, http.MethodPost, "/any", tt.contentType, tt.body)
			if got.status != http.StatusOK {
				t.Fatalf("status = %d, want 200: %v", got.status, got.body)
			}
			text, _ := got.body[tt.wantField].(string)
			if !strings.Contains(text, tt.wantText) {
				t.Errorf("%s = %q, want it to contain %q", tt.wantField, text, tt.wantText)
			}
			if tt.wantType != "" && got.body["type"] != tt.wantType {
				t.Errorf("type = %v", got.body["type"])
			}
			if tt.contentType == slackForm && got.body["response_type"] != "ephemeral" {
				t.Errorf("response_type = %v", got.body["response_type"])
			}
		})
	}
}

// TestChatBudget: a chat request's work ends 2.5 s (Slack) or 4.5 s (Teams) after it arrived, so
// the answer leaves within the platform's 3 s or 5 s. The deadline handed to Graph is read, not
// waited for.
func TestChatBudget(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, contentType, body string
		want                    time.Duration
	}{
		{"slack", slackForm, slackBody("sync"), 2500 * time.Millisecond},
		{"teams", "application/json", teamsBody("sync"), 4500 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := &deadlineIntune{deadline: make(chan time.Time, 1)}
			f := New(autopilot.FunctionSync, Deps{Deps: action.Deps{Intune: in, Now: func() time.Time { return now }}, AllowUnauthenticated: true})
			before := time.Now()
			do(t, f, http.MethodPost, "/sync", tt.contentType, tt.body)
			after := time.Now()
			deadline := <-in.deadline
			if deadline.Before(before.Add(tt.want)) || deadline.After(after.Add(tt.want)) {
				t.Errorf("deadline %v after the request, want %v", deadline.Sub(before), tt.want)
			}
		})
	}
}

// TestChatGraphHangs: when Graph has not answered by the budget's end, the answer says so in
// plain words. The request's own (Lambda) deadline is near, so the test waits 100 ms, not 2.5 s.
func TestChatGraphHangs(t *testing.T) {
	t.Parallel()
	f := New(autopilot.FunctionSync, Deps{Deps: action.Deps{Intune: &slowIntune{}, Now: func() time.Time { return now }}, AllowUnauthenticated: true})
	ctx, cancel := context.WithTimeout(context.Background(), deadlineMargin+100*time.Millisecond)
	defer cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/sync", strings.NewReader(slackBody("sync")))
	r.Header.Set("Content-Type", slackForm)
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "has not answered within the 3 seconds Slack allows") {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
}

func TestChatRefusedWithoutCredentials(t *testing.T) {
	t.Parallel()
	in := &fakeIntune{}
	f := New(autopilot.FunctionSync, Deps{Deps: action.Deps{Intune: in, Now: func() time.Time { return now }}})
	got := do(t, f, http.MethodPost, "/sync", slackForm, slackBody("sync"))
	if got.status != http.StatusUnauthorized || got.body["code"] != "unauthorized" {
		t.Errorf("got %d %v, want 401 unauthorized", got.status, got.body)
	}
	if in.syncs != 0 {
		t.Error("an unauthenticated chat command reached Graph")
	}
}

// chatSample is a chat body from the chat package's samples.
func chatSample(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile("../chat/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestChatCommands: a POST body read once by its content becomes a chat command only as its
// Content-Type says (a Slack form, a Teams message activity), and the action table reads its
// words: the row, "wait", and a tenant word that is a registry name or a tenant id (anything else
// is refused unechoed); words that make no sense there ask for help.
func TestChatCommands(t *testing.T) {
	t.Parallel()
	const form, jsonType = "application/x-www-form-urlencoded", "application/json; charset=utf-8"
	slack := func(text string) string {
		return "token=x&team_id=T1&command=%2Fautopilot-sync&text=" + url.QueryEscape(text) + "&user_name=Steve&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1%2F2"
	}
	teams := func(text string) string {
		b, _ := json.Marshal(map[string]any{"type": "message", "text": text, "from": map[string]string{"name": "Megan Bowen"}})
		return string(b)
	}
	type want struct {
		row       action.Name
		wait      bool
		tenant    string
		badTenant bool
	}
	tests := []struct {
		name        string
		fn          autopilot.Function
		contentType string
		body        string
		want        *want // nil: not chat
	}{
		{"slack sample", autopilot.FunctionSync, form, chatSample(t, "slack-sync-wait.form"), &want{row: "chatSync", wait: true}},
		{"slack sync tenant", autopilot.FunctionSync, form, slack("sync Contoso"), &want{row: "chatSync"}}, // the tenant is read by the handler (a serial without a registry),
		{"slack sync tenant wait", autopilot.FunctionSync, form, slack("sync contoso wait"), &want{row: "chatSync", wait: true}},
		{"slack tenant named wait", autopilot.FunctionSync, form, slack("sync wait wait"), &want{row: "chatSync", wait: true}},
		{"slack status tenant id", autopilot.FunctionSync, form, slack("status 72F988BF-86F1-41AF-91AB-2D7CD011DB47"), &want{row: "chatStatus", tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47"}},
		{"slack status domain tenant id", autopilot.FunctionStatus, form, slack("status contoso.onmicrosoft.com"), &want{row: "chatStatus", tenant: "contoso.onmicrosoft.com"}},
		{"slack help", autopilot.FunctionSync, form, slack("help"), &want{row: "chatHelp"}},
		{"slack empty text", autopilot.FunctionSync, form, slack(""), &want{row: "chatHelp"}},
		{"slack unknown word", autopilot.FunctionSync, form, slack("deploy"), &want{row: "chatHelp"}},
		{"slack sync tenant and serial", autopilot.FunctionSync, form, slack("sync contoso fabrikam"), &want{row: "chatSync"}},
		{"slack status too many words", autopilot.FunctionSync, form, slack("status contoso now"), &want{row: "chatHelp"}},
		{"slack long word is no tenant word", autopilot.FunctionSync, form, slack("status " + strings.Repeat("a", 64)), &want{row: "chatStatus", badTenant: true}},
		{"slack 63 characters is a tenant word", autopilot.FunctionSync, form, slack("status " + strings.Repeat("a", 63)), &want{row: "chatStatus", tenant: strings.Repeat("a", 63)}},
		{"slack sync wait with a bad tenant word", autopilot.FunctionSync, form, slack("sync wait <!channel>"), &want{row: "chatSync", wait: true}},
		{"slack sync at the status function", autopilot.FunctionStatus, form, slack("sync contoso"), &want{row: "chatHelp"}},
		{"slack content type with charset", autopilot.FunctionSync, form + "; charset=utf-8", slack("status"), &want{row: "chatStatus"}},
		{"slack without command", autopilot.FunctionSync, form, "token=x&text=sync", nil},
		{"slack ssl check", autopilot.FunctionSync, form, "ssl_check=1&token=gIkuvaNzQIHg97ATvDxqgjtO", nil},
		{"slack malformed form", autopilot.FunctionSync, form, "command=%2Fautopilot&text=%zz", nil},
		{"form as json content type", autopilot.FunctionSync, jsonType, chatSample(t, "slack-sync-wait.form"), nil},
		{"teams sample", autopilot.FunctionSync, jsonType, chatSample(t, "teams-sync.json"), &want{row: "chatSync"}},
		{"teams escaped tag is no tenant word", autopilot.FunctionSync, jsonType, teams("<at>Autopilot</at> status &lt;b&gt;"), &want{row: "chatStatus", badTenant: true}},
		{"teams markdown link is no tenant word", autopilot.FunctionSync, jsonType, teams("<at>Autopilot</at> sync [sign-in](https://evil.example)"), &want{row: "chatSync"}},
		{"teams unknown words", autopilot.FunctionSync, jsonType, teams("<at>Autopilot</at> what can you do?"), &want{row: "chatHelp"}},
		{"teams conversation update", autopilot.FunctionSync, jsonType, chatSample(t, "teams-conversation-update.json"), nil},
		{"json ticketing webhook", autopilot.FunctionSync, jsonType, `{"event":{"event_type":"incident.triggered","data":{"title":"sync autopilot"}}}`, nil},
		{"json array", autopilot.FunctionSync, jsonType, `[{"type":"message","text":"sync"}]`, nil},
		{"json truncated", autopilot.FunctionSync, jsonType, `{"type":"message","text":"sy`, nil},
		{"teams body as form", autopilot.FunctionSync, form, chatSample(t, "teams-sync.json"), nil},
		{"no content type", autopilot.FunctionSync, "", chatSample(t, "teams-sync.json"), nil},
		{"plain text", autopilot.FunctionSync, "text/plain", "sync", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			post := readPost("", tt.contentType, []byte(tt.body))
			if (post.byContent != nil) != (tt.want != nil) {
				t.Fatalf("chat = %v, want %v", post.byContent != nil, tt.want != nil)
			}
			if tt.want == nil {
				return
			}
			req := &action.Request{Chat: *post.byContent}
			row := New(tt.fn, Deps{}).chatRow(req)
			got := want{row: row.NameFor(action.ViaChat), wait: req.ChatWait, tenant: req.Tenant, badTenant: req.BadTenant}
			if diff := cmp.Diff(*tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
		})
	}
}
