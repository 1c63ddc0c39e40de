package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/moto"
)

// The follow-up of SPEC §13 through the real sync binary under aws-lambda-rie, its queue a local
// SQS (moto_server): the messages, the checks, the outcomes, the log line, and that no delivery
// reaches a loopback address (the production outbound client never does). Deliveries to a real
// receiver go to a host of the test's own in a network namespace (newNSHost): defer_test.go and
// ready_test.go.

// localSQS is a moto_server seen through a recorder: every SendMessage a function makes passes
// through it, so a test reads exactly the DelaySeconds the function asked for, and the message
// still lands in moto as sent.
type localSQS struct {
	client   *sqs.Client
	endpoint string // the recorder: AWS_ENDPOINT_URL_SQS of the functions

	mu   sync.Mutex
	sent []sentMessage
}

// sentMessage is one SendMessage call as the SQS endpoint got it (AWS JSON 1.0 protocol).
type sentMessage struct {
	QueueURL     string `json:"QueueUrl"`
	MessageBody  string `json:"MessageBody"`
	DelaySeconds int32  `json:"DelaySeconds"`
}

var queueSeq atomic.Int64

// startSQS starts moto_server (skipping without it, except in CI) and the recorder in front of it.
func startSQS(t *testing.T) *localSQS {
	t.Helper()
	endpoint := moto.Start(t)
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	s := &localSQS{client: moto.SQSClient(endpoint)}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "AmazonSQS.SendMessage" {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var m sentMessage
			if err := json.Unmarshal(body, &m); err != nil {
				t.Errorf("a SendMessage body is not JSON: %v", err)
			}
			s.mu.Lock()
			s.sent = append(s.sent, m)
			s.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.endpoint = srv.URL
	return s
}

// newQueue creates a queue of its own for one test.
func (s *localSQS) newQueue(t *testing.T) string {
	t.Helper()
	out, err := s.client.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprint("autopilot-sync-followup-", queueSeq.Add(1)))})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

// vars is the environment of a sync function whose follow-up queue is queueURL, its first check
// after one second. It plants the AWS secret key for the leak check.
func (s *localSQS) vars(e *env, queueURL string) map[string]string {
	vars := map[string]string{
		"FOLLOWUP_QUEUE_URL":    queueURL,
		"FOLLOWUP_FIRST_CHECK":  "1s",
		"AWS_ENDPOINT_URL_SQS":  s.endpoint,
		"AWS_REGION":            moto.Region,
		"AWS_ACCESS_KEY_ID":     "AKIAEXAMPLEFOLLOWUP",
		"AWS_SECRET_ACCESS_KEY": "not-a-real-secret-key-for-the-follow-up-queue",
	}
	e.plant("AWS secret access key", vars["AWS_SECRET_ACCESS_KEY"])
	return vars
}

// sentTo returns the SendMessage calls made to queueURL so far, in order.
func (s *localSQS) sentTo(queueURL string) []sentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sentMessage
	for _, m := range s.sent {
		if m.QueueURL == queueURL {
			out = append(out, m)
		}
	}
	return out
}

// receive long-polls queueURL until one message is delivered (its delay over) and returns it
// as the SQS event source would hand it to the function.
func (s *localSQS) receive(t *testing.T, queueURL string) awsevents.SQSMessage {
	t.Helper()
	for range 10 { // each poll waits up to 5 s: far more than a delay of one second
		out, err := s.client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL),
			MaxNumberOfMessages: 1, WaitTimeSeconds: 5, VisibilityTimeout: 60})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(out.Messages) == 1 {
			m := out.Messages[0]
			return sqsRecord(aws.ToString(m.MessageId), []byte(aws.ToString(m.Body)))
		}
	}
	t.Fatal("no message arrived in the follow-up queue")
	return awsevents.SQSMessage{}
}

// delayed returns moto's ApproximateNumberOfMessagesDelayed of queueURL.
func (s *localSQS) delayed(t *testing.T, queueURL string) string {
	t.Helper()
	out, err := s.client.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesDelayed)]
}

func sqsRecord(id string, body []byte) awsevents.SQSMessage {
	return awsevents.SQSMessage{MessageId: id, Body: string(body), EventSource: "aws:sqs",
		Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
}

// consume sends records to fn as one SQS batch and returns the ids in batchItemFailures.
func (f *function) consume(t *testing.T, records ...awsevents.SQSMessage) []string {
	for i := range records {
		if records[i].EventSourceARN == "" {
			records[i].EventSourceARN = f.followUpARN
		}
	}
	t.Helper()
	data, err := json.Marshal(awsevents.SQSEvent{Records: records})
	if err != nil {
		t.Fatal(err)
	}
	raw := f.invokeLogged(t, data)
	var resp awsevents.SQSEventResponse
	if err := json.Unmarshal(raw, &resp); err != nil || bytes.Contains(raw, []byte(`"errorMessage"`)) {
		t.Fatalf("not a partial batch response: %s", raw)
	}
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// encode returns m's body, failing the test when followup refuses it.
func encode(t *testing.T, m followup.Message) []byte {
	t.Helper()
	body, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// decodeMessage reads a follow-up message the function sent.
func decodeMessage(t *testing.T, body string) followup.Message {
	t.Helper()
	m, err := followup.Decode([]byte(body), time.Now())
	if err != nil {
		t.Fatalf("the function sent a message that is no follow-up: %v", err)
	}
	return m
}

// followUpLines returns fn's invocation lines of action followUp, in order, parsed.
func followUpLines(t *testing.T, fn *function) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range fn.logs.FunctionLines() {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "invocation" && m["action"] == "followUp" {
			out = append(out, m)
		}
	}
	return out
}

// lineOf returns the only followUp line of fn whose followUpId is id.
func lineOf(t *testing.T, fn *function, id string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, l := range followUpLines(t, fn) {
		if l["followUpId"] == id {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d followUp lines with followUpId %s, want 1:\n%s", len(found), id, fn.logs.Tail(4000))
	}
	return found[0]
}

// emfMetrics returns the metric names the line's Embedded Metric Format directive declares.
func emfMetrics(line map[string]any) []string {
	var names []string
	aws, _ := line["_aws"].(map[string]any)
	directives, _ := aws["CloudWatchMetrics"].([]any)
	for _, d := range directives {
		metrics, _ := d.(map[string]any)["Metrics"].([]any)
		for _, m := range metrics {
			if name, ok := m.(map[string]any)["Name"].(string); ok {
				names = append(names, name)
			}
		}
	}
	return names
}

// checkOutcomeLine checks a followUp line's outcome fields and SPEC §13's metrics: each outcome
// metric 0 or 1 on the line of a check, SyncDurationSeconds with completed and failed only.
func checkOutcomeLine(t *testing.T, line map[string]any, outcome string, duration float64) {
	t.Helper()
	if line["outcome"] != outcome || line["source"] != "sqs" || line["function"] != "sync" {
		t.Errorf("outcome %v source %v function %v, want %s from sqs on sync", line["outcome"], line["source"], line["function"], outcome)
	}
	metrics := emfMetrics(line)
	for metric, result := range map[string]string{"SyncOutcomeCompleted": "completed", "SyncOutcomeFailed": "failed", "SyncOutcomeTimedOut": "timedOut"} {
		want := 0.0
		if result == outcome {
			want = 1
		}
		if line[metric] != want || !slices.Contains(metrics, metric) {
			t.Errorf("%s = %v (declared in EMF: %v), want %v", metric, line[metric], slices.Contains(metrics, metric), want)
		}
	}
	switch {
	case outcome == "completed" || outcome == "failed":
		if line["syncDurationSeconds"] != duration || line["SyncDurationSeconds"] != duration || !slices.Contains(metrics, "SyncDurationSeconds") {
			t.Errorf("syncDurationSeconds %v, metric %v (declared: %v), want %v", line["syncDurationSeconds"], line["SyncDurationSeconds"], metrics, duration)
		}
	case line["syncDurationSeconds"] != nil || slices.Contains(metrics, "SyncDurationSeconds"):
		t.Errorf("a %s line carries a sync duration: %v", outcome, line)
	}
}

// setSettings sets the seeded tenant's sync status and lastSyncDateTime (inProgress: a sync
// triggered now on the emulator's clock, which stays running while the test does not move it).
func (e *env) setSettings(status string, lastSync time.Time) {
	s := e.emu.Settings(emulator.SeedTenantID)
	s.SyncStatus, s.LastSyncDateTime = status, lastSync.UTC()
	if status == "inProgress" {
		s.LastManualSyncTriggerDateTime = e.clock.Now().UTC()
	}
	e.emu.SetSettings(emulator.SeedTenantID, s)
}

// TestFollowUpFromSyncToOutcome follows one sync through the real binary: POST /sync sends one
// message with DelaySeconds = FOLLOWUP_FIRST_CHECK; that very message, received from SQS after
// its delay, finds the sync running and sends the next with the first backoff (60 s); the next
// finds it completed and ends the follow-up.
func TestFollowUpFromSyncToOutcome(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	q := s.newQueue(t)
	e := newEnv(t) // the emulator's clock stands still: the sync runs until the test ends it
	fn := e.start(t, binaries.sync, s.vars(e, q))

	got := decodeHTTP(t, fn.invoke(t, sample(t, "httpapi-sync.json")))
	answer := got.json(t)
	ref, _ := answer["followUp"].(map[string]any)
	id, _ := ref["id"].(string)
	if got.StatusCode != 202 || id == "" || fmt.Sprint(ref["targets"]) != "[]" {
		t.Fatalf("POST /sync: %d %s, want 202 with a followUp of no targets", got.StatusCode, got.Body)
	}
	sent := s.sentTo(q)
	if len(sent) != 1 || sent[0].DelaySeconds != 1 {
		t.Fatalf("SendMessage calls %+v, want one with DelaySeconds 1 (FOLLOWUP_FIRST_CHECK)", sent)
	}
	first := decodeMessage(t, sent[0].MessageBody)
	requestedAt, _ := time.Parse(time.RFC3339, answer["requestedAt"].(string))
	if first.ID != id || first.Kind != followup.Kind || first.Attempt != 1 || first.Outcome != nil ||
		first.Targets != (followup.Targets{}) || first.RequestedAt.Sub(requestedAt).Abs() >= time.Second {
		t.Errorf("first message %+v, want attempt 1 of follow-up %s requested at %v", first, id, requestedAt)
	}

	rec := s.receive(t, q) // after its delay of one second
	if rec.Body != sent[0].MessageBody {
		t.Errorf("moto delivered %s, want what was sent", rec.Body)
	}
	if failed := fn.consume(t, rec); len(failed) != 0 {
		t.Fatalf("batchItemFailures %v", failed)
	}
	checkOutcomeLine(t, lineOf(t, fn, id), "pending", 0)
	sent = s.sentTo(q)
	if len(sent) != 2 || sent[1].DelaySeconds != 60 {
		t.Fatalf("SendMessage calls %+v, want a second with DelaySeconds 60 (the first backoff)", sent)
	}
	if next := decodeMessage(t, sent[1].MessageBody); next.ID != id || next.Attempt != 2 || next.Outcome != nil {
		t.Errorf("next message %+v, want attempt 2 of %s", next, id)
	}
	if n := s.delayed(t, q); n != "1" {
		t.Errorf("ApproximateNumberOfMessagesDelayed = %s, want 1 (the next check, 60 s away)", n)
	}

	e.setSettings("completed", first.RequestedAt.Add(4*time.Minute+12*time.Second))
	graphBefore := e.emu.Counts().Graph["GET"]
	if failed := fn.consume(t, sqsRecord("next", []byte(sent[1].MessageBody))); len(failed) != 0 {
		t.Fatalf("batchItemFailures %v", failed)
	}
	lines := followUpLines(t, fn)
	checkOutcomeLine(t, lines[len(lines)-1], "completed", 252)
	if n := len(s.sentTo(q)); n != 2 {
		t.Errorf("%d messages sent, want none after the outcome (no target owed)", n-2)
	}
	if n := e.emu.Counts().Graph["GET"] - graphBefore; n != 1 {
		t.Errorf("the check read the settings %d times, want 1", n)
	}
}

// TestFollowUpOutcomes sends the sync binary follow-up messages built as the function builds
// them, one per outcome of SPEC §13, against the emulator's settings or faults.
func TestFollowUpOutcomes(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	tests := []struct {
		name         string
		requestedAgo time.Duration
		attempt      int
		prepare      func(e *env, requestedAt time.Time)
		wantOutcome  string
		wantCode     string
		wantDuration float64
		wantRetry    bool  // listed in batchItemFailures
		wantDelay    int32 // DelaySeconds of the next message; 0: none
		wantGETs     int
	}{
		{name: "pending: the sync runs", requestedAgo: 30 * time.Second, attempt: 1,
			prepare:     func(e *env, r time.Time) { e.setSettings("inProgress", r.Add(-time.Hour)) },
			wantOutcome: "pending", wantDelay: 60, wantGETs: 1},
		{name: "pending at the fourth check: 480 s", requestedAgo: 10 * time.Minute, attempt: 4,
			prepare:     func(e *env, r time.Time) { e.setSettings("inProgress", r.Add(-time.Hour)) },
			wantOutcome: "pending", wantDelay: 480, wantGETs: 1},
		{name: "pending: a completion older than the request is not its end", requestedAgo: time.Minute, attempt: 1,
			prepare:     func(e *env, r time.Time) { e.setSettings("completed", r.Add(-time.Hour)) },
			wantOutcome: "pending", wantDelay: 60, wantGETs: 1},
		{name: "completed", requestedAgo: 5 * time.Minute, attempt: 3,
			prepare:     func(e *env, r time.Time) { e.setSettings("completed", r.Add(4*time.Minute+12*time.Second)) },
			wantOutcome: "completed", wantDuration: 252, wantGETs: 1},
		{name: "failed", requestedAgo: 5 * time.Minute, attempt: 2,
			prepare:     func(e *env, r time.Time) { e.setSettings("failed", r.Add(30*time.Second)) },
			wantOutcome: "failed", wantDuration: 30, wantGETs: 1},
		{name: "timedOut: older than FOLLOWUP_MAX_AGE", requestedAgo: 61 * time.Minute, attempt: 9,
			prepare:     func(e *env, r time.Time) { e.setSettings("inProgress", r.Add(-time.Hour)) },
			wantOutcome: "timedOut", wantGETs: 1},
		{name: "error: the permission was removed", requestedAgo: 5 * time.Minute, attempt: 2,
			prepare: func(e *env, _ time.Time) {
				e.emu.AddFault(emulator.Fault{Service: emulator.Graph, Method: http.MethodGet, Status: http.StatusForbidden})
			},
			wantOutcome: "error", wantCode: "graphPermissionDenied", wantGETs: 1},
		{name: "a Graph 503 during a check is redelivered", requestedAgo: 5 * time.Minute, attempt: 2,
			prepare: func(e *env, _ time.Time) {
				e.emu.AddFault(emulator.Fault{Service: emulator.Graph, Method: http.MethodGet, Status: http.StatusServiceUnavailable})
			},
			wantOutcome: "pending", wantCode: "graphUnavailable", wantRetry: true, wantGETs: 4}, // azcore's 3 retries
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := s.newQueue(t)
			e := newEnv(t)
			fn := e.start(t, binaries.sync, s.vars(e, q))
			warmUp(t, fn)
			requestedAt := time.Now().Add(-tt.requestedAgo)
			m := followup.New(followup.NewID(), "", requestedAt, followup.Targets{})
			m.Attempt = tt.attempt
			tt.prepare(e, requestedAt)
			before := e.emu.Counts()

			failed := fn.consume(t, sqsRecord("check-1", encode(t, m)))
			if got := len(failed) == 1 && failed[0] == "check-1"; got != tt.wantRetry {
				t.Errorf("batchItemFailures %v, want the record listed: %v", failed, tt.wantRetry)
			}
			line := lineOf(t, fn, m.ID)
			wantCode := tt.wantCode
			if wantCode == "" {
				wantCode = "ok"
			}
			if line["code"] != wantCode {
				t.Errorf("code %v, want %s", line["code"], wantCode)
			}
			if tt.wantRetry {
				if line["outcome"] != "pending" || slices.Contains(emfMetrics(line), "SyncOutcomeCompleted") {
					t.Errorf("a redelivered check is logged as an outcome: %v", line)
				}
			} else {
				checkOutcomeLine(t, line, tt.wantOutcome, tt.wantDuration)
			}
			after := e.emu.Counts()
			if n := after.Graph["GET"] - before.Graph["GET"]; n != tt.wantGETs {
				t.Errorf("Graph reads %d, want %d", n, tt.wantGETs)
			}
			if n := sum(after.SecretReads) - sum(before.SecretReads); n != 0 {
				t.Errorf("Key Vault reads %d on a warm check, want 0", n)
			}
			sent := s.sentTo(q)
			switch {
			case tt.wantDelay == 0 && len(sent) != 0:
				t.Errorf("messages sent %+v, want none", sent)
			case tt.wantDelay != 0 && (len(sent) != 1 || sent[0].DelaySeconds != tt.wantDelay):
				t.Errorf("messages sent %+v, want one with DelaySeconds %d", sent, tt.wantDelay)
			case tt.wantDelay != 0:
				if next := decodeMessage(t, sent[0].MessageBody); next.ID != m.ID || next.Attempt != tt.attempt+1 {
					t.Errorf("next message %+v, want attempt %d of %s", next, tt.attempt+1, m.ID)
				}
			}
		})
	}
}

// warmUp serves one check of another follow-up, which ends at once with no message sent: the
// cold start's Key Vault reads and tokens are then behind, and a test's faults hit its own
// check only.
func warmUp(t *testing.T, fn *function) {
	t.Helper()
	// The emulator's tenant last synced an hour ago, after this request: completed.
	m := followup.New(followup.NewID(), "", time.Now().Add(-2*time.Hour), followup.Targets{})
	if failed := fn.consume(t, sqsRecord("warm-up", encode(t, m))); len(failed) != 0 {
		t.Fatalf("warm-up: batchItemFailures %v", failed)
	}
	if line := lineOf(t, fn, m.ID); line["outcome"] != "completed" {
		t.Fatalf("warm-up: %v", line)
	}
}

// TestFollowUpMalformedMessages: a follow-up message that cannot be acted on is logged with
// what is wrong and dropped (not in batchItemFailures, no message sent, never a panic), and the
// records beside it in the batch are served.
func TestFollowUpMalformedMessages(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	q := s.newQueue(t)
	e := newEnv(t)
	fn := e.start(t, binaries.sync, s.vars(e, q))
	e.setSettings("completed", time.Now())

	valid := func(edit func(m map[string]any)) string {
		m := map[string]any{"v": 1, "kind": "followUp", "id": "5b1e8c2d-3f4a-4b6c-8d9e-0a1b2c3d4e5f",
			"requestedAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "attempt": 1, "targets": map[string]any{}}
		edit(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	bad := map[string]string{
		"only a kind":         `{"kind":"followUp"}`,
		"another version":     valid(func(m map[string]any) { m["v"] = 2 }),
		"no id":               valid(func(m map[string]any) { delete(m, "id") }),
		"an id of odd bytes":  valid(func(m map[string]any) { m["id"] = "../../etc/passwd" }),
		"requestedAt not RFC": valid(func(m map[string]any) { m["requestedAt"] = "yesterday" }),
		"requestedAt ahead":   valid(func(m map[string]any) { m["requestedAt"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339) }),
		"attempt zero":        valid(func(m map[string]any) { m["attempt"] = 0 }),
		"an unknown field":    valid(func(m map[string]any) { m["extra"] = true }),
		"a callback of 2 KB+": valid(func(m map[string]any) {
			m["targets"] = map[string]any{"callback": "https://x.example/" + strings.Repeat("a", 2100)}
		}),
		"an IDN callback host": valid(func(m map[string]any) { m["targets"] = map[string]any{"callback": "https://bücher.example/hook/"} }),
		"a Slack URL in http": valid(func(m map[string]any) {
			m["targets"] = map[string]any{"slack": "http://hooks.slack.com/commands/T/1/x"}
		}),
		"an unknown result":  valid(func(m map[string]any) { m["outcome"] = map[string]any{"result": "maybe", "at": m["requestedAt"]} }),
		"targets not object": valid(func(m map[string]any) { m["targets"] = "slack" }),
		"over 8 KiB":         valid(func(m map[string]any) { m["tenant"] = strings.Repeat("a", 9000) }),
	}
	var records []awsevents.SQSMessage
	for name, body := range bad {
		records = append(records, sqsRecord("bad "+name, []byte(body)))
	}
	good := followup.New(followup.NewID(), "", time.Now().Add(-2*time.Minute), followup.Targets{})
	records = append(records, sqsRecord("good", encode(t, good)))

	if failed := fn.consume(t, records...); len(failed) != 0 {
		t.Errorf("batchItemFailures %v, want none: a malformed message is dropped, not retried", failed)
	}
	dropped := map[string]bool{}
	for _, l := range followUpLines(t, fn) {
		msg, _ := l["error"].(string)
		if l["code"] != "badRequest" || l["status"] != 400.0 || !strings.Contains(msg, "malformed follow-up message") {
			continue
		}
		for name := range bad {
			if strings.Contains(msg, "message bad "+name+":") {
				dropped[name] = true
			}
		}
	}
	for name := range bad {
		if !dropped[name] {
			t.Errorf("%s: no line says the message is malformed and dropped", name)
		}
	}
	checkOutcomeLine(t, lineOf(t, fn, good.ID), "completed", 120)
	if sent := s.sentTo(q); len(sent) != 0 {
		t.Errorf("messages sent %+v, want none", sent)
	}
}

// TestFollowUpDuplicates: SQS delivers a message at least once. A duplicate of a check that
// finds the end logs the same outcome under the same followUpId; a duplicate of a check that
// finds the sync running forks the follow-up into two identical next messages (a standard
// queue cannot deduplicate), each of which ends with the same outcome and id.
func TestFollowUpDuplicates(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	q := s.newQueue(t)
	e := newEnv(t)
	fn := e.start(t, binaries.sync, s.vars(e, q))
	requestedAt := time.Now().Add(-time.Minute)
	m := followup.New(followup.NewID(), "", requestedAt, followup.Targets{})
	body := encode(t, m)

	e.setSettings("inProgress", requestedAt.Add(-time.Hour))
	if failed := fn.consume(t, sqsRecord("dup", body), sqsRecord("dup", body)); len(failed) != 0 {
		t.Fatalf("batchItemFailures %v", failed)
	}
	sent := s.sentTo(q)
	if len(sent) != 2 || sent[0] != sent[1] || sent[0].DelaySeconds != 60 {
		t.Fatalf("messages sent %+v, want two identical ones with DelaySeconds 60", sent)
	}

	e.setSettings("completed", requestedAt.Add(90*time.Second))
	fn.consume(t, sqsRecord("fork-1", []byte(sent[0].MessageBody)))
	fn.consume(t, sqsRecord("fork-2", []byte(sent[1].MessageBody)))
	var outcomes []string
	for _, l := range followUpLines(t, fn) {
		if l["followUpId"] != m.ID {
			t.Errorf("a line of another follow-up: %v", l)
		}
		outcomes = append(outcomes, fmt.Sprint(l["outcome"], " ", l["syncDurationSeconds"]))
	}
	if want := []string{"pending <nil>", "pending <nil>", "completed 90", "completed 90"}; !slices.Equal(outcomes, want) {
		t.Errorf("outcomes %q, want %q", outcomes, want)
	}
	if n := len(s.sentTo(q)); n != 2 {
		t.Errorf("%d messages after the outcome, want none", n-2)
	}
}
