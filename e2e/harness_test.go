package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

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
	f.waitLogged(t, requestID)
	return body
}

// waitLogged returns once the emulator has written the END line of invocation requestID, which
// it writes after every line of the invocation (see invokeLogged).
func (f *function) waitLogged(t *testing.T, requestID string) {
	t.Helper()
	end := "END RequestId: " + requestID + "\n"
	for limit := time.Now().Add(20 * time.Second); !strings.Contains(f.logs.String(), end); {
		if time.Now().After(limit) {
			t.Fatalf("the emulator never wrote %q:\n%s", strings.TrimSpace(end), f.logs.Tail(4000))
		}
		time.Sleep(time.Millisecond) // a look at the output, as rie.Start looks at the listeners
	}
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

// nsHost is a host of the test's own: a network namespace joined to this one by a veth pair, each
// end with a private address (a /30 of 10.0.0.0/8). A receiver listens there when a function must
// really post to it: the functions' outbound client dials a private address only when the
// configuration names that literal address, and loopback never (SPEC §13), so no receiver on
// loopback can ever be reached. Without the privilege to make one (root: ip netns, veth),
// newNSHost skips the test, except in CI.
type nsHost struct {
	name string     // the namespace (ip netns), deleted when the test ends
	addr netip.Addr // the namespace's end of the pair
}

func newNSHost(t *testing.T) *nsHost {
	t.Helper()
	unavailable := func(err error) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("a network namespace of the test's own cannot be made (%v); CI requires one", err)
		}
		t.Skipf("a network namespace of the test's own cannot be made (%v): skipping the test that posts to a host of its own", err)
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		unavailable(err)
	}
	// Random names and a random /30, so that tests of other processes on this machine (another
	// run of the suite) never collide with this one.
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	h := &nsHost{name: "autopilot-sync-e2e-" + id, addr: netip.AddrFrom4([4]byte{10, b[0], b[1], b[2]&^3 + 2})}
	hostEnd := netip.AddrFrom4([4]byte{10, b[0], b[1], b[2]&^3 + 1})
	hostIf, nsIf := "aps"+id+"h", "aps"+id+"n" // at most 15 bytes, as Linux wants
	ip := func(args ...string) error {
		if out, err := exec.Command(ipPath, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := ip("netns", "add", h.name); err != nil {
		unavailable(err)
	}
	// Deleting the namespace deletes its end of the pair, and with it the other end; the
	// listeners inside are closed first (cleanups run last-in first-out).
	t.Cleanup(func() {
		if err := ip("netns", "delete", h.name); err != nil {
			t.Error(err)
		}
	})
	for _, args := range [][]string{
		{"link", "add", hostIf, "type", "veth", "peer", "name", nsIf, "netns", h.name},
		{"addr", "add", hostEnd.String() + "/30", "dev", hostIf},
		{"link", "set", hostIf, "up"},
		{"-n", h.name, "addr", "add", h.addr.String() + "/30", "dev", nsIf},
		{"-n", h.name, "link", "set", nsIf, "up"},
	} {
		if err := ip(args...); err != nil {
			unavailable(err)
		}
	}
	return h
}

// listen opens a TCP listener on the host's address, on a port of the kernel's choosing, and
// closes it when the test ends. The socket is made by a thread that joins the namespace for it
// and is never handed back to other goroutines (it ends with its own); the socket stays there.
func (h *nsHost) listen(t *testing.T) net.Listener {
	t.Helper()
	type listened struct {
		ln  net.Listener
		err error
	}
	done := make(chan listened, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		ns, err := os.Open(filepath.Join("/var/run/netns", h.name))
		if err != nil {
			done <- listened{err: err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- listened{err: fmt.Errorf("setns %s: %w", h.name, err)}
			return
		}
		ln, err := net.Listen("tcp", netip.AddrPortFrom(h.addr, 0).String())
		done <- listened{ln, err}
	}()
	l := <-done
	if l.err != nil {
		t.Fatal(l.err)
	}
	t.Cleanup(func() { l.ln.Close() })
	return l.ln
}

// receiver is an HTTPS server on an nsHost, with a self-signed certificate for the host's address
// (certPEM: the functions trust it through SSL_CERT_FILE, see trust). It keeps every request it
// gets and answers each 204 once it has kept it, so a request is kept before its sender learns
// that it was delivered.
type receiver struct {
	url     string // https://ADDR:PORT, no path
	certPEM []byte

	mu  sync.Mutex
	got []receivedPost
}

// receivedPost is one request a receiver got.
type receivedPost struct {
	method, path string
	header       http.Header
	body         []byte
}

func startReceiver(t *testing.T, h *nsHost) *receiver {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "autopilot-sync e2e receiver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, IPAddresses: []net.IP{h.addr.AsSlice()},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	ln := h.listen(t)
	r.url = "https://" + ln.Addr().String()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			body, err := io.ReadAll(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.mu.Lock()
			r.got = append(r.got, receivedPost{method: req.Method, path: req.URL.Path, header: req.Header.Clone(), body: body})
			r.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	return r
}

// posts returns the requests the receiver got so far, in order.
func (r *receiver) posts() []receivedPost {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedPost(nil), r.got...)
}

// trust returns the environment that makes a function trust the emulator's CA and the
// certificates pems (SSL_CERT_FILE: one file of them all).
func (e *env) trust(t *testing.T, pems ...[]byte) map[string]string {
	t.Helper()
	all := e.emu.CAPEM()
	for _, p := range pems {
		all = append(all, p...)
	}
	path := filepath.Join(t.TempDir(), "trusted.pem")
	if err := os.WriteFile(path, all, 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"SSL_CERT_FILE": path}
}
