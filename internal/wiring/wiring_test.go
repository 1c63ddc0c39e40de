package wiring

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
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
		for _, kind := range []api.Kind{api.KindSync, api.KindStatus} {
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
				r, ok := out.(*diagnose.Report)
				if !ok {
					t.Fatalf("result is %T, want *diagnose.Report", out)
				}
				first, _ := r.FirstFailure()
				if r.OK != tt.wantOK || first.Name != tt.wantFailure || r.Function != diagnose.Function(kind) {
					t.Errorf("report ok %v, first failure %q, function %q; want %v, %q, %q", r.OK, first.Name, r.Function, tt.wantOK, tt.wantFailure, kind)
				}
			})
		}
	}
}
