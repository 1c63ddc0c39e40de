package contract

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/notify"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// callbackNotice follows a sync requested at requested to the check at now that reads r, as
// the sync function does, and returns the callback notice that check delivers.
func callbackNotice(t *testing.T, tenant string, requested, now time.Time, r followup.Reading) followup.Notice {
	t.Helper()
	m := followup.New(followup.NewID(), tenant, requested, followup.Targets{Callback: "https://contoso.service-now.com/api/x_autopilot/done"})
	plan := followup.Decide(m, r, now, followup.DefaultSchedule())
	for _, n := range plan.Notices {
		if n.Target == followup.Callback {
			return n
		}
	}
	t.Fatalf("the check at %s of %+v delivers no callback (plan %+v)", now, r, plan)
	return followup.Notice{}
}

// signedHeader is the header a receiver gets with body: Content-Type, the id and the timestamp,
// and with signer the Standard Webhooks signature.
func signedHeader(t *testing.T, signer *notify.Signer, id string, at time.Time, body []byte) http.Header {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {id}, "Webhook-Timestamp": {strconv.FormatInt(at.Unix(), 10)}}
	if signer == nil {
		return h
	}
	sig, err := signer.Headers(id, at, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range sig {
		h.Set(k, v)
	}
	return h
}

// TestCallbackBodiesMatchTheWebhook checks the body notify.CallbackBody writes for each outcome
// a check can find, signed and unsigned, against the webhooks entry of openapi.yaml, so that
// the document and the code cannot drift.
func TestCallbackBodiesMatchTheWebhook(t *testing.T) {
	t.Parallel()
	signer, err := notify.ParseSigningSecret("whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	if err != nil {
		t.Fatal(err)
	}
	requested := time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		tenant string
		now    time.Time
		read   followup.Reading
		result string
	}{
		{"completed", "contoso", requested.Add(4 * time.Minute), followup.Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: requested.Add(3*time.Minute + 12*time.Second)}}, "completed"},
		{"completed without a registry", "", requested.Add(4 * time.Minute), followup.Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: requested.Add(time.Minute)}}, "completed"},
		{"completed just within the skew", "contoso", requested.Add(time.Minute), followup.Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: requested.Add(-followup.FinishSkew)}}, "completed"},
		{"failed", "contoso", requested.Add(9 * time.Minute), followup.Reading{Settings: graph.Settings{SyncStatus: "failed", LastSyncDateTime: requested.Add(8 * time.Minute)}}, "failed"},
		{"timed out, still in progress", "contoso", requested.Add(followup.DefaultMaxAge), followup.Reading{Settings: graph.Settings{SyncStatus: "inProgress", LastSyncDateTime: requested.Add(-24 * time.Hour)}}, "timedOut"},
		{"timed out, never synced", "contoso", requested.Add(followup.DefaultMaxAge + time.Minute), followup.Reading{Settings: graph.Settings{SyncStatus: "unknown"}}, "timedOut"},
		{"timed out, a future syncStatus", "contoso", requested.Add(followup.DefaultMaxAge), followup.Reading{Settings: graph.Settings{SyncStatus: "queuedSomewhere"}}, "timedOut"},
		{"error: permission removed", "contoso", requested.Add(time.Minute), followup.Reading{Code: (problem.GraphPermissionDenied)}, "error"},
		{"error: tenant gone", "fabrikam", requested.Add(time.Minute), followup.Reading{Code: (problem.UnknownTenant)}, "error"},
	}
	for _, tt := range tests {
		for _, s := range []struct {
			name   string
			signer *notify.Signer
		}{{"unsigned", nil}, {"signed", signer}} {
			t.Run(tt.name+"/"+s.name, func(t *testing.T) {
				t.Parallel()
				n := callbackNotice(t, tt.tenant, requested, tt.now, tt.read)
				if got, want := string(n.Outcome.Result), tt.result; got != want {
					t.Fatalf("outcome %q, want %q", got, want)
				}
				body, err := notify.CallbackBody(n, "11111111-2222-4333-8444-555555555555")
				if err != nil {
					t.Fatal(err)
				}
				if err := CheckCallback(signedHeader(t, s.signer, n.ID, tt.now, body), body); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// TestCheckCallbackCatchesDrift shows the callback check can fail: bodies and headers the
// webhooks entry does not allow.
func TestCheckCallbackCatchesDrift(t *testing.T) {
	t.Parallel()
	const good = `{"type":"autopilot.sync.completed","timestamp":"2026-11-28T15:05:00Z","data":{"tenant":"contoso","result":"completed","requestedAt":"2026-11-28T15:00:00Z","lastSyncDateTime":"2026-11-28T15:04:12Z","syncStatus":"completed","syncDurationSeconds":252}}`
	const goodError = `{"type":"autopilot.sync.error","timestamp":"2026-11-28T15:01:00Z","data":{"tenant":"contoso","result":"error","requestedAt":"2026-11-28T15:00:00Z","lastSyncDateTime":null,"syncStatus":null,"syncDurationSeconds":null,"code":"graphPermissionDenied"}}`
	json := http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"3f0c9d52-6d3e-4a43-9a5e-0b6f1c2d3e4f"}, "Webhook-Timestamp": {"1795964700"}}
	signed := func(name, value string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"3f0c9d52-6d3e-4a43-9a5e-0b6f1c2d3e4f"},
			"Webhook-Timestamp": {"1795964700"}, "Webhook-Signature": {"v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="}}
		h.Set(name, value)
		return h
	}
	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
	}{
		{"completed", json, good},
		{"error", json, goodError},
		{"signed", signed("Webhook-Id", "3f0c9d52-6d3e-4a43-9a5e-0b6f1c2d3e4f"), good},
		{"two signatures", signed("Webhook-Signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1,AAAA"), good},
	} {
		if err := CheckCallback(tc.header, []byte(tc.body)); err != nil {
			t.Errorf("%s: a documented callback failed: %v", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
	}{
		{"type and result disagree", json, strings.Replace(good, `"result":"completed"`, `"result":"failed"`, 1)},
		{"unknown type", json, strings.Replace(good, "autopilot.sync.completed", "autopilot.sync.done", 1)},
		{"error without code", json, strings.Replace(goodError, `,"code":"graphPermissionDenied"`, "", 1)},
		{"error with an unknown code", json, strings.Replace(goodError, "graphPermissionDenied", "oops", 1)},
		{"code on completed", json, strings.Replace(good, `"syncDurationSeconds":252`, `"syncDurationSeconds":252,"code":"graphError"`, 1)},
		{"duration on error", json, strings.Replace(goodError, `"syncDurationSeconds":null`, `"syncDurationSeconds":3`, 1)},
		{"negative duration", json, strings.Replace(good, "252", "-1", 1)},
		{"syncStatus left out", json, strings.Replace(good, `"syncStatus":"completed",`, "", 1)},
		{"an extra member", json, strings.Replace(good, `"tenant":"contoso"`, `"tenant":"contoso","extra":1`, 1)},
		{"timestamp not RFC 3339", json, strings.Replace(good, "2026-11-28T15:05:00Z", "yesterday", 1)},
		{"not JSON", json, "completed"},
		{"text/plain", http.Header{"Content-Type": {"text/plain"}, "Webhook-Id": {"3f0c9d52-6d3e-4a43-9a5e-0b6f1c2d3e4f"}, "Webhook-Timestamp": {"1795964700"}}, good},
		{"a signature of another scheme", signed("Webhook-Signature", "v1a,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="), good},
		{"a timestamp in milliseconds with a dot", signed("Webhook-Timestamp", "1795964700.5"), good},
		{"an id with a space", signed("Webhook-Id", "a b"), good},
		{"unsigned without webhook-id", http.Header{"Content-Type": {"application/json"}, "Webhook-Timestamp": {"1795964700"}}, good},
		{"unsigned without webhook-timestamp", http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"3f0c9d52-6d3e-4a43-9a5e-0b6f1c2d3e4f"}}, good},
	} {
		if err := CheckCallback(tc.header, []byte(tc.body)); err == nil {
			t.Errorf("%s: an undocumented callback passed: %s", tc.name, tc.body)
		}
	}
}
