package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// TestSyncWhenBusyDefer: SYNC_WHEN_BUSY=defer, read from the environment, works in cmd/local
// without FOLLOWUP_QUEUE_URL (its deferred requests wait in the in-process queue), and so with
// one: cmd/local uses the in-process queue whatever the environment says. A second POST /sync
// is deferred, one with ?defer=false refused, and -diagnose finds the configuration good.
func TestSyncWhenBusyDefer(t *testing.T) {
	t.Parallel()
	for name, vars := range map[string]map[string]string{
		"without FOLLOWUP_QUEUE_URL": {"SYNC_WHEN_BUSY": "defer"},
		"with an SQS queue's URL":    {"SYNC_WHEN_BUSY": "defer", "FOLLOWUP_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/autopilot-sync-followup"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			emu := startEmulator(t, emulator.NewManualClock(time.Now()), time.Minute)
			base, _, _, stop := startLocalWith(t, local{emu: emu, timeouts: defaultTimeouts, getenv: env(vars)})
			t.Cleanup(stop)
			for _, step := range []struct {
				path   string
				status int
				word   string
			}{
				{"/sync", 202, "started"},
				{"/sync", 202, "deferred"},
				{"/sync?defer=false", 409, "syncInProgress"},
			} {
				status, data := postJSON(t, base+step.path, nil)
				if status != step.status || !strings.Contains(string(data), `"`+step.word+`"`) {
					t.Errorf("POST %s: %d %s, want %d %s", step.path, status, data, step.status, step.word)
				}
			}

			out, err := runDiagnose(t, emu, vars, "-diagnose", "-json")
			var report struct {
				OK bool `json:"ok"`
			}
			if err != nil || json.Unmarshal([]byte(out), &report) != nil || !report.OK {
				t.Errorf("-diagnose with %v: %v\n%s", vars, err, out)
			}
		})
	}
}

// TestSyncWhenBusyInvalid: a SYNC_WHEN_BUSY that is neither refuse nor defer stops cmd/local with
// the configuration error that names it.
func TestSyncWhenBusyInvalid(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, env(map[string]string{"SYNC_WHEN_BUSY": "retry"}), &out, &out, nil)
	if want := `SYNC_WHEN_BUSY: "retry" is neither refuse nor defer`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want one that says %s", err, want)
	}
}
