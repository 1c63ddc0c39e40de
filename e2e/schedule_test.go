package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// TestScheduledSync sends both schedule sources to the sync function for each Graph outcome:
// 204, 409 and 429 are results (no Lambda error); a persistent 5xx and a missing permission are
// errors that say what happened.
func TestScheduledSync(t *testing.T) {
	t.Parallel()
	for _, source := range []string{"schedule-eventbridge.json", "schedule-scheduler.json"} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			fn := e.start(t, binaries.sync, nil)
			event := sample(t, source)
			result := func(t *testing.T) map[string]any {
				t.Helper()
				var m map[string]any
				raw := fn.invoke(t, event)
				if err := json.Unmarshal(raw, &m); err != nil || m["errorMessage"] != nil {
					t.Fatalf("want a result, got %s", raw)
				}
				return m
			}
			if got := result(t); got["result"] != "started" || got["nextSyncAllowedAt"] == nil {
				t.Errorf("204: %v", got)
			}
			if got := result(t); got["result"] != "inProgress" || got["syncStatus"] != "inProgress" {
				t.Errorf("409: %v", got)
			}
			e.clock.Advance(2 * time.Minute)
			if got := result(t); got["result"] != "throttled" || got["retryAfterSeconds"] == nil {
				t.Errorf("429: %v", got)
			}

			e.clock.Advance(10 * time.Minute)
			remove := e.emu.AddFault(emulator.Fault{Service: emulator.Graph, Status: http.StatusServiceUnavailable})
			le := decodeError(t, fn.invoke(t, event))
			remove()
			if !strings.HasPrefix(le.ErrorMessage, "graphUnavailable:") {
				t.Errorf("persistent 503: %+v", le)
			}
			if n := e.emu.Counts().Graph["POST sync"]; n != 3+4 {
				t.Errorf("Graph saw %d sync requests, want 7 (the 503 tried 4 times)", n)
			}

			// The Graph app loses its write permission (its tokens are revoked with it).
			secret, _, _ := e.emu.Secret(emulator.SeedGraphCredentialSecret)
			e.emu.AddApp(emulator.App{TenantID: emulator.SeedTenantID, ClientID: emulator.SeedGraphClientID,
				Secret: secret, Roles: []string{emulator.RoleReadAll}})
			le = decodeError(t, fn.invoke(t, event))
			if !strings.HasPrefix(le.ErrorMessage, "graphPermissionDenied:") || !strings.Contains(le.ErrorMessage, "DeviceManagementServiceConfig.ReadWrite.All") {
				t.Errorf("403: %+v", le)
			}
		})
	}
}

func TestScheduledStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn := e.start(t, binaries.status, nil)
	var doc map[string]any
	raw := fn.invoke(t, sample(t, "schedule-eventbridge.json"))
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["syncStatus"] != "completed" || doc["canSyncNow"] != true || doc["statusCode"] != nil {
		t.Errorf("want the status document itself, got %s", raw)
	}
}

func TestScheduledMisconfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fn := e.start(t, binaries.sync, map[string]string{"GRAPH_CLIENT_ID": ""})
	le := decodeError(t, fn.invoke(t, sample(t, "schedule-scheduler.json")))
	if !strings.HasPrefix(le.ErrorMessage, "misconfigured:") || !strings.Contains(le.ErrorMessage, "GRAPH_CLIENT_ID") {
		t.Errorf("error does not say what to fix: %+v", le)
	}
}

// TestSyncWait follows a sync to its end on an emulator whose syncs take one real second.
func TestSyncWait(t *testing.T) {
	t.Parallel()
	waitEvent := func(t *testing.T, wait string) []byte {
		return httpAPIEvent(t, "httpapi-sync-wait.json", func(ev *awsevents.APIGatewayV2HTTPRequest) {
			ev.RawQueryString = "wait=" + wait
			ev.QueryStringParameters = map[string]string{"wait": wait}
		})
	}
	tests := []struct {
		name         string
		syncDuration time.Duration
		outcome      string
		wait         string
		extraEnv     map[string]string
		wantStatus   int
		wantResult   string
	}{
		{name: "completed", syncDuration: time.Second, outcome: "completed", wait: "20", wantStatus: 200, wantResult: "completed"},
		{name: "failed", syncDuration: time.Second, outcome: "failed", wait: "20", wantStatus: 200, wantResult: "failed"},
		{name: "still running when wait runs out", syncDuration: time.Hour, outcome: "completed", wait: "2", wantStatus: 202, wantResult: "inProgress"},
		{
			name: "the Lambda deadline wins over wait=25", syncDuration: time.Hour, outcome: "completed", wait: "25",
			extraEnv: map[string]string{"AWS_LAMBDA_FUNCTION_TIMEOUT": "3"}, wantStatus: 202, wantResult: "inProgress",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvWith(t, emulator.Options{SyncDuration: tt.syncDuration})
			e.emu.SetSyncOutcome(emulator.SeedTenantID, tt.outcome)
			fn := e.start(t, binaries.sync, tt.extraEnv)
			began := time.Now()
			raw := fn.invoke(t, waitEvent(t, tt.wait))
			took := time.Since(began)
			got := decodeHTTP(t, raw)
			body := got.json(t)
			if got.StatusCode != tt.wantStatus || body["result"] != tt.wantResult {
				t.Fatalf("got %d %s, want %d %s", got.StatusCode, got.Body, tt.wantStatus, tt.wantResult)
			}
			for _, k := range []string{"requestedAt", "nextSyncAllowedAt", "syncStatus", "lastSyncDateTime", "canSyncNow"} {
				if _, ok := body[k]; !ok {
					t.Errorf("answer lacks %s: %s", k, got.Body)
				}
			}
			if tt.extraEnv != nil && took >= 3*time.Second {
				t.Errorf("answered after %v, past the 3 s function timeout", took)
			}
			if strings.Contains(fn.logs.String(), "Task timed out") {
				t.Error("the function timed out")
			}
		})
	}
	t.Run("invalid wait", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		fn := e.start(t, binaries.sync, nil)
		for _, bad := range []string{"26", "-1", "soon", "2.5", ""} {
			got := decodeHTTP(t, fn.invoke(t, waitEvent(t, bad)))
			if got.StatusCode != 400 || got.json(t)["code"] != "badRequest" {
				t.Errorf("wait=%q: %d %s", bad, got.StatusCode, got.Body)
			}
		}
		if n := e.emu.Counts().Graph["POST sync"]; n != 0 {
			t.Errorf("an invalid wait reached Graph %d times", n)
		}
	})
}
