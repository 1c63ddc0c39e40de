package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/notify"
	"github.com/autopilot-sync/autopilot-sync/internal/outbound"
)

// sentMessage is one message a memQueue was given.
type sentMessage struct {
	body  []byte
	delay time.Duration
}

// memQueue is a hand-written fake of our own Queue.
type memQueue struct {
	mu   sync.Mutex
	sent []sentMessage
	err  error
}

func (q *memQueue) Send(_ context.Context, body []byte, delay time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.sent = append(q.sent, sentMessage{append([]byte(nil), body...), delay})
	return nil
}

func (q *memQueue) messages(t *testing.T, now time.Time) []followup.Message {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []followup.Message
	for _, s := range q.sent {
		m, err := followup.Decode(s.body, now)
		if err != nil {
			t.Fatalf("the queue got a message Decode refuses: %v", err)
		}
		out = append(out, m)
	}
	return out
}

// deliveries records the notices a follow-up delivers and answers with verdicts by target.
type deliveries struct {
	mu      sync.Mutex
	got     []followup.Notice
	verdict map[followup.Target]outbound.Verdict
}

func (d *deliveries) deliver(_ context.Context, n followup.Notice) notify.Delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, n)
	v, ok := d.verdict[n.Target]
	if !ok {
		v = outbound.Delivered
	}
	return notify.Delivery{Target: n.Target, Verdict: v, Status: map[outbound.Verdict]int{outbound.Delivered: 200, outbound.Retry: 503, outbound.Refused: 404}[v]}
}

var testSlackPrefixes = func() []notify.Prefix {
	p, err := notify.ParseSlackPrefixes("")
	if err != nil {
		panic(err)
	}
	return p
}()

var testCallbackPrefixes = func() []notify.Prefix {
	p, err := notify.ParseCallbackTargets([]byte(`[{"urlPrefix":"https://contoso.service-now.com/api/x_autopilot/","headers":{"Authorization":"Basic c2VjcmV0"}}]`))
	if err != nil {
		panic(err)
	}
	return p
}()

// testFollowUpARN is the follow-up queue's ARN in these tests: sqsBatch's records carry it.
const testFollowUpARN = "arn:aws:sqs:eu-west-1:123456789012:autopilot-sync-followup"

// fixedTargets are callback prefixes that need no Key Vault.
type fixedTargets []notify.Prefix

func (f fixedTargets) CallbackTargets(context.Context) ([]notify.Prefix, error) { return f, nil }

// followUpFunction is a sync function with follow-ups on fakes, at the clock *clock.
func followUpFunction(in action.Intune, q *memQueue, d *deliveries, clock *time.Time, log *bytes.Buffer, callbacks bool) *Function {
	return New(autopilot.FunctionSync, followUpDeps(in, q, d, clock, log, callbacks))
}

// followUpDeps are followUpFunction's.
func followUpDeps(in action.Intune, q *memQueue, d *deliveries, clock *time.Time, log *bytes.Buffer, callbacks bool) Deps {
	fu := &action.FollowUp{Queue: q, QueueARN: testFollowUpARN, Schedule: followup.DefaultSchedule(), SlackPrefixes: testSlackPrefixes, Teams: true, Deliver: d.deliver}
	if callbacks {
		fu.Callbacks = fixedTargets(testCallbackPrefixes)
	}
	deps := Deps{Deps: action.Deps{Intune: in, FollowUp: fu, Now: func() time.Time { return *clock }}, AllowUnauthenticated: true}
	if log != nil {
		deps.Log = slog.New(slog.NewJSONHandler(log, nil))
	}
	return deps
}

// TestSyncsAreFollowed: SPEC §13. After Graph's 204, whatever started the sync, one message
// goes to the follow-up queue with the first check's delay, carrying the targets its caller
// named; a callbackUrl that is not allowed is a 400 and no sync starts.
func TestSyncsAreFollowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, target, contentType, body string
		callbacks                       bool
		wantStatus                      int
		wantTargets                     followup.Targets
		wantText                        string // part of the answer
		wantSyncs                       int
	}{
		{name: "plain POST", target: "/sync", wantStatus: 202, wantSyncs: 1, wantText: `"followUp":{"id":`},
		{name: "a ticketing body without callbackUrl", target: "/sync", contentType: "application/json", body: `{"ticket":"INC1"}`, wantStatus: 202, wantSyncs: 1},
		{name: "callbackUrl allowed", target: "/sync", contentType: "application/json", callbacks: true,
			body: `{"callbackUrl":"https://contoso.service-now.com/api/x_autopilot/done?sys_id=1"}`, wantStatus: 202, wantSyncs: 1,
			wantTargets: followup.Targets{Callback: "https://contoso.service-now.com/api/x_autopilot/done?sys_id=1"}, wantText: `"targets":["callback"]`},
		{name: "callbackUrl under no prefix", target: "/sync", contentType: "application/json", callbacks: true,
			body: `{"callbackUrl":"https://evil.example/api/x_autopilot/"}`, wantStatus: 400, wantText: "matches no allowed prefix"},
		{name: "callbackUrl not https", target: "/sync", contentType: "application/json", callbacks: true,
			body: `{"callbackUrl":"http://contoso.service-now.com/api/x_autopilot/done"}`, wantStatus: 400},
		{name: "callbackUrl with user info", target: "/sync", contentType: "application/json", callbacks: true,
			body: `{"callbackUrl":"https://user:pw@contoso.service-now.com/api/x_autopilot/done"}`, wantStatus: 400},
		{name: "callbackUrl with a fragment", target: "/sync", contentType: "application/json", callbacks: true,
			body: `{"callbackUrl":"https://contoso.service-now.com/api/x_autopilot/done#x"}`, wantStatus: 400},
		{name: "callbackUrl of 3 KB", target: "/sync", contentType: "application/json", callbacks: true,
			body: `{"callbackUrl":"https://contoso.service-now.com/api/x_autopilot/` + strings.Repeat("a", 3000) + `"}`, wantStatus: 400},
		{name: "callbackUrl on an odd port", target: "/sync", contentType: "application/json", callbacks: true,
			body: `{"callbackUrl":"https://contoso.service-now.com:99999/api/x_autopilot/"}`, wantStatus: 400},
		{name: "callbackUrl with an IDN host", target: "/sync", contentType: "application/json", callbacks: true,
			body: `{"callbackUrl":"https://cöntoso.service-now.com/api/x_autopilot/"}`, wantStatus: 400},
		{name: "callbackUrl not a string", target: "/sync", contentType: "application/json", callbacks: true,
			body: `{"callbackUrl":5}`, wantStatus: 400, wantText: "must be a string"},
		{name: "callbackUrl null", target: "/sync", contentType: "application/json", callbacks: true,
			body: `{"callbackUrl":null}`, wantStatus: 400},
		{name: "callbackUrl without callback targets", target: "/sync", contentType: "application/json",
			body: `{"callbackUrl":"https://contoso.service-now.com/api/x_autopilot/"}`, wantStatus: 400, wantText: "no callback targets"},
		{name: "slack with an allowed response_url", target: "/sync", contentType: slackForm, body: slackBody("sync"), wantStatus: 200, wantSyncs: 1,
			wantTargets: followup.Targets{Slack: "https://hooks.slack.com/commands/T1/1/x"}, wantText: "I will post here when it has finished"},
		{name: "slack with another response_url", target: "/sync", contentType: slackForm,
			body: strings.Replace(slackBody("sync"), "hooks.slack.com", "hooks.evil.example", 1), wantStatus: 200, wantSyncs: 1, wantText: "No follow-up will come"},
		{name: "teams", target: "/sync", contentType: "application/json", body: teamsBody("sync"), wantStatus: 200, wantSyncs: 1,
			wantTargets: followup.Targets{Teams: true}, wantText: "I will post here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := now
			q, in := &memQueue{}, &fakeIntune{}
			f := followUpFunction(in, q, &deliveries{}, &clock, nil, tt.callbacks)
			got := do(t, f, http.MethodPost, tt.target, tt.contentType, tt.body)
			raw, _ := json.Marshal(got.body)
			if got.status != tt.wantStatus || !strings.Contains(string(raw), tt.wantText) || in.syncs != tt.wantSyncs {
				t.Fatalf("got %d with %d syncs: %s; want %d with %d syncs containing %q", got.status, in.syncs, raw, tt.wantStatus, tt.wantSyncs, tt.wantText)
			}
			msgs := q.messages(t, clock)
			if tt.wantSyncs == 0 {
				if len(msgs) != 0 {
					t.Errorf("%d follow-ups for no sync", len(msgs))
				}
				return
			}
			if len(msgs) != 1 || q.sent[0].delay != time.Minute {
				t.Fatalf("%d messages (delay %v), want 1 after 1m", len(msgs), q.sent)
			}
			if m := msgs[0]; m.Targets != tt.wantTargets || !m.RequestedAt.Equal(now) || m.Attempt != 1 {
				t.Errorf("message %+v, want targets %+v requested at %v", m, tt.wantTargets, now)
			}
		})
	}
}

// TestNoFollowUpWhenTheWaitSawTheEnd: a ?wait answer that carried the end needs no follow-up.
func TestNoFollowUpWhenTheWaitSawTheEnd(t *testing.T) {
	t.Parallel()
	clock := now
	q := &memQueue{}
	in := &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastSyncDateTime: now.Add(time.Second)}}
	got := do(t, followUpFunction(in, q, &deliveries{}, &clock, nil, false), http.MethodPost, "/sync?wait=2", "", "")
	if got.status != 200 || got.body["result"] != "completed" || len(q.sent) != 0 {
		t.Errorf("got %d %v with %d follow-ups", got.status, got.body, len(q.sent))
	}
}

// TestScheduledSyncIsFollowed: a scheduled sync has no caller to tell, and is followed all the
// same (the log line and the metrics are its report).
func TestScheduledSyncIsFollowed(t *testing.T) {
	t.Parallel()
	clock := now
	q := &memQueue{}
	f := followUpFunction(&fakeIntune{}, q, &deliveries{}, &clock, nil, false)
	if _, err := f.Invoke(context.Background(), json.RawMessage(`{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`)); err != nil {
		t.Fatal(err)
	}
	if msgs := q.messages(t, clock); len(msgs) != 1 || msgs[0].Targets != (followup.Targets{}) {
		t.Errorf("messages %+v", msgs)
	}
}

// TestFollowUpQueueDown: the sync did start; the answer says nothing of a follow-up.
func TestFollowUpQueueDown(t *testing.T) {
	t.Parallel()
	clock := now
	q := &memQueue{err: errors.New("sqs: AccessDenied")}
	got := do(t, followUpFunction(&fakeIntune{}, q, &deliveries{}, &clock, nil, false), http.MethodPost, "/sync", "", "")
	if got.status != 202 || got.body["followUp"] != nil {
		t.Errorf("got %d %v", got.status, got.body)
	}
}

// sqsBatch is an SQS event of the bodies.
func sqsBatch(t *testing.T, bodies ...[]byte) json.RawMessage {
	t.Helper()
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: "m" + string(rune('0'+i)), Body: string(b), EventSource: "aws:sqs", EventSourceARN: testFollowUpARN})
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestFollowUpChecks: each follow-up record is checked once at the injected clock: pending
// reschedules, an end is reported to every target and logged with its metrics, a transient read
// failure is redelivered, a malformed message dropped, a target that answered 503 owed again.
func TestFollowUpChecks(t *testing.T) {
	t.Parallel()
	requested := now
	first := followup.New("7a3c2f9e-0d51-4c3a-9e7b-2f6a1d4c8b90", "", requested,
		followup.Targets{Slack: "https://hooks.slack.com/commands/T1/1/x", Teams: true, Callback: "https://contoso.service-now.com/api/x_autopilot/done"})
	body, err := first.Encode()
	if err != nil {
		t.Fatal(err)
	}
	done := graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastSyncDateTime: requested.Add(4 * time.Minute)}
	tests := []struct {
		name        string
		at          time.Duration // after the request
		intune      *fakeIntune
		body        []byte
		verdicts    map[followup.Target]outbound.Verdict
		wantRetry   bool
		wantOutcome string
		wantNext    *followup.Targets // the targets of the next message; nil: none
		wantNotices int
		wantMetric  map[string]float64
		wantStatus  float64 // the line's status; 0: 200
	}{
		{name: "still running", at: time.Minute, intune: &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusInProgress}},
			wantOutcome: "pending", wantNext: &first.Targets, wantMetric: map[string]float64{"SyncOutcomeCompleted": 0, "SyncOutcomeTimedOut": 0}},
		{name: "completed", at: 5 * time.Minute, intune: &fakeIntune{settings: done}, wantOutcome: "completed", wantNotices: 3,
			wantMetric: map[string]float64{"SyncOutcomeCompleted": 1, "SyncOutcomeFailed": 0, "SyncDurationSeconds": 240}},
		{name: "failed", at: 5 * time.Minute, intune: &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusFailed, LastSyncDateTime: requested.Add(time.Minute)}},
			wantOutcome: "failed", wantNotices: 3, wantMetric: map[string]float64{"SyncOutcomeFailed": 1, "SyncDurationSeconds": 60}},
		{name: "an older completion is not the end", at: 2 * time.Minute, intune: &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastSyncDateTime: requested.Add(-time.Hour)}},
			wantOutcome: "pending", wantNext: &first.Targets},
		{name: "past the max age", at: 61 * time.Minute, intune: &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusInProgress}},
			wantOutcome: "timedOut", wantNotices: 2, wantMetric: map[string]float64{"SyncOutcomeTimedOut": 1}}, // Slack's 30 min are over
		{name: "graph 503 during a check", at: 5 * time.Minute, intune: &fakeIntune{getErr: &graph.Error{StatusCode: 503}}, wantRetry: true, wantStatus: 503},
		{name: "permission removed", at: 5 * time.Minute, intune: &fakeIntune{getErr: &graph.Error{StatusCode: 403}}, wantOutcome: "error", wantNotices: 3, wantStatus: 502},
		{name: "a 503 receiver is owed again", at: 5 * time.Minute, intune: &fakeIntune{settings: done},
			verdicts: map[followup.Target]outbound.Verdict{followup.Callback: outbound.Retry}, wantOutcome: "completed", wantNotices: 3,
			wantNext: &followup.Targets{Callback: first.Targets.Callback}},
		{name: "a malformed message is dropped", at: time.Minute, intune: &fakeIntune{}, body: []byte(`{"v":1,"kind":"followUp","id":"x"}`), wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := requested.Add(tt.at)
			q, d, logs := &memQueue{}, &deliveries{verdict: tt.verdicts}, &bytes.Buffer{}
			f := followUpFunction(tt.intune, q, d, &clock, logs, true)
			msg := body
			if tt.body != nil {
				msg = tt.body
			}
			resp, err := f.Invoke(context.Background(), sqsBatch(t, msg))
			if err != nil {
				t.Fatal(err)
			}
			failures := batchFailures(t, resp)
			if got := len(failures) == 1; got != tt.wantRetry {
				t.Errorf("redelivered = %v, want %v", got, tt.wantRetry)
			}
			line := invocationLine(t, logs)
			if line["action"] != "followUp" {
				t.Errorf("action %v", line["action"])
			}
			if want := max(tt.wantStatus, 200); line["status"] != want {
				t.Errorf("status %v, want %v (the problem's, for a record)", line["status"], want)
			}
			if tt.wantOutcome != "" && (line["outcome"] != tt.wantOutcome || line["followUpId"] != first.ID) {
				t.Errorf("outcome %v followUpId %v, want %s: %s", line["outcome"], line["followUpId"], tt.wantOutcome, logs)
			}
			for k, v := range tt.wantMetric {
				if line[k] != v {
					t.Errorf("%s = %v, want %v", k, line[k], v)
				}
			}
			if len(d.got) != tt.wantNotices {
				t.Errorf("%d notices, want %d", len(d.got), tt.wantNotices)
			}
			msgs := q.messages(t, clock)
			switch {
			case tt.wantNext == nil && len(msgs) != 0:
				t.Errorf("a next message %+v, want none", msgs)
			case tt.wantNext != nil && (len(msgs) != 1 || msgs[0].Targets != *tt.wantNext || msgs[0].ID != first.ID):
				t.Errorf("next messages %+v, want one with targets %+v", msgs, *tt.wantNext)
			}
			for _, secret := range []string{"hooks.slack.com/commands", "service-now.com/api", "c2VjcmV0"} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("the log holds %q: %s", secret, logs)
				}
			}
		})
	}
}

// TestFollowUpDuplicate: SQS may deliver a message twice; both copies report with the same id
// (the callbacks' webhook-id), so a receiver can drop the second.
func TestFollowUpDuplicate(t *testing.T) {
	t.Parallel()
	m := followup.New("5b1e8c2d-3f4a-4b6c-8d9e-0a1b2c3d4e5f", "", now, followup.Targets{Callback: "https://contoso.service-now.com/api/x_autopilot/done"})
	body, _ := m.Encode()
	clock := now.Add(5 * time.Minute)
	d := &deliveries{}
	f := followUpFunction(&fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastSyncDateTime: now.Add(time.Minute)}}, &memQueue{}, d, &clock, nil, true)
	if _, err := f.Invoke(context.Background(), sqsBatch(t, body, body)); err != nil {
		t.Fatal(err)
	}
	if len(d.got) != 2 || d.got[0].ID != m.ID || d.got[1].ID != m.ID {
		t.Errorf("notices %+v", d.got)
	}
}

// batchFailures reads the batchItemFailures of an SQS batch's result.
func batchFailures(t *testing.T, resp json.RawMessage) []events.SQSBatchItemFailure {
	t.Helper()
	var r events.SQSEventResponse
	if err := json.Unmarshal(resp, &r); err != nil {
		t.Fatalf("result %s: %v", resp, err)
	}
	return r.BatchItemFailures
}

// TestQueueRecordsAreOurs: defect 2 of issue 20. A record is taken only from the queue it claims
// (eventSourceARN), and, with SYNC_ROLE_ID set, only when SQS says the function's role sent it: a
// follow-up carrying an outcome, sent by anyone else or put on the fleet queue, is dropped and
// reaches no target.
func TestQueueRecordsAreOurs(t *testing.T) {
	t.Parallel()
	const roleID = "AROAEXAMPLEROLEID1234"
	outcome := followup.New("7c1e8c2d-3f4a-4b6c-8d9e-0a1b2c3d4e5f", "", now, followup.Targets{Callback: "https://contoso.service-now.com/api/x_autopilot/done"})
	outcome.Outcome = &followup.Outcome{Result: autopilot.Completed, At: now.Add(time.Minute), SyncStatus: "completed"}
	body, err := outcome.Encode()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, arn, sender string
		wantDelivered     bool
	}{
		{"from our role, on the follow-up queue", testFollowUpARN, roleID + ":autopilot-sync-SyncFunction", true},
		{"from our role, as the id alone", testFollowUpARN, roleID, true},
		{"from another principal", testFollowUpARN, "AIDAOTHERUSER12345678", false},
		{"from a role whose id extends ours", testFollowUpARN, roleID + "X:session", false},
		{"without a sender", testFollowUpARN, "", false},
		{"on the fleet queue", testFleetARN, roleID + ":autopilot-sync-SyncFunction", false},
		{"from a queue of no one's", "arn:aws:sqs:eu-west-1:123456789012:other", roleID, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := now.Add(2 * time.Minute)
			d := &deliveries{}
			var logs bytes.Buffer
			f := followUpFunction(&fakeIntune{}, &memQueue{}, d, &clock, &logs, true)
			f.d.SenderID, f.d.FleetARN = roleID, testFleetARN
			f.actions = action.New(f.fn, f.d.Deps)
			ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: string(body), EventSource: "aws:sqs",
				EventSourceARN: tt.arn, Attributes: map[string]string{"SenderId": tt.sender}}}}
			raw, _ := json.Marshal(ev)
			resp, err := f.Invoke(context.Background(), raw)
			if err != nil || len(batchFailures(t, resp)) != 0 {
				t.Fatalf("Invoke: %s, %v (a dropped record is not retried)", resp, err)
			}
			if got := len(d.got) == 1; got != tt.wantDelivered {
				t.Errorf("delivered %v, want %v: %s", got, tt.wantDelivered, logs.String())
			}
			if line := invocationLine(t, &logs); !tt.wantDelivered && line["action"] != "sqsMessage" {
				t.Errorf("a dropped record logged as %v", line["action"])
			}
		})
	}
}
