package main

import (
	"context"
	"io"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// TestFirstInvocationAfterAThawOnClosedConnections runs the built status and sync bootstraps
// under aws-lambda-rie with each upstream behind a Link, warms them up, stops the bootstrap
// (SIGSTOP, as Lambda's freezer does), closes every pooled connection at the links (the client
// gets a FIN it cannot read while stopped), then resumes it and sends an invocation: it must
// answer as usual, over one new connection to Graph and none to Entra or Key Vault (the tokens and
// secret are still in memory), with one Graph request reaching Graph. The order of the resume and
// the invocation is left to the machine: both must work. Times are measured by the benchmark
// (go run ./bench), never here.
func TestFirstInvocationAfterAThawOnClosedConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bootstraps")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	b := builder{root: root, dir: dir, log: io.Discard}
	rieBin, err := b.buildRIE(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock := emulator.NewManualClock(time.Now())
	emu, err := emulator.Start(emulator.Options{Clock: clock, SyncDuration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	u, err := startUpstreams(emu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.close)
	env, err := functionEnv(emu, dir)
	if err != nil {
		t.Fatal(err)
	}
	r := runner{rie: rieBin, env: append(env, u.env...), emu: emu}

	for _, v := range []*variant{
		{name: "status", pkg: "./functions/status", eventFile: "httpapi-status.json", wantStatus: 200},
		{name: "sync", pkg: "./functions/sync", eventFile: "httpapi-sync.json", wantStatus: 202,
			beforeInvoke: func() { clock.Advance(11 * time.Minute) }},
	} {
		t.Run(v.name, func(t *testing.T) {
			bin := filepath.Join(dir, v.name, "bootstrap")
			if err := b.goBuild(ctx, root, goarchHost, bin, v.pkg, lambdaFlags...); err != nil {
				t.Fatal(err)
			}
			if v.event, err = fs.ReadFile(autopilotsync.SampleEvents, v.eventFile); err != nil {
				t.Fatal(err)
			}
			p, err := startRIE(ctx, r.rie, bin, r.env)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.stop)
			invoke := func(what string) {
				t.Helper()
				if v.beforeInvoke != nil {
					v.beforeInvoke()
				}
				if _, err := p.invoke(ctx, v.event, v.wantStatus); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			invoke("cold")
			invoke("warm")
			pid, err := p.BootstrapPID()
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) }) // harmless once resumed
			for _, l := range u.links {
				l.CloseFlows()
			}
			emu.ResetCounts()
			u.resetAccepted()
			go func() { _ = syscall.Kill(pid, syscall.SIGCONT) }()
			invoke("after the thaw")
			if got, want := u.accepted(), [3]int{0, 0, 1}; got != want {
				t.Errorf("new connections (Entra, Key Vault, Graph): got %v, want %v", got, want)
			}
			c := emu.Counts()
			if got := [3]int{c.Requests[emulator.Entra], c.Requests[emulator.Vault], c.Requests[emulator.Graph]}; got != [3]int{0, 0, 1} {
				t.Errorf("requests (Entra, Key Vault, Graph): got %v, want [0 0 1]", got)
			}
		})
	}
}
