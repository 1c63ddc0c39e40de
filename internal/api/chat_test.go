package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

// slowIntune never answers before the context ends, like a Graph that hangs.
type slowIntune struct{ fakeIntune }

func (s *slowIntune) Sync(ctx context.Context) (tenant.Call, error) {
	<-ctx.Done()
	return tenant.Call{}, ctx.Err()
}

func (s *slowIntune) Get(ctx context.Context) (graph.Settings, tenant.Call, error) {
	<-ctx.Done()
	return graph.Settings{}, tenant.Call{}, ctx.Err()
}

// deadlineIntune records the deadline of the call it gets.
type deadlineIntune struct {
	fakeIntune
	deadline chan time.Time
}

func (d *deadlineIntune) Sync(ctx context.Context) (tenant.Call, error) {
	deadline, _ := ctx.Deadline()
	d.deadline <- deadline
	return tenant.Call{}, nil
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
		kind        Kind
		intune      Intune
		contentType string
		body        string
		wantField   string // "text" for both platforms
		wantText    string
		wantType    string
	}{
		{"slack sync started", KindSync, &fakeIntune{}, slackForm, slackBody("sync"), "text", "Sync of Windows Autopilot devices started at 15:00 UTC", ""},
		{"slack sync throttled", KindSync, &fakeIntune{syncErr: &graph.Error{StatusCode: 429, RetryAfter: 6 * time.Minute, HasRetryAfter: true}},
			slackForm, slackBody("sync"), "text", "Next sync allowed in 6 min (15:06 UTC)", ""},
		{"slack sync in progress", KindSync, &fakeIntune{syncErr: &graph.Error{StatusCode: 409},
			settings: graph.Settings{SyncStatus: graph.SyncStatusInProgress, LastManualSyncTriggerDateTime: now.Add(-2 * time.Minute)}},
			slackForm, slackBody("sync"), "text", "A sync is already running (started 14:58 UTC)", ""},
		{"slack status at the sync function", KindSync, &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastManualSyncTriggerDateTime: now.Add(-time.Hour)}},
			slackForm, slackBody("status"), "text", "You can sync now", ""},
		{"slack permission missing", KindSync, &fakeIntune{syncErr: &graph.Error{StatusCode: 403}},
			slackForm, slackBody("sync"), "text", "DeviceManagementServiceConfig.ReadWrite.All", ""},
		{"teams sync", KindSync, &fakeIntune{}, "application/json", teamsBody("sync"), "text", "started at 15:00 UTC", "message"},
		{"teams status at the status function", KindStatus, &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusInProgress}},
			"application/json", teamsBody("status"), "text", "A sync is running", "message"},
		{"teams sync at the status function points to sync", KindStatus, &fakeIntune{}, "application/json", teamsBody("sync"), "text", "only reads status", "message"},
		{"slack help", KindStatus, &fakeIntune{}, slackForm, slackBody(""), "text", "sync", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := New(tt.kind, Deps{Intune: tt.intune, AllowUnauthenticated: true, Now: func() time.Time { return now }})
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
			f := New(KindSync, Deps{Intune: in, AllowUnauthenticated: true, Now: func() time.Time { return now }})
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
	f := New(KindSync, Deps{Intune: &slowIntune{}, AllowUnauthenticated: true, Now: func() time.Time { return now }})
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
	f := New(KindSync, Deps{Intune: in, Now: func() time.Time { return now }})
	got := do(t, f, http.MethodPost, "/sync", slackForm, slackBody("sync"))
	if got.status != http.StatusUnauthorized || got.body["code"] != "unauthorized" {
		t.Errorf("got %d %v, want 401 unauthorized", got.status, got.body)
	}
	if in.syncs != 0 {
		t.Error("an unauthenticated chat command reached Graph")
	}
}
