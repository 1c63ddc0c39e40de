package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
)

// SPEC §16 end to end: deferred syncs through the real sync binary under aws-lambda-rie, its
// follow-up queue a local SQS (moto_server, seen through the recorder of followup_test.go), Graph
// the emulator, and the callbacks really delivered, to a receiver on a host of the test's own (a
// network namespace: the production client never posts to loopback).
//
// Time: the binary reads the real clock, the emulator a manual one. The delays the function asks
// for (60 s, ten minutes) are read from what it sent to the queue, and the messages are driven
// into the function as the SQS event source hands them over when they are due, while the
// emulator is put in the state those minutes bring. Graph's ten minutes between syncs are lifted
// by setting lastManualSyncTriggerDateTime back (as a PATCH of it would), not by moving the
// emulator's clock ten minutes ahead of the function's: a merged request is followed from
// Graph's trigger time, and a follow-up message whose times lie more than five minutes ahead of
// the function's clock is malformed.

// syncRequest is the HTTP API POST /sync sample with query (raw, "" for none) and, when callback
// is set, the JSON body {"callbackUrl":callback}.
func syncRequest(t *testing.T, query, callback string) []byte {
	t.Helper()
	return httpAPIEvent(t, "httpapi-sync.json", func(ev *awsevents.APIGatewayV2HTTPRequest) {
		if query != "" {
			values, err := url.ParseQuery(query)
			if err != nil {
				t.Fatal(err)
			}
			ev.RawQueryString = query
			ev.QueryStringParameters = map[string]string{}
			for k, vs := range values {
				ev.QueryStringParameters[k] = strings.Join(vs, ",") // as API Gateway joins repeated parameters
			}
		}
		if callback != "" {
			body, _ := json.Marshal(map[string]string{"callbackUrl": callback})
			ev.Body = string(body)
			ev.Headers["content-type"] = "application/json"
			ev.Headers["content-length"] = strconv.Itoa(len(body))
		}
	})
}

// lastInvocation returns fn's last invocation line: after invokeLogged, the line of that
// invocation (a test invokes its function one event at a time).
func lastInvocation(t *testing.T, fn *function) map[string]any {
	t.Helper()
	lines := fn.logs.FunctionLines()
	for i := len(lines) - 1; i >= 0; i-- {
		var m map[string]any
		if json.Unmarshal([]byte(lines[i]), &m) == nil && m["msg"] == "invocation" {
			return m
		}
	}
	t.Fatalf("no invocation line:\n%s", fn.logs.Tail(4000))
	return nil
}

// lastLineOf returns the last followUp line of fn whose followUpId is id.
func lastLineOf(t *testing.T, fn *function, id string) map[string]any {
	t.Helper()
	lines := followUpLines(t, fn)
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i]["followUpId"] == id {
			return lines[i]
		}
	}
	t.Fatalf("no followUp line with followUpId %s:\n%s", id, fn.logs.Tail(4000))
	return nil
}

// deferral is a 202 deferred answer, read.
type deferral struct {
	id                  string
	requestedAt, syncAt time.Time
}

// wantDeferred checks a 202 deferred answer (SPEC §16) whose followUp names targets, and reads it.
func wantDeferred(t *testing.T, what string, got httpAnswer, targets string) deferral {
	t.Helper()
	body := got.json(t)
	ref, _ := body["followUp"].(map[string]any)
	id, _ := ref["id"].(string)
	requestedAt, err1 := time.Parse(time.RFC3339, fmt.Sprint(body["requestedAt"]))
	syncAt, err2 := time.Parse(time.RFC3339, fmt.Sprint(body["syncAt"]))
	if got.StatusCode != 202 || body["result"] != "deferred" || id == "" || fmt.Sprint(ref["targets"]) != targets || err1 != nil || err2 != nil {
		t.Fatalf("%s: %d %s, want 202 deferred with a followUp of targets %s", what, got.StatusCode, got.Body, targets)
	}
	return deferral{id: id, requestedAt: requestedAt, syncAt: syncAt}
}

// wantDelay checks that a message sent between before and after, to be received at syncAt, asked
// for DelaySeconds = syncAt − the time it was sent, a fraction counting as a whole second.
func wantDelay(t *testing.T, what string, m sentMessage, syncAt, before, after time.Time) {
	t.Helper()
	// A deferred request's check comes its Spread after syncAt (a few seconds, fixed by its id).
	spread := followup.Spread(decodeMessage(t, m.MessageBody).ID)
	ceil := func(d time.Duration) int32 { return int32(math.Ceil((d + spread).Seconds())) }
	if lo, hi := ceil(syncAt.Sub(after)), ceil(syncAt.Sub(before)); m.DelaySeconds < lo || m.DelaySeconds > hi {
		t.Errorf("%s: DelaySeconds %d, want %d to %d (until %s)", what, m.DelaySeconds, lo, hi, syncAt.Format(time.RFC3339))
	}
}

// lastSent returns the last message sent to queueURL, failing unless n were sent in all.
func (s *localSQS) lastSent(t *testing.T, queueURL string, n int) sentMessage {
	t.Helper()
	sent := s.sentTo(queueURL)
	if len(sent) != n {
		t.Fatalf("%d messages sent to the follow-up queue, want %d: %+v", len(sent), n, sent)
	}
	return sent[n-1]
}

// wantWaiting checks a deferred request's message: its follow-up, its request time, the trigger
// its deferral saw and its targets.
func wantWaiting(t *testing.T, what string, m followup.Message, d deferral, before time.Time, callback string) {
	t.Helper()
	if m.ID != d.id || !m.RequestedAt.Equal(d.requestedAt) || m.Deferred == nil || m.Deferred.Before == nil ||
		!m.Deferred.Before.Equal(before) || m.TriggeredAt != nil || m.Outcome != nil || m.Targets != (followup.Targets{Callback: callback}) {
		t.Errorf("%s: message %+v (deferred %+v), want follow-up %s of the request at %v waiting for a trigger after %v",
			what, m, m.Deferred, d.id, d.requestedAt, before)
	}
}

// deferredRequest sends the HTTP event, whose sync Graph refuses (refusal: the figure of the
// refusal, SyncInProgress or SyncThrottled), and checks what a deferral answers, logs and sends:
// 202 deferred; its line (code deferred, SyncDeferred 1); the nth message to the queue, delayed
// until the answer's syncAt, waiting for a trigger after the one Graph showed. It returns the
// answer and the message.
func deferredRequest(t *testing.T, fn *function, s *localSQS, q string, n int, event []byte, refusal string, trigger time.Time, callback string) (deferral, sentMessage) {
	t.Helper()
	what := "the deferral after " + refusal
	before := time.Now()
	d := wantDeferred(t, what, decodeHTTP(t, fn.invokeLogged(t, event)), "[callback]")
	after := time.Now()
	line := lastInvocation(t, fn)
	if line["action"] != "sync" || line["code"] != "deferred" || line["status"] != 202.0 || line["followUpId"] != d.id {
		t.Errorf("%s: line %v", what, line)
	}
	counts := map[string]float64{"SyncDeferred": 1, "SyncStarted": 0, "SyncInProgress": 0, "SyncThrottled": 0}
	counts[refusal] = 1
	wantFigures(t, what, line, counts)
	sent := s.lastSent(t, q, n)
	wantDelay(t, what, sent, d.syncAt, before, after)
	wantWaiting(t, what, decodeMessage(t, sent.MessageBody), d, trigger, callback)
	return d, sent
}

// checkDue hands fn the message m as the SQS event source does once it is due, and checks the
// line of that check of follow-up id: its outcome and figures (as wantCounts), and the Graph sync
// calls it made.
func (e *env) checkDue(t *testing.T, fn *function, what, id string, m sentMessage, outcome string, counts map[string]float64, syncCalls int) {
	t.Helper()
	before := e.emu.Counts().Graph["POST sync"]
	if failed := fn.consume(t, sqsRecord("due", []byte(m.MessageBody))); len(failed) != 0 {
		t.Fatalf("%s: batchItemFailures %v", what, failed)
	}
	line := lastInvocation(t, fn)
	if line["action"] != "followUp" || line["outcome"] != outcome || line["followUpId"] != id {
		t.Errorf("%s: line %v, want outcome %s of follow-up %s", what, line, outcome, id)
	}
	wantFigures(t, what, line, counts)
	if n := e.emu.Counts().Graph["POST sync"] - before; n != syncCalls {
		t.Errorf("%s: %d Graph sync calls, want %d", what, n, syncCalls)
	}
}

// variant is how a request asks to be deferred, and how one asks not to be.
type variant struct {
	name   string
	policy string // SYNC_WHEN_BUSY
	// deferQuery is the query of a request that defers, refuseQuery of one that does not.
	deferQuery, refuseQuery string
}

// TestDeferredRequestsMergeIntoOneSync is SPEC §16 through the built function, under
// SYNC_WHEN_BUSY=defer (requests without a query) and under the default refuse (requests with
// ?defer=true). A sync starts; a request made while it runs (Graph 409) and one made after it,
// within its ten minutes (Graph 429), are each answered 202 deferred, and each waits in the
// queue as one delayed message, its DelaySeconds the wait its answer names. The first request's
// checks wait while the sync runs (no Graph call), are throttled (429) and wait until the ten
// minutes are over, then trigger the sync; the second request's check finds that trigger and
// merges (no Graph call). The sync ends: each request's callback gets one outcome, completed, of
// that same sync, signed.
func TestDeferredRequestsMergeIntoOneSync(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	for _, v := range []variant{
		{name: "SYNC_WHEN_BUSY=defer", policy: "defer", refuseQuery: "defer=false"},
		{name: "refuse by default, ?defer=true", deferQuery: "defer=true"},
	} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			testDeferredMerge(t, s, v)
		})
	}
}

func testDeferredMerge(t *testing.T, s *localSQS, v variant) {
	q := s.newQueue(t)
	e := newEnv(t)
	rcv := startReceiver(t, newNSHost(t))
	prefix := rcv.url + "/api/x_autopilot/"
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("svc-autopilot:"+rand.Text()))
	targets, _ := json.Marshal([]map[string]any{{"urlPrefix": prefix, "headers": map[string]string{"Authorization": auth}}})
	e.emu.SetSecret("callback-targets", string(targets), "")
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	signing := "whsec_" + base64.StdEncoding.EncodeToString(key)
	e.emu.SetSecret("callback-signing", signing, "")
	vars := s.vars(e, q)
	maps.Copy(vars, e.trust(t, rcv.certPEM))
	vars["FOLLOWUP_FIRST_CHECK"] = "120s" // every message stays delayed while the test reads the queue
	vars["CALLBACK_TARGETS_SECRET_NAME"] = "callback-targets"
	vars["CALLBACK_SIGNING_SECRET_NAME"] = "callback-signing"
	if v.policy != "" {
		vars["SYNC_WHEN_BUSY"] = v.policy
	}
	fn := e.start(t, binaries.sync, vars)
	syncCalls := func() int { return e.emu.Counts().Graph["POST sync"] }
	settings := func() emulator.Settings { return e.emu.Settings(emulator.SeedTenantID) }

	// A sync starts (Graph 204) and is followed as SPEC §13 says.
	if got := decodeHTTP(t, fn.invokeLogged(t, syncRequest(t, "", ""))); got.StatusCode != 202 || got.json(t)["result"] != "started" {
		t.Fatalf("POST /sync: %d %s, want 202 started", got.StatusCode, got.Body)
	}
	trigger := settings().LastManualSyncTriggerDateTime
	s.lastSent(t, q, 1)

	// While it runs: Graph 409, and the request is deferred by 60 s.
	callbackA := prefix + "done/INC0012345-" + rand.Text()
	a, sentA := deferredRequest(t, fn, s, q, 2, syncRequest(t, v.deferQuery, callbackA), "SyncInProgress", trigger, callbackA)
	if d := a.syncAt.Sub(a.requestedAt); d < time.Minute || d > time.Minute+time.Second {
		t.Errorf("after a 409: syncAt %v is %v after requestedAt %v, want 60 s (to the second)", a.syncAt, d, a.requestedAt)
	}

	// A request that does not defer is refused as SPEC §5 says, and nothing waits.
	if got := decodeHTTP(t, fn.invokeLogged(t, syncRequest(t, v.refuseQuery, ""))); got.StatusCode != 409 || got.json(t)["code"] != "syncInProgress" {
		t.Errorf("a request that does not defer, while the sync runs: %d %s, want 409 syncInProgress", got.StatusCode, got.Body)
	}
	s.lastSent(t, q, 2)

	// The first request's message is due (60 s): the sync still runs, so it waits 60 s more,
	// without asking Graph for a sync.
	e.checkDue(t, fn, "a check while the sync runs", a.id, sentA, "deferred", map[string]float64{"SyncMerged": 0, "SyncStarted": -1}, 0)
	sentA = s.lastSent(t, q, 3)
	if want := int32((time.Minute + followup.Spread(a.id)) / time.Second); sentA.DelaySeconds != want {
		t.Errorf("a check while the sync runs: DelaySeconds %d, want %d (60 s and its spread)", sentA.DelaySeconds, want)
	}
	wantWaiting(t, "a check while the sync runs", decodeMessage(t, sentA.MessageBody), a, trigger, callbackA)

	// The sync ends; within its ten minutes, Graph 429: the next request is deferred until
	// ten minutes after the trigger.
	e.setSettings("completed", trigger.Add(90*time.Second))
	callbackB := prefix + "done/INC0012346-" + rand.Text()
	b, sentB := deferredRequest(t, fn, s, q, 4, syncRequest(t, v.deferQuery, callbackB), "SyncThrottled", trigger, callbackB)
	nextAllowed := trigger.Add(10 * time.Minute).Add(time.Second - 1).Truncate(time.Second)
	if !b.syncAt.Equal(nextAllowed) {
		t.Errorf("after a 429: syncAt %v, want %v (ten minutes after the trigger, to the second)", b.syncAt, nextAllowed)
	}

	got := decodeHTTP(t, fn.invokeLogged(t, syncRequest(t, v.refuseQuery, "")))
	if got.StatusCode != 429 || got.json(t)["code"] != "syncThrottled" || got.header("Retry-After") == "" {
		t.Errorf("a request that does not defer, within ten minutes: %d %s, want 429 syncThrottled with Retry-After", got.StatusCode, got.Body)
	}
	s.lastSent(t, q, 4)

	// What was sent is in the queue, every message still delayed: the first check of the sync
	// (120 s), the first request's wait (60 s) and next wait (60 s), the second's (ten minutes).
	if n := s.delayed(t, q); n != "4" {
		t.Errorf("ApproximateNumberOfMessagesDelayed = %s, want 4", n)
	}

	// The first request's next message is due: the ten minutes are not over (Graph 429), so it
	// waits until they are.
	before := time.Now()
	e.checkDue(t, fn, "a check within ten minutes", a.id, sentA, "deferred", map[string]float64{"SyncMerged": 0, "SyncThrottled": 1, "SyncStarted": 0, "SyncDeferred": 0}, 1)
	after := time.Now()
	sentA = s.lastSent(t, q, 5)
	wantDelay(t, "a check within ten minutes", sentA, nextAllowed, before, after)
	wantWaiting(t, "a check within ten minutes", decodeMessage(t, sentA.MessageBody), a, trigger, callbackA)

	// Ten minutes pass. The emulator's clock catches up with the function's (seconds later
	// than the trigger), and the trigger moves back ten minutes and a second: a sync is allowed
	// now, and none was triggered after the one the deferrals saw.
	e.clock.Set(time.Now())
	lifted := settings()
	lifted.LastManualSyncTriggerDateTime = trigger.Add(-10*time.Minute - time.Second)
	e.emu.SetSettings(emulator.SeedTenantID, lifted)

	// The first request's message is due again: it triggers the sync (Graph 204) and is
	// followed from then on.
	e.checkDue(t, fn, "the check that triggers the sync", a.id, sentA, "started", map[string]float64{"SyncMerged": 0, "SyncStarted": 1, "SyncThrottled": 0, "SyncInProgress": 0}, 1)
	triggered := settings().LastManualSyncTriggerDateTime
	if !triggered.After(trigger) || settings().SyncStatus != "inProgress" {
		t.Fatalf("Graph's settings %+v after the check: no sync triggered after %v", settings(), trigger)
	}
	sentA = s.lastSent(t, q, 6)
	followA := decodeMessage(t, sentA.MessageBody)
	if sentA.DelaySeconds != 120 || followA.ID != a.id || followA.Deferred != nil || followA.TriggeredAt == nil || followA.Attempt != 1 {
		t.Errorf("after the trigger: DelaySeconds %d, message %+v; want the follow-up's first check after 120 s (FOLLOWUP_FIRST_CHECK)", sentA.DelaySeconds, followA)
	}

	// The second request's message is due: the trigger is later than the one its deferral saw,
	// so it is merged into that sync, with no Graph sync call, and followed.
	e.checkDue(t, fn, "the check that merges", b.id, sentB, "merged", map[string]float64{"SyncMerged": 1, "SyncStarted": -1, "SyncOutcomeCompleted": 0}, 0)
	sentB = s.lastSent(t, q, 7)
	followB := decodeMessage(t, sentB.MessageBody)
	if sentB.DelaySeconds != 60 || followB.ID != b.id || followB.Deferred != nil || followB.TriggeredAt == nil || !followB.TriggeredAt.Equal(triggered) {
		t.Errorf("after the merge: DelaySeconds %d, message %+v; want the follow-up of the sync triggered at %v, next check after 60 s", sentB.DelaySeconds, followB, triggered)
	}

	// The sync ends. Both follow-ups are due, in one batch: each finds the end, and each
	// request's callback is told, once.
	e.clock.Advance(90 * time.Second) // the emulator's SyncDuration
	ended := settings()
	calls := syncCalls()
	if failed := fn.consume(t, sqsRecord("a-4", []byte(sentA.MessageBody)), sqsRecord("b-2", []byte(sentB.MessageBody))); len(failed) != 0 {
		t.Fatalf("batchItemFailures %v", failed)
	}
	for _, d := range []deferral{a, b} {
		line := lastLineOf(t, fn, d.id)
		deliveries := fmt.Sprint(line["deliveries"])
		if line["outcome"] != "completed" || line["source"] != "sqs" || deliveries != "[map[status:204 target:callback verdict:delivered]]" {
			t.Errorf("follow-up %s at the end: outcome %v, deliveries %s; want completed, delivered to the callback", d.id, line["outcome"], deliveries)
		}
		wantFigures(t, "a check that finds the end", line, map[string]float64{"SyncOutcomeCompleted": 1, "SyncOutcomeFailed": 0, "SyncOutcomeTimedOut": 0, "SyncMerged": -1, "DeliveryFailures": 0})
	}
	if n := syncCalls() - calls; n != 0 {
		t.Errorf("the checks at the end asked Graph for %d syncs", n)
	}
	s.lastSent(t, q, 7) // every target told: nothing more to send

	wh, err := standardwebhooks.NewWebhook(signing)
	if err != nil {
		t.Fatal(err)
	}
	posts := rcv.posts()
	if len(posts) != 2 {
		t.Fatalf("the receiver got %d requests, want 2 (one per request)", len(posts))
	}
	told := map[string]int{}
	for _, p := range posts {
		id := p.header.Get("webhook-id")
		told[id]++
		want, callback := a, callbackA
		if id == b.id {
			want, callback = b, callbackB
		}
		var ev struct {
			Type string `json:"type"`
			Data struct {
				Tenant, Result, RequestedAt, LastSyncDateTime, SyncStatus string
				SyncDurationSeconds                                       *int64
			} `json:"data"`
		}
		if err := json.Unmarshal(p.body, &ev); err != nil {
			t.Errorf("callback %s: %v: %s", id, err, p.body)
			continue
		}
		if p.method != "POST" || rcv.url+p.path != callback {
			t.Errorf("callback %s: %s %s, want POST to its callbackUrl", id, p.method, p.path)
		}
		if p.header.Get("Authorization") != auth {
			t.Errorf("callback %s: the urlPrefix's Authorization header did not come", id)
		}
		if err := wh.Verify(p.body, p.header); err != nil {
			t.Errorf("callback %s: the signature does not verify: %v", id, err)
		}
		if ev.Type != "autopilot.sync.completed" || ev.Data.Result != "completed" || ev.Data.SyncStatus != "completed" ||
			ev.Data.Tenant != emulator.SeedTenantID || ev.Data.RequestedAt != want.requestedAt.Format(time.RFC3339) ||
			ev.Data.LastSyncDateTime != ended.LastSyncDateTime.UTC().Format(time.RFC3339) || ev.Data.SyncDurationSeconds == nil ||
			// From the trigger to the end: 90 s on the emulator's clock. A check that triggered the
			// sync itself counts from its own clock at the 204, which runs ahead of the emulator's
			// manual clock by the seconds this test has taken since it set it: a few at most.
			*ev.Data.SyncDurationSeconds < 80 || *ev.Data.SyncDurationSeconds > 90 {
			t.Errorf("callback %s: %s; want completed, requested at %s, the sync that ended at %s",
				id, p.body, want.requestedAt.Format(time.RFC3339), ended.LastSyncDateTime.UTC().Format(time.RFC3339))
		}
	}
	if told[a.id] != 1 || told[b.id] != 1 {
		t.Errorf("callbacks by webhook-id %v, want one for %s and one for %s", told, a.id, b.id)
	}
}

// consumeConcurrently hands each function its batch at once, as the SQS event source hands
// batches to concurrent instances, and returns when every invocation has answered and logged. It
// fails the test on an error or a batchItemFailures.
func consumeConcurrently(t *testing.T, batches map[*function][]awsevents.SQSMessage) {
	t.Helper()
	type answer struct {
		fn        *function
		requestID string
		raw       []byte
		err       error
	}
	answers := make(chan answer, len(batches))
	for fn, records := range batches {
		for i := range records {
			records[i].EventSourceARN = fn.followUpARN
		}
		event, err := json.Marshal(awsevents.SQSEvent{Records: records})
		if err != nil {
			t.Fatal(err)
		}
		a := answer{fn: fn, requestID: uuid.NewString()}
		go func() {
			a.raw, a.err = fn.rie.InvokeWithID(t.Context(), a.requestID, event)
			answers <- a
		}()
	}
	for range batches {
		a := <-answers
		if a.err != nil {
			t.Fatal(a.err)
		}
		leaks.addAnswer(t.Name(), a.raw)
		a.fn.waitLogged(t, a.requestID)
		var resp awsevents.SQSEventResponse
		if err := json.Unmarshal(a.raw, &resp); err != nil || len(resp.BatchItemFailures) != 0 || strings.Contains(string(a.raw), `"errorMessage"`) {
			t.Fatalf("a batch answered %s, want no batchItemFailures", a.raw)
		}
	}
}

// TestDeferredChecksRaceToOneSync: requests deferred while a sync runs come due together, and
// concurrent instances of the function check them at once (SPEC §16, issue 22: N deferred
// requests in one window cause exactly one Graph sync, plus at most N−1 answered 409 when they
// race). Exactly one check starts the sync; every other merges into it, directly or after its
// own sync call met the 409; none waits on; and each request is told the end of that sync.
func TestDeferredChecksRaceToOneSync(t *testing.T) {
	t.Parallel()
	const requests, instances = 6, 3
	s := startSQS(t)
	q := s.newQueue(t)
	e := newEnv(t)
	vars := s.vars(e, q)
	vars["SYNC_WHEN_BUSY"] = "defer"
	fns := make([]*function, instances)
	for i := range fns {
		fns[i] = e.start(t, binaries.sync, vars)
	}
	e.setSettings("inProgress", time.Now().Add(-time.Hour))
	running := e.emu.Settings(emulator.SeedTenantID)

	ids := map[string]bool{}
	for i := range requests {
		d := wantDeferred(t, fmt.Sprint("request ", i), decodeHTTP(t, fns[i%instances].invokeLogged(t, syncRequest(t, "", ""))), "[]")
		ids[d.id] = true
	}
	sent := s.sentTo(q)
	if len(sent) != requests || len(ids) != requests {
		t.Fatalf("%d messages and %d follow-ups for %d deferred requests", len(sent), len(ids), requests)
	}

	// The sync ends and its ten minutes pass (the trigger moves back, the emulator's clock
	// catches up with the function's); every message comes due at once.
	e.clock.Set(time.Now())
	running.SyncStatus, running.LastSyncDateTime = "completed", running.LastManualSyncTriggerDateTime.Add(90*time.Second)
	running.LastManualSyncTriggerDateTime = running.LastManualSyncTriggerDateTime.Add(-10*time.Minute - time.Second)
	e.emu.SetSettings(emulator.SeedTenantID, running)
	calls := e.emu.Counts().Graph["POST sync"]
	batches := map[*function][]awsevents.SQSMessage{}
	for i, m := range sent {
		fn := fns[i%instances]
		batches[fn] = append(batches[fn], sqsRecord(fmt.Sprint("due-", i), []byte(m.MessageBody)))
	}
	consumeConcurrently(t, batches)

	var started, merged, conflicts int
	for id := range ids {
		var line map[string]any
		for _, fn := range fns {
			for _, l := range followUpLines(t, fn) {
				if l["followUpId"] == id {
					line = l
				}
			}
		}
		switch {
		case line == nil:
			t.Errorf("follow-up %s: not checked", id)
		case line["outcome"] == "started":
			started++
			wantFigures(t, "the check that starts", line, map[string]float64{"SyncStarted": 1, "SyncMerged": 0})
		case line["outcome"] == "merged" && line["SyncInProgress"] == 1.0:
			conflicts++ // its own sync call met the 409, and the read after it the trigger
			merged++
			wantFigures(t, "a check merged after a 409", line, map[string]float64{"SyncMerged": 1, "SyncStarted": 0})
		case line["outcome"] == "merged":
			merged++
			wantFigures(t, "a check merged", line, map[string]float64{"SyncMerged": 1, "SyncStarted": -1})
		default:
			t.Errorf("follow-up %s: %v, want started or merged", id, line)
		}
	}
	if n := e.emu.Counts().Graph["POST sync"] - calls; started != 1 || merged != requests-1 || n != 1+conflicts {
		t.Errorf("%d started, %d merged (%d after a 409), %d Graph sync calls; want 1 started, %d merged, 1 call plus one per 409",
			started, merged, conflicts, n, requests-1)
	}
	t.Logf("%d checks on %d instances: 1 started, %d merged, %d of them after a 409", requests, instances, merged, conflicts)

	// The sync ends: every request is told, once, of that sync's end.
	e.clock.Advance(90 * time.Second)
	followed := s.sentTo(q)[requests:]
	if len(followed) != requests {
		t.Fatalf("%d follow-up messages after the checks, want %d", len(followed), requests)
	}
	var records []awsevents.SQSMessage
	for i, m := range followed {
		records = append(records, sqsRecord(fmt.Sprint("end-", i), []byte(m.MessageBody)))
	}
	if failed := fns[0].consume(t, records...); len(failed) != 0 {
		t.Fatalf("batchItemFailures %v", failed)
	}
	end := e.emu.Settings(emulator.SeedTenantID).LastSyncDateTime
	for id := range ids {
		line := lastLineOf(t, fns[0], id)
		if line["outcome"] != "completed" {
			t.Errorf("follow-up %s at the end: %v, want completed", id, line)
		}
	}
	for _, m := range s.sentTo(q)[2*requests:] {
		t.Errorf("a message after the end: %s", m.MessageBody)
	}
	if !end.After(running.LastSyncDateTime) {
		t.Errorf("the sync that served them ended at %v", end)
	}
}

// deadEndpoint is an SQS endpoint that nothing answers: it accepts each connection and closes it
// unanswered. It returns its URL and the count of connections it accepted.
func deadEndpoint(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String(), &conns
}

// TestDeferredScheduledSync: with SYNC_WHEN_BUSY=defer, a schedule that meets a running sync is
// deferred like an HTTP request, and that is a result, not a Lambda error (SPEC §8, §16). A
// deferral whose message cannot be sent (a queue that does not exist, an SQS endpoint that does
// not answer) is a transient failure: 503 queueUnavailable over HTTP, a Lambda error for the
// schedule, so that Lambda's asynchronous retry applies.
func TestDeferredScheduledSync(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	t.Run("deferred while a sync runs", func(t *testing.T) {
		t.Parallel()
		q := s.newQueue(t)
		e := newEnv(t)
		vars := s.vars(e, q)
		vars["SYNC_WHEN_BUSY"] = "defer"
		fn := e.start(t, binaries.sync, vars)
		e.setSettings("inProgress", time.Now().Add(-time.Hour))
		trigger := e.emu.Settings(emulator.SeedTenantID).LastManualSyncTriggerDateTime
		for i, source := range []string{"schedule-eventbridge.json", "schedule-scheduler.json"} {
			before := time.Now()
			raw := fn.invokeLogged(t, sample(t, source))
			after := time.Now()
			var res struct {
				Result              string
				RequestedAt, SyncAt time.Time
				FollowUp            *struct {
					ID      string
					Targets []string
				}
				ErrorMessage string
			}
			if err := json.Unmarshal(raw, &res); err != nil || res.ErrorMessage != "" || res.Result != "deferred" || res.FollowUp == nil ||
				res.FollowUp.ID == "" || len(res.FollowUp.Targets) != 0 || res.SyncAt.Sub(res.RequestedAt) < time.Minute {
				t.Fatalf("%s: %s, want the result deferred, 60 s on, with a followUp and no target", source, raw)
			}
			line := lastInvocation(t, fn)
			if line["action"] != "scheduledSync" || line["source"] != "schedule" || line["code"] != "deferred" || line["status"] != 200.0 || line["followUpId"] != res.FollowUp.ID {
				t.Errorf("%s: line %v", source, line)
			}
			wantFigures(t, source, line, map[string]float64{"SyncDeferred": 1, "SyncInProgress": 1, "SyncStarted": 0})
			sent := s.lastSent(t, q, i+1)
			wantDelay(t, source, sent, res.SyncAt, before, after)
			wantWaiting(t, source, decodeMessage(t, sent.MessageBody), deferral{id: res.FollowUp.ID, requestedAt: res.RequestedAt}, trigger, "")
		}
		if n := s.delayed(t, q); n != "2" {
			t.Errorf("ApproximateNumberOfMessagesDelayed = %s, want 2", n)
		}
	})

	unreachable := []struct {
		name string
		edit func(t *testing.T, vars map[string]string)
	}{
		{"a queue that does not exist", func(t *testing.T, vars map[string]string) {
			vars["FOLLOWUP_QUEUE_URL"] = s.newQueue(t) + "-gone"
		}},
		{"an SQS endpoint that does not answer", func(t *testing.T, vars map[string]string) {
			vars["FOLLOWUP_QUEUE_URL"] = s.newQueue(t)
			vars["AWS_ENDPOINT_URL_SQS"], _ = deadEndpoint(t)
		}},
	}
	for _, tt := range unreachable {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			vars := s.vars(e, "")
			tt.edit(t, vars)
			vars["SYNC_WHEN_BUSY"] = "defer"
			fn := e.start(t, binaries.sync, vars)
			e.setSettings("inProgress", time.Now().Add(-time.Hour))

			got := decodeHTTP(t, fn.invokeLogged(t, syncRequest(t, "", "")))
			if got.StatusCode != 503 || got.json(t)["code"] != "queueUnavailable" || got.header("Retry-After") == "" {
				t.Errorf("POST /sync: %d %s, want 503 queueUnavailable with Retry-After", got.StatusCode, got.Body)
			}
			if line := lastInvocation(t, fn); line["action"] != "sync" || line["code"] != "queueUnavailable" || line["status"] != 503.0 {
				t.Errorf("POST /sync: line %v", line)
			}
			le := decodeError(t, fn.invokeLogged(t, sample(t, "schedule-eventbridge.json")))
			if !strings.HasPrefix(le.ErrorMessage, "queueUnavailable:") {
				t.Errorf("schedule: %+v, want a Lambda error queueUnavailable", le)
			}
			if line := lastInvocation(t, fn); line["action"] != "scheduledSync" || line["code"] != "queueUnavailable" {
				t.Errorf("schedule: line %v", line)
			}
		})
	}
}

// TestDeferRefusedBeforeGraph: a defer value other than true or false is a 400, and so is
// defer=true where there is no follow-up queue; SYNC_WHEN_BUSY=defer without one (or another
// value) is a misconfiguration, named in the log and in a schedule's error. None of them asks
// Graph anything or sends a message.
func TestDeferRefusedBeforeGraph(t *testing.T) {
	t.Parallel()
	sqsEndpoint, sqsConns := deadEndpoint(t) // nothing may be sent, so nothing needs to answer
	queue := func(vars map[string]string) map[string]string {
		vars["FOLLOWUP_QUEUE_URL"] = sqsEndpoint + "/123456789012/autopilot-sync-followup"
		vars["AWS_ENDPOINT_URL_SQS"] = sqsEndpoint
		vars["AWS_REGION"] = "us-east-1"
		return vars
	}
	tests := []struct {
		name       string
		vars       map[string]string
		query      string
		wantStatus int
		wantCode   string
		wantNamed  string // in the answer (400) or the log (500)
	}{
		{name: "defer=maybe", vars: queue(map[string]string{"SYNC_WHEN_BUSY": "defer"}), query: "defer=maybe", wantStatus: 400, wantCode: "badRequest", wantNamed: "defer"},
		{name: "defer=TRUE", vars: queue(map[string]string{}), query: "defer=TRUE", wantStatus: 400, wantCode: "badRequest", wantNamed: "defer"},
		{name: "defer empty", vars: queue(map[string]string{}), query: "defer=", wantStatus: 400, wantCode: "badRequest", wantNamed: "defer"},
		{name: "defer twice", vars: queue(map[string]string{}), query: "defer=true&defer=false", wantStatus: 400, wantCode: "badRequest", wantNamed: "defer"},
		{name: "defer=true without a queue", vars: map[string]string{}, query: "defer=true", wantStatus: 400, wantCode: "badRequest", wantNamed: "FOLLOWUP_QUEUE_URL"},
		{name: "SYNC_WHEN_BUSY=defer without a queue", vars: map[string]string{"SYNC_WHEN_BUSY": "defer"}, wantStatus: 500, wantCode: "misconfigured", wantNamed: "SYNC_WHEN_BUSY"},
		{name: "SYNC_WHEN_BUSY=sometimes", vars: queue(map[string]string{"SYNC_WHEN_BUSY": "sometimes"}), wantStatus: 500, wantCode: "misconfigured", wantNamed: "SYNC_WHEN_BUSY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			fn := e.start(t, binaries.sync, tt.vars)
			got := decodeHTTP(t, fn.invokeLogged(t, syncRequest(t, tt.query, "")))
			if got.StatusCode != tt.wantStatus || got.json(t)["code"] != tt.wantCode {
				t.Errorf("got %d %s, want %d %s", got.StatusCode, got.Body, tt.wantStatus, tt.wantCode)
			}
			switch detail, _ := got.json(t)["detail"].(string); {
			case tt.wantStatus == 400 && !strings.Contains(detail, tt.wantNamed):
				t.Errorf("the 400's detail %q does not name %s", detail, tt.wantNamed)
			case tt.wantStatus == 500 && !strings.Contains(fn.logs.String(), tt.wantNamed):
				t.Errorf("the log does not name %s:\n%s", tt.wantNamed, fn.logs.Tail(4000))
			}
			if tt.wantStatus == 500 {
				le := decodeError(t, fn.invokeLogged(t, sample(t, "schedule-scheduler.json")))
				if !strings.HasPrefix(le.ErrorMessage, "misconfigured:") || !strings.Contains(le.ErrorMessage, tt.wantNamed) {
					t.Errorf("schedule: %+v, want a misconfigured error naming %s", le, tt.wantNamed)
				}
			}
			if c := e.emu.Counts(); sum(c.Graph) != 0 {
				t.Errorf("Graph calls %v, want none", c.Graph)
			}
		})
	}
	t.Cleanup(func() {
		if n := sqsConns.Load(); n != 0 {
			t.Errorf("%d connections to SQS, want none", n)
		}
	})
}
