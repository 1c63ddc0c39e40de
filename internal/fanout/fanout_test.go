package fanout_test

import (
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
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/fanout"
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

func TestEnqueueToLocalSQS(t *testing.T) {
	endpoint := moto.Start(t)
	c := moto.SQSClient(endpoint)
	for _, n := range []int{0, 1, 10, 11, 25} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			created, err := c.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("fleet-%d", n))})
			if err != nil {
				t.Fatalf("CreateQueue: %v", err)
			}
			queueURL := aws.ToString(created.QueueUrl)
			q, err := fanout.New(queueURL, fanout.Options{Getenv: env(endpoint)})
			if err != nil {
				t.Fatal(err)
			}
			names := tenantNames(n)
			got, err := q.Enqueue(t.Context(), names)
			if err != nil || got != n {
				t.Fatalf("Enqueue(%d tenants) = %d, %v", n, got, err)
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
	t.Run("queue does not exist", func(t *testing.T) {
		t.Parallel()
		missing := endpoint + "/123456789012/no-such-queue"
		q, err := fanout.New(missing, fanout.Options{Getenv: env(endpoint)})
		if err != nil {
			t.Fatal(err)
		}
		n, err := q.Enqueue(t.Context(), tenantNames(25))
		if err == nil || n != 0 {
			t.Fatalf("Enqueue = %d, %v; want an error", n, err)
		}
		for _, want := range []string{missing, "sqs:SendMessage", "does not exist"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		var pe *fanout.PartialError
		if errors.As(err, &pe) {
			t.Error("a failed call is reported as a partial failure")
		}
	})
}

// fakeSQS answers SendMessageBatch in the AWS JSON 1.0 protocol the SDK speaks. refuse decides,
// per tenant and attempt (1-based), whether an entry fails and whether as a sender fault.
type fakeSQS struct {
	refuse func(tenant string, attempt int) (fail, senderFault bool)
	status int // non-zero: answer every call with this status and an AccessDenied error

	mu         sync.Mutex
	attempts   map[string]int
	calls      int
	maxEntries int
	inFlight   atomic.Int32
	maxFlight  int32
	dupIDs     bool
}

func (f *fakeSQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n := f.inFlight.Add(1); true {
		f.mu.Lock()
		f.maxFlight = max(f.maxFlight, n)
		f.mu.Unlock()
	}
	defer f.inFlight.Add(-1)
	time.Sleep(5 * time.Millisecond) // let batches overlap
	if r.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessageBatch" {
		http.Error(w, "unexpected operation "+r.Header.Get("X-Amz-Target"), http.StatusBadRequest)
		return
	}
	if f.status != 0 {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("x-amzn-query-error", "AccessDenied;Sender")
		w.WriteHeader(f.status)
		fmt.Fprint(w, `{"__type":"com.amazon.coral.service#AccessDeniedException","message":"User is not authorized to perform: sqs:sendmessage"}`)
		return
	}
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
	f.maxEntries = max(f.maxEntries, len(in.Entries))
	seen := map[string]bool{}
	for _, e := range in.Entries {
		if seen[e.Id] {
			f.dupIDs = true
		}
		seen[e.Id] = true
		var m struct{ Tenant string }
		_ = json.Unmarshal([]byte(e.MessageBody), &m)
		f.attempts[m.Tenant]++
		if fail, sender := f.refuse(m.Tenant, f.attempts[m.Tenant]); fail {
			code := "InternalError"
			if sender {
				code = "InvalidMessageContents"
			}
			out.Failed = append(out.Failed, bad{Id: e.Id, Code: code, Message: "refused", SenderFault: sender})
			continue
		}
		sum := md5.Sum([]byte(e.MessageBody))
		out.Successful = append(out.Successful, ok{Id: e.Id, MessageId: e.Id + "-msg", MD5OfMessageBody: hex.EncodeToString(sum[:])})
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

func startFake(t *testing.T, f *fakeSQS) (*fanout.Queue, string) {
	t.Helper()
	f.attempts = map[string]int{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	queueURL := "https://sqs.us-east-1.amazonaws.com/123456789012/fleet"
	q, err := fanout.New(queueURL, fanout.Options{Endpoint: srv.URL, HTTPClient: srv.Client(), Getenv: env("")})
	if err != nil {
		t.Fatal(err)
	}
	return q, queueURL
}

func TestEnqueueRetriesRefusedEntriesOnce(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{refuse: func(tenant string, attempt int) (bool, bool) {
		switch {
		case strings.HasPrefix(tenant, "flaky"):
			return attempt == 1, false // succeeds on the retry
		case strings.HasPrefix(tenant, "down"):
			return true, false // retried once, then reported
		case strings.HasPrefix(tenant, "bad"):
			return true, true // sender fault: not retried
		}
		return false, false
	}}
	q, queueURL := startFake(t, f)
	names := append(tenantNames(20), "flaky-1", "down-1", "bad-1", "flaky-2", "down-2")
	n, err := q.Enqueue(t.Context(), names)
	if n != 22 {
		t.Errorf("enqueued %d, want 22 (20 + 2 flaky)", n)
	}
	var pe *fanout.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PartialError", err)
	}
	if diff := cmp.Diff([]string{"bad-1", "down-1", "down-2"}, pe.Tenants()); diff != "" {
		t.Errorf("failed tenants (-want +got):\n%s", diff)
	}
	for _, want := range []string{"3 tenant(s) not enqueued", "bad-1 (InvalidMessageContents)", "down-1 (InternalError)", queueURL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	wantAttempts := map[string]int{"flaky-1": 2, "flaky-2": 2, "down-1": 2, "down-2": 2, "bad-1": 1, "tenant-000": 1}
	for name, want := range wantAttempts {
		if got := f.attempts[name]; got != want {
			t.Errorf("%s sent %d times, want %d", name, got, want)
		}
	}
}

func TestEnqueueBatches(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{refuse: func(string, int) (bool, bool) { return false, false }}
	q, _ := startFake(t, f)
	n, err := q.Enqueue(t.Context(), tenantNames(95))
	if err != nil || n != 95 {
		t.Fatalf("Enqueue = %d, %v", n, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls != 10 || f.maxEntries != 10 || f.dupIDs {
		t.Errorf("%d calls, at most %d entries, duplicate ids %v; want 10 calls of at most 10 unique ids", f.calls, f.maxEntries, f.dupIDs)
	}
	if f.maxFlight < 2 || f.maxFlight > 4 {
		t.Errorf("%d calls in flight at once, want 2 to 4 (concurrent, bounded)", f.maxFlight)
	}
}

func TestEnqueueAccessDenied(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{status: http.StatusBadRequest}
	q, queueURL := startFake(t, f)
	n, err := q.Enqueue(t.Context(), tenantNames(100))
	if err == nil || n != 0 {
		t.Fatalf("Enqueue = %d, %v", n, err)
	}
	for _, want := range []string{queueURL, "access denied", "sqs:SendMessage"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls > 4 {
		t.Errorf("%d batches were sent after access was denied; the first refusal should stop the rest", f.calls)
	}
}

func TestEnqueueWithoutCredentials(t *testing.T) {
	t.Parallel()
	q, err := fanout.New("https://sqs.eu-west-1.amazonaws.com/123456789012/fleet", fanout.Options{
		Endpoint: "http://127.0.0.1:9", Getenv: func(string) string { return "" },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(t.Context(), []string{"a"}); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("err = %v, want one naming the missing credentials", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	tests := []struct {
		name, url string
		o         fanout.Options
		wantErr   string
	}{
		{"region from a standard URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/fleet", fanout.Options{Getenv: noEnv}, ""},
		{"region from a legacy URL", "https://eu-west-1.queue.amazonaws.com/123456789012/fleet", fanout.Options{Getenv: noEnv}, ""},
		{"region from AWS_REGION", "http://127.0.0.1:4566/000000000000/fleet", fanout.Options{Getenv: env("")}, ""},
		{"no region", "http://127.0.0.1:4566/000000000000/fleet", fanout.Options{Getenv: noEnv}, "AWS_REGION"},
		{"not a URL", "fleet", fanout.Options{Getenv: env("")}, "FLEET_QUEUE_URL"},
		{"empty", "", fanout.Options{Getenv: env("")}, "FLEET_QUEUE_URL"},
		{"ftp", "ftp://sqs.eu-west-1.amazonaws.com/1/q", fanout.Options{Getenv: env("")}, "FLEET_QUEUE_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := fanout.New(tt.url, tt.o)
			switch {
			case tt.wantErr == "" && (err != nil || q.URL() != tt.url):
				t.Fatalf("New = %v, %v", q, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New error = %v, want %s", err, tt.wantErr)
			}
		})
	}
}
