package wiring

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/diagnose"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

// TestDiagnoseWired: both functions answer diagnose with the real checks, and a broken
// configuration, which every other action answers with misconfigured, is its first failed check.
func TestDiagnoseWired(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	tests := []struct {
		name        string
		edit        func(emutest.Env)
		wantOK      bool
		wantFailure string
	}{
		{"good", func(emutest.Env) {}, true, ""},
		{"no vault", func(env emutest.Env) { delete(env, "KEY_VAULT_URL") }, false, diagnose.CheckConfiguration},
	}
	for _, tt := range tests {
		for _, kind := range []autopilot.Function{autopilot.FunctionSync, autopilot.FunctionStatus} {
			t.Run(tt.name+" "+string(kind), func(t *testing.T) {
				t.Parallel()
				env := maps.Clone(env)
				tt.edit(env)
				cfg, cfgErr := config.Load(env.Getenv)
				f := api.New(kind, Deps(cfg, cfgErr, tenant.Options{Transport: e.HTTPClient()}, slog.New(slog.NewJSONHandler(io.Discard, nil))))
				out, err := f.Invoke(context.Background(), json.RawMessage(`{"action":"diagnose"}`))
				if err != nil {
					t.Fatalf("Invoke: %v", err)
				}
				var r diagnose.Report
				if err := json.Unmarshal(out, &r); err != nil {
					t.Fatalf("result %s is not a report: %v", out, err)
				}
				first, _ := r.FirstFailure()
				if r.OK != tt.wantOK || first.Name != tt.wantFailure || r.Function != kind {
					t.Errorf("report ok %v, first failure %q, function %q; want %v, %q, %q", r.OK, first.Name, r.Function, tt.wantOK, tt.wantFailure, kind)
				}
			})
		}
	}
}

// TestJunkCredentialsCostOneRead: SPEC §6. While a caller secret is missing from Key Vault,
// requests with junk credentials of its scheme cost one Key Vault read per 60 s in all, not one
// each (10 requests: at most 1 read). Counted on the emulator, through the real azsecrets client.
func TestJunkCredentialsCostOneRead(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	env = maps.Clone(env)
	env["WEBHOOK_TOKEN_SECRET_NAME"] = "webhook-token" // not in the vault
	cfg, cfgErr := config.Load(env.Getenv)
	if cfgErr != nil {
		t.Fatal(cfgErr)
	}
	f := api.New(autopilot.FunctionSync, Deps(cfg, nil, tenant.Options{Transport: e.HTTPClient()}, slog.New(slog.NewJSONHandler(io.Discard, nil))))
	junk := func(i int) int {
		r := httptest.NewRequest(http.MethodPost, "/sync", nil)
		r.Header.Set("Authorization", "Bearer junk-"+strconv.Itoa(i))
		w := httptest.NewRecorder()
		f.ServeHTTP(w, r)
		return w.Code
	}
	for i := range 10 {
		if code := junk(i); code != http.StatusInternalServerError {
			t.Fatalf("request %d: %d, want 500 misconfigured (the secret is missing)", i, code)
		}
	}
	if n := e.Counts().SecretReads["webhook-token"]; n > 1 {
		t.Errorf("10 requests with junk credentials read the missing secret %d times, want at most 1", n)
	}
	if n := e.Counts().Graph["POST sync"]; n != 0 {
		t.Errorf("Graph got %d syncs", n)
	}
}
