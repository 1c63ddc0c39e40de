package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/contract"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/graph/graphtest"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

// fakeIntune is a hand-written fake of our own Intune interface: the calls run on a real
// graph.Client whose requests the fake answers in memory (graphtest); an error field that is a
// *graph.Error is Graph's answer, any other error fails the call before Graph answers.
type fakeIntune struct {
	settings  graph.Settings
	getErr    error
	syncErr   error
	updateErr error
	gotUpdate *graph.SettingsUpdate
	mu        sync.Mutex
	syncs     int
	errored   bool // an error was given
	// afterSync, when set, replaces settings once a sync was asked for (whatever the answer):
	// what another caller's sync made of them meanwhile.
	afterSync *graph.Settings
	// devices, when set, answers the device searches (GETs of windowsAutopilotDeviceIdentities).
	devices *graphtest.Devices
}

// erred reports whether the fake gave an error.
func (f *fakeIntune) erred() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.errored }

func (f *fakeIntune) Do(_ context.Context, call func(*graph.Client) (*graph.Response, error)) (tenant.Call, error) {
	return graphtest.Run(f, call)
}

// errFor is the error the fake gives a request of method.
func (f *fakeIntune) errFor(method string) error {
	switch method {
	case http.MethodPost:
		return f.syncErr
	case http.MethodPatch:
		return f.updateErr
	}
	return f.getErr
}

// Fail fails a request whose error is not Graph's answer.
func (f *fakeIntune) Fail(r *http.Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodPost {
		f.syncs++
		if f.afterSync != nil {
			f.settings, f.afterSync = *f.afterSync, nil
		}
	}
	var ge *graph.Error
	if err := f.errFor(r.Method); err != nil && !errors.As(err, &ge) {
		f.errored = true
		return err
	}
	return nil
}

func (f *fakeIntune) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ge *graph.Error
	if errors.As(f.errFor(r.Method), &ge) {
		f.errored = true
		graphtest.WriteError(w, ge)
		return
	}
	if f.devices != nil && strings.Contains(r.URL.Path, "windowsAutopilotDeviceIdentities") {
		f.devices.ServeHTTP(w, r)
		return
	}
	switch r.Method {
	case http.MethodPost:
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		var u graph.SettingsUpdate
		_ = json.NewDecoder(r.Body).Decode(&u)
		f.gotUpdate = &u
		if u.SyncStatus != nil {
			f.settings.SyncStatus = *u.SyncStatus
		}
		graphtest.WriteJSON(w, f.settings)
	default:
		graphtest.WriteJSON(w, f.settings)
	}
}

var now = time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)

func newTestFunction(kind autopilot.Function, in action.Intune) *Function {
	return New(kind, Deps{Deps: action.Deps{Intune: in, Now: func() time.Time { return now }}, AllowUnauthenticated: true})
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, h http.Handler, method, target, contentType, body string) response {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := response{status: w.Code, header: w.Header()}
	data, _ := io.ReadAll(w.Body)
	if len(data) > 0 {
		if err := json.Unmarshal(data, &res.body); err != nil {
			t.Fatalf("answer is not JSON: %v: %s", err, data)
		}
	}
	// Every answer these tests see must be one openapi.yaml documents.
	if f, ok := h.(*Function); ok {
		x := contract.Exchange{Method: method, Path: "/" + string(f.fn), RawQuery: r.URL.RawQuery,
			Header: r.Header, Status: w.Code, RespHeader: w.Header(), Body: data}
		if err := contract.Check(x); err != nil {
			t.Error(err)
		}
	}
	return res
}

func TestSyncOutcomes(t *testing.T) {
	t.Parallel()
	lastTrigger := now.Add(-3*time.Minute - 500*time.Millisecond)
	tests := []struct {
		name           string
		intune         *fakeIntune
		wantStatus     int
		wantRetryAfter string
		want           map[string]any
	}{
		{
			name:       "started",
			intune:     &fakeIntune{},
			wantStatus: 202,
			want:       map[string]any{"result": "started", "requestedAt": "2026-11-28T15:00:00Z", "nextSyncAllowedAt": "2026-11-28T15:10:00Z"},
		},
		{
			name: "in progress reports what runs",
			intune: &fakeIntune{
				syncErr:  &graph.Error{StatusCode: 409, Code: "Conflict", RequestID: "rid", ClientRequestID: "crid"},
				settings: graph.Settings{SyncStatus: graph.SyncStatusInProgress, LastManualSyncTriggerDateTime: lastTrigger},
			},
			wantStatus: 409,
			want: map[string]any{
				"type": "urn:autopilot-sync:problem:sync-in-progress", "title": "A sync is already in progress", "status": 409.0,
				"code": "syncInProgress", "syncStatus": "inProgress", "lastManualSyncTriggerDateTime": "2026-11-28T14:56:59.5Z",
				"detail": "A sync of Autopilot devices is already running (started 2026-11-28T14:56:59Z); wait for it to finish.",
				"graph":  map[string]any{"code": "Conflict", "requestId": "rid", "clientRequestId": "crid"},
			},
		},
		{
			name:           "throttled with Graph's fractional Retry-After rounds up",
			intune:         &fakeIntune{syncErr: &graph.Error{StatusCode: 429, Code: "TooManyRequests", RetryAfter: 2128 * time.Millisecond, HasRetryAfter: true}},
			wantStatus:     429,
			wantRetryAfter: "3",
			want: map[string]any{
				"type": "urn:autopilot-sync:problem:sync-throttled", "title": "Sync requested too soon", "status": 429.0, "code": "syncThrottled",
				"detail":            "Intune allows one manual sync every 10 minutes; next allowed at 2026-11-28T15:00:03Z.",
				"retryAfterSeconds": 3.0, "nextSyncAllowedAt": "2026-11-28T15:00:03Z", "graph": map[string]any{"code": "TooManyRequests"},
			},
		},
		{
			name: "throttled without Retry-After uses the last manual trigger",
			intune: &fakeIntune{
				syncErr:  &graph.Error{StatusCode: 429, Code: "TooManyRequests"},
				settings: graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastManualSyncTriggerDateTime: lastTrigger},
			},
			wantStatus:     429,
			wantRetryAfter: "420",
			want: map[string]any{
				"type": "urn:autopilot-sync:problem:sync-throttled", "title": "Sync requested too soon", "status": 429.0, "code": "syncThrottled",
				"detail":            "Intune allows one manual sync every 10 minutes; next allowed at 2026-11-28T15:07:00Z.",
				"retryAfterSeconds": 420.0, "nextSyncAllowedAt": "2026-11-28T15:07:00Z", "graph": map[string]any{"code": "TooManyRequests"},
			},
		},
		{
			name: "throttled with nothing known waits ten minutes",
			intune: &fakeIntune{
				syncErr: &graph.Error{StatusCode: 429, Code: "TooManyRequests"},
				getErr:  &graph.Error{StatusCode: 503},
			},
			wantStatus:     429,
			wantRetryAfter: "600",
			want: map[string]any{
				"type": "urn:autopilot-sync:problem:sync-throttled", "title": "Sync requested too soon", "status": 429.0, "code": "syncThrottled",
				"detail":            "Intune allows one manual sync every 10 minutes; next allowed at 2026-11-28T15:10:00Z.",
				"retryAfterSeconds": 600.0, "nextSyncAllowedAt": "2026-11-28T15:10:00Z", "graph": map[string]any{"code": "TooManyRequests"},
			},
		},
		{
			name: "throttled long ago still waits at least a second",
			intune: &fakeIntune{
				syncErr:  &graph.Error{StatusCode: 429},
				settings: graph.Settings{LastManualSyncTriggerDateTime: now.Add(-time.Hour)},
			},
			wantStatus:     429,
			wantRetryAfter: "1",
			want: map[string]any{
				"type": "urn:autopilot-sync:problem:sync-throttled", "title": "Sync requested too soon", "status": 429.0, "code": "syncThrottled",
				"detail":            "Intune allows one manual sync every 10 minutes; next allowed at 2026-11-28T15:00:01Z.",
				"retryAfterSeconds": 1.0, "nextSyncAllowedAt": "2026-11-28T15:00:01Z", "graph": map[string]any{},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := do(t, newTestFunction(autopilot.FunctionSync, tt.intune), http.MethodPost, "/sync", "", "")
			if got.status != tt.wantStatus {
				t.Errorf("status = %d, want %d", got.status, tt.wantStatus)
			}
			if ra := got.header.Get("Retry-After"); ra != tt.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", ra, tt.wantRetryAfter)
			}
			// The Graph client sends a fresh client-request-id; a case that names none ignores it.
			if g, ok := got.body["graph"].(map[string]any); ok {
				if w, _ := tt.want["graph"].(map[string]any); w["clientRequestId"] == nil {
					delete(g, "clientRequestId")
				}
			}
			if diff := cmp.Diff(tt.want, got.body); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
			if tt.intune.syncs != 1 {
				t.Errorf("Sync called %d times, want 1", tt.intune.syncs)
			}
		})
	}
}

func TestErrorsBecomeProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		err            error
		wantStatus     int
		wantCode       string
		wantRetryAfter string
	}{
		{"graph 401 after rotation", &graph.Error{StatusCode: 401, Code: "InvalidAuthenticationToken"}, 502, "graphPermissionDenied", ""},
		{"graph 403", &graph.Error{StatusCode: 403, Code: "Forbidden"}, 502, "graphPermissionDenied", ""},
		{"graph 404", &graph.Error{StatusCode: 404, Code: "ResourceNotFound"}, 502, "graphError", ""},
		{"graph 500", &graph.Error{StatusCode: 500}, 503, "graphUnavailable", "30"},
		{"graph 503 with Retry-After", &graph.Error{StatusCode: 503, RetryAfter: 7 * time.Second, HasRetryAfter: true}, 503, "graphUnavailable", "7"},
		{"malformed graph answer", graph.ErrMalformedAnswer, 502, "graphError", ""},
		{"timeout", context.DeadlineExceeded, 504, "upstreamTimeout", ""},
		{"vault down", &keyvault.Error{Name: "graph-credential", StatusCode: 500}, 503, "secretStoreUnavailable", "30"},
		{"vault secret missing", &keyvault.Error{Name: "graph-credential", StatusCode: 404, NotFound: true}, 500, "misconfigured", ""},
		{"vault forbidden", &keyvault.Error{Name: "graph-credential", StatusCode: 403}, 500, "misconfigured", ""},
		{"credential unusable", tenant.ErrCredentialUnusable, 500, "misconfigured", ""},
		{"transport", errors.New("connection reset by peer"), 503, "graphUnavailable", "30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := do(t, newTestFunction(autopilot.FunctionStatus, &fakeIntune{getErr: tt.err}), http.MethodGet, "/status", "", "")
			if got.status != tt.wantStatus || got.body["code"] != tt.wantCode || got.body["status"] != float64(tt.wantStatus) {
				t.Errorf("got %d %v (status member %v), want %d %s", got.status, got.body["code"], got.body["status"], tt.wantStatus, tt.wantCode)
			}
			if ra := got.header.Get("Retry-After"); ra != tt.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", ra, tt.wantRetryAfter)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if detail, _ := got.body["detail"].(string); detail == "" || strings.Contains(detail, "connection reset") {
				t.Errorf("detail %q is empty or echoes the error", detail)
			}
		})
	}
}

func TestStatusDocument(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings graph.Settings
		want     map[string]any
	}{
		{
			name: "can sync",
			settings: graph.Settings{ID: "id1", SyncStatus: graph.SyncStatusCompleted,
				LastSyncDateTime: now.Add(-time.Hour), LastManualSyncTriggerDateTime: now.Add(-10 * time.Minute)},
			want: map[string]any{"id": "id1", "syncStatus": "completed", "lastSyncDateTime": "2026-11-28T14:00:00Z",
				"lastManualSyncTriggerDateTime": "2026-11-28T14:50:00Z", "nextManualSyncAllowedAt": "2026-11-28T15:00:00Z", "canSyncNow": true},
		},
		{
			name: "too soon",
			settings: graph.Settings{ID: "id1", SyncStatus: graph.SyncStatusCompleted,
				LastManualSyncTriggerDateTime: now.Add(-9 * time.Minute)},
			want: map[string]any{"id": "id1", "syncStatus": "completed", "lastSyncDateTime": "0001-01-01T00:00:00Z",
				"lastManualSyncTriggerDateTime": "2026-11-28T14:51:00Z", "nextManualSyncAllowedAt": "2026-11-28T15:01:00Z", "canSyncNow": false},
		},
		{
			name:     "in progress, never triggered by hand",
			settings: graph.Settings{ID: "id1", SyncStatus: graph.SyncStatusInProgress},
			want: map[string]any{"id": "id1", "syncStatus": "inProgress", "lastSyncDateTime": "0001-01-01T00:00:00Z",
				"lastManualSyncTriggerDateTime": "0001-01-01T00:00:00Z", "nextManualSyncAllowedAt": nil, "canSyncNow": false},
		},
		{
			name:     "unknown future status passes through",
			settings: graph.Settings{ID: "id1", SyncStatus: "unknownFutureValue"},
			want: map[string]any{"id": "id1", "syncStatus": "unknownFutureValue", "lastSyncDateTime": "0001-01-01T00:00:00Z",
				"lastManualSyncTriggerDateTime": "0001-01-01T00:00:00Z", "nextManualSyncAllowedAt": nil, "canSyncNow": true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := do(t, newTestFunction(autopilot.FunctionStatus, &fakeIntune{settings: tt.settings}), http.MethodGet, "/status", "", "")
			if got.status != 200 {
				t.Fatalf("status = %d", got.status)
			}
			if diff := cmp.Diff(tt.want, got.body); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPatchValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantCode    string
	}{
		{"status", "application/json", `{"syncStatus":"completed"}`, 200, ""},
		{"charset param", "application/json; charset=utf-8", `{"lastSyncDateTime":"2026-11-28T14:00:00+01:00"}`, 200, ""},
		{"all fields", "application/json", `{"lastSyncDateTime":"2026-11-28T14:00:00Z","lastManualSyncTriggerDateTime":"2026-11-28T14:00:00.5Z","syncStatus":"failed"}`, 200, ""},
		{"form", "application/x-www-form-urlencoded", `syncStatus=completed`, 415, "unsupportedMediaType"},
		{"no content type", "", `{"syncStatus":"completed"}`, 415, "unsupportedMediaType"},
		{"unknown field", "application/json", `{"syncStatus":"completed","id":"x"}`, 400, "badRequest"},
		{"bad enum", "application/json", `{"syncStatus":"done"}`, 400, "badRequest"},
		{"bad time", "application/json", `{"lastSyncDateTime":"yesterday"}`, 400, "badRequest"},
		{"number time", "application/json", `{"lastSyncDateTime":5}`, 400, "badRequest"},
		{"empty object", "application/json", `{}`, 400, "badRequest"},
		{"only nulls", "application/json", `{"syncStatus":null}`, 400, "badRequest"},
		{"empty body", "application/json", ``, 400, "badRequest"},
		{"not JSON", "application/json", `{"syncStatus":`, 400, "badRequest"},
		{"array", "application/json", `[1]`, 400, "badRequest"},
		{"trailing data", "application/json", `{"syncStatus":"completed"} {}`, 400, "badRequest"},
		{"too large", "application/json", `{"syncStatus":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413, "payloadTooLarge"},
		// Defect 7 of issue 13: names match exactly and a field given twice is refused.
		{"upper-case name", "application/json", `{"SYNCSTATUS":"unknown"}`, 400, "badRequest"},
		{"mixed-case name", "application/json", `{"syncstatus":"unknown"}`, 400, "badRequest"},
		{"duplicate field", "application/json", `{"syncStatus":"unknown","syncStatus":"completed"}`, 400, "badRequest"},
		{"duplicate with null", "application/json", `{"syncStatus":null,"syncStatus":"completed"}`, 400, "badRequest"},
		// Defect 3 of issue 13: a time whose +10 min cannot be encoded is a 400, never stored.
		{"trigger too late", "application/json", `{"lastManualSyncTriggerDateTime":"9999-12-31T23:50:00Z"}`, 400, "badRequest"},
		{"last sync too late", "application/json", `{"lastSyncDateTime":"9999-12-31T23:59:59Z"}`, 400, "badRequest"},
		{"latest allowed", "application/json", `{"lastManualSyncTriggerDateTime":"9999-12-31T23:49:59Z"}`, 200, ""},
		{"an offset before year 0000", "application/json", `{"lastSyncDateTime":"0000-01-01T00:00:00+01:00"}`, 400, "badRequest"},
		{"year 0000 in UTC", "application/json", `{"lastSyncDateTime":"0000-06-01T00:00:00Z"}`, 400, "badRequest"},
		{"an offset past year 9999", "application/json", `{"lastSyncDateTime":"9999-12-31T23:55:00-01:00"}`, 400, "badRequest"},
		{"nested object", "application/json", `{"syncStatus":{"a":1}}`, 400, "badRequest"},
		{"unclosed object", "application/json", `{"syncStatus":"completed"`, 400, "badRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := &fakeIntune{settings: graph.Settings{ID: "id1"}}
			got := do(t, newTestFunction(autopilot.FunctionStatus, in), http.MethodPatch, "/status", tt.contentType, tt.body)
			if got.status != tt.wantStatus {
				t.Errorf("status = %d, want %d (%v)", got.status, tt.wantStatus, got.body)
			}
			if code, _ := got.body["code"].(string); code != tt.wantCode {
				t.Errorf("code = %q, want %q", code, tt.wantCode)
			}
			if (in.gotUpdate != nil) != (tt.wantStatus == 200) {
				t.Errorf("Update called = %v, want %v", in.gotUpdate != nil, tt.wantStatus == 200)
			}
		})
	}
}

func TestMethods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind       autopilot.Function
		method     string
		wantStatus int
		wantAllow  string
	}{
		{autopilot.FunctionSync, http.MethodOptions, 204, "POST, OPTIONS"},
		{autopilot.FunctionSync, http.MethodGet, 405, "POST, OPTIONS"},
		{autopilot.FunctionSync, http.MethodDelete, 405, "POST, OPTIONS"},
		{autopilot.FunctionStatus, http.MethodOptions, 204, "GET, PATCH, OPTIONS"},
		{autopilot.FunctionStatus, http.MethodPost, 405, "GET, PATCH, OPTIONS"},
		{autopilot.FunctionStatus, http.MethodPut, 405, "GET, PATCH, OPTIONS"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+" "+tt.method, func(t *testing.T) {
			t.Parallel()
			in := &fakeIntune{}
			got := do(t, newTestFunction(tt.kind, in), tt.method, "/any/path", "", "")
			if got.status != tt.wantStatus || got.header.Get("Allow") != tt.wantAllow {
				t.Errorf("got %d Allow %q, want %d Allow %q", got.status, got.header.Get("Allow"), tt.wantStatus, tt.wantAllow)
			}
			if tt.wantStatus == 405 && got.body["code"] != "methodNotAllowed" {
				t.Errorf("code = %v", got.body["code"])
			}
			if in.syncs != 0 {
				t.Error("Graph was called")
			}
		})
	}
}

func TestClosedByDefault(t *testing.T) {
	t.Parallel()
	in := &fakeIntune{}
	f := New(autopilot.FunctionSync, Deps{Deps: action.Deps{Intune: in}})
	got := do(t, f, http.MethodPost, "/sync", "", "")
	if got.status != 401 || got.body["code"] != "unauthorized" {
		t.Errorf("got %d %v, want 401 unauthorized", got.status, got.body)
	}
	if in.syncs != 0 {
		t.Error("an unauthenticated request reached Graph")
	}
}

func TestMisconfigured(t *testing.T) {
	t.Parallel()
	f := New(autopilot.FunctionStatus, Deps{Deps: action.Deps{Err: errors.New("KEY_VAULT_URL: required")}, AllowUnauthenticated: true})
	got := do(t, f, http.MethodGet, "/status", "", "")
	if got.status != 500 || got.body["code"] != "misconfigured" {
		t.Errorf("got %d %v, want 500 misconfigured", got.status, got.body)
	}
	if strings.Contains(got.body["detail"].(string), "KEY_VAULT_URL") {
		t.Error("the answer echoes the internal error")
	}
}

func TestParseWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		query   string
		want    time.Duration
		wantBad bool
	}{
		{"", 0, false},
		{"wait=0", 0, false},
		{"wait=25", 25 * time.Second, false},
		{"wait=7", 7 * time.Second, false},
		{"wait=26", 0, true},
		{"wait=-1", 0, true},
		{"wait=1.5", 0, true},
		{"wait=", 0, true},
		{"wait=1&wait=2", 0, true},
		{"wait=99999999999999999999", 0, true},
		// Defect 8 of issue 13: digits only.
		{"wait=%2B5", 0, true},
		{"wait=05", 5 * time.Second, false},
		{"wait=%205", 0, true},
		{"wait=0x5", 0, true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/sync?"+tt.query, nil)
		var req action.Request
		p := action.ParamWait.Read(r.URL.Query()["wait"], &req)
		if got := req.Query.Wait; got != tt.want || (p != nil) != tt.wantBad {
			t.Errorf("?%s: wait %v, %v; want %v, bad %v", tt.query, req.Query.Wait, p, tt.want, tt.wantBad)
		}
	}
}
