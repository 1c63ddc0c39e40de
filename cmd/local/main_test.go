package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/contract"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// TestLocalOnEmulator is SPEC §9's promise: a plain POST /sync answers 202, a second 409, and
// GET /status answers the status document, on the embedded emulator with no configuration.
func TestLocalOnEmulator(t *testing.T) {
	t.Parallel()
	base, stdout, stop := startLocal(t, nil)
	t.Cleanup(stop)

	steps := []struct {
		method, path, contentType, body string
		wantStatus                      int
		wantField, wantValue            string
	}{
		{"POST", "/sync", "", "", 202, "result", "started"},
		{"POST", "/sync", "", "", 409, "code", "syncInProgress"},
		{"GET", "/status", "", "", 200, "syncStatus", "inProgress"},
		{"PATCH", "/status", "application/json", `{"syncStatus":"completed"}`, 200, "syncStatus", "completed"},
		{"GET", "/sync", "", "", 405, "code", "methodNotAllowed"},
		{"GET", "/nowhere", "", "", 404, "code", "notFound"},
	}
	resp, err := http.Get(base + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.HasPrefix(doc, []byte("openapi: 3.1")) {
		t.Errorf("GET /openapi.yaml: %d %.40s", resp.StatusCode, doc)
	}
	for _, s := range steps {
		req, _ := http.NewRequest(s.method, base+s.path, strings.NewReader(s.body))
		if s.contentType != "" {
			req.Header.Set("Content-Type", s.contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body map[string]any
		if err := json.Unmarshal(data, &body); err != nil {
			t.Fatalf("%s %s: not JSON: %s", s.method, s.path, data)
		}
		if s.path != "/nowhere" {
			if err := contract.Check(contract.Exchange{Method: s.method, Path: s.path, Header: req.Header,
				Status: resp.StatusCode, RespHeader: resp.Header, Body: data}); err != nil {
				t.Error(err)
			}
		}
		if resp.StatusCode != s.wantStatus || body[s.wantField] != s.wantValue {
			t.Errorf("%s %s: %d %s; want %d with %s=%s", s.method, s.path, resp.StatusCode, data, s.wantStatus, s.wantField, s.wantValue)
		}
	}
	if out := stdout.String(); !strings.Contains(out, "curl -i -X POST "+base+"/sync") || !strings.Contains(out, "emulator") {
		t.Errorf("banner lacks the curl lines or the emulator notice:\n%s", out)
	}
	stop()
	if !strings.Contains(stdout.String(), "stopped") {
		t.Errorf("no clean stop: %s", stdout.String())
	}
}

// startLocal runs the local server on a free loopback port (on emu when non-nil, else on an
// emulator of its own) and returns its base URL, its output, and a stop that shuts it down,
// waits for it (failing the test on a shutdown error) and may be called more than once.
func startLocal(t *testing.T, emu *emulator.Emulator) (base string, stdout *lockedBuffer, stop func()) {
	t.Helper()
	base, stdout, _, stop = startLocalWith(t, local{emu: emu, timeouts: defaultTimeouts})
	return base, stdout, stop
}

// startLocalWith is startLocal with l's settings; its output and ready are the test's, and so is
// its getenv unless l has one. args are added to -addr.
func startLocalWith(t *testing.T, l local, args ...string) (base string, stdout, stderr *lockedBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	if l.getenv == nil {
		l.getenv = func(string) string { return "" }
	}
	l.stdout, l.stderr, l.ready = stdout, stderr, ready
	go func() { done <- l.run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...)) }()
	select {
	case base = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("run ended early: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	var once sync.Once
	return base, stdout, stderr, func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("shutdown: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("server did not stop")
			}
		})
	}
}

func TestLocalRefusesNonLoopbackOnEmulator(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	err := run(context.Background(), []string{"-addr", "0.0.0.0:0"}, func(string) string { return "" }, &out, &out, nil)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("err = %v, want a refusal naming loopback", err)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	// changed is closed, and replaced, by every write: waitFor waits on it.
	changed chan struct{}
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return l.b.Write(p)
}

// waitFor waits until the output satisfies ok (what names it in a failure) and returns it. Its
// bound only ends a test that would hang.
func (l *lockedBuffer) waitFor(t *testing.T, what string, ok func(string) bool) string {
	t.Helper()
	bound := time.After(60 * time.Second)
	for {
		l.mu.Lock()
		s := l.b.String()
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		changed := l.changed
		l.mu.Unlock()
		if ok(s) {
			return s
		}
		select {
		case <-changed:
		case <-bound:
			t.Fatalf("the output never showed %s:\n%s", what, s)
		}
	}
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestSigningHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	printSigningHelp(&out, config.Config{WebhookHMACSecretName: "webhook-hmac", SlackSigningSecretName: "slack-signing"})
	got := out.String()
	for _, want := range []string{"HMAC (webhook-hmac)", "X-Hub-Signature-256", "Slack (slack-signing)", "v0:$TS:$BODY"} {
		if !strings.Contains(got, want) {
			t.Errorf("help lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Teams") || strings.Contains(got, "Bearer") {
		t.Errorf("help names schemes that are not configured:\n%s", got)
	}
	out.Reset()
	printSigningHelp(&out, config.Config{})
	if !strings.Contains(out.String(), "every request will answer 401") {
		t.Errorf("no warning without caller checks: %q", out.String())
	}
}
