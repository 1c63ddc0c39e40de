package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
)

// delayedQueue is cmd/local's follow-up queue in place of SQS (SPEC §13): each message is handed
// to the sync function after its delay as an SQS event of one record, so the same check and
// delivery code runs as on Lambda. A record the function lists in batchItemFailures is handed
// again after redeliverAfter, at most maxReceives times in all, as SQS with a dead-letter queue
// would.
type delayedQueue struct {
	fn             *api.Function
	log            *slog.Logger
	redeliverAfter time.Duration
	// shorten, when non-nil, replaces each delay before it is waited: tests use it to run the
	// backoff's minutes in milliseconds. nil waits every delay as given.
	shorten func(time.Duration) time.Duration

	mu      sync.Mutex
	closed  bool
	timers  map[*time.Timer]struct{}
	running sync.WaitGroup
}

const maxReceives = 5

// localQueueARN is the ARN of the in-process queue, which its records carry as SQS's do.
const localQueueARN = "arn:aws:sqs:local:000000000000:follow-up"

// localQueueURL is what FOLLOWUP_QUEUE_URL reads in cmd/local (withLocalQueue): it names the
// in-process queue, not an SQS queue.
const localQueueURL = "local:in-process-delayed-queue"

// withLocalQueue returns getenv with FOLLOWUP_QUEUE_URL naming the in-process queue, which
// cmd/local uses whatever the environment says: so SYNC_WHEN_BUSY=defer, which needs a follow-up
// queue to wait in, is accepted, and no SQS queue URL of the environment is taken for the one
// that carries the follow-ups.
func withLocalQueue(getenv func(string) string) func(string) string {
	return func(k string) string {
		if k == "FOLLOWUP_QUEUE_URL" {
			return localQueueURL
		}
		return getenv(k)
	}
}

// ARN is the queue's ARN: the follow-up takes only its records.
func (q *delayedQueue) ARN() string { return localQueueARN }

func newDelayedQueue(log *slog.Logger) *delayedQueue {
	return &delayedQueue{log: log, redeliverAfter: 30 * time.Second, timers: map[*time.Timer]struct{}{}}
}

// Send schedules body for delivery after delay.
func (q *delayedQueue) Send(_ context.Context, body []byte, delay time.Duration) error {
	q.schedule(append([]byte(nil), body...), uuid.NewString(), delay, 1)
	return nil
}

func (q *delayedQueue) schedule(body []byte, id string, delay time.Duration, receive int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if q.shorten != nil {
		delay = q.shorten(delay)
	}
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		q.mu.Lock()
		delete(q.timers, t)
		if q.closed {
			q.mu.Unlock()
			return
		}
		q.running.Add(1)
		q.mu.Unlock()
		defer q.running.Done()
		q.deliver(body, id, receive)
	})
	q.timers[t] = struct{}{}
}

// deliver hands one record to the sync function.
func (q *delayedQueue) deliver(body []byte, id string, receive int) {
	resp := q.fn.Consume(context.Background(), []events.SQSMessage{{
		MessageId: id, Body: string(body), EventSource: "aws:sqs", EventSourceARN: localQueueARN,
		Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(receive)},
	}})
	failed := len(resp.BatchItemFailures) > 0
	switch {
	case !failed:
	case receive >= maxReceives:
		q.log.Error("follow-up queue: record received 5 times; dropped, as SQS would move it to the dead-letter queue", slog.String("messageId", id))
	default:
		q.schedule(body, id, q.redeliverAfter, receive+1)
	}
}

// Close drops the messages not yet due and waits for the deliveries running.
func (q *delayedQueue) Close() {
	q.mu.Lock()
	q.closed = true
	for t := range q.timers {
		t.Stop()
	}
	q.timers = nil
	q.mu.Unlock()
	q.running.Wait()
}

// receive serves `-receive ADDR`: a loopback receiver that prints every request it gets (method,
// path, the headers that matter to a callback, the body) and answers 204, to watch follow-up
// callbacks arrive (SPEC §13). It listens on loopback only.
func receive(ctx context.Context, addr string, stdout io.Writer, ready chan<- string) error {
	if err := requireLoopback("-receive", addr, "the receiver prints every request it gets, headers and body, to this terminal"); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stdout, "%s %s %s\n", time.Now().UTC().Format(time.RFC3339), r.Method, r.URL.RequestURI())
		names := make([]string, 0, len(r.Header))
		for name := range r.Header {
			if strings.HasPrefix(strings.ToLower(name), "webhook-") || name == "Content-Type" || name == "User-Agent" {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Fprintf(stdout, "  %s: %s\n", name, r.Header.Get(name))
		}
		fmt.Fprintf(stdout, "  %s\n", body)
		w.WriteHeader(http.StatusNoContent)
	})}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "receiving on %s: every request is printed and answered 204; Ctrl-C stops\n", base)
	if ready != nil {
		ready <- base
	}
	return serveUntil(ctx, srv, ln, 5*time.Second, io.Discard)
}
