package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/lambdahttp"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/webhook"
)

// Test secrets of the four schemes (SPEC §6); they must never appear in an answer.
var schemeSecrets = map[string]string{
	"token": "tok-5a1f0c9e2b7d4e8f",
	"hmac":  "hmac-9c2e7b1d4f6a8e0c",
	"slack": "slack-3e8d0a6c2f9b1d7e",
	"teams": base64.StdEncoding.EncodeToString([]byte("teams-key-of-32-bytes-0123456789")),
}

// memSecrets is a hand-written fake of webhook.Secrets that counts its reads.
type memSecrets struct {
	mu    sync.Mutex
	reads int
}

func (m *memSecrets) Get(_ context.Context, name string) (keyvault.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	v, ok := schemeSecrets[name]
	if !ok {
		return keyvault.Secret{Name: name}, &keyvault.Error{Name: name, NotFound: true, StatusCode: 404}
	}
	return keyvault.Secret{Name: name, Value: v}, nil
}

// countingIntune is a fakeIntune that counts every call (the fake's own counter only counts syncs).
type countingIntune struct {
	fakeIntune
	mu    sync.Mutex
	calls int
}

func (c *countingIntune) Do(ctx context.Context, call func(*graph.Client) (*graph.Response, error)) (tenant.Call, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.fakeIntune.Do(ctx, call)
}

// schemeFunction is a function whose callers are checked by the real webhook.Checker.
func schemeFunction(kind autopilot.Function, in action.Intune, clock time.Time) (*Function, *memSecrets) {
	secrets := &memSecrets{}
	names := webhook.Names{Token: "token", HMAC: "hmac", Slack: "slack", Teams: "teams"}
	now := func() time.Time { return clock }
	return New(kind, Deps{Deps: action.Deps{Intune: in, Now: now}, Callers: webhook.New(secrets, names, now)}), secrets
}

// signed returns the headers that prove scheme for body at now.
func signed(t testing.TB, scheme string, body string, now time.Time) map[string]string {
	t.Helper()
	switch scheme {
	case "token":
		return map[string]string{"Authorization": "Bearer " + schemeSecrets["token"]}
	case "hmac":
		return map[string]string{"X-Hub-Signature-256": webhook.SignGitHub(schemeSecrets["hmac"], []byte(body))}
	case "slack":
		ts := strconv.FormatInt(now.Unix(), 10)
		return map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": webhook.SignSlack(schemeSecrets["slack"], ts, []byte(body))}
	case "teams":
		h, err := webhook.SignTeams(schemeSecrets["teams"], []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"Authorization": h}
	}
	return nil
}

// httpEvent builds an HTTP event of shape ("httpApi", "rest" or "functionUrl").
func httpEvent(t testing.TB, shape, method, path, query string, headers map[string]string, body string) json.RawMessage {
	t.Helper()
	var ev any
	switch shape {
	case "httpApi", "functionUrl":
		domain := "abc.execute-api.eu-west-1.amazonaws.com"
		if shape == "functionUrl" {
			domain = "abc.lambda-url.eu-west-1.on.aws"
		}
		e := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: path, RawQueryString: query, Headers: map[string]string{}, Body: body}
		for k, v := range headers {
			e.Headers[strings.ToLower(k)] = v
		}
		e.RequestContext.DomainName = domain
		e.RequestContext.HTTP.Method, e.RequestContext.HTTP.Path = method, path
		ev = e
	case "rest":
		q, _ := url.ParseQuery(query)
		e := events.APIGatewayProxyRequest{HTTPMethod: method, Path: path, Headers: headers, MultiValueQueryStringParameters: q, Body: body}
		e.RequestContext.Path = path
		ev = e
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// answer is the status and body of an HTTP event's answer, whatever its shape.
func answerOf(t *testing.T, resp json.RawMessage) (int, string) {
	t.Helper()
	var r struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(resp, &r); err != nil || r.StatusCode == 0 {
		t.Fatalf("answer %s is no HTTP response (%v)", resp, err)
	}
	return r.StatusCode, r.Body
}

// TestSchemeLimits: SPEC §6's table. Each scheme, with valid credentials, against every action
// at both functions in all three HTTP event shapes: the token may do everything; an HMAC
// signature only POST to the sync function (anything else 403 forbidden); a body that a Slack or
// Teams signature covers is only ever chat, and never reaches Graph's sync or update unless it
// is that platform's sync command.
func TestSchemeLimits(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)
	teamsStatus := `{"type":"message","text":"<at>Autopilot</at> status","timestamp":"2026-11-28T14:59:30Z","from":{"name":"Ada"}}`
	tests := []struct {
		name          string
		kind          autopilot.Function
		method, query string
		body          string
		contentType   string
		want          map[string]int // scheme → status
		graphCalls    map[string]bool
		wantText      map[string]string // scheme → a part of the answer
	}{
		{
			name: "POST /sync", kind: autopilot.FunctionSync, method: "POST",
			want:       map[string]int{"token": 202, "hmac": 202, "slack": 200, "teams": 200},
			graphCalls: map[string]bool{"token": true, "hmac": true},
			wantText:   map[string]string{"slack": "Commands:", "teams": "Commands:"},
		},
		{
			name: "POST /sync?wait=1&tenant=x", kind: autopilot.FunctionSync, method: "POST", query: "wait=1",
			want:       map[string]int{"token": 200, "hmac": 200, "slack": 200, "teams": 200},
			graphCalls: map[string]bool{"token": true, "hmac": true},
		},
		{
			name: "GET /status", kind: autopilot.FunctionStatus, method: "GET",
			want:       map[string]int{"token": 200, "hmac": 403, "slack": 200, "teams": 200},
			graphCalls: map[string]bool{"token": true},
			wantText:   map[string]string{"hmac": "forbidden", "slack": "Commands:"},
		},
		{
			name: "GET /status?tenant=all", kind: autopilot.FunctionStatus, method: "GET", query: "tenant=all",
			want:       map[string]int{"token": 200, "hmac": 403, "slack": 200, "teams": 200},
			graphCalls: map[string]bool{"token": true},
		},
		{
			name: "PATCH /status", kind: autopilot.FunctionStatus, method: "PATCH", body: `{"syncStatus":"completed"}`, contentType: "application/json",
			want:       map[string]int{"token": 200, "hmac": 403, "slack": 200, "teams": 200},
			graphCalls: map[string]bool{"token": true},
		},
		{
			// POST of a body that is no chat is a wrong method at the status function, for anyone.
			name: "POST /status (a ticketing body)", kind: autopilot.FunctionStatus, method: "POST", body: `{"issue":"INC001"}`, contentType: "application/json",
			want:     map[string]int{"token": 405, "hmac": 405, "slack": 200, "teams": 200},
			wantText: map[string]string{"teams": "Commands:"},
		},
		{
			name: "a Slack status command at the status function", kind: autopilot.FunctionStatus, method: "POST",
			body: "command=%2Fautopilot-sync&text=status&user_name=ada", contentType: "application/x-www-form-urlencoded",
			want:       map[string]int{"token": 200, "hmac": 403, "slack": 200, "teams": 200},
			graphCalls: map[string]bool{"token": true, "slack": true},
			wantText:   map[string]string{"slack": "You can sync now", "teams": "Commands:"},
		},
		{
			name: "a Teams status activity at the sync function", kind: autopilot.FunctionSync, method: "POST", body: teamsStatus, contentType: "application/json",
			want:       map[string]int{"token": 200, "hmac": 202, "slack": 200, "teams": 200},
			graphCalls: map[string]bool{"token": true, "hmac": true, "teams": true},
			wantText:   map[string]string{"teams": "You can sync now"},
		},
	}
	for _, tt := range tests {
		for _, scheme := range []string{"token", "hmac", "slack", "teams"} {
			for _, shape := range []string{"httpApi", "rest", "functionUrl"} {
				t.Run(tt.name+"/"+scheme+"/"+shape, func(t *testing.T) {
					t.Parallel()
					in := &countingIntune{fakeIntune: fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusCompleted,
						LastSyncDateTime: now.Add(time.Second), LastManualSyncTriggerDateTime: now.Add(-time.Hour)}}}
					f, _ := schemeFunction(tt.kind, in, now)
					headers := signed(t, scheme, tt.body, now)
					if tt.contentType != "" {
						headers["Content-Type"] = tt.contentType
					}
					resp, err := f.Invoke(context.Background(), httpEvent(t, shape, tt.method, "/"+string(tt.kind), tt.query, headers, tt.body))
					if err != nil {
						t.Fatalf("Invoke: %v", err)
					}
					status, body := answerOf(t, resp)
					if want := tt.want[scheme]; status != want {
						t.Errorf("status %d, want %d: %s", status, want, body)
					}
					if got := in.calls > 0; got != tt.graphCalls[scheme] {
						t.Errorf("Graph called = %v, want %v (%d calls)", got, tt.graphCalls[scheme], in.calls)
					}
					if part := tt.wantText[scheme]; part != "" && !strings.Contains(body, part) {
						t.Errorf("answer %s, want it to contain %q", body, part)
					}
					for name, secret := range schemeSecrets {
						if strings.Contains(body, secret) {
							t.Errorf("the answer holds the %s secret", name)
						}
					}
				})
			}
		}
	}
}

// TestSignedChatBodies: a body that a Slack or Teams signature covers is acted on only as chat,
// whatever its Content-Type; Slack's SSL check gets an empty 200; a Teams activity must be
// fresh.
func TestSignedChatBodies(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)
	slackStatus := "token=x&team_id=T1&command=%2Fautopilot-sync&text=status&user_name=ada"
	teams := func(text, ts string) string {
		return `{"type":"message","text":"<at>Autopilot</at> ` + text + `","timestamp":"` + ts + `","from":{"name":"Ada"}}`
	}
	tests := []struct {
		name, scheme, body, contentType string
		wantStatus                      int
		wantSyncs                       int
		wantText                        string
	}{
		{"slack status re-sent as text/plain", "slack", slackStatus, "text/plain", 200, 0, "You can sync now"},
		{"slack status without a content type", "slack", slackStatus, "", 200, 0, "You can sync now"},
		{"slack sync as text/plain is Slack's sync", "slack", strings.Replace(slackStatus, "text=status", "text=sync", 1), "text/plain", 200, 1, "started"},
		{"slack ssl_check", "slack", "ssl_check=1&token=x", "application/x-www-form-urlencoded", 200, 0, ""},
		{"slack-signed JSON gets help", "slack", `{"action":"sync"}`, "application/json", 200, 0, "Commands:"},
		{"teams fresh", "teams", teams("sync", "2026-11-28T14:56:00Z"), "application/json", 200, 1, "started"},
		{"teams as text/plain", "teams", teams("status", "2026-11-28T14:59:00.123Z"), "text/plain", 200, 0, "You can sync now"},
		{"teams from 2019", "teams", teams("sync", "2019-03-01T10:00:00Z"), "application/json", 401, 0, "unauthorized"},
		{"teams six minutes old", "teams", teams("sync", "2026-11-28T14:54:00Z"), "application/json", 401, 0, "unauthorized"},
		{"teams from the future", "teams", teams("sync", "2026-11-28T15:06:00Z"), "application/json", 401, 0, "unauthorized"},
		{"teams without a timestamp", "teams", `{"type":"message","text":"sync"}`, "application/json", 401, 0, "unauthorized"},
		{"teams conversation update gets help", "teams", `{"type":"conversationUpdate"}`, "application/json", 200, 0, "Commands:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastManualSyncTriggerDateTime: now.Add(-time.Hour)}}
			f, _ := schemeFunction(autopilot.FunctionSync, in, now)
			headers := signed(t, tt.scheme, tt.body, now)
			if tt.contentType != "" {
				headers["Content-Type"] = tt.contentType
			}
			resp, err := f.Invoke(context.Background(), httpEvent(t, "httpApi", "POST", "/sync", "", headers, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			status, body := answerOf(t, resp)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantText) || in.syncs != tt.wantSyncs {
				t.Errorf("got %d %q with %d syncs; want %d %q with %d syncs", status, body, in.syncs, tt.wantStatus, tt.wantText, tt.wantSyncs)
			}
			if tt.wantText == "" && body != "" {
				t.Errorf("SSL check answered with a body: %q", body)
			}
		})
	}
}

// TestChatEchoesNothing: a tenant word that is neither a registry name nor a GUID (a Markdown
// link, a 5,000-character word) is never echoed; answers stay under 2 KB.
func TestChatEchoesNothing(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, contentType, body, word string }{
		{"teams link", "application/json", teamsBody("sync [Sign in](https://evil.example/login)"), "evil.example"},
		{"slack link", slackForm, slackBody("status <https://evil.example|Sign in>"), "evil.example"},
		{"slack long word", slackForm, slackBody("sync " + strings.Repeat("x", 5000)), strings.Repeat("x", 64)},
		{"teams long word", "application/json", teamsBody("status " + strings.Repeat("y", 5000)), strings.Repeat("y", 64)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := &fakeIntune{}
			got := do(t, newTestFunction(autopilot.FunctionSync, in), "POST", "/sync", tt.contentType, tt.body)
			raw, _ := json.Marshal(got.body)
			if got.status != 200 || strings.Contains(string(raw), tt.word) || len(raw) >= 2048 || in.syncs != 0 {
				t.Errorf("got %d (%d bytes, %d syncs): %s", got.status, len(raw), in.syncs, raw)
			}
		})
	}
}

// FuzzInvokeWithoutCredentials drives whole Lambda events into both functions, whose callers
// are checked by the real webhook.Checker, and asserts SPEC §6's property: an HTTP event without
// valid credentials never reaches Graph, and no answer or error holds a secret value. (Schedules,
// direct invocations and SQS batches are IAM-protected: they may reach Graph, never a secret.)
func FuzzInvokeWithoutCredentials(f *testing.F) {
	names, err := fs.Glob(autopilotsync.SampleEvents, "*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range names {
		raw, err := fs.ReadFile(autopilotsync.SampleEvents, name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	// Signed with secrets that are not the configured ones.
	now := time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)
	for _, h := range []map[string]string{
		{"Authorization": "Bearer tok-wrong"},
		{"X-Api-Key": "tok-5a1f0c9e2b7d4e8"},
		{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("user:tok-wrong"))},
		{"X-Hub-Signature-256": webhook.SignGitHub("hmac-wrong", []byte("{}"))},
		{"X-Slack-Request-Timestamp": strconv.FormatInt(now.Unix(), 10), "X-Slack-Signature": webhook.SignSlack("slack-wrong", strconv.FormatInt(now.Unix(), 10), []byte("command=%2Fa&text=sync"))},
		{"Authorization": "HMAC AAAA"},
	} {
		for _, shape := range []string{"httpApi", "rest", "functionUrl"} {
			f.Add([]byte(httpEvent(f, shape, "POST", "/sync", "wait=1", h, "command=%2Fa&text=sync")))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, secret := range schemeSecrets {
			if strings.Contains(string(raw), secret) {
				t.Skip("the input carries a configured secret")
			}
		}
		for _, kind := range []autopilot.Function{autopilot.FunctionSync, autopilot.FunctionStatus} {
			in := &countingIntune{}
			fn, _ := schemeFunction(kind, in, now)
			resp, err := fn.Invoke(context.Background(), json.RawMessage(raw))
			out, _ := json.Marshal(resp)
			if err != nil {
				out = append(out, err.Error()...)
			}
			for name, secret := range schemeSecrets {
				if strings.Contains(string(out), secret) {
					t.Fatalf("%s function: the answer holds the %s secret: %s", kind, name, out)
				}
			}
			if lambdahttp.Detect(raw) != "" && in.calls != 0 {
				t.Fatalf("%s function: an HTTP event without valid credentials reached Graph (%d calls): %s", kind, in.calls, raw)
			}
		}
	})
}
