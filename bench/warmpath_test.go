package main

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/logs"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/wiring"
)

// BenchmarkWarmPath measures a warm invocation in-process, wired as main wires it (config.Load,
// wiring.Deps, Go's default transport, the production JSON logger to io.Discard), against the
// emulator over TLS on loopback: the hot path plus the real Graph client and one Graph round trip,
// without the Lambda runtime API. The difference to BenchmarkHotPath is the Graph client's cost.
//
// It trusts the emulator through SSL_CERT_FILE, which Go reads once per process: it must be the
// first thing in the test binary to make a TLS connection.
func BenchmarkWarmPath(b *testing.B) {
	clock := emulator.NewManualClock(time.Now())
	emu, err := emulator.Start(emulator.Options{Clock: clock, SyncDuration: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { emu.Close() })
	ca := filepath.Join(b.TempDir(), "ca.pem")
	if err := emu.WriteCAFile(ca); err != nil {
		b.Fatal(err)
	}
	env := emu.Seed()
	env["SSL_CERT_FILE"], env["SSL_CERT_DIR"], env["ALLOW_UNAUTHENTICATED"] = ca, b.TempDir(), "true"
	for k, v := range env {
		b.Setenv(k, v)
	}
	for _, h := range hotPaths[:2] {
		b.Run(h.name, func(b *testing.B) {
			raw, err := fs.ReadFile(autopilotsync.SampleEvents, h.eventFile)
			if err != nil {
				b.Fatal(err)
			}
			cfg, cfgErr := config.Load(os.Getenv)
			log := logs.New(io.Discard, cfg.LogFormat, cfg.LogLevel)
			f := api.New(h.kind, wiring.Deps(cfg, cfgErr, tenant.Options{}, log))
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e812345678"})
			ctx, cancel := context.WithTimeout(ctx, time.Hour)
			defer cancel()
			invoke := func() ([]byte, error) {
				if h.kind == autopilot.FunctionSync {
					clock.Advance(11 * time.Minute) // every sync accepted: Graph 204, answer 202
				}
				return invokeOnce(ctx, f, raw)
			}
			// The cold invocation (Key Vault, both tokens), checked so the loop measures the path
			// it claims to.
			data, err := invoke()
			var got struct {
				StatusCode int `json:"statusCode"`
			}
			if err != nil || json.Unmarshal(data, &got) != nil || got.StatusCode != h.wantStatus {
				b.Fatalf("want HTTP %d, got %s (%v)", h.wantStatus, data, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := invoke(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
