package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/autopilot-sync/autopilot-sync/internal/contract"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// The whole follow-up loop of SPEC §13 in cmd/local: POST /sync with a callbackUrl on loopback,
// the in-process delayed queue, the check against the embedded emulator, the delivery through
// the outbound client that cmd/local allows to reach loopback, and a receiver of the test's.

// callback is one request the receiver got.
type callback struct {
	path   string
	header http.Header
	body   []byte
}

// receiver is a loopback HTTP server that hands every request it gets to the test (got) and
// answers with respond(n), n counting requests from 1.
type receiver struct {
	url     string
	got     chan callback
	respond func(n int) int
	count   atomic.Int32
}

func startReceiver(t *testing.T, respond func(n int) int) *receiver {
	t.Helper()
	r := &receiver{got: make(chan callback, 64), respond: respond}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.got <- callback{path: req.URL.Path, header: req.Header.Clone(), body: body}
		w.WriteHeader(r.respond(int(r.count.Add(1))))
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// always answers every callback with status.
func always(status int) func(int) int { return func(int) int { return status } }

// next waits for the next callback. Its bound only ends a test that would hang.
func (r *receiver) next(t *testing.T) callback {
	t.Helper()
	select {
	case c := <-r.got:
		return c
	case <-time.After(60 * time.Second):
		t.Fatal("no callback arrived")
		return callback{}
	}
}

// env is a getenv of vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// signingSecret stores a Standard Webhooks secret ("whsec_" + base64 of 32 random bytes) in
// emu's Key Vault as callback-signing and returns it.
func signingSecret(t *testing.T, emu *emulator.Emulator) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	emu.SetSecret("callback-signing", secret, "")
	return secret
}

// startEmulator starts an emulator of the test's, its syncs taking syncDuration on clock (nil:
// the real clock).
func startEmulator(t *testing.T, clock emulator.Clock, syncDuration time.Duration) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.Start(emulator.Options{Clock: clock, SyncDuration: syncDuration})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

// syncWithCallback sends POST /sync with {"callbackUrl":callbackURL}, checks the 202 against
// openapi.yaml and returns the follow-up's id.
func syncWithCallback(t *testing.T, base, callbackURL string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"callbackUrl": callbackURL})
	status, data := postJSON(t, base+"/sync", body)
	var answer struct {
		FollowUp struct {
			ID      string   `json:"id"`
			Targets []string `json:"targets"`
		} `json:"followUp"`
	}
	if err := json.Unmarshal(data, &answer); err != nil || status != http.StatusAccepted ||
		answer.FollowUp.ID == "" || strings.Join(answer.FollowUp.Targets, ",") != "callback" {
		t.Fatalf("POST /sync: %d %s, want 202 with a followUp to the callback", status, data)
	}
	return answer.FollowUp.ID
}

// postJSON sends POST u with the JSON body (none when nil), checks the exchange against
// openapi.yaml and returns the answer's status and body.
func postJSON(t *testing.T, u string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := contract.Check(contract.Exchange{Method: http.MethodPost, Path: req.URL.Path, Header: req.Header,
		Status: resp.StatusCode, RespHeader: resp.Header, Body: data}); err != nil {
		t.Error(err)
	}
	return resp.StatusCode, data
}

// followUpLines returns the followUp invocation lines of follow-up id in the log out, parsed.
func followUpLines(out, id string) []map[string]any {
	var lines []map[string]any
	for _, line := range strings.Split(out, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "invocation" && m["action"] == "followUp" && m["followUpId"] == id {
			lines = append(lines, m)
		}
	}
	return lines
}

// deliveries returns "verdict status" of each delivery on a followUp line.
func deliveries(line map[string]any) []string {
	var out []string
	ds, _ := line["deliveries"].([]any)
	for _, d := range ds {
		d, _ := d.(map[string]any)
		s := fmt.Sprint(d["verdict"])
		if status, ok := d["status"].(float64); ok {
			s += fmt.Sprintf(" %.0f", status)
		}
		out = append(out, s)
	}
	return out
}

// waitForLine waits until the log holds a followUp line of id that satisfies ok.
func waitForLine(t *testing.T, stderr *lockedBuffer, id, what string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	var found map[string]any
	stderr.waitFor(t, what, func(out string) bool {
		for _, l := range followUpLines(out, id) {
			if ok(l) {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

// TestFollowUpCallbackArrives is the README's loop: on its own emulator with -sync-duration 1s
// and FOLLOWUP_FIRST_CHECK=1s, a POST /sync with a callbackUrl on loopback is followed by the
// outcome POSTed there, as openapi.yaml's syncOutcome webhook documents it, unsigned without
// CALLBACK_SIGNING_SECRET_NAME, and logged on the followUp line.
func TestFollowUpCallbackArrives(t *testing.T) {
	t.Parallel()
	r := startReceiver(t, always(http.StatusNoContent))
	base, _, stderr, stop := startLocalWith(t, local{timeouts: defaultTimeouts,
		getenv: env(map[string]string{"FOLLOWUP_FIRST_CHECK": "1s"})}, "-sync-duration", "1s")
	t.Cleanup(stop)

	id := syncWithCallback(t, base, r.url+"/done")
	c := r.next(t)
	if err := contract.CheckCallback(c.header, c.body); err != nil {
		t.Error(err)
	}
	var event struct {
		Type string `json:"type"`
		Data struct {
			Result              string `json:"result"`
			SyncStatus          string `json:"syncStatus"`
			SyncDurationSeconds *int   `json:"syncDurationSeconds"`
		} `json:"data"`
	}
	if err := json.Unmarshal(c.body, &event); err != nil {
		t.Fatal(err)
	}
	if c.path != "/done" || event.Type != "autopilot.sync.completed" || event.Data.Result != "completed" ||
		event.Data.SyncStatus != "completed" || event.Data.SyncDurationSeconds == nil {
		t.Errorf("callback to %s: %s", c.path, c.body)
	}
	// Unsigned, it still carries its id (to drop repeats by) and timestamp; no signature.
	if c.header.Get("Webhook-Id") != id || c.header.Get("Webhook-Timestamp") == "" || c.header.Get("Webhook-Signature") != "" {
		t.Errorf("an unsigned callback's headers: id %q (want %q), timestamp %q, signature %q",
			c.header.Get("Webhook-Id"), id, c.header.Get("Webhook-Timestamp"), c.header.Get("Webhook-Signature"))
	}
	line := waitForLine(t, stderr, id, "the followUp line of the outcome", func(l map[string]any) bool { return l["outcome"] == "completed" })
	if got := strings.Join(deliveries(line), ","); got != "delivered 204" || line["syncDurationSeconds"] == nil || line["SyncOutcomeCompleted"] != 1.0 {
		t.Errorf("the followUp line: deliveries %q, %v", got, line)
	}
	if strings.Contains(stderr.String(), r.url) {
		t.Error("the log holds the callback URL")
	}
}

// TestFollowUpSignedCallback: with CALLBACK_SIGNING_SECRET_NAME naming a secret in the emulator's
// Key Vault, the callback carries a Standard Webhooks signature that the reference library
// verifies, and its webhook-id is the answer's followUp.id.
func TestFollowUpSignedCallback(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, nil, time.Second)
	secret := signingSecret(t, emu)
	r := startReceiver(t, always(http.StatusOK))
	base, _, stderr, stop := startLocalWith(t, local{emu: emu, timeouts: defaultTimeouts,
		getenv: env(map[string]string{"FOLLOWUP_FIRST_CHECK": "1s", "CALLBACK_SIGNING_SECRET_NAME": "callback-signing"})})
	t.Cleanup(stop)

	id := syncWithCallback(t, base, r.url+"/hook")
	c := r.next(t)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(c.body, c.header); err != nil {
		t.Errorf("the reference library refuses the signature: %v", err)
	}
	if err := wh.Verify(append(bytes.Clone(c.body), ' '), c.header); err == nil {
		t.Error("the reference library verifies a changed body: this test cannot fail")
	}
	if got := c.header.Get("webhook-id"); got != id {
		t.Errorf("webhook-id %q, want the answer's followUp.id %q", got, id)
	}
	if err := contract.CheckCallback(c.header, c.body); err != nil {
		t.Error(err)
	}
	waitForLine(t, stderr, id, "the delivery", func(l map[string]any) bool { return strings.Join(deliveries(l), ",") == "delivered 200" })
	if strings.Contains(stderr.String(), secret) || strings.Contains(stderr.String(), c.header.Get("webhook-signature")) {
		t.Error("the log holds the signing secret or a signature")
	}
}

// shortBackoff runs the follow-up backoff (60 s and more) and the redelivery of the in-process
// queue in milliseconds, and leaves the first check (FOLLOWUP_FIRST_CHECK) as it is.
func shortBackoff(d time.Duration) time.Duration {
	if d > time.Second {
		return 10 * time.Millisecond
	}
	return d
}

// TestFollowUpCallbackRetried: a receiver that answers 503 gets the outcome again on a later
// round, with the same webhook-id and body, until it answers 2xx.
func TestFollowUpCallbackRetried(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, nil, time.Second)
	secret := signingSecret(t, emu)
	r := startReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	base, _, stderr, stop := startLocalWith(t, local{emu: emu, timeouts: defaultTimeouts, queueDelay: shortBackoff,
		getenv: env(map[string]string{"FOLLOWUP_FIRST_CHECK": "1s", "CALLBACK_SIGNING_SECRET_NAME": "callback-signing"})})
	t.Cleanup(stop)

	id := syncWithCallback(t, base, r.url+"/done")
	first, second := r.next(t), r.next(t)
	wh, _ := standardwebhooks.NewWebhook(secret)
	for i, c := range []callback{first, second} {
		if err := wh.Verify(c.body, c.header); err != nil {
			t.Errorf("round %d: %v", i+1, err)
		}
		if got := c.header.Get("webhook-id"); got != id {
			t.Errorf("round %d: webhook-id %q, want %q", i+1, got, id)
		}
	}
	if !bytes.Equal(first.body, second.body) {
		t.Errorf("the second round sent another body:\n%s\n%s", first.body, second.body)
	}
	waitForLine(t, stderr, id, "the second round delivered", func(l map[string]any) bool { return strings.Join(deliveries(l), ",") == "delivered 200" })
	var rounds []string
	for _, l := range followUpLines(stderr.String(), id) {
		if ds := deliveries(l); len(ds) > 0 {
			// The outcome's metrics are on the line of the check that found it, not on later rounds.
			rounds = append(rounds, fmt.Sprintf("%v: %s (SyncOutcomeCompleted %v)", l["outcome"], strings.Join(ds, ","), l["SyncOutcomeCompleted"]))
		}
	}
	if got, want := strings.Join(rounds, " | "), "completed: retry 503 (SyncOutcomeCompleted 1) | completed: delivered 200 (SyncOutcomeCompleted <nil>)"; got != want {
		t.Errorf("rounds %q, want %q", got, want)
	}
}

// TestFollowUpCallbackGivenUp: a receiver that never answers 2xx is tried again for one hour
// after the outcome, then the follow-up gives it up and says so. The functions and the emulator
// share a manual clock, which the receiver moves 25 minutes on each try: rounds at +0, +25, +50
// and +75 minutes, the last past the hour.
func TestFollowUpCallbackGivenUp(t *testing.T) {
	t.Parallel()
	clock := emulator.NewManualClock(time.Now())
	emu := startEmulator(t, clock, 90*time.Second)
	r := startReceiver(t, func(int) int {
		clock.Advance(25 * time.Minute) // before the answer: the next round decides after it
		return http.StatusBadGateway
	})
	base, _, stderr, stop := startLocalWith(t, local{emu: emu, timeouts: defaultTimeouts, queueDelay: shortBackoff, now: clock.Now,
		getenv: env(map[string]string{"FOLLOWUP_FIRST_CHECK": "1s"})})
	t.Cleanup(stop)

	id := syncWithCallback(t, base, r.url+"/done")
	clock.Advance(2 * time.Minute) // the sync ends on the emulator; a check before this finds it running
	line := waitForLine(t, stderr, id, "the follow-up giving up", func(l map[string]any) bool { return l["gaveUp"] != nil })
	if got := r.count.Load(); got != 4 {
		t.Errorf("%d tries, want 4 (at +0, +25, +50 and +75 minutes after the outcome)", got)
	}
	for range r.count.Load() {
		if c := r.next(t); c.path != "/done" {
			t.Errorf("a try went to %s", c.path)
		}
	}
	if got := strings.Join(deliveries(line), ","); line["outcome"] != "completed" || got != "retry 502" || strings.Join(toStrings(line["gaveUp"]), ",") != "callback" {
		t.Errorf("the last round: deliveries %q, %v", got, line)
	}
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, x.(string))
	}
	return out
}

// TestReceive: -receive prints every request it gets (method, path and query, the callback's
// headers, the body) and answers 204; it listens on loopback only.
func TestReceive(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out lockedBuffer
	go func() { done <- run(ctx, []string{"-receive", "127.0.0.1:0"}, env(nil), &out, &out, ready) }()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("-receive ended: %v", err)
	}
	body := `{"type":"autopilot.sync.completed","data":{"result":"completed"}}`
	req, _ := http.NewRequest(http.MethodPost, base+"/done?ticket=INC0012345", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", "0f0b6a5e-1c2d-4e3f-8a9b-0c1d2e3f4a5b")
	req.Header.Set("webhook-timestamp", "1796160000")
	req.Header.Set("Authorization", "Basic c3ZjOm5vdC1wcmludGVk")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("answer %d, want 204", resp.StatusCode)
	}
	got := out.String()
	for _, want := range []string{"receiving on " + base, " POST /done?ticket=INC0012345\n", "  Content-Type: application/json\n",
		"  Webhook-Id: 0f0b6a5e-1c2d-4e3f-8a9b-0c1d2e3f4a5b\n", "  Webhook-Timestamp: 1796160000\n", "  " + body + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("the output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "c3ZjOm5vdC1wcmludGVk") {
		t.Errorf("the output prints the Authorization header:\n%s", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("-receive stopped with %v", err)
	}

	err = run(context.Background(), []string{"-receive", "0.0.0.0:0"}, env(nil), &out, &out, nil)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("-receive 0.0.0.0:0: %v, want a refusal naming loopback", err)
	}
}
