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
