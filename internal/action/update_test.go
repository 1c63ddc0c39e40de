package action

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// FuzzParseUpdate: every PATCH body is refused with a 400 or 415 naming why, or gives an update
// that sets something, in UTC, and encodes to only the three properties Graph takes.
func FuzzParseUpdate(f *testing.F) {
	data, err := os.ReadFile("testdata/patch-bodies.json")
	if err != nil {
		f.Fatal(err)
	}
	var samples []struct{ ContentType, Body string }
	if err := json.Unmarshal(data, &samples); err != nil {
		f.Fatal(err)
	}
	for _, s := range samples {
		f.Add(s.ContentType, []byte(s.Body))
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
