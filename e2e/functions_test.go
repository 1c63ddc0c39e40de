package e2e

import (
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

func sample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := fs.ReadFile(autopilotsync.SampleEvents, name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// httpAPIEvent returns the HTTP API sample name changed by edit.
func httpAPIEvent(t *testing.T, name string, edit func(*awsevents.APIGatewayV2HTTPRequest)) []byte {
	t.Helper()
	var ev awsevents.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(sample(t, name), &ev); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&ev)
	}
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSyncEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn := e.start(t, binaries.sync, nil)
	syncEvent := sample(t, "httpapi-sync.json")

	// 202: started.
	got := decodeHTTP(t, fn.invoke(t, syncEvent))
	if got.StatusCode != 202 {
		t.Fatalf("first sync: %d %s", got.StatusCode, got.Body)
	}
	body := got.json(t)
	if body["result"] != "started" {
		t.Errorf("result = %v", body["result"])
	}
	requestedAt, _ := time.Parse(time.RFC3339, body["requestedAt"].(string))
	next, _ := time.Parse(time.RFC3339, body["nextSyncAllowedAt"].(string))
	// Both to the second: the request rounded down, ten minutes after it rounded up.
	if d := next.Sub(requestedAt); d != 10*time.Minute && d != 10*time.Minute+time.Second {
		t.Errorf("nextSyncAllowedAt - requestedAt = %v", d)
	}
	coldCounts := e.emu.Counts()

	// 409: in progress, with what runs.
	got = decodeHTTP(t, fn.invoke(t, syncEvent))
	body = got.json(t)
	if got.StatusCode != 409 || body["code"] != "syncInProgress" || body["syncStatus"] != "inProgress" || body["lastManualSyncTriggerDateTime"] == nil {
		t.Errorf("second sync: %d %s", got.StatusCode, got.Body)
	}
	if ct := got.header("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if g, _ := body["graph"].(map[string]any); g["requestId"] == "" || g["clientRequestId"] == "" {
		t.Errorf("graph identifiers missing: %v", body["graph"])
	}

	// 429 after the sync completed, within ten minutes: the wait comes from each source in turn.
	e.clock.Advance(2 * time.Minute)
	tests := []struct {
		name    string
		mode    emulator.RetryAfterMode
		prepare func() (remove func())
		min     int
		max     int
	}{
		{name: "Graph's whole seconds", mode: emulator.RetryAfterSeconds, min: 479, max: 481},
		{name: "Graph's fractional seconds, rounded up", mode: emulator.RetryAfterFractional, min: 479, max: 481},
		// The date is on the emulator's clock, which this test moved two minutes ahead of the
		// function's real clock: from where the function stands, the wait is 8 + 2 minutes.
		{name: "Graph's HTTP date, read against the function's clock", mode: emulator.RetryAfterDate, min: 598, max: 601},
		{
			name: "no Retry-After: from lastManualSyncTriggerDateTime", mode: emulator.RetryAfterNone, min: 418, max: 421,
			prepare: func() func() {
				s := e.emu.Settings(emulator.SeedTenantID)
				s.LastManualSyncTriggerDateTime = time.Now().Add(-3 * time.Minute)
				e.emu.SetSettings(emulator.SeedTenantID, s)
				return func() {}
			},
		},
		{
			name: "no Retry-After, settings unreadable: ten minutes", mode: emulator.RetryAfterNone, min: 600, max: 600,
			prepare: func() func() {
				return e.emu.AddFault(emulator.Fault{Service: emulator.Graph, Method: http.MethodGet, Status: 404})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.emu.SetRetryAfterMode(tt.mode)
			if tt.prepare != nil {
				defer tt.prepare()()
			}
			got := decodeHTTP(t, fn.invoke(t, syncEvent))
			body := got.json(t)
			if got.StatusCode != 429 || body["code"] != "syncThrottled" {
				t.Fatalf("got %d %s", got.StatusCode, got.Body)
			}
			ra := atoi(t, got.header("Retry-After"))
			if ra < tt.min || ra > tt.max || body["retryAfterSeconds"] != float64(ra) {
				t.Errorf("Retry-After %d, retryAfterSeconds %v; want %d..%d", ra, body["retryAfterSeconds"], tt.min, tt.max)
			}
			if !strings.Contains(body["detail"].(string), body["nextSyncAllowedAt"].(string)) {
				t.Errorf("detail %q does not say when", body["detail"])
			}
		})
	}

	// Warm invocations read no secret and request no token.
	warm := e.emu.Counts()
	if got, want := sum(warm.Tokens), sum(coldCounts.Tokens); got != want {
		t.Errorf("token requests grew on warm invocations: %d → %d", want, got)
	}
	if got, want := sum(warm.SecretReads), sum(coldCounts.SecretReads); got != want || want != 1 {
		t.Errorf("secret reads: cold %d, after warm invocations %d; want 1 and no more", want, got)
	}
	if sum(coldCounts.Tokens) != 2 {
		t.Errorf("cold start made %d token requests, want 2 (Key Vault identity, Graph app)", sum(coldCounts.Tokens))
	}
	if n := warm.Graph["POST sync"]; n != 2+len(tests) {
		t.Errorf("Graph saw %d sync requests, want %d (409 and 429 are never retried)", n, 2+len(tests))
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestStatusEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn := e.start(t, binaries.status, nil)
	patch := func(contentType, body string, base64Body bool) func(*awsevents.APIGatewayV2HTTPRequest) {
		return func(ev *awsevents.APIGatewayV2HTTPRequest) {
			ev.Headers["content-type"] = contentType
			ev.Body, ev.IsBase64Encoded = body, base64Body
			if base64Body {
				ev.Body = base64.StdEncoding.EncodeToString([]byte(body))
			}
		}
	}
	tests := []struct {
		name       string
		event      []byte
		wantStatus int
		wantCode   string
		check      func(t *testing.T, body map[string]any)
	}{
		{
			name: "GET", event: sample(t, "httpapi-status.json"), wantStatus: 200,
			check: func(t *testing.T, body map[string]any) {
				for _, k := range []string{"id", "syncStatus", "lastSyncDateTime", "lastManualSyncTriggerDateTime", "nextManualSyncAllowedAt", "canSyncNow"} {
					if _, ok := body[k]; !ok {
						t.Errorf("status document lacks %s: %v", k, body)
					}
				}
				if body["canSyncNow"] != true {
					t.Errorf("canSyncNow = %v", body["canSyncNow"])
				}
			},
		},
		{name: "REST GET", event: sample(t, "rest-status.json"), wantStatus: 200},
		{name: "Function URL GET", event: sample(t, "functionurl-status.json"), wantStatus: 200},
		{
			name: "PATCH", event: sample(t, "httpapi-status-patch.json"), wantStatus: 200,
			check: func(t *testing.T, body map[string]any) {
				if body["syncStatus"] != "completed" {
					t.Errorf("syncStatus = %v", body["syncStatus"])
				}
			},
		},
		{
			name:  "PATCH base64",
			event: httpAPIEvent(t, "httpapi-status-patch.json", patch("application/json", `{"syncStatus":"failed"}`, true)), wantStatus: 200,
			check: func(t *testing.T, body map[string]any) {
				if body["syncStatus"] != "failed" {
					t.Errorf("syncStatus = %v", body["syncStatus"])
				}
			},
		},
		{name: "PATCH bad value", event: httpAPIEvent(t, "httpapi-status-patch.json", patch("application/json", `{"syncStatus":"done"}`, false)), wantStatus: 400, wantCode: "badRequest"},
		{name: "PATCH unknown field", event: httpAPIEvent(t, "httpapi-status-patch.json", patch("application/json", `{"id":"x"}`, false)), wantStatus: 400, wantCode: "badRequest"},
		{name: "PATCH bad time", event: httpAPIEvent(t, "httpapi-status-patch.json", patch("application/json", `{"lastSyncDateTime":"monday"}`, false)), wantStatus: 400, wantCode: "badRequest"},
		{name: "PATCH form", event: httpAPIEvent(t, "httpapi-status-patch.json", patch("text/plain", `syncStatus=completed`, false)), wantStatus: 415, wantCode: "unsupportedMediaType"},
		{name: "PATCH too large", event: httpAPIEvent(t, "httpapi-status-patch.json", patch("application/json", `{"syncStatus":"`+strings.Repeat("x", 70000)+`"}`, false)), wantStatus: 413, wantCode: "payloadTooLarge"},
		{
			name: "DELETE", event: httpAPIEvent(t, "httpapi-status.json", func(ev *awsevents.APIGatewayV2HTTPRequest) { ev.RequestContext.HTTP.Method = "DELETE" }),
			wantStatus: 405, wantCode: "methodNotAllowed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeHTTP(t, fn.invoke(t, tt.event))
			body := got.json(t)
			if got.StatusCode != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", got.StatusCode, got.Body, tt.wantStatus)
			}
			if code, _ := body["code"].(string); code != tt.wantCode {
				t.Errorf("code = %q, want %q", code, tt.wantCode)
			}
			if tt.wantStatus == 405 && got.header("Allow") != "GET, PATCH, OPTIONS" {
				t.Errorf("Allow = %q", got.header("Allow"))
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
	if n := e.emu.Counts().Graph["PATCH"]; n != 2 {
		t.Errorf("Graph saw %d PATCH requests, want 2 (invalid ones never reach it)", n)
	}
}

func TestUnknownEventThenServes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn := e.start(t, binaries.sync, nil)
	// Junk base64 in an HTTP event is the caller's error: a 400 answer, not a Lambda error.
	junk := decodeHTTP(t, fn.invoke(t, []byte(`{"version":"2.0","requestContext":{"http":{"method":"POST"}},"body":"%%%","isBase64Encoded":true}`)))
	if junk.StatusCode != 400 || junk.json(t)["code"] != "badRequest" {
		t.Errorf("junk base64: %d %s, want 400 badRequest", junk.StatusCode, junk.Body)
	}
	for _, bad := range []string{`{"hello":"world"}`, `[1,2]`, `"text"`} {
		le := decodeError(t, fn.invoke(t, []byte(bad)))
		if !strings.Contains(le.ErrorMessage, "expects") && !strings.Contains(le.ErrorMessage, "malformed") {
			t.Errorf("%s: error %q does not say what was expected", bad, le.ErrorMessage)
		}
	}
	for _, name := range []string{"rest-sync.json", "functionurl-sync.json", "httpapi-sync.json"} {
		got := decodeHTTP(t, fn.invoke(t, sample(t, name)))
		if got.StatusCode != 202 && got.StatusCode != 409 {
			t.Errorf("%s after bad events: %d %s", name, got.StatusCode, got.Body)
		}
	}
	wrong := httpAPIEvent(t, "httpapi-sync.json", func(ev *awsevents.APIGatewayV2HTTPRequest) { ev.RequestContext.HTTP.Method = "GET" })
	if got := decodeHTTP(t, fn.invoke(t, wrong)); got.StatusCode != 405 || got.header("Allow") != "POST, OPTIONS" {
		t.Errorf("GET on sync: %d Allow %q", got.StatusCode, got.header("Allow"))
	}
}

func TestClosedWithoutCallerChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn := e.start(t, binaries.sync, map[string]string{"ALLOW_UNAUTHENTICATED": "false"})
	got := decodeHTTP(t, fn.invokeLogged(t, sample(t, "httpapi-sync.json")))
	if got.StatusCode != 401 || got.json(t)["code"] != "unauthorized" {
		t.Errorf("got %d %s, want 401 unauthorized", got.StatusCode, got.Body)
	}
	c := e.emu.Counts()
	if sum(c.SecretReads) != 0 || c.Graph["POST sync"] != 0 {
		t.Errorf("a refused request reached Key Vault (%d) or Graph (%d)", sum(c.SecretReads), c.Graph["POST sync"])
	}
	if !strings.Contains(fn.logs.String(), "every HTTP request will answer 401") {
		t.Errorf("cold start did not log why:\n%s", fn.logs.String())
	}
}

func TestMisconfiguredAnswers500(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn := e.start(t, binaries.status, map[string]string{"KEY_VAULT_URL": "http://not-https.example"})
	got := decodeHTTP(t, fn.invokeLogged(t, sample(t, "httpapi-status.json")))
	if got.StatusCode != 500 || got.json(t)["code"] != "misconfigured" {
		t.Errorf("got %d %s, want 500 misconfigured", got.StatusCode, got.Body)
	}
	if !strings.Contains(fn.logs.String(), "KEY_VAULT_URL") {
		t.Errorf("the log does not name the variable:\n%s", fn.logs.String())
	}
}
