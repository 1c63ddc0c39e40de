package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/webhook"
)

// staticToken is a fixed token for a Graph client talking to a local test server.
type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "test-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// clientIntune is an Intune backed by a real graph.Client.
type clientIntune struct{ c *graph.Client }

func (g clientIntune) Do(_ context.Context, call func(*graph.Client) (*graph.Response, error)) (tenant.Call, error) {
	r, err := call(g.c)
	return tenant.Call{Graph: *r, GraphTime: r.Duration}, err
}

// TestFleetStatusRecordsPerTenant reads many tenants through real Graph clients at once: each
// gets its own Graph call details back (run with -race: nothing is shared between tenants).
func TestFleetStatusRecordsPerTenant(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("request-id", "rid")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","syncStatus":"completed","lastSyncDateTime":"2026-11-28T14:00:00Z","lastManualSyncTriggerDateTime":"2026-11-28T13:00:00Z"}`))
	}))
	t.Cleanup(srv.Close)
	c, err := graph.NewClient(srv.URL+"/beta", staticToken{}, &graph.Options{Transport: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	fleet := &fakeFleet{tenants: map[string]action.Intune{}}
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		fleet.names = append(fleet.names, n)
		fleet.tenants[n] = clientIntune{c}
	}
	var logs bytes.Buffer
	f := New(autopilot.FunctionStatus, Deps{Deps: action.Deps{Tenants: fleet, Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(&logs, nil))}, AllowUnauthenticated: true})
	got := do(t, f, http.MethodGet, "/status?tenant=all", "", "")
	if got.status != 200 || len(got.body["tenants"].([]any)) != 10 {
		t.Fatalf("fleet status: %d %v", got.status, got.body)
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line["GraphLatency"] == nil {
		t.Errorf("log line: %v %s", err, logs.Bytes())
	}
}

func TestSingleTenantSelectors(t *testing.T) {
	t.Parallel()
	const tenantID = "00000000-0000-4000-8000-000000000001"
	q := &fakeQueue{}
	f := New(autopilot.FunctionSync, Deps{Deps: action.Deps{Intune: &fakeIntune{}, TenantID: tenantID, Fleet: q, Now: func() time.Time { return now }}, AllowUnauthenticated: true})
	if got := do(t, f, http.MethodPost, "/sync?tenant="+tenantID, "", ""); got.status != 202 {
		t.Errorf("?tenant=<its own tenant id>: %d %v", got.status, got.body)
	}
	if got := do(t, f, http.MethodPost, "/sync?tenant=other", "", ""); got.status != 404 {
		t.Errorf("?tenant=other: %d %v", got.status, got.body)
	}
	_, err := f.Invoke(context.Background(), json.RawMessage(`{"action":"sync","tenants":"all"}`))
	if err == nil || !strings.Contains(err.Error(), "TENANT_REGISTRY_SECRET_NAME") || len(q.got) != 0 {
		t.Errorf("fan-out without a registry: %v, enqueued %q", err, q.got)
	}
}

// deadlineCallers records the deadline its check gets and then finds Key Vault unavailable.
type deadlineCallers struct{ deadline chan time.Time }

func (c deadlineCallers) Check(ctx context.Context, _ *http.Request, _ []byte) (webhook.Scheme, error) {
	deadline, _ := ctx.Deadline()
	c.deadline <- deadline
	p := problem.New(problem.SecretStoreUnavailable, "The secret that verifies callers could not be read; try again later.")
	p.Err = errors.New("key vault: read secret: unavailable")
	return "", p
}

// TestCallerCheckWithinBudget: the caller check runs within the request's budget (2.5 s from
// arrival for Slack), so a check that hangs still lets the answer leave within Slack's 3 s. The
// deadline is read, not waited for.
func TestCallerCheckWithinBudget(t *testing.T) {
	t.Parallel()
	callers := deadlineCallers{deadline: make(chan time.Time, 1)}
	f := New(autopilot.FunctionSync, Deps{Deps: action.Deps{Intune: &fakeIntune{}, Now: func() time.Time { return now }}, Callers: callers})
	before := time.Now()
	got := do(t, f, http.MethodPost, "/sync", slackForm, slackBody("sync"))
	after := time.Now()
	if deadline := <-callers.deadline; deadline.Before(before.Add(slackBudget)) || deadline.After(after.Add(slackBudget)) {
		t.Errorf("caller check deadline %v after arrival, want %v", deadline.Sub(before), slackBudget)
	}
	if got.status != 503 || got.body["code"] != "secretStoreUnavailable" {
		t.Errorf("got %d %v", got.status, got.body)
	}
}

func TestChatProblemsAreLogged(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	f := New(autopilot.FunctionSync, Deps{Deps: action.Deps{Intune: &fakeIntune{syncErr: &graph.Error{StatusCode: 403}}, Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(&logs, nil))}, AllowUnauthenticated: true})
	if got := do(t, f, http.MethodPost, "/sync", slackForm, slackBody("sync")); got.status != 200 {
		t.Fatalf("chat answer: %d", got.status)
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["code"] != "graphPermissionDenied" || line["level"] != "ERROR" || line["source"] != "slack" || line["error"] == nil {
		t.Errorf("log line %s", logs.Bytes())
	}
}

func TestMisconfiguredWithCallerChecks(t *testing.T) {
	t.Parallel()
	f := New(autopilot.FunctionSync, Deps{Deps: action.Deps{Err: errors.New("KEY_VAULT_URL: required")}, CallerChecksConfigured: true})
	if got := do(t, f, http.MethodPost, "/sync", "", ""); got.status != 500 || got.body["code"] != "misconfigured" {
		t.Errorf("got %d %v, want 500 misconfigured", got.status, got.body)
	}
	g := New(autopilot.FunctionSync, Deps{Deps: action.Deps{Err: errors.New("KEY_VAULT_URL: required")}})
	if got := do(t, g, http.MethodPost, "/sync", "", ""); got.status != 401 {
		t.Errorf("no caller checks configured: %d, want 401", got.status)
	}
}
