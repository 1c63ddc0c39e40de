package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

// Real PATCH bodies: what the README and the events/ samples send, what people try, and what
// breaks the decoder.
var patchSamples = []struct {
	contentType, body string
}{
	{"application/json", `{"syncStatus":"completed"}`},
	{"application/json; charset=utf-8", `{"syncStatus":"failed","lastSyncDateTime":"2026-11-28T15:00:00Z"}`},
	{"application/json", `{"lastManualSyncTriggerDateTime":"2026-11-28T14:50:00.123456789+01:00"}`},
	{"application/json", `{"lastSyncDateTime":"2026-11-28T15:00:00Z","lastManualSyncTriggerDateTime":"2026-11-28T15:00:00Z","syncStatus":"unknown"}`},
	{"application/json", `{"syncStatus":"unknownFutureValue"}`},
	{"application/json", `{"syncStatus":null}`},
	{"application/json", `{}`},
	{"application/json", `null`},
	{"application/json", `[]`},
	{"application/json", `{"syncStatus":"completed"} {}`},
	{"application/json", `{"syncStatus":1}`},
	{"application/json", `{"id":"bd7faf38-5b15-4b49-a473-f6ec8954d9cb"}`},
	{"application/json", `{"lastSyncDateTime":"28/11/2026"}`},
	{"application/json", `{"SYNCSTATUS":"completed"}`},
	{"application/json", ``},
	{"text/plain", `{"syncStatus":"completed"}`},
	{"application/x-www-form-urlencoded", `syncStatus=completed`},
	{"application/json;", `{"syncStatus":"completed"}`},
	{"", `{"syncStatus":"completed"}`},
}

func FuzzParseUpdate(f *testing.F) {
	for _, s := range patchSamples {
		f.Add(s.contentType, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		u, p := parseUpdate(contentType, body)
		if p != nil {
			if p.Code != problem.BadRequest && p.Code != problem.UnsupportedMediaType {
				t.Fatalf("parseUpdate(%q, %q) = problem %q, want badRequest or unsupportedMediaType", contentType, body, p.Code)
			}
			if p.Status != p.Code.Status() || p.Detail == "" {
				t.Fatalf("problem %+v: status or detail missing", p)
			}
			if u != (graph.SettingsUpdate{}) {
				t.Fatalf("parseUpdate(%q, %q) returned an update with a problem: %+v", contentType, body, u)
			}
			return
		}
		if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "application/json") {
			t.Fatalf("parseUpdate accepted content type %q", contentType)
		}
		if u.LastSyncDateTime == nil && u.LastManualSyncTriggerDateTime == nil && u.SyncStatus == nil {
			t.Fatalf("parseUpdate(%q) accepted an update that sets nothing", body)
		}
		if u.SyncStatus != nil && !u.SyncStatus.Known() {
			t.Fatalf("parseUpdate(%q) accepted syncStatus %q", body, *u.SyncStatus)
		}
		for _, ts := range []*time.Time{u.LastSyncDateTime, u.LastManualSyncTriggerDateTime} {
			if ts != nil && ts.Location() != time.UTC {
				t.Fatalf("parseUpdate(%q): timestamp %v is not in UTC", body, ts)
			}
		}
		// What is sent to Graph is valid JSON with only the three properties.
		out, err := json.Marshal(u)
		if err != nil {
			t.Fatalf("the update does not encode: %v", err)
		}
		var sent map[string]json.RawMessage
		if err := json.Unmarshal(out, &sent); err != nil {
			t.Fatal(err)
		}
		for k := range sent {
			if k != "lastSyncDateTime" && k != "lastManualSyncTriggerDateTime" && k != "syncStatus" {
				t.Fatalf("the update sends %q", k)
			}
		}
		// And the body held one JSON object, nothing else.
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
			t.Fatalf("parseUpdate accepted %q, which is not one JSON object", body)
		}
	})
}

// fuzzIntune is a small fake Intune whose answers the fuzzer picks: success, or one of the
// errors the Graph path returns. It records whether it returned an error.
type fuzzIntune struct {
	mode    uint8
	errored atomic.Bool
}

func (f *fuzzIntune) err() error {
	var e error
	switch f.mode % 10 {
	case 1:
		e = &graph.Error{StatusCode: 409, Code: "Conflict", RequestID: "rid", ClientRequestID: "crid"}
	case 2:
		e = &graph.Error{StatusCode: 429, Code: "TooManyRequests", RetryAfter: 2128 * time.Millisecond, HasRetryAfter: true}
	case 3:
		e = &graph.Error{StatusCode: 429, Code: "TooManyRequests"}
	case 4:
		e = &graph.Error{StatusCode: 403, Code: "Forbidden"}
	case 5:
		e = &graph.Error{StatusCode: 503, Code: "ServiceUnavailable", RetryAfter: 7 * time.Second, HasRetryAfter: true}
	case 6:
		e = context.DeadlineExceeded
	case 7:
		e = errors.New("graph: GET windowsAutopilotSettings: connection reset by peer")
	default:
		return nil
	}
	f.errored.Store(true)
	return e
}

func (f *fuzzIntune) settings() graph.Settings {
	now := time.Now().UTC()
	return graph.Settings{ID: "bd7faf38-5b15-4b49-a473-f6ec8954d9cb", SyncStatus: graph.SyncStatusCompleted,
		LastSyncDateTime: now, LastManualSyncTriggerDateTime: now.Add(-3 * time.Minute)}
}

func (f *fuzzIntune) Get(context.Context) (graph.Settings, tenant.Call, error) {
	if f.mode/10%2 == 1 { // the sync fails but the read of the settings after it works
		return f.settings(), tenant.Call{}, nil
	}
	if err := f.err(); err != nil {
		return graph.Settings{}, tenant.Call{}, err
	}
	return f.settings(), tenant.Call{}, nil
}

func (f *fuzzIntune) Update(_ context.Context, u graph.SettingsUpdate) (graph.Settings, tenant.Call, error) {
	if err := f.err(); err != nil {
		return graph.Settings{}, tenant.Call{}, err
	}
	s := f.settings()
	if u.SyncStatus != nil {
		s.SyncStatus = *u.SyncStatus
	}
	return s, tenant.Call{}, nil
}

func (f *fuzzIntune) Sync(context.Context) (tenant.Call, error) { return tenant.Call{}, f.err() }

// sampleRequest is the HTTP part of an events/ sample, whatever its shape.
type sampleRequest struct {
	HTTPMethod     string            `json:"httpMethod"`
	Headers        map[string]string `json:"headers"`
	RawQueryString string            `json:"rawQueryString"`
	Query          map[string]string `json:"queryStringParameters"`
	Body           string            `json:"body"`
	Base64         bool              `json:"isBase64Encoded"`
	RequestContext struct {
		HTTP struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
}

func FuzzServeHTTP(f *testing.F) {
	names, err := fs.Glob(autopilotsync.SampleEvents, "*.json")
	if err != nil {
		f.Fatal(err)
	}
	for i, name := range names {
		data, err := fs.ReadFile(autopilotsync.SampleEvents, name)
		if err != nil {
			f.Fatal(err)
		}
		var s sampleRequest
		if json.Unmarshal(data, &s) != nil {
			continue
		}
		method := s.RequestContext.HTTP.Method
		if method == "" {
			method = s.HTTPMethod
		}
		if method == "" {
			continue // a schedule, not an HTTP request
		}
		query := s.RawQueryString
		if query == "" && len(s.Query) > 0 {
			v := url.Values{}
			for k, q := range s.Query {
				v.Set(k, q)
			}
			query = v.Encode()
		}
		body := []byte(s.Body)
		if s.Base64 {
			if body, err = base64.StdEncoding.DecodeString(s.Body); err != nil {
				f.Fatal(err)
			}
		}
		contentType := ""
		for k, v := range s.Headers {
			if strings.EqualFold(k, "content-type") {
				contentType = v
			}
		}
		isSync := strings.Contains(name, "sync")
		for mode := range uint8(8) {
			f.Add(isSync, method, contentType, query, body, mode+uint8(i%2)*10)
		}
	}
	for _, s := range patchSamples {
		f.Add(false, http.MethodPatch, s.contentType, "", []byte(s.body), uint8(0))
	}
	for _, q := range []string{"wait=0", "wait=2", "wait=26", "wait=-1", "wait=soon", "wait=1&wait=2", "wait", "%zz", "tenant=contoso"} {
		f.Add(true, http.MethodPost, "", q, []byte(nil), uint8(0))
	}
	f.Add(true, http.MethodOptions, "", "", []byte(nil), uint8(0))
	f.Add(false, http.MethodDelete, "", "", []byte(nil), uint8(0))
	f.Add(true, http.MethodPost, "application/json", "", bytes.Repeat([]byte("x"), MaxBodyBytes+1), uint8(0))

	f.Fuzz(func(t *testing.T, isSync bool, method, contentType, query string, body []byte, mode uint8) {
		kind, path := KindStatus, "/status"
		if isSync {
			kind, path = KindSync, "/sync"
		}
		intune := &fuzzIntune{mode: mode}
		fn := New(kind, Deps{Intune: intune, AllowUnauthenticated: true})
		// A deadline close enough that ?wait=N ends at once: the answer is then 202 inProgress.
		ctx, cancel := context.WithTimeout(context.Background(), deadlineMargin+20*time.Millisecond)
		defer cancel()
		r, err := http.NewRequestWithContext(ctx, method, "http://autopilot-sync.example"+path, bytes.NewReader(body))
		if err != nil {
			return // not a method net/http can carry
		}
		r.URL.RawQuery = query
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		fn.ServeHTTP(w, r)

		status := w.Code
		if status >= 500 && !intune.errored.Load() {
			t.Fatalf("%s %s?%s (%q, %q): %d without an upstream error: %s", method, path, query, contentType, body, status, w.Body)
		}
		if status == http.StatusNoContent {
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("%d answer is not JSON: %v: %q", status, err, w.Body)
		}
		if status >= 400 {
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%d answer has Content-Type %q", status, ct)
			}
			if code, _ := doc["code"].(string); code == "" || doc["status"] != float64(status) {
				t.Fatalf("%d answer is not a problem with a code: %s", status, w.Body)
			}
		}
		if status == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
			t.Fatal("405 without Allow")
		}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			if n, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || n < 1 {
				t.Fatalf("%d without a whole-seconds Retry-After: %q", status, w.Header().Get("Retry-After"))
			}
		}
	})
}
