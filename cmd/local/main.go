// Command local serves both functions' HTTP API on a local address (SPEC §9): POST /sync,
// GET|PATCH /status. Without KEY_VAULT_URL it starts an embedded emulator of Entra ID, Key Vault
// and Graph on loopback and serves callers without the checks of SPEC §6; with real configuration
// it talks to the real services, through the same handler code as Lambda. With -speed N the
// embedded emulator's clock, the functions' clock and the in-process follow-up queue's delays run
// N times as fast as real time, so that Intune's 10 minutes pass in seconds. It never serves a
// configuration that has an error (it stops and prints it), a request addressed to a host name
// that is not the server's, or a request that a browser sends from a page of another site.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/logs"
	"github.com/autopilot-sync/autopilot-sync/internal/outbound"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/wiring"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil)
	stop()
	code := exitCode(err)
	if code != 0 {
		fmt.Fprintln(os.Stderr, "local:", err)
	}
	os.Exit(code)
}

// exitCode is the process's exit status for run's result: -h (flag.ErrHelp, after the usage)
// is no failure.
func exitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}

// timeouts bound what one client can hold of the server and how long a stop waits for clients.
type timeouts struct {
	readHeader, read, write, idle time.Duration
	// shutdownGrace is how long a stop lets requests in progress finish before it closes their
	// connections.
	shutdownGrace time.Duration
}

// defaultTimeouts: a request's headers within 5 s and its body (64 KiB at most) within 10 s; the
// answer within 40 s, room for ?wait=25 and the Graph calls around it; a keep-alive connection
// idle for a minute is closed; Ctrl-C waits at most 5 s for requests in progress.
var defaultTimeouts = timeouts{readHeader: 5 * time.Second, read: 10 * time.Second, write: 40 * time.Second, idle: time.Minute, shutdownGrace: 5 * time.Second}

// emulatorNoChecks is why the embedded emulator setup listens on loopback only.
const emulatorNoChecks = "on the embedded emulator the server serves without caller checks"

// local is what a run needs beyond its command line; tests change it.
type local struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	// ready, when non-nil, receives the server's base URL once it listens.
	ready chan<- string
	// emu, when non-nil and KEY_VAULT_URL is unset, is used instead of an emulator of its own:
	// tests pass one to count what reaches Entra ID, Key Vault and Graph. The caller owns it (run
	// seeds it, its devices included, and never closes it); -sync-duration and -speed do not apply to it, nor to the
	// functions' clock and the queue's delays (now and queueDelay set those).
	emu      *emulator.Emulator
	timeouts timeouts
	// handling, when non-nil, is called as each request reaches the server's handler, its
	// headers read and nothing of its body: tests wait on it.
	handling func(*http.Request)
	// now, when non-nil, is the functions' clock (tenant.Options.Now): tests share the emulator's
	// manual clock with it. nil means time.Now.
	now func() time.Time
	// queueDelay, when non-nil, replaces each delay of the follow-up queue (delayedQueue.shorten):
	// tests run the backoff's minutes in milliseconds. nil waits every delay as given.
	queueDelay func(time.Duration) time.Duration
}

// run serves until ctx ends. ready, when non-nil, receives the server's base URL once it listens.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string) error {
	return local{getenv: getenv, stdout: stdout, stderr: stderr, ready: ready, timeouts: defaultTimeouts}.run(ctx, args)
}

// run serves until ctx ends. It returns flag.ErrHelp after printing the usage for -h.
func (l local) run(ctx context.Context, args []string) error {
	getenv, stdout, stderr := l.getenv, l.stdout, l.stderr
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultAddr := getenv("LOCAL_ADDR")
	if defaultAddr == "" {
		defaultAddr = "127.0.0.1:8080"
	}
	addr := fs.String("addr", defaultAddr, "address to listen on (env LOCAL_ADDR)")
	syncDuration := fs.Duration("sync-duration", time.Minute, "embedded emulator: how long a sync stays inProgress (in emulated time)")
	speed := fs.Int("speed", 1, "embedded emulator: run the emulator's and the functions' clock, and the follow-up queue's delays, `N` times as fast as real time (1-600); -speed 20 runs Intune's 10 minutes in 30s")
	receiveAddr := fs.String("receive", "", "run only a receiver on this loopback address that prints every request it gets (to watch follow-up callbacks), e.g. 127.0.0.1:9000")
	diag := addDiagnoseFlags(fs) // diagnose.go
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(fs, "argument %q: local takes flags only", fs.Arg(0))
	}
	if stray := diag.givenWithout(fs); len(stray) > 0 {
		return usageError(fs, "%s: only with -diagnose", strings.Join(stray, ", "))
	}
	if *receiveAddr != "" {
		return receive(ctx, *receiveAddr, l.stdout, l.ready)
	}
	if *syncDuration <= 0 {
		return fmt.Errorf("-sync-duration %v: must be positive, such as 1m or 90s (how long a sync stays inProgress on the embedded emulator)", *syncDuration)
	}
	if err := checkEmulatorFlags(fs, *speed, getenv("KEY_VAULT_URL")); err != nil {
		return err
	}

	var (
		opts       = tenant.Options{Now: l.now}
		emulated   *emulator.Emulator
		queueDelay = l.queueDelay
		speedShown = 1 // what the banner says of -speed: it applies to cmd/local's own emulator only
	)
	if getenv("KEY_VAULT_URL") == "" {
		if err := requireLoopback("-addr", *addr, emulatorNoChecks); err != nil {
			return err
		}
		e := l.emu
		if e == nil {
			eo := emulator.Options{SyncDuration: *syncDuration}
			if *speed > 1 {
				// One clock for the emulator and the functions; the queue waits each delay ÷ speed.
				clock := newScaledClock(*speed)
				eo.Clock, opts.Now, queueDelay, speedShown = clock, clock.Now, clock.Real, *speed
			}
			started, err := emulator.Start(eo)
			if err != nil {
				return fmt.Errorf("start emulator: %w", err)
			}
			defer started.Close()
			e = started
		}
		emulated = e
		seeded := e.Seed()
		seedDevices(e) // seed.go: serial numbers to follow and import
		seeded["ALLOW_UNAUTHENTICATED"] = "true"
		outer := getenv
		getenv = func(k string) string {
			if v, ok := seeded[k]; ok {
				return v
			}
			return outer(k)
		}
		opts.Transport = e.HTTPClient()
	}
	cfg, cfgErr := config.Load(withLocalQueue(getenv))
	log := logs.New(stderr, cfg.LogFormat, cfg.LogLevel)
	if diag.requested() {
		return diag.run(ctx, stdout, wiring.Deps(cfg, cfgErr, opts, log), emulated)
	}
	if cfgErr != nil {
		return notServing(cfgErr)
	}
	// Syncs are followed to their end through an in-process delayed queue in place of SQS (SPEC
	// §13); on the emulator, callbacks may go to loopback URLs without callback targets.
	queue := newDelayedQueue(log)
	queue.shorten = queueDelay
	defer queue.Close()
	syncDeps, vault := wiring.Build(cfg, cfgErr, opts, log)
	if cfgErr == nil && vault != nil {
		syncDeps = wiring.WithFollowUp(syncDeps, cfg, vault, queue, nil, wiring.FollowUpOptions{
			Outbound: outbound.Options{AllowLoopback: emulated != nil}, Loopback: emulated != nil, Log: log})
	}
	if syncDeps.Err != nil { // what the functions found wrong at start (Key Vault identity, follow-up)
		return notServing(syncDeps.Err)
	}
	// A stop ends every ?wait at once, so that its client gets what is known (202 inProgress)
	// before the server closes (the sync did start; its follow-up goes on only while this runs).
	stopWaits := make(chan struct{})
	syncDeps.Stop = stopWaits
	syncFn := api.New(autopilot.FunctionSync, syncDeps)
	queue.fn = syncFn
	statusFn := api.New(autopilot.FunctionStatus, wiring.Deps(cfg, cfgErr, opts, log))

	mux := http.NewServeMux()
	mux.Handle("/sync", syncFn)
	mux.Handle("/status", statusFn)
	mux.HandleFunc("GET /openapi.yaml", serveOpenAPI)
	mux.HandleFunc("/openapi.yaml", openAPIMethodNotAllowed)
	mux.HandleFunc("/", notFound)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	hostname, _ := os.Hostname() // "" when unknown: the server then answers to its addresses only
	t := l.timeouts
	handler := guard(newOwnHosts(ln.Addr(), hostname), mux)
	if l.handling != nil {
		guarded := handler
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l.handling(r)
			guarded.ServeHTTP(w, r)
		})
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: t.readHeader,
		ReadTimeout:       t.read,
		WriteTimeout:      t.write,
		IdleTimeout:       t.idle,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(func() { close(stopWaits) })
	banner{base: base, emu: emulated, cfg: cfg, speed: speedShown, syncDuration: *syncDuration}.print(stdout)
	if l.ready != nil {
		l.ready <- base
	}

	if err := serveUntil(ctx, srv, ln, t.shutdownGrace, stderr); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "stopped")
	return nil
}

// usageError prints the error of format and args, then the usage, as fs does for a flag it does
// not know, and returns that error (exit status 1, as for that flag).
func usageError(fs *flag.FlagSet, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	fmt.Fprintln(fs.Output(), err)
	fs.Usage()
	return err
}

// notServing is run's error for a configuration error found at start. On Lambda the functions
// answer such a configuration 500 misconfigured; cmd/local, run by a person, stops and says why.
func notServing(err error) error {
	return fmt.Errorf("the configuration is broken, so nothing is served (go run ./cmd/local -diagnose checks it link by link):\n%w", err)
}

// serveUntil serves ln until ctx ends, then stops: requests in progress get grace to finish,
// then their connections are closed (a client that sends its body slowly is cut off rather than
// waited for).
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, stderr io.Writer) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	switch err := srv.Shutdown(shutdownCtx); {
	case errors.Is(err, context.DeadlineExceeded):
		_ = srv.Close()
		fmt.Fprintf(stderr, "local: closed the connections still busy %v after the stop\n", grace)
	case err != nil:
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveOpenAPI serves the API contract, openapi.yaml.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(autopilotsync.OpenAPI)
}

// openAPIMethodNotAllowed answers any method but GET and HEAD on /openapi.yaml.
func openAPIMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD")
	api.WriteProblem(w, problem.New(problem.MethodNotAllowed, r.Method+" is not supported here; use GET /openapi.yaml."))
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	api.WriteProblem(w, problem.New(problem.NotFound, "No such route; use POST /sync, GET /status, PATCH /status or GET /openapi.yaml."))
}
