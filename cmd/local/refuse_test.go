package main

import (
	"context"
	"strings"
	"testing"
)

// refusal runs cmd/local with args and the environment vars on a context already cancelled (a
// server that starts anyway stops at once and run returns nil), and returns run's error, what it
// printed, and whether the server started.
func refusal(t *testing.T, args []string, vars map[string]string) (err error, out string, started bool) {
	t.Helper()
	var buf lockedBuffer
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = run(ctx, args, env(vars), &buf, &buf, ready)
	return err, buf.String(), len(ready) != 0
}

// TestLoopbackOnly: the emulator setup and the receiver listen on loopback only, and a refusal
// names the flag given and its own reason (issue 20, defect 10: -receive named -addr and the
// emulator's reason).
func TestLoopbackOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args          []string
		want, notWant []string
	}{
		{[]string{"-addr", "0.0.0.0:0"}, []string{`-addr "0.0.0.0:0": `, "without caller checks", "loopback only"}, []string{"-receive"}},
		{[]string{"-addr", "[::]:0"}, []string{`-addr "[::]:0": `, "without caller checks", "loopback only"}, []string{"-receive"}},
		{[]string{"-receive", "0.0.0.0:9009"}, []string{`-receive "0.0.0.0:9009": `, "prints every request", "loopback only"}, []string{"-addr", "caller checks"}},
		{[]string{"-receive", "[::]:9009"}, []string{`-receive "[::]:9009": `, "prints every request", "loopback only"}, []string{"-addr", "caller checks"}},
		{[]string{"-receive", "192.0.2.1:9009"}, []string{`-receive "192.0.2.1:9009": `, "prints every request", "loopback only"}, []string{"-addr", "caller checks"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			err, _, started := refusal(t, tt.args, nil)
			if err == nil || started {
				t.Fatalf("run %v: %v (started: %v), want a refusal", tt.args, err, started)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the refusal lacks %q: %v", w, err)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("the refusal names %q: %v", w, err)
				}
			}
		})
	}
}

// TestRefusesBrokenConfiguration: a configuration error found at start stops cmd/local with the
// error (exit status 1) instead of serving 500 misconfigured, on the emulator and with a real
// configuration alike (issue 20, defect 10). Loopback addresses stand in for the real services:
// nothing is dialled beyond this machine.
func TestRefusesBrokenConfiguration(t *testing.T) {
	t.Parallel()
	real := func(extra map[string]string) map[string]string {
		vars := map[string]string{
			"AZURE_TENANT_ID": "00000000-0000-4000-8000-000000000001", "AZURE_CLIENT_ID": "00000000-0000-4000-8000-000000000002",
			"AZURE_AUTHORITY_HOST": "https://127.0.0.1:1", "KEY_VAULT_URL": "https://127.0.0.1:1/", "GRAPH_BASE_URL": "https://127.0.0.1:1/beta",
			"GRAPH_CLIENT_ID": "00000000-0000-4000-8000-000000000003", "ALLOW_UNAUTHENTICATED": "true",
		}
		for k, v := range extra {
			vars[k] = v
		}
		return vars
	}
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"emulator: FOLLOWUP_FIRST_CHECK 0s", map[string]string{"FOLLOWUP_FIRST_CHECK": "0s"}, "FOLLOWUP_FIRST_CHECK"},
		{"emulator: FOLLOWUP_MAX_AGE not a duration", map[string]string{"FOLLOWUP_MAX_AGE": "soon"}, "FOLLOWUP_MAX_AGE"},
		{"emulator: SLACK_RESPONSE_URL_PREFIXES not https", map[string]string{"SLACK_RESPONSE_URL_PREFIXES": "http://hooks.slack.com/"}, "SLACK_RESPONSE_URL_PREFIXES"},
		{"emulator: SECRET_CACHE_TTL not a duration", map[string]string{"SECRET_CACHE_TTL": "forever"}, "SECRET_CACHE_TTL"},
		{"real: variables missing", map[string]string{"KEY_VAULT_URL": "https://127.0.0.1:1/"}, "AZURE_TENANT_ID"},
		{"real: FOLLOWUP_FIRST_CHECK 0s", real(map[string]string{"AZURE_CLIENT_SECRET": "not-a-real-secret", "FOLLOWUP_FIRST_CHECK": "0s"}), "FOLLOWUP_FIRST_CHECK"},
		{"real: no certificate at the path", real(map[string]string{"AZURE_CLIENT_CERTIFICATE_PATH": "/nonexistent/bootstrap.pem"}), "/nonexistent/bootstrap.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err, out, started := refusal(t, []string{"-addr", "127.0.0.1:0"}, tt.vars)
			if err == nil || started || exitCode(err) != 1 {
				t.Fatalf("run: %v (started: %v), want a refusal to start\n%s", err, started, out)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "-diagnose") {
				t.Errorf("the refusal lacks %q or the hint to -diagnose: %v", tt.want, err)
			}
			if strings.Contains(out, "listening") {
				t.Errorf("it printed the banner:\n%s", out)
			}
		})
	}
	t.Run("a sound real configuration still serves", func(t *testing.T) {
		t.Parallel()
		err, out, started := refusal(t, []string{"-addr", "127.0.0.1:0"}, real(map[string]string{"AZURE_CLIENT_SECRET": "not-a-real-secret"}))
		if err != nil || !started {
			t.Errorf("run: %v (started: %v), want a server\n%s", err, started, out)
		}
	})
}

// TestUsageErrors: a flag that only -diagnose reads, given without it, and an argument that is
// no flag are refused with the usage (exit status 1, as for an unknown flag), not ignored.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-addr", "127.0.0.1:0", "-json"}, "-json"},
		{[]string{"-addr", "127.0.0.1:0", "-function", "status"}, "-function"},
		{[]string{"-addr", "127.0.0.1:0", "-json", "-function", "sync"}, "-function, -json"},
		{[]string{"-addr", "127.0.0.1:0", "serve"}, `"serve"`},
		{[]string{"-diagnose", "-json", "status"}, `"status"`},
		{[]string{"-receive", "127.0.0.1:0", "now"}, `"now"`},
		{[]string{"-receive", "127.0.0.1:0", "-json"}, "-json"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			err, out, started := refusal(t, tt.args, nil)
			if err == nil || started || exitCode(err) != 1 {
				t.Fatalf("run %v: %v (started: %v), want a usage error", tt.args, err, started)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(out, err.Error()) || !strings.Contains(out, "Usage of local") {
				t.Errorf("the error %q lacks %q, or the output lacks it and the usage:\n%s", err, tt.want, out)
			}
		})
	}
}
