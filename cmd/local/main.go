// Command local serves both functions' HTTP API on a local address (SPEC §9): POST /sync,
// GET|PATCH /status. Without KEY_VAULT_URL it starts an embedded emulator of Entra ID, Key Vault
// and Graph on loopback and serves callers without the checks of SPEC §6; with real configuration
// it talks to the real services, through the same handler code as Lambda.
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
	"syscall"
	"time"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/logs"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/wiring"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. ready, when non-nil, receives the server's base URL once it listens.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string) error {
	return runWith(ctx, args, getenv, stdout, stderr, ready, nil)
}

// runWith is run, on emu instead of an emulator of its own when emu is non-nil and KEY_VAULT_URL
// is unset: tests pass one to count what reaches Entra ID, Key Vault and Graph. The caller owns
// emu (runWith seeds it and never closes it); -sync-duration does not apply to it.
func runWith(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string, emu *emulator.Emulator) error {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultAddr := getenv("LOCAL_ADDR")
	if defaultAddr == "" {
		defaultAddr = "127.0.0.1:8080"
	}
	addr := fs.String("addr", defaultAddr, "address to listen on (env LOCAL_ADDR)")
	syncDuration := fs.Duration("sync-duration", time.Minute, "embedded emulator: how long a sync stays inProgress")
	diag := addDiagnoseFlags(fs) // diagnose.go
	if err := fs.Parse(args); err != nil {
		return err
	}

	var (
		opts     tenant.Options
		emulated *emulator.Emulator
	)
	if getenv("KEY_VAULT_URL") == "" {
		if err := requireLoopback(*addr); err != nil {
			return err
		}
		e := emu
		if e == nil {
			started, err := emulator.Start(emulator.Options{SyncDuration: *syncDuration})
			if err != nil {
				return fmt.Errorf("start emulator: %w", err)
			}
			defer started.Close()
			e = started
		}
		emulated = e
		seeded := e.Seed()
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
	cfg, cfgErr := config.Load(getenv)
	log := logs.New(stderr, cfg.LogFormat, cfg.LogLevel)
	if diag.requested() {
		return diag.run(ctx, stdout, wiring.Deps(cfg, cfgErr, opts, log), emulated)
	}
	syncFn := api.New(api.KindSync, wiring.Deps(cfg, cfgErr, opts, log))
	statusFn := api.New(api.KindStatus, wiring.Deps(cfg, cfgErr, opts, log))

	mux := http.NewServeMux()
	mux.Handle("/sync", syncFn)
	mux.Handle("/status", statusFn)
	mux.HandleFunc("GET /openapi.yaml", serveOpenAPI)
	mux.HandleFunc("/", notFound)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	printBanner(stdout, base, emulated, cfg)
	if ready != nil {
		ready <- base
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(stdout, "stopped")
	return nil
}

// requireLoopback refuses to serve the unauthenticated emulator setup beyond this machine.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-addr %q: on the embedded emulator the server serves without caller checks, so it listens on loopback only (127.0.0.1, ::1 or localhost)", addr)
}

func printBanner(w io.Writer, base string, e *emulator.Emulator, cfg config.Config) {
	fmt.Fprintf(w, "autopilot-sync listening on %s\n", base)
	if e != nil {
		fmt.Fprintf(w, "Using the embedded emulator of Entra ID, Key Vault and Microsoft Graph at %s.\n", e.URL())
		fmt.Fprintln(w, "Caller checks (SPEC §6) are off on the emulator; it listens on loopback only.")
	} else {
		fmt.Fprintln(w, "Using the real services configured in the environment; caller checks apply.")
		printSigningHelp(w, cfg)
	}
	fmt.Fprintf(w, `Try:
  curl -i -X POST %[1]s/sync
  curl -i %[1]s/status
  curl -i -X PATCH -H 'Content-Type: application/json' -d '{"syncStatus":"completed"}' %[1]s/status
Ctrl-C stops.
`, base)
}

// printSigningHelp shows how to sign a test request for each configured caller check (SPEC §6).
// It names the Key Vault secrets; it never reads or prints their values.
func printSigningHelp(w io.Writer, cfg config.Config) {
	if !cfg.AuthSchemesConfigured() {
		if !cfg.AllowUnauthenticated {
			fmt.Fprintln(w, "No caller check is configured and ALLOW_UNAUTHENTICATED is not true: every request will answer 401.")
		}
		return
	}
	fmt.Fprintln(w, "Sign test requests with the secrets from Key Vault (SECRET holds the secret's value, BODY the exact body):")
	if n := cfg.WebhookTokenSecretName; n != "" {
		fmt.Fprintf(w, "  token (%s):  curl -X POST -H \"Authorization: Bearer $SECRET\" URL\n", n)
	}
	if n := cfg.WebhookHMACSecretName; n != "" {
		fmt.Fprintf(w, "  HMAC (%s):   curl -X POST -H \"X-Hub-Signature-256: sha256=$(printf '%%s' \"$BODY\" | openssl dgst -sha256 -hmac \"$SECRET\" | awk '{print $NF}')\" --data-binary \"$BODY\" URL\n", n)
	}
	if n := cfg.SlackSigningSecretName; n != "" {
		fmt.Fprintf(w, "  Slack (%s):  TS=$(date +%%s); X-Slack-Request-Timestamp: $TS, X-Slack-Signature: v0=hex(HMAC-SHA256($SECRET, \"v0:$TS:$BODY\"))\n", n)
	}
	if n := cfg.TeamsWebhookSecretName; n != "" {
		fmt.Fprintf(w, "  Teams (%s):  Authorization: HMAC base64(HMAC-SHA256(base64decode($SECRET), $BODY))\n", n)
	}
}

// serveOpenAPI serves the API contract, openapi.yaml.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(autopilotsync.OpenAPI)
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	api.WriteProblem(w, problem.New(problem.NotFound, "No such route; use POST /sync, GET /status, PATCH /status or GET /openapi.yaml."))
}
