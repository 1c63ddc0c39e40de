package awssqs_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/awsenv"
	"github.com/autopilot-sync/autopilot-sync/internal/awssqs"
	"github.com/autopilot-sync/autopilot-sync/internal/moto"
)

const region = "us-east-1"

// env returns a Getenv with test credentials and the given endpoint.
func env(endpoint string) func(string) string {
	m := map[string]string{
		"AWS_ACCESS_KEY_ID":     "test",
		"AWS_SECRET_ACCESS_KEY": "test",
		"AWS_SESSION_TOKEN":     "test-session",
		"AWS_REGION":            region,
		"AWS_ENDPOINT_URL_SQS":  endpoint,
	}
	return func(k string) string { return m[k] }
}

func tenantNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("tenant-%03d", i)
	}
	return names
}

func bodies(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"kind":"test","n":%d}`, i)
	}
	return out
}

func TestToLocalSQS(t *testing.T) {
	endpoint := moto.Start(t)
	c := moto.SQSClient(endpoint)
	newQueue := func(t *testing.T, name string) (*awssqs.Queue, string) {
		t.Helper()
		created, err := c.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatalf("CreateQueue: %v", err)
		}
		queueURL := aws.ToString(created.QueueUrl)
		q, err := awssqs.New(queueURL, awssqs.Options{AWS: awsenv.Read(env(endpoint))})
		if err != nil {
			t.Fatal(err)
		}
		return q, queueURL
	}
	for _, n := range []int{0, 1, 10, 11, 25} {
		t.Run(fmt.Sprintf("fan-out of %d", n), func(t *testing.T) {
			t.Parallel()
			q, queueURL := newQueue(t, fmt.Sprintf("fleet-%d", n))
			names := tenantNames(n)
			got, err := q.SendBatchNamed(t.Context(), tenantBodies(names), names)
			if err != nil || got != n {
				t.Fatalf("SendBatchNamed(%d tenants) = %d, %v", n, got, err)
			}
			var want []string
			for _, name := range names {
				want = append(want, `{"tenant":"`+name+`"}`)
			}
			slices.Sort(want)
			if diff := cmp.Diff(want, moto.ReceiveAll(t, c, queueURL, n)); diff != "" {
				t.Errorf("messages on the queue (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("QueueARN is the queue's own", func(t *testing.T) {
		t.Parallel()
		_, queueURL := newQueue(t, "arn-checks")
		attrs, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(queueURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := awssqs.QueueARN(queueURL, region)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(attrs.Attributes[string(types.QueueAttributeNameQueueArn)], got); diff != "" {
			t.Errorf("QueueARN(%q) (-the queue's QueueArn +got):\n%s", queueURL, diff)
		}
	})
	t.Run("SendBatch", func(t *testing.T) {
		t.Parallel()
		q, queueURL := newQueue(t, "batch")
		sent := bodies(12)
		if n, err := q.SendBatch(t.Context(), sent); err != nil || n != len(sent) {
			t.Fatalf("SendBatch = %d, %v", n, err)
		}
		var want []string
		for _, b := range sent {
			want = append(want, string(b))
		}
		slices.Sort(want)
		if diff := cmp.Diff(want, moto.ReceiveAll(t, c, queueURL, len(sent))); diff != "" {
			t.Errorf("messages on the queue (-want +got):\n%s", diff)
		}
	})
	t.Run("Send now and later", func(t *testing.T) {
		t.Parallel()
		q, queueURL := newQueue(t, "send")
		if err := q.Send(t.Context(), []byte(`{"kind":"now"}`), 0); err != nil {
			t.Fatal(err)
		}
		if err := q.Send(t.Context(), []byte(`{"kind":"later"}`), awssqs.MaxDelay); err != nil {
			t.Fatal(err)
		}
		// The delayed message waits in the queue, out of sight for 15 minutes.
		attrs, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(queueURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessagesDelayed},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesDelayed)]; got != "1" {
			t.Errorf("delayed messages = %q, want 1", got)
		}
		if diff := cmp.Diff([]string{`{"kind":"now"}`}, moto.ReceiveAll(t, c, queueURL, 1)); diff != "" {
			t.Errorf("messages to receive now (-want +got):\n%s", diff)
		}
	})
	t.Run("queue does not exist", func(t *testing.T) {
		t.Parallel()
		missing := endpoint + "/123456789012/no-such-queue"
		q, err := awssqs.New(missing, awssqs.Options{AWS: awsenv.Read(env(endpoint))})
		if err != nil {
			t.Fatal(err)
		}
		n, err := q.SendBatchNamed(t.Context(), tenantBodies(tenantNames(25)), tenantNames(25))
		if err == nil || n != 0 {
			t.Fatalf("SendBatchNamed = %d, %v; want an error", n, err)
		}
		for _, want := range []string{missing, "sqs:SendMessage", "does not exist"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		var pe *awssqs.PartialError
		if errors.As(err, &pe) {
			t.Error("a failed call is reported as a partial failure")
		}
		if err := q.Send(t.Context(), []byte("x"), 0); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("Send = %v, want an error saying the queue does not exist", err)
		}
	})
}

// fakeSQS answers SendMessageBatch and SendMessage in the AWS JSON 1.0 protocol the SDK speaks.
// refuse decides, per body and attempt (1-based), whether a batch entry fails and whether as a
// sender fault. With gate > 0, requests wait until gate of them are in flight at once.
type fakeSQS struct {
	refuse func(body string, attempt int) (fail, senderFault bool)
	status int // non-zero: answer every call with this status and an AccessDenied error
	gate   int

	mu         sync.Mutex
	attempts   map[string]int
	calls      int
	entries    []int // entries per SendMessageBatch call
	inFlight   int
	maxFlight  int
	full       chan struct{}
	dupIDs     bool
	delays     []int // DelaySeconds of each SendMessage
	sentBodies []string
}

func (f *fakeSQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.inFlight++
	f.maxFlight = max(f.maxFlight, f.inFlight)
	if f.gate > 0 && f.inFlight == f.gate {
		close(f.full)
		f.gate = 0
	}
	full := f.full
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	select {
	case <-full: // closed at once without a gate
	case <-r.Context().Done():
		return
	}
	if f.status != 0 {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("x-amzn-query-error", "AccessDenied;Sender")
		w.WriteHeader(f.status)
		fmt.Fprint(w, `{"__type":"com.amazon.coral.service#AccessDeniedException","message":"User is not authorized to perform: sqs:sendmessage"}`)
		return
	}
	switch r.Header.Get("X-Amz-Target") {
	case "AmazonSQS.SendMessageBatch":
		f.sendMessageBatch(w, r)
	case "AmazonSQS.SendMessage":
		f.sendMessage(w, r)
	default:
		http.Error(w, "unexpected operation "+r.Header.Get("X-Amz-Target"), http.StatusBadRequest)
	}
}

func (f *fakeSQS) sendMessage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		MessageBody  string
		DelaySeconds int
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls++
	f.delays = append(f.delays, in.DelaySeconds)
	f.sentBodies = append(f.sentBodies, in.MessageBody)
	f.mu.Unlock()
	sum := md5.Sum([]byte(in.MessageBody))
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	fmt.Fprintf(w, `{"MessageId":"m-1","MD5OfMessageBody":%q}`, hex.EncodeToString(sum[:]))
}

func (f *fakeSQS) sendMessageBatch(w http.ResponseWriter, r *http.Request) {
	var in struct {
		QueueUrl string
		Entries  []struct{ Id, MessageBody string }
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	type ok struct{ Id, MessageId, MD5OfMessageBody string }
	type bad struct {
		Id, Code, Message string
		SenderFault       bool
	}
	var out struct {
		Successful []ok
		Failed     []bad
	}
	out.Successful, out.Failed = []ok{}, []bad{}
	f.mu.Lock()
	f.calls++
	f.entries = append(f.entries, len(in.Entries))
	seen := map[string]bool{}
	for _, e := range in.Entries {
		if seen[e.Id] {
			f.dupIDs = true
		}
		seen[e.Id] = true
		f.attempts[e.MessageBody]++
		if f.refuse != nil {
			if fail, sender := f.refuse(e.MessageBody, f.attempts[e.MessageBody]); fail {
				code := "InternalError"
				if sender {
					code = "InvalidMessageContents"
				}
				out.Failed = append(out.Failed, bad{Id: e.Id, Code: code, Message: "refused", SenderFault: sender})
				continue
			}
		}
		sum := md5.Sum([]byte(e.MessageBody))
		out.Successful = append(out.Successful, ok{Id: e.Id, MessageId: e.Id + "-msg", MD5OfMessageBody: hex.EncodeToString(sum[:])})
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

func startFake(t *testing.T, f *fakeSQS, concurrency int) (*awssqs.Queue, string) {
	t.Helper()
	f.attempts = map[string]int{}
	f.full = make(chan struct{})
	if f.gate == 0 {
		close(f.full)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	queueURL := "https://sqs.us-east-1.amazonaws.com/123456789012/fleet"
	q, err := awssqs.New(queueURL, awssqs.Options{Endpoint: srv.URL, HTTPClient: srv.Client(), AWS: awsenv.Read(env("")), Concurrency: concurrency})
	if err != nil {
		t.Fatal(err)
	}
	return q, queueURL
}

// refuseByName fails tenants named flaky-* on the first attempt, down-* always, and bad-* as a
// sender fault.
func refuseByName(body string, attempt int) (bool, bool) {
	var m struct{ Tenant string }
	_ = json.Unmarshal([]byte(body), &m)
	switch {
	case strings.HasPrefix(m.Tenant, "flaky"):
		return attempt == 1, false // succeeds on the retry
	case strings.HasPrefix(m.Tenant, "down"):
		return true, false // retried once, then reported
	case strings.HasPrefix(m.Tenant, "bad"):
		return true, true // sender fault: not retried
	}
	return false, false
}

func TestSendBatchRetriesRefusedEntriesOnce(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{refuse: refuseByName}
	q, queueURL := startFake(t, f, 0)
	names := append(tenantNames(20), "flaky-1", "down-1", "bad-1", "flaky-2", "down-2")
	n, err := q.SendBatchNamed(t.Context(), tenantBodies(names), names)
	if n != 22 {
		t.Errorf("enqueued %d, want 22 (20 + 2 flaky)", n)
	}
	var pe *awssqs.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PartialError", err)
	}
	var failed []string
	for _, fl := range pe.Failed {
		failed = append(failed, names[fl.Index])
	}
	if diff := cmp.Diff([]string{"bad-1", "down-1", "down-2"}, failed); diff != "" {
		t.Errorf("failed tenants (-want +got):\n%s", diff)
	}
	want := "SQS queue " + queueURL + ": 3 message(s) not sent: bad-1 (InvalidMessageContents), down-1 (InternalError), down-2 (InternalError)"
	if got := err.Error(); got != want {
		t.Errorf("error:\n got %q\nwant %q", got, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	wantAttempts := map[string]int{"flaky-1": 2, "flaky-2": 2, "down-1": 2, "down-2": 2, "bad-1": 1, "tenant-000": 1}
	for name, want := range wantAttempts {
		if got := f.attempts[`{"tenant":"`+name+`"}`]; got != want {
			t.Errorf("%s sent %d times, want %d", name, got, want)
		}
	}
}

func TestSendBatchReportsRefusedMessagesByIndex(t *testing.T) {
	t.Parallel()
	sent := bodies(14)
	f := &fakeSQS{refuse: func(body string, attempt int) (bool, bool) {
		return body == string(sent[3]) || (body == string(sent[12]) && attempt == 1), body == string(sent[3])
	}}
	q, queueURL := startFake(t, f, 0)
	n, err := q.SendBatch(t.Context(), sent)
	if n != 13 {
		t.Errorf("sent %d, want 13", n)
	}
	var pe *awssqs.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PartialError", err)
	}
	if diff := cmp.Diff([]awssqs.Failure{{Index: 3, Code: "InvalidMessageContents", SenderFault: true}}, pe.Failed); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	if got, want := err.Error(), "SQS queue "+queueURL+": 1 message(s) not sent: message 3 (InvalidMessageContents)"; got != want {
		t.Errorf("error:\n got %q\nwant %q", got, want)
	}
}

func TestSendBatchBatches(t *testing.T) {
	t.Parallel()
	big := func(n int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = []byte(strings.Repeat("x", 100<<10))
		}
		return out
	}
	tests := []struct {
		name   string
		bodies [][]byte
		want   []int // entries per call, in order of the bodies
	}{
		{"by count", bodies(95), []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 5}},
		{"by size: 256 KiB a call", big(5), []int{2, 2, 1}},
		{"nothing", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeSQS{}
			q, _ := startFake(t, f, 1) // one call at a time: calls arrive in order
			n, err := q.SendBatch(t.Context(), tt.bodies)
			if err != nil || n != len(tt.bodies) {
				t.Fatalf("SendBatch = %d, %v", n, err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if diff := cmp.Diff(tt.want, f.entries); diff != "" {
				t.Errorf("entries per call (-want +got):\n%s", diff)
			}
			if f.dupIDs {
				t.Error("a call repeats an entry id")
			}
		})
	}
}

// TestSendBatchBoundsConcurrency holds every call until as many as the bound are in flight at
// once: then more may never join them.
func TestSendBatchBoundsConcurrency(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ concurrency, want int }{{0, 4}, {3, 3}, {1, 1}} {
		t.Run(fmt.Sprint(tt.concurrency), func(t *testing.T) {
			t.Parallel()
			f := &fakeSQS{gate: tt.want}
			q, _ := startFake(t, f, tt.concurrency)
			// Bounds the test if fewer calls than the bound ever run at once.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if n, err := q.SendBatch(ctx, bodies(100)); err != nil || n != 100 {
				t.Fatalf("SendBatch = %d, %v (fewer than %d calls in flight at once?)", n, err, tt.want)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.maxFlight != tt.want {
				t.Errorf("%d calls in flight at once, want %d", f.maxFlight, tt.want)
			}
		})
	}
}

func TestSendBatchAccessDenied(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{status: http.StatusBadRequest}
	q, queueURL := startFake(t, f, 0)
	n, err := q.SendBatchNamed(t.Context(), tenantBodies(tenantNames(100)), tenantNames(100))
	if err == nil || n != 0 {
		t.Fatalf("SendBatchNamed = %d, %v", n, err)
	}
	for _, want := range []string{queueURL, "access denied", "sqs:SendMessage"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls > 4 {
		t.Errorf("%d calls were made after access was denied; the first refusal should stop the rest", f.calls)
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		delay     time.Duration
		wantDelay int    // DelaySeconds on the wire
		wantErr   string // "": sent
	}{
		{"no delay", `{"kind":"a"}`, 0, 0, ""},
		{"whole seconds", `{"kind":"a"}`, 90 * time.Second, 90, ""},
		{"a fraction counts as a whole second", `{"kind":"a"}`, 1500 * time.Millisecond, 2, ""},
		{"the longest", `{"kind":"a"}`, awssqs.MaxDelay, 900, ""},
		{"too long", `{"kind":"a"}`, awssqs.MaxDelay + time.Millisecond, 0, "not between 0 and 15m0s"},
		{"negative", `{"kind":"a"}`, -time.Second, 0, "not between"},
		{"empty body", "", 0, 0, "must not be empty"},
		{"not UTF-8", "\xff\xfe", 0, 0, "must be UTF-8"},
		{"a character SQS refuses", "a\x00b", 0, 0, "U+0000 at byte 1"},
		{"tab, newline and astral characters pass", "a\tb\r\n😀", 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeSQS{}
			q, _ := startFake(t, f, 0)
			err := q.Send(t.Context(), []byte(tt.body), tt.delay)
			f.mu.Lock()
			defer f.mu.Unlock()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Send = %v, want an error with %q", err, tt.wantErr)
				}
				if f.calls != 0 {
					t.Errorf("%d calls for a message refused before sending", f.calls)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]int{tt.wantDelay}, f.delays); diff != "" {
				t.Errorf("DelaySeconds (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{tt.body}, f.sentBodies); diff != "" {
				t.Errorf("bodies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSendBatchRefusesABadBody(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{}
	q, _ := startFake(t, f, 0)
	sent := append(bodies(11), []byte("bad\x01"))
	n, err := q.SendBatch(t.Context(), sent)
	if err == nil || n != 0 || !strings.Contains(err.Error(), "message 11") {
		t.Errorf("SendBatch = %d, %v; want 0 and an error naming message 11", n, err)
	}
	if _, err := q.SendBatch(t.Context(), [][]byte{[]byte(strings.Repeat("x", 256<<10+1))}); err == nil || !strings.Contains(err.Error(), "over SQS's") {
		t.Errorf("SendBatch of a body over 256 KiB = %v, want an error", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls != 0 {
		t.Errorf("%d calls for batches refused before sending", f.calls)
	}
}

func TestSendWithoutCredentials(t *testing.T) {
	t.Parallel()
	q, err := awssqs.New("https://sqs.eu-west-1.amazonaws.com/123456789012/fleet", awssqs.Options{
		Endpoint: "http://127.0.0.1:9", AWS: awsenv.Read(func(string) string { return "" }),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.SendBatchNamed(t.Context(), tenantBodies([]string{"a"}), []string{"a"}); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("SendBatchNamed err = %v, want one naming the missing credentials", err)
	}
	if err := q.Send(t.Context(), []byte("a"), 0); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("Send err = %v, want one naming the missing credentials", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	tests := []struct {
		name, url string
		o         awssqs.Options
		wantErr   string
	}{
		{"region from a standard URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/fleet", awssqs.Options{AWS: awsenv.Read(noEnv)}, ""},
		{"region from a legacy URL", "https://eu-west-1.queue.amazonaws.com/123456789012/fleet", awssqs.Options{AWS: awsenv.Read(noEnv)}, ""},
		{"region from AWS_REGION", "http://127.0.0.1:4566/000000000000/fleet", awssqs.Options{AWS: awsenv.Read(env(""))}, ""},
		{"no region", "http://127.0.0.1:4566/000000000000/fleet", awssqs.Options{AWS: awsenv.Read(noEnv)}, "AWS_REGION: not set"},
		{"not a URL", "fleet", awssqs.Options{AWS: awsenv.Read(env(""))}, `"fleet" is not an SQS queue URL`},
		{"empty", "", awssqs.Options{AWS: awsenv.Read(env(""))}, `"" is not an SQS queue URL`},
		{"ftp", "ftp://sqs.eu-west-1.amazonaws.com/1/q", awssqs.Options{AWS: awsenv.Read(env(""))}, "is not an SQS queue URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := awssqs.New(tt.url, tt.o)
			switch {
			case tt.wantErr == "" && (err != nil || q.URL() != tt.url):
				t.Fatalf("New = %v, %v", q, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New error = %v, want %s", err, tt.wantErr)
			}
		})
	}
}

// tenantBodies are the fleet's fan-out messages of names, {"tenant":"<name>"}, as internal/api
// composes them.
func tenantBodies(names []string) [][]byte {
	bodies := make([][]byte, len(names))
	for i, n := range names {
		bodies[i] = []byte(`{"tenant":"` + n + `"}`)
	}
	return bodies
}

func TestARN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, region, want string
	}{
		{"https://sqs.eu-west-1.amazonaws.com/123456789012/autopilot-sync-followup", "", "arn:aws:sqs:eu-west-1:123456789012:autopilot-sync-followup"},
		{"https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "", "arn:aws-cn:sqs:cn-north-1:123456789012:q"},
		{"https://sqs.us-gov-west-1.amazonaws.com/123456789012/q", "", "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q"},
		{"http://127.0.0.1:4566/000000000000/fleet", "us-east-1", "arn:aws:sqs:us-east-1:000000000000:fleet"},
	}
	for _, tt := range tests {
		q, err := awssqs.New(tt.url, awssqs.Options{Region: tt.region})
		if err != nil {
			t.Fatalf("New(%q): %v", tt.url, err)
		}
		if got := q.ARN(); got != tt.want {
			t.Errorf("ARN of %q = %q, want %q", tt.url, got, tt.want)
		}
	}
	for _, bad := range []string{"https://sqs.eu-west-1.amazonaws.com/", "https://sqs.eu-west-1.amazonaws.com/123456789012", "https://sqs.eu-west-1.amazonaws.com/a/b/c"} {
		if _, err := awssqs.New(bad, awssqs.Options{}); err == nil {
			t.Errorf("New(%q) accepted a URL without /<account>/<name>", bad)
		}
	}
}
