package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/autopilot-sync/autopilot-sync/internal/awssqs"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/rie"
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
	if err := rie.Build(context.Background(), binaries.rie); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	builds := []struct{ out, pkg string }{
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
	code := m.Run()
	// The whole package has run: no secret or token may appear in any log or answer it produced.
	if !leaks.check(os.Stderr, testing.Verbose()) {
		code = 1
	}
	// Every line a function wrote is JSON, and every invocation line carries SPEC §12's fields.
	if !checkLogLines(os.Stderr, testing.Verbose()) {
		code = 1
	}
	return code
}

// env is one test's emulator and the environment its functions run with.
type env struct {
	emu   *emulator.Emulator
	clock *emulator.ManualClock
	vars  map[string]string

	mu sync.Mutex
	// planted are the secrets tests put into the emulator or a function's environment (rotations,
	// wrong secrets); secretNames the Key Vault secrets the functions were told to read. Both feed
	// the leak check.
	planted     []secretValue
	secretNames map[string]bool
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
	e := &env{emu: emu, vars: vars, secretNames: map[string]bool{}}
	e.noteSecrets(vars)
	// Runs before the emulator closes (cleanups run last-in first-out): by then every function of
	// the test has stopped and every token it will ever get has been issued.
	t.Cleanup(func() { leaks.addSecrets(t.Name(), e.secretValues()) })
	return e
}

// setSecret stores a new version of a Key Vault secret and remembers its value for the leak check.
func (e *env) setSecret(name, value string) {
	e.plant("Key Vault secret "+name, value)
	e.emu.SetSecret(name, value, "")
}

// setAppSecret rotates an app's client secret in Entra and remembers it for the leak check.
func (e *env) setAppSecret(clientID, secret string) {
	e.plant("client secret of app "+clientID, secret)
	e.emu.SetAppSecret(emulator.SeedTenantID, clientID, secret)
}

func (e *env) plant(kind, value string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.planted = append(e.planted, secretValue{kind: kind, value: value})
}

// noteSecrets records the secrets a function environment holds or names.
func (e *env) noteSecrets(vars map[string]string) {
	for k, v := range vars {
		switch {
		case strings.HasSuffix(k, "_SECRET"), strings.HasSuffix(k, "_PASSWORD"):
			e.plant("environment variable "+k, v)
		case strings.HasSuffix(k, "_SECRET_NAME"):
			// The value now and, at the end (secretValues), the value then.
			if value, _, ok := e.emu.Secret(v); ok {
				e.plant("Key Vault secret "+v, value)
				for _, h := range callbackHeaderValues("Key Vault secret "+v, value) {
					e.plant(h.kind, h.value)
				}
			}
			e.mu.Lock()
			e.secretNames[v] = true
			e.mu.Unlock()
		}
	}
}

// secretValues lists every secret the test's functions could have seen: client secrets in their
// environment, the values of the Key Vault secrets it names (and the header values of a
// callback-targets secret), the secrets the test planted, and every access token the emulator
// issued.
func (e *env) secretValues() []secretValue {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := append([]secretValue(nil), e.planted...)
	for name := range e.secretNames {
		if value, _, ok := e.emu.Secret(name); ok {
			out = append(out, secretValue{kind: "Key Vault secret " + name, value: value})
			out = append(out, callbackHeaderValues("Key Vault secret "+name, value)...)
		}
	}
	for _, tok := range e.emu.IssuedTokens() {
		out = append(out, secretValue{kind: "access token", value: tok})
	}
	return out
}

// function is one bootstrap binary running under aws-lambda-rie.
type function struct {
	kind string // "sync" or "status"
	rie  *rie.Function
	logs *rie.Output // what the emulator and the function wrote
	// followUpARN is the ARN of the function's FOLLOWUP_QUEUE_URL: consume stamps it on records
	// that name no queue, as SQS stamps the queue a record came from.
	followUpARN string
}

// queueARN is the ARN the function derives from a queue URL and AWS_REGION (awssqs's own rule).
func queueARN(t *testing.T, queueURL, region string) string {
	t.Helper()
	q, err := awssqs.New(queueURL, awssqs.Options{Region: region})
	if err != nil {
		t.Fatal(err)
	}
	return q.ARN()
}

// start runs binary under aws-lambda-rie with e's environment plus extra, and stops it when the
// test ends.
func (e *env) start(t *testing.T, binary string, extra map[string]string) *function {
	t.Helper()
	environ := os.Environ()
	for k, v := range e.vars {
		environ = append(environ, k+"="+v)
	}
	for k, v := range extra {
		environ = append(environ, k+"="+v)
	}
	e.noteSecrets(extra)
	kind := filepath.Base(filepath.Dir(binary))
	f, err := rie.Start(t.Context(), rie.Options{RIE: binaries.rie, Bootstrap: binary, Env: environ})
	if err != nil {
		t.Fatal(err)
	}
	leaks.addLog(t.Name()+" ("+kind+" function)", f.Output())
	t.Cleanup(func() {
		if err := f.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("function output:\n%s", f.Output())
		}
	})
	fn := &function{kind: kind, rie: f, logs: f.Output()}
	if u := extra["FOLLOWUP_QUEUE_URL"]; u != "" {
		fn.followUpARN = queueARN(t, u, extra["AWS_REGION"])
	}
	return fn
}

// invoke sends one event through the runtime API and returns the function's raw answer.
func (f *function) invoke(t *testing.T, event []byte) json.RawMessage {
	t.Helper()
	return f.invokeID(t, "", event)
}

// invokeLogged is invoke, returning only once the invocation's log lines are captured. The
// answer can arrive before them: the function writes to the emulator's standard output (the
// same pipe, inherited) before it answers, and the emulator writes "END RequestId: <id>" after,
// so the arrival of that line says that every line of the invocation is in.
func (f *function) invokeLogged(t *testing.T, event []byte) json.RawMessage {
	t.Helper()
	requestID := uuid.NewString()
	body := f.invokeID(t, requestID, event)
	end := "END RequestId: " + requestID + "\n"
	for limit := time.Now().Add(20 * time.Second); !strings.Contains(f.logs.String(), end); {
		if time.Now().After(limit) {
			t.Fatalf("the emulator never wrote %q:\n%s", strings.TrimSpace(end), f.logs.Tail(4000))
		}
		time.Sleep(time.Millisecond) // a look at the output, as rie.Start looks at the listeners
	}
	return body
}

func (f *function) invokeID(t *testing.T, requestID string, event []byte) json.RawMessage {
	t.Helper()
	leaks.addEvent(t.Name(), event)
	body, err := f.rie.InvokeWithID(t.Context(), requestID, event)
	if err != nil {
		t.Fatal(err)
	}
	leaks.addAnswer(t.Name(), body)
	checkContract(t, f.kind, event, body)
	return body
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
