package action

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/graph/graphtest"
)

// throttlingGraph answers a sync as Intune does: 204 and the trigger time recorded, then 429
// without Retry-After until ten minutes have passed; a read answers the settings.
type throttlingGraph struct {
	mu      sync.Mutex
	now     *time.Time
	trigger time.Time
}

func (g *throttlingGraph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && (g.trigger.IsZero() || !g.now.Before(g.trigger.Add(autopilot.SyncInterval))):
		g.trigger = *g.now
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost:
		graphtest.WriteError(w, &graph.Error{StatusCode: http.StatusTooManyRequests, Code: "TooManyRequests"})
	default:
		graphtest.WriteJSON(w, graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastSyncDateTime: g.trigger, LastManualSyncTriggerDateTime: g.trigger})
	}
}

// TestNextSyncAllowedAtAgrees: defect 8 of issue 20. The nextSyncAllowedAt of a 202 and of the
// 429 that follows are the same second, whatever the fractions of the two requests' times.
func TestNextSyncAllowedAtAgrees(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ first, second time.Duration }{
		{300 * time.Millisecond, 5*time.Second + 200*time.Millisecond},
		{300 * time.Millisecond, 5*time.Second + 700*time.Millisecond},
		{0, 7 * time.Second},
		{999 * time.Millisecond, 9*time.Minute + 59*time.Second},
	} {
		clock := start.Add(tt.first)
		a := New(autopilot.FunctionSync, Deps{Intune: &graphtest.Tenant{Graph: &throttlingGraph{now: &clock}}, Now: func() time.Time { return clock }})
		row, _, _ := Route(autopilot.FunctionSync, Selector{Via: ViaHTTP, Method: http.MethodPost, Request: &Request{}})
		started, ok := a.Run(context.Background(), row, &Request{}).(Synced)
		if !ok {
			t.Fatal("the first sync did not start")
		}
		clock = start.Add(tt.second)
		refused, ok := a.Run(context.Background(), row, &Request{}).(Refused)
		if !ok || refused.Result != autopilot.Throttled {
			t.Fatalf("the second sync was not throttled: %+v", refused)
		}
		if got, want := *refused.P.NextSyncAllowedAt, started.NextSyncAllowedAt; !got.Equal(want) {
			t.Errorf("requests at +%v and +%v: the 429 names %s, the 202 %s", tt.first, tt.second, got.Format(time.RFC3339), want.Format(time.RFC3339))
		}
		// Neither says a time before Intune allows the next sync, nor a second after it.
		allowed := start.Add(tt.first + autopilot.SyncInterval)
		if next := *refused.P.NextSyncAllowedAt; next.Before(allowed) || next.Sub(allowed) >= time.Second {
			t.Errorf("nextSyncAllowedAt %s for a sync allowed at %s", next, allowed)
		}
		if then := clock.Add(time.Duration(refused.P.RetryAfterSeconds) * time.Second); then.Before(allowed) || then.Sub(allowed) >= time.Second {
			t.Errorf("Retry-After %d s ends at %s for a sync allowed at %s", refused.P.RetryAfterSeconds, then, allowed)
		}
		var doc map[string]any
		if err := json.Unmarshal(started.HTTP().Body, &doc); err != nil || doc["nextSyncAllowedAt"] != started.NextSyncAllowedAt.Format(time.RFC3339) {
			t.Errorf("202 body %v", doc)
		}
	}
}

// TestLoopbackCallbackReason: defect 10 of issue 20. On the embedded emulator a loopback
// callbackUrl that breaks a URL rule is refused with that rule, not as "not on a loopback host".
func TestLoopbackCallbackReason(t *testing.T) {
	t.Parallel()
	a := New(autopilot.FunctionSync, Deps{FollowUp: &FollowUp{Loopback: true}})
	for raw, want := range map[string]string{
		`"http://127.0.0.1:9000/a/../b"`:  "segment",
		`"http://example.com:9000/done"`:  "loopback",
		`"http://127.0.0.1:9000/ok/done"`: "",
		`"ftp://127.0.0.1:9000/done"`:     "http or https",
		`"http://127.0.0.1:9000/a/..;/b"`: "segment",
		`"http://localhost:9000/%252e/b"`: "%25",
	} {
		_, p := a.callbackTarget(context.Background(), json.RawMessage(raw))
		switch {
		case want == "" && p != nil:
			t.Errorf("%s refused: %s", raw, p.Detail)
		case want != "" && (p == nil || !strings.Contains(p.Detail, want) || strings.Contains(p.Detail, "9000")):
			t.Errorf("%s: %+v, want a reason with %q that quotes no URL", raw, p, want)
		}
	}
}
