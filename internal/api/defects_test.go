package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

// logLines decodes every JSON line of buf.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, l)
		}
		lines = append(lines, m)
	}
	return lines
}

// invocationLine returns the one invocation line of buf.
func invocationLine(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, l := range logLines(t, buf) {
		if l["msg"] == "invocation" {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d invocation lines, want 1: %s", len(found), buf.Bytes())
	}
	return found[0]
}

// TestChatActionsAreTheClosedSet: defect 1 of issue 13. Chat failures log the same action as
// chat successes (chatSync, chatStatus), a failed chat sync counts as SyncFailed, and `sync` at
// the status function is chatHelp, one of SPEC §12's actions.
func TestChatActionsAreTheClosedSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		kind       autopilot.Function
		intune     *fakeIntune
		text       string
		wantAction string
		wantCode   string
		wantFailed float64 // SyncFailed; -1: no sync metrics on the line
	}{
		{"sync fails", autopilot.FunctionSync, &fakeIntune{syncErr: &graph.Error{StatusCode: 503}}, "sync", "chatSync", "graphUnavailable", 1},
		{"sync works", autopilot.FunctionSync, &fakeIntune{}, "sync", "chatSync", "ok", 0},
		{"status fails", autopilot.FunctionSync, &fakeIntune{getErr: &graph.Error{StatusCode: 403}}, "status", "chatStatus", "graphPermissionDenied", -1},
		{"sync at the status function", autopilot.FunctionStatus, &fakeIntune{}, "sync", "chatHelp", "ok", -1},
		{"a serial without a follow-up queue", autopilot.FunctionSync, &fakeIntune{}, "sync wingtip", "chatSync", "badRequest", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			f := New(tt.kind, Deps{Deps: action.Deps{Intune: tt.intune, TenantID: "t1", Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(&buf, nil))}, AllowUnauthenticated: true})
			do(t, f, http.MethodPost, "/", slackForm, slackBody(tt.text))
			line := invocationLine(t, &buf)
			if line["action"] != tt.wantAction || line["code"] != tt.wantCode || line["source"] != "slack" {
				t.Errorf("action %v code %v source %v, want %s %s slack", line["action"], line["code"], line["source"], tt.wantAction, tt.wantCode)
			}
			got, has := line[action.MetricSyncFailed].(float64)
			if tt.wantFailed < 0 && has || tt.wantFailed >= 0 && got != tt.wantFailed {
				t.Errorf("SyncFailed = %v (present %v), want %v", got, has, tt.wantFailed)
			}
		})
	}
}

// TestInvocationStatusNeverZero: defect 2 of issue 13. A failed fan-out, or any scheduled, direct
// or queued invocation, logs the status of the problem or result it returned.
func TestInvocationStatusNeverZero(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, event string
		fleet       bool
		wantStatus  float64
		wantAction  string
	}{
		{"fan-out without a queue", `{"action":"sync","tenants":"all"}`, true, 500, "fanOut"},
		{"fan-out without a registry", `{"action":"sync","tenants":"all"}`, false, 500, "fanOut"},
		{"scheduled sync", `{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`, false, 200, "scheduledSync"},
		{"direct status", `{"action":"status"}`, false, 200, "status"},
		{"direct sync of an unknown tenant", `{"action":"sync","tenant":"wingtip"}`, false, 404, "scheduledSync"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			d := Deps{Deps: action.Deps{Intune: &fakeIntune{}, Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(&buf, nil))}}
			if tt.fleet {
				d.Tenants = newFleet()
			}
			_, _ = New(autopilot.FunctionSync, d).Invoke(context.Background(), json.RawMessage(tt.event))
			line := invocationLine(t, &buf)
			if line["status"] != tt.wantStatus || line["action"] != tt.wantAction {
				t.Errorf("status %v action %v, want %v %s: %s", line["status"], line["action"], tt.wantStatus, tt.wantAction, buf.Bytes())
			}
		})
	}
}

// TestStoredLateTriggerTime: defect 3 of issue 13. Graph may hold a trigger time whose +10 min
// cannot be encoded (it stores what it is sent); a read still answers 200, with the latest time
// that can be encoded as nextManualSyncAllowedAt.
func TestStoredLateTriggerTime(t *testing.T) {
	t.Parallel()
	in := &fakeIntune{settings: graph.Settings{ID: "id", SyncStatus: graph.SyncStatusCompleted,
		LastManualSyncTriggerDateTime: time.Date(9999, 12, 31, 23, 55, 0, 0, time.UTC)}}
	got := do(t, newTestFunction(autopilot.FunctionStatus, in), http.MethodGet, "/status", "", "")
	if got.status != 200 || got.body["nextManualSyncAllowedAt"] != "9999-12-31T23:59:59Z" || got.body["canSyncNow"] != false {
		t.Errorf("got %d %v", got.status, got.body)
	}
}

// TestUnencodableAnswerIsLogged: defect 3 of issue 13. An answer that cannot be encoded (here a
// 429 at the very end of year 9999, whose next allowed time is in year 10000) is a 500 problem,
// and the log line says 500 with the encoding error, not 200 ok.
func TestUnencodableAnswerIsLogged(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	late := time.Date(9999, 12, 31, 23, 59, 0, 0, time.UTC)
	f := New(autopilot.FunctionSync, Deps{Deps: action.Deps{Intune: &fakeIntune{syncErr: &graph.Error{StatusCode: 429, RetryAfter: time.Hour, HasRetryAfter: true}}, Now: func() time.Time { return late }, Log: slog.New(slog.NewJSONHandler(&buf, nil))}, AllowUnauthenticated: true})
	got := do(t, f, http.MethodPost, "/sync", "", "")
	if got.status != 500 || got.body["code"] != "misconfigured" {
		t.Errorf("got %d %v", got.status, got.body)
	}
	line := invocationLine(t, &buf)
	if line["status"] != 500.0 || line["code"] != "misconfigured" || !strings.Contains(line["error"].(string), "encode answer") {
		t.Errorf("log line %s", buf.Bytes())
	}
}

// TestJunkBase64Body: defect 6 of issue 13. An HTTP event whose body is marked isBase64Encoded
// but is not base64 is a 400 problem, not a Lambda error (which API Gateway shows as a 500).
func TestJunkBase64Body(t *testing.T) {
	t.Parallel()
	event := `{"version":"2.0","routeKey":"PATCH /status","rawPath":"/status","headers":{"content-type":"application/json"},
		"requestContext":{"http":{"method":"PATCH","path":"/status"},"domainName":"x.execute-api.eu-west-1.amazonaws.com"},
		"body":"not base64!","isBase64Encoded":true}`
	in := &fakeIntune{}
	resp, err := newTestFunction(autopilot.FunctionStatus, in).Invoke(context.Background(), json.RawMessage(event))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var r events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(resp, &r); err != nil || r.StatusCode != 400 || !strings.Contains(r.Body, "base64") || in.gotUpdate != nil {
		t.Errorf("got %s", resp)
	}
}
