package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/diagnose"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// fakeDiagnose is a hand-written fake of Deps.Diagnose: it records what it was asked and
// answers report.
type fakeDiagnose struct {
	report diagnose.Report
	calls  int
	gotFn  autopilot.Function
	gotErr error
}

func (d *fakeDiagnose) run(_ context.Context, fn autopilot.Function, err error) diagnose.Report {
	d.calls++
	d.gotFn, d.gotErr = fn, err
	r := d.report
	r.Function = fn
	return r
}

func TestDiagnoseAction(t *testing.T) {
	t.Parallel()
	good := diagnose.Report{OK: true, Checks: []diagnose.Check{{Name: "configuration", OK: true}, {Name: "graphRead", OK: true, Ms: 12}},
		Graph: graph.Response{StatusCode: 200, RequestID: "rid", ClientRequestID: "crid"}}
	broken := diagnose.Report{Checks: []diagnose.Check{
		{Name: "configuration", Code: problem.Misconfigured, Detail: "KEY_VAULT_URL: required", Fix: "sam deploy --parameter-overrides KeyVaultUrl=<value>"},
		{Name: "keyVaultToken", Skipped: true}}}
	cfgErr := &config.Error{Err: errors.New("KEY_VAULT_URL: required")}
	tests := []struct {
		name       string
		kind       autopilot.Function
		err        error
		report     diagnose.Report
		wantResult string
		wantLine   map[string]any
	}{
		{
			name: "a good report at the sync function", kind: autopilot.FunctionSync, report: good,
			wantResult: `{"ok":true,"function":"sync","checks":[{"name":"configuration","ok":true,"ms":0},{"name":"graphRead","ok":true,"ms":12}]}`,
			wantLine: map[string]any{"action": "diagnose", "source": "direct", "function": "sync", "code": "ok", "status": 200.0, "level": "INFO",
				"graphStatus": 200.0, "graphRequestId": "rid", "clientRequestId": "crid"},
		},
		{
			name: "a broken configuration still runs diagnose, at the status function", kind: autopilot.FunctionStatus, err: cfgErr, report: broken,
			wantResult: `{"ok":false,"function":"status","checks":[{"name":"configuration","ok":false,"ms":0,"code":"misconfigured","detail":"KEY_VAULT_URL: required","fix":"sam deploy --parameter-overrides KeyVaultUrl=<value>"},{"name":"keyVaultToken","ok":false,"skipped":true}]}`,
			wantLine: map[string]any{"action": "diagnose", "source": "direct", "function": "status", "code": "misconfigured", "status": 200.0, "level": "WARN",
				"failedChecks": "configuration"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			d := &fakeDiagnose{report: tt.report}
			f := New(tt.kind, Deps{Deps: action.Deps{Intune: &fakeIntune{}, Err: tt.err, Diagnose: d.run, Log: slog.New(slog.NewJSONHandler(&logs, nil))}})
			out, err := f.Invoke(context.Background(), json.RawMessage(`{"action":"diagnose"}`))
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if got := string(out); got != tt.wantResult {
				t.Errorf("result\n got %s\nwant %s", got, tt.wantResult)
			}
			if d.calls != 1 || d.gotFn != autopilot.Function(tt.kind) || d.gotErr != tt.err {
				t.Errorf("Diagnose called %d times with %q, %v; want once with %q, %v", d.calls, d.gotFn, d.gotErr, tt.kind, tt.err)
			}
			line := invocationLine(t, &logs)
			got := map[string]any{}
			for k := range tt.wantLine {
				got[k] = line[k]
			}
			if diff := cmp.Diff(tt.wantLine, got); diff != "" {
				t.Errorf("invocation line (-want +got):\n%s\n%s", diff, logs.String())
			}
		})
	}
}

func TestDiagnoseRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, event string
		deps        Deps
		wantErr     string
	}{
		{"not wired", `{"action":"diagnose"}`, Deps{Deps: action.Deps{Intune: &fakeIntune{}}}, "misconfigured: The service is not configured correctly; its operators have the details in the logs. Cause: diagnose is not wired: action.Deps.Diagnose is nil"},
		{"of every tenant", `{"action":"diagnose","tenants":"all"}`, Deps{Deps: action.Deps{Intune: &fakeIntune{}, Diagnose: (&fakeDiagnose{}).run}}, `unsupported action "diagnose"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(autopilot.FunctionSync, tt.deps).Invoke(context.Background(), json.RawMessage(tt.event))
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("Invoke error = %v, want one starting %q", err, tt.wantErr)
			}
		})
	}
}

// TestDiagnoseIsDirectOnly: no HTTP method or chat word reaches diagnose, and the error of an
// unknown invocation names it.
func TestDiagnoseIsDirectOnly(t *testing.T) {
	t.Parallel()
	for _, kind := range []autopilot.Function{autopilot.FunctionSync, autopilot.FunctionStatus} {
		for _, v := range []action.Via{action.ViaHTTP, action.ViaChat, action.ViaSchedule, action.ViaQueue} {
			for _, tr := range action.Triggers(kind, v) {
				sel := action.Selector{Via: tr.Via, Method: tr.Method, Request: &action.Request{Query: action.Query{Wait: time.Second}, Tenant: "all"},
					Word: tr.Word, Queue: tr.Queue}
				if row, _, ok := action.Route(kind, sel); ok && row.Name == action.NameDiagnose {
					t.Errorf("%s function: %+v selects diagnose", kind, tr)
				}
			}
		}
		if got := action.Takes(kind); !strings.Contains(got, `{"action":"diagnose"`) {
			t.Errorf("%s function takes %s: no diagnose", kind, got)
		}
	}
}
