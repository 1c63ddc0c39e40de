package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// binaries are built once for the whole package, in TestMain.
var binaries struct {
	dir    string
	rie    string
	sync   string
	status string
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "autopilot-sync-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binaries.dir = dir
	binaries.rie = filepath.Join(dir, "aws-lambda-rie")
	binaries.sync = filepath.Join(dir, "sync", "bootstrap")
	binaries.status = filepath.Join(dir, "status", "bootstrap")
	builds := []struct{ out, pkg string }{
		{binaries.rie, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"},
		{binaries.sync, "github.com/autopilot-sync/autopilot-sync/functions/sync"},
		{binaries.status, "github.com/autopilot-sync/autopilot-sync/functions/status"},
	}
	for _, b := range builds {
		// Built as Lambda builds them (SPEC §2), for this machine's architecture.
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", b.out, b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.pkg, err, out)
			return 1
		}
	}
	return m.Run()
}

// env is one test's emulator and the environment its functions run with.
type env struct {
	emu   *emulator.Emulator
	clock *emulator.ManualClock
	vars  map[string]string
}

// newEnv starts an emulator seeded with one tenant, on a manual clock set to the real time (the
// functions read the real clock, the emulator's moves only when a test says so).
func newEnv(t *testing.T) *env {
	t.Helper()
	clock := emulator.NewManualClock(time.Now())
	e := newEnvWith(t, emulator.Options{Clock: clock, SyncDuration: 90 * time.Second})
	e.clock = clock
	return e
}

// newEnvWith starts an emulator with opts (e.g. on the real clock with a short SyncDuration, for
// tests that follow a sync to its end).
func newEnvWith(t *testing.T, opts emulator.Options) *env {
	t.Helper()
	emu, err := emulator.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := emu.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	vars := emu.Seed()
	vars["SSL_CERT_FILE"] = ca
	vars["ALLOW_UNAUTHENTICATED"] = "true"
	return &env{emu: emu, vars: vars}
}

// function is one bootstrap binary running under aws-lambda-rie.
type function struct {
	url    string
	client *http.Client
	logs   *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs binary under aws-lambda-rie with e's environment plus extra, and stops it when the
// test ends.
func (e *env) start(t *testing.T, binary string, extra map[string]string) *function {
	t.Helper()
	apiAddr, runtimeAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(binaries.rie,
		"--runtime-interface-emulator-address", apiAddr,
		"--runtime-api-address", runtimeAddr,
		binary)
	cmd.Env = os.Environ()
	for k, v := range e.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("function output:\n%s", logs.String())
		}
	})
	waitListening(t, apiAddr)
	return &function{
		url:    "http://" + apiAddr + "/2015-03-31/functions/function/invocations",
		client: &http.Client{Timeout: 60 * time.Second},
		logs:   logs,
	}
}

// invoke sends one event through the runtime API and returns the function's raw answer.
func (f *function) invoke(t *testing.T, event []byte) json.RawMessage {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, f.url, bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke: HTTP %d: %s", resp.StatusCode, body)
	}
	return body
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("runtime emulator did not listen on %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// httpAnswer is a decoded API Gateway HTTP API (or Function URL) response.
type httpAnswer struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
	// REST answers
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
}

func (a httpAnswer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.Body), &m); err != nil {
		t.Fatalf("body is not JSON: %v: %q", err, a.Body)
	}
	return m
}

func (a httpAnswer) header(name string) string {
	for k, v := range a.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func decodeHTTP(t *testing.T, raw json.RawMessage) httpAnswer {
	t.Helper()
	var a httpAnswer
	if err := json.Unmarshal(raw, &a); err != nil || a.StatusCode == 0 {
		t.Fatalf("not an HTTP answer: %v: %s", err, raw)
	}
	return a
}

// lambdaError is what the runtime returns for a handler error.
type lambdaError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

func decodeError(t *testing.T, raw json.RawMessage) lambdaError {
	t.Helper()
	var e lambdaError
	if err := json.Unmarshal(raw, &e); err != nil || e.ErrorMessage == "" {
		t.Fatalf("not a Lambda error: %v: %s", err, raw)
	}
	return e
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a whole number", s)
	}
	return n
}
