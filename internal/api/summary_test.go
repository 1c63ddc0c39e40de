package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

func TestSummaryLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		intune    *fakeIntune
		wantCode  string
		wantCount map[string]float64
	}{
		{"started", &fakeIntune{}, "ok", map[string]float64{"SyncStarted": 1, "SyncInProgress": 0, "SyncThrottled": 0, "SyncFailed": 0}},
		{"in progress", &fakeIntune{syncErr: &graph.Error{StatusCode: 409, RequestID: "rid"}}, "syncInProgress",
			map[string]float64{"SyncStarted": 0, "SyncInProgress": 1, "SyncThrottled": 0, "SyncFailed": 0}},
		{"throttled", &fakeIntune{syncErr: &graph.Error{StatusCode: 429}}, "syncThrottled",
			map[string]float64{"SyncStarted": 0, "SyncInProgress": 0, "SyncThrottled": 1, "SyncFailed": 0}},
		{"failed", &fakeIntune{syncErr: &graph.Error{StatusCode: 503}}, "graphUnavailable",
			map[string]float64{"SyncStarted": 0, "SyncInProgress": 0, "SyncThrottled": 0, "SyncFailed": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			f := New(autopilot.FunctionSync, Deps{Deps: action.Deps{Intune: tt.intune, Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(&buf, nil))}, AllowUnauthenticated: true})
			do(t, f, http.MethodPost, "/sync", "", "")
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("log line is not one JSON object: %v: %s", err, buf.Bytes())
			}
			for _, k := range []string{"requestId", "function", "source", "action", "code", "status", "durationMs", "vaultMs", "coldStart", "Latency", "GraphLatency"} {
				if _, ok := line[k]; !ok {
					t.Errorf("log line lacks %s: %s", k, buf.Bytes())
				}
			}
			if line["code"] != tt.wantCode || line["source"] != "local" || line["coldStart"] != true {
				t.Errorf("code %v source %v coldStart %v", line["code"], line["source"], line["coldStart"])
			}
			for k, v := range tt.wantCount {
				if line[k] != v {
					t.Errorf("%s = %v, want %v", k, line[k], v)
				}
			}
			aws, _ := line["_aws"].(map[string]any)
			directives, _ := aws["CloudWatchMetrics"].([]any)
			if len(directives) != 1 || aws["Timestamp"] == nil {
				t.Fatalf("no EMF directive: %v", line["_aws"])
			}
			d := directives[0].(map[string]any)
			if d["Namespace"] != MetricsNamespace || len(d["Metrics"].([]any)) != 7 {
				t.Errorf("EMF directive = %v", d)
			}
			// Every metric named in the directive is a number on the line.
			for _, m := range d["Metrics"].([]any) {
				name := m.(map[string]any)["Name"].(string)
				if _, ok := line[name].(float64); !ok {
					t.Errorf("metric %s is not on the line", name)
				}
			}
		})
	}
}
