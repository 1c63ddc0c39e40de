// Command bench measures autopilot-sync's two Lambda functions side by side with a trivial
// baseline Lambda and a peer that does the status read through the official Microsoft Graph Go SDK
// (issue 7). In one run it builds all four bootstraps as Lambda builds them, runs each under the
// AWS Lambda Runtime Interface Emulator (aws-lambda-rie, the tool of go.mod) against the in-process
// emulator of Entra ID, Key Vault and Graph, and reports medians over repeated runs: cold start,
// warm latency p50/p99, peak RSS, stripped binary and zip sizes, and the Key Vault, token and Graph
// requests per 100 warm invocations. Then (issue 17) it puts each upstream (Entra ID, Key Vault,
// Graph) behind its own emulator.Link, which adds a network's latency, and reports status, sync
// and the peer at RTT 0 and -rtt in effective round trips, with the connections and requests
// each upstream saw on a cold start, and the first invocation after a thaw (the bootstrap stopped
// with SIGSTOP while its connections are closed, or silently dropped for longer than the 90 s
// idle timeout), and warm readiness reads of 1 and 20 serials (issue 23). It prints the results
// as markdown tables and writes them to bench/RESULTS.md.
//
// Usage, from the repository root:
//
//	go run ./bench -rtt 20ms   # full run (≈ 2.5 min once the build cache is warm; -rtt 20ms is the default)
//	go run ./bench -thaw=false # without the thaw cases (95 s of frozen wait)
//	go run ./bench -quick      # fewer repetitions, no thaw, prints only
//	go run ./bench -defer-only # only issue 22's deferred-syncs simulation (seconds); replaces its section
//	go run ./bench -readiness-only # only the readiness reads of issue 23, prints only
//	make bench
//
// It needs Linux (it reads /proc for the bootstrap's peak RSS). The functions trust only the
// emulator's CA (SSL_CERT_FILE, and an empty SSL_CERT_DIR), so parsing the system's certificates
// does not blur the cold start. Every process it starts is stopped before it exits, on error and
// on interrupt too. It exits non-zero with a message when a build or an invocation fails.
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// goarchHost is the architecture the bootstraps run on here; arm64 is built for size only unless
// this machine is arm64.
const goarchHost = runtime.GOARCH

// options are the command-line settings of one run.
type options struct {
	coldRuns    int    // cold starts per variant
	warmRuns    int    // long-lived processes per variant
	invocations int    // timed warm invocations per warm run
	warmup      int    // untimed invocations before them
	out         string // markdown file, relative to the repository root; "" prints only
	quick       bool
	net         networkOptions
	deferral    deferOptions // issue 22's simulation (defersim_report.go)
}

func main() {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "fewer repetitions (5 cold starts, 1 warm run per variant); prints only unless -out is given")
	flag.IntVar(&o.coldRuns, "cold", 15, "cold starts per variant")
	flag.IntVar(&o.warmRuns, "warm-runs", 3, "warm runs (processes) per variant")
	flag.IntVar(&o.invocations, "n", 500, "timed warm invocations per warm run (at least 500 for the report)")
	flag.StringVar(&o.out, "out", "bench/RESULTS.md", "markdown file to write, relative to the repository root; empty: print only")
	flag.DurationVar(&o.net.rtt, "rtt", 20*time.Millisecond, "round-trip time the forwarders in front of each upstream add (issue 17); 0 skips that part")
	flag.IntVar(&o.net.coldRuns, "net-cold", 9, "cold starts per variant and RTT through the forwarders")
	flag.IntVar(&o.net.invocations, "net-n", 200, "timed warm invocations per variant and RTT through the forwarders")
	flag.BoolVar(&o.net.thaw, "thaw", true, "measure the first invocation after a thaw (closed, and silently dropped connections)")
	flag.BoolVar(&o.net.readinessOnly, "readiness-only", false, "run only the readiness reads in round trips (issue 23) and print them")
	flag.DurationVar(&o.net.freeze, "freeze", 95*time.Second, "how long the silently dropped case stays frozen: longer than the 90 s idle timeout")
	o.deferral.register(flag.CommandLine)
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.applyQuick(set)
	o.warmup = 20
	if o.coldRuns < 1 || o.warmRuns < 1 || o.invocations < 100 || o.net.coldRuns < 1 || o.net.invocations < 10 || o.net.rtt < 0 {
		fmt.Fprintln(os.Stderr, "bench: -cold, -warm-runs and -net-cold must be at least 1, -n at least 100, -net-n at least 10, -rtt not negative")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o, commandLine())
	stop()
	stopAll()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// commandLine is how this run was started, for the report.
func commandLine() string {
	return strings.TrimSpace("go run ./bench " + strings.Join(os.Args[1:], " "))
}

// variant is one Lambda under test.
type variant struct {
	name       string // short column name
	title      string
	moduleDir  string // module to build in, relative to the root
	pkg        string // package to build, relative to moduleDir
	eventFile  string // sample event from events/, sent on every invocation
	wantStatus int    // HTTP status every invocation must answer
	product    bool
	// beforeInvoke runs before every invocation, untimed (the sync variant moves the emulator's
	// clock past Intune's 10-minute interval so that every sync is accepted).
	beforeInvoke func()

	bins  binaries
	event []byte
	m     measurement
}

func run(ctx context.Context, o options, command string) error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("needs Linux (reads /proc); this is %s", runtime.GOOS)
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	var deferrals string
	if !o.net.readinessOnly { // -readiness-only reports the readiness figures alone
		var done bool
		if deferrals, done, err = runDeferrals(ctx, o.deferral, o.out, root, command); err != nil || done {
			return err
		}
	}
	work, err := os.MkdirTemp("", "autopilot-sync-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	clock := emulator.NewManualClock(time.Now())
	variants := []*variant{
		{name: "baseline", title: "trivial Go Lambda (fixed answer)", moduleDir: ".", pkg: "./bench/baseline",
			eventFile: "httpapi-status.json", wantStatus: 200},
		{name: "status", title: "status function, GET", moduleDir: ".", pkg: "./functions/status",
			eventFile: "httpapi-status.json", wantStatus: 200, product: true},
		{name: "sync", title: "sync function, POST (Graph 204 → 202)", moduleDir: ".", pkg: "./functions/sync",
			eventFile: "httpapi-sync.json", wantStatus: 202, product: true,
			beforeInvoke: func() { clock.Advance(11 * time.Minute) }},
		{name: "peer", title: "status read via msgraph-sdk-go + Kiota", moduleDir: "bench/peer", pkg: ".",
			eventFile: "httpapi-status.json", wantStatus: 200},
	}
	for _, v := range variants {
		if v.event, err = fs.ReadFile(autopilotsync.SampleEvents, v.eventFile); err != nil {
			return fmt.Errorf("event %s: %w", v.eventFile, err)
		}
	}

	if o.net.readinessOnly {
		return runReadinessOnly(ctx, o, root, work, clock, variants[1], variants[2])
	}
	started, facts := time.Now(), machineFacts(root)
	fmt.Printf("bench: building into %s (Go build cache makes repeat runs fast; the peer's first build takes minutes)\n", work)
	b := builder{root: root, dir: work, log: os.Stdout}
	rie, err := b.buildRIE(ctx)
	if err != nil {
		return err
	}
	linked := map[string][]pkgSize{}
	for _, v := range variants {
		if v.bins, err = b.buildVariant(ctx, v); err != nil {
			return err
		}
		if err := v.m.readSizes(v.bins); err != nil {
			return err
		}
		if linked[v.name], err = b.linkedPackages(ctx, v); err != nil {
			return err
		}
	}
	modules, err := moduleSizes(ctx, b, variants, linked)
	if err != nil {
		return err
	}

	emu, env, err := startEmulator(clock, work)
	if err != nil {
		return err
	}
	defer emu.Close()
	r := runner{rie: rie, env: env, emu: emu, o: o}

	// Cold starts, interleaved across variants so that drift of the machine hits all alike.
	fmt.Printf("bench: %d cold starts per variant\n", o.coldRuns)
	for i := 0; i < o.coldRuns; i++ {
		for _, v := range variants {
			if err := r.cold(ctx, v); err != nil {
				return fmt.Errorf("%s: cold start %d: %w", v.name, i+1, err)
			}
		}
	}
	fmt.Printf("bench: %d warm runs × %d invocations per variant\n", o.warmRuns, o.invocations)
	for i := 0; i < o.warmRuns; i++ {
		for _, v := range variants {
			if err := r.warm(ctx, v); err != nil {
				return fmt.Errorf("%s: warm run %d: %w", v.name, i+1, err)
			}
		}
	}

	var network string
	if o.net.rtt > 0 {
		if network, err = runNetwork(ctx, r, o.net, variants); err != nil {
			return err
		}
	}

	rep := report{
		date: time.Now().UTC(), took: time.Since(started), command: command, o: o,
		machine: facts, variants: variants, modules: modules,
	}
	rep.machine.loadAfter = loadAverage()
	md := rep.markdown() + network + deferrals
	fmt.Println()
	fmt.Print(md)
	if o.out != "" {
		path := filepath.Join(root, o.out)
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			return err
		}
		fmt.Printf("\nbench: wrote %s\n", path)
	}
	return nil
}

// runNetwork measures status, sync and the peer through one forwarder per upstream, then the
// first invocation after a thaw, and renders both.
func runNetwork(ctx context.Context, r runner, o networkOptions, variants []*variant) (string, error) {
	u, err := startUpstreams(r.emu)
	if err != nil {
		return "", err
	}
	defer u.close()
	var vs []*variant
	for _, v := range variants {
		if v.name != "baseline" {
			vs = append(vs, v)
		}
	}
	ms, err := measureNetwork(ctx, r, u, vs, o)
	if err != nil {
		return "", err
	}
	var thaw []thawResult
	if o.thaw {
		if thaw, err = measureThaw(ctx, r, u, vs[:2], o.rtt, thawCases(o.freeze)); err != nil {
			return "", err
		}
	}
	readiness, err := measureReadinessOf(ctx, r, u, vs[0], vs[1], o)
	return networkMarkdown(o, ms, thaw) + readiness, err
}

// repoRoot returns the directory of the main module's go.mod.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run from the autopilot-sync repository (no go.mod found)")
	}
	return filepath.Dir(gomod), nil
}

// functionEnv is the environment every bootstrap runs with: the emulator's seeded tenant, trust in
// the emulator's CA only, and no caller checks (the emulator is on loopback).
func functionEnv(emu *emulator.Emulator, work string) ([]string, error) {
	ca := filepath.Join(work, "emulator-ca.pem")
	if err := emu.WriteCAFile(ca); err != nil {
		return nil, err
	}
	// Go reads SSL_CERT_DIR (default /etc/ssl/certs and others) in addition to SSL_CERT_FILE:
	// point it at an empty directory so that only the emulator's CA is parsed.
	noCerts := filepath.Join(work, "no-certs")
	if err := os.Mkdir(noCerts, 0o755); err != nil {
		return nil, err
	}
	env := []string{"SSL_CERT_FILE=" + ca, "SSL_CERT_DIR=" + noCerts, "ALLOW_UNAUTHENTICATED=true"}
	for k, v := range emu.Seed() {
		env = append(env, k+"="+v)
	}
	return env, nil
}

// runner runs variants under the RIE against one emulator.
type runner struct {
	rie string
	env []string
	emu *emulator.Emulator
	o   options
}

// cold measures one cold start of v: RIE process start → first invocation answered.
func (r runner) cold(ctx context.Context, v *variant) error {
	if ctx.Err() != nil {
		return errInterrupted
	}
	if v.beforeInvoke != nil {
		v.beforeInvoke()
	}
	r.emu.ResetCounts()
	p, err := startRIE(ctx, r.rie, v.bins.run(), r.env)
	if err != nil {
		return err
	}
	defer p.stop()
	if _, err := p.invoke(ctx, v.event, v.wantStatus); err != nil {
		return err
	}
	v.m.cold = append(v.m.cold, time.Since(p.Started()))
	v.m.coldRequests = describeCold(r.emu.Counts())
	rss, err := p.peakRSS()
	if err != nil {
		return err
	}
	v.m.coldRSS = append(v.m.coldRSS, rss)
	p.stop() // flush the output before reading it
	if h, vault, graph, ok := coldLine(p.Output()); ok {
		v.m.coldHandler = append(v.m.coldHandler, h)
		v.m.coldVault = append(v.m.coldVault, vault)
		v.m.coldGraph = append(v.m.coldGraph, graph)
	}
	return nil
}

// warm starts v, warms it up, then times o.invocations invocations with a keep-alive client and
// counts the emulator's requests meanwhile.
func (r runner) warm(ctx context.Context, v *variant) error {
	p, err := startRIE(ctx, r.rie, v.bins.run(), r.env)
	if err != nil {
		return err
	}
	defer p.stop()
	invoke := func() (time.Duration, error) {
		if v.beforeInvoke != nil {
			v.beforeInvoke()
		}
		return p.invoke(ctx, v.event, v.wantStatus)
	}
	for i := 0; i < 1+r.o.warmup; i++ {
		if _, err := invoke(); err != nil {
			return err
		}
	}
	r.emu.ResetCounts()
	samples := make([]time.Duration, 0, r.o.invocations)
	for i := 0; i < r.o.invocations; i++ {
		if i%64 == 0 && ctx.Err() != nil {
			return errInterrupted
		}
		d, err := invoke()
		if err != nil {
			return err
		}
		samples = append(samples, d)
	}
	v.m.addCounts(r.emu.Counts(), len(samples))
	rss, err := p.peakRSS()
	if err != nil {
		return err
	}
	v.m.warmRSS = append(v.m.warmRSS, rss)
	v.m.warmP50 = append(v.m.warmP50, percentile(samples, 50))
	v.m.warmP99 = append(v.m.warmP99, percentile(samples, 99))
	return nil
}

// run is the bootstrap this machine can execute.
func (b binaries) run() string {
	if goarchHost == "arm64" {
		return b.arm64
	}
	return b.amd64
}
