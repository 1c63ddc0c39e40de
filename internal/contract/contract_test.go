package contract

import (
	"net/http"
	"testing"
)

func TestDocumentLoads(t *testing.T) {
	t.Parallel()
	if _, err := load(); err != nil {
		t.Fatal(err)
	}
}

// TestCheckCatchesDrift shows the check can fail: answers the document does not allow.
func TestCheckCatchesDrift(t *testing.T) {
	t.Parallel()
	problem := http.Header{"Content-Type": {"application/problem+json"}}
	good := []Exchange{
		{Method: "POST", Path: "/sync", Status: 202, RespHeader: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"result":"started","requestedAt":"2026-11-28T15:00:00Z","nextSyncAllowedAt":"2026-11-28T15:10:00Z"}`)},
		{Method: "POST", Path: "/sync", Status: 429, RespHeader: http.Header{"Content-Type": {"application/problem+json"}, "Retry-After": {"12"}},
			Body: []byte(`{"type":"urn:autopilot-sync:problem:sync-throttled","title":"t","status":429,"code":"syncThrottled","retryAfterSeconds":12}`)},
		{Method: "POST", Path: "/sync", Status: 202, RespHeader: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"result":"started","requestedAt":"2026-11-28T15:00:00Z","nextSyncAllowedAt":"2026-11-28T15:10:00Z","followUp":{"id":"3f0c9d52-6d3e-4a43-9a5e-0b6f1c2d3e4f","targets":["callback"]}}`)},
		{Method: "POST", Path: "/sync", Status: 202, RespHeader: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"result":"started","requestedAt":"2026-11-28T15:00:00Z","nextSyncAllowedAt":"2026-11-28T15:10:00Z","followUp":{"id":"3f0c9d52-6d3e-4a43-9a5e-0b6f1c2d3e4f","targets":[]}}`)},
		{Method: "POST", Path: "/sync", Status: 202, RespHeader: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"result":"inProgress","requestedAt":"2026-11-28T15:00:00Z","nextSyncAllowedAt":"2026-11-28T15:10:00Z","id":"x","syncStatus":"inProgress","lastSyncDateTime":"2026-11-27T15:00:00Z","lastManualSyncTriggerDateTime":"2026-11-28T15:00:00Z","nextManualSyncAllowedAt":"2026-11-28T15:10:00Z","canSyncNow":false,"followUp":{"id":"3f0c9d52-6d3e-4a43-9a5e-0b6f1c2d3e4f","targets":["callback"]}}`)},
		{Method: "POST", Path: "/sync", Status: 400, RespHeader: http.Header{"Content-Type": {"application/problem+json"}},
			Body: []byte(`{"type":"urn:autopilot-sync:problem:bad-request","title":"t","status":400,"code":"badRequest","detail":"callbackUrl matches no allowed prefix"}`)},
		{Method: "GET", Path: "/sync", Status: 405, RespHeader: http.Header{"Content-Type": {"application/problem+json"}, "Allow": {"POST, OPTIONS"}},
			Body: []byte(`{"type":"urn:autopilot-sync:problem:method-not-allowed","title":"t","status":405,"code":"methodNotAllowed"}`)},
	}
	for _, x := range good {
		if err := Check(x); err != nil {
			t.Errorf("a documented answer failed: %v", err)
		}
	}
	bad := []Exchange{
		{Method: "POST", Path: "/sync", Status: 202, RespHeader: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"result":"begun","requestedAt":"2026-11-28T15:00:00Z","nextSyncAllowedAt":"2026-11-28T15:10:00Z"}`)},
		{Method: "POST", Path: "/sync", Status: 429, RespHeader: problem,
			Body: []byte(`{"type":"urn:autopilot-sync:problem:sync-throttled","title":"t","status":429,"code":"syncThrottled"}`)},
		{Method: "POST", Path: "/sync", Status: 202, RespHeader: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"result":"started","requestedAt":"2026-11-28T15:00:00Z","nextSyncAllowedAt":"2026-11-28T15:10:00Z","followUp":{"id":"3f0c9d52-6d3e-4a43-9a5e-0b6f1c2d3e4f","targets":["email"]}}`)},
		{Method: "POST", Path: "/sync", Status: 202, RespHeader: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"result":"started","requestedAt":"2026-11-28T15:00:00Z","nextSyncAllowedAt":"2026-11-28T15:10:00Z","followUp":{"id":"3f0c9d52-6d3e-4a43-9a5e-0b6f1c2d3e4f"}}`)},
		{Method: "POST", Path: "/sync", Status: 202, RespHeader: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"result":"started","requestedAt":"2026-11-28T15:00:00Z","nextSyncAllowedAt":"2026-11-28T15:10:00Z","followUp":{"id":"3f0c9d52-6d3e-4a43-9a5e-0b6f1c2d3e4f","targets":["callback"],"url":"https://x/"}}`)},
		{Method: "POST", Path: "/sync", Status: 202, RespHeader: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"result":"started","requestedAt":"2026-11-28T15:00:00Z","nextSyncAllowedAt":"2026-11-28T15:10:00Z","followUp":{"id":"not a uuid","targets":[]}}`)},
		{Method: "POST", Path: "/sync", Status: 202, RespHeader: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"result":"inProgress","requestedAt":"2026-11-28T15:00:00Z","nextSyncAllowedAt":"2026-11-28T15:10:00Z","id":"x","syncStatus":"inProgress","lastSyncDateTime":"2026-11-27T15:00:00Z","lastManualSyncTriggerDateTime":"2026-11-28T15:00:00Z","nextManualSyncAllowedAt":"2026-11-28T15:10:00Z","canSyncNow":false,"followUp":{"id":"3f0c9d52-6d3e-4a43-9a5e-0b6f1c2d3e4f","targets":["email"]}}`)},
		{Method: "POST", Path: "/sync", Status: 418, RespHeader: problem,
			Body: []byte(`{"type":"urn:autopilot-sync:problem:x","title":"t","status":418,"code":"teapot"}`)},
		{Method: "GET", Path: "/status", Status: 200, RespHeader: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"id":"x"}`)},
		{Method: "POST", Path: "/sync", Status: 409, RespHeader: problem,
			Body: []byte(`{"type":"urn:autopilot-sync:problem:sync-in-progress","title":"t","status":409,"code":"notACode"}`)},
	}
	for _, x := range bad {
		if err := Check(x); err == nil {
			t.Errorf("an undocumented answer passed: %s %s %d %s", x.Method, x.Path, x.Status, x.Body)
		}
	}
}
