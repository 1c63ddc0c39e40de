package flowtest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/awssqs"
)

// The SQS behaviour a Flow copies: a record listed in batchItemFailures (or of an invocation that
// failed) is received again after the visibility timeout, at most MaxReceives times in all, then
// moved to the dead-letter queue (the template's redrive policy: maxReceiveCount 5).
const (
	DefaultRedeliverAfter = 30 * time.Second
	DefaultMaxReceives    = 5
)

// QueueARN is the ARN of a Flow's follow-up queue, which its records carry.
const QueueARN = "arn:aws:sqs:eu-west-1:123456789012:autopilot-sync-followup-flow"

// queueURL is the FOLLOWUP_QUEUE_URL a Flow's function is configured with: it only has to be set
// and well formed, since the Flow hands the function its own queue.
const queueURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/autopilot-sync-followup-flow"

// Clock is the clock a Queue reads: emulator.ManualClock in a Flow.
type Clock interface{ Now() time.Time }

// Queue is a follow-up queue on a clock (action.MessageQueue, wiring.FollowUpQueue): it keeps each
// message with the instant it is due, now + the delay rounded up to whole seconds (awssqs sends
// SQS DelaySeconds so), until TakeDue hands it out. The zero value is not usable: NewQueue.
type Queue struct {
	clock Clock

	mu      sync.Mutex
	seq     int
	pending []Record
}

// Record is one message of a Queue, as the function receives it.
type Record struct {
	// ID is the SQS message id, the same on each receive of the message.
	ID   string
	Body []byte
	// Due is when it is (or was) due; Receive is its ApproximateReceiveCount at that delivery.
	Due     time.Time
	Receive int
}

// NewQueue returns an empty Queue on clock.
func NewQueue(clock Clock) *Queue { return &Queue{clock: clock} }

// ARN is the queue's ARN, which its records carry.
func (q *Queue) ARN() string { return QueueARN }

// Send keeps body until its delay has passed on the clock. A delay SQS refuses (below 0, above
// 15 minutes) is an error, as SQS gives.
func (q *Queue) Send(_ context.Context, body []byte, delay time.Duration) error {
	if delay < 0 || delay > awssqs.MaxDelay {
		return fmt.Errorf("flowtest queue: a delay of %v is not between 0 and 15m", delay)
	}
	seconds := time.Duration(math.Ceil(delay.Seconds())) * time.Second
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	q.pending = append(q.pending, Record{ID: fmt.Sprintf("flow-%06d", q.seq), Body: append([]byte(nil), body...),
		Due: q.clock.Now().Add(seconds), Receive: 1})
	return nil
}

// Redeliver puts r back, due after d, one receive later.
func (q *Queue) Redeliver(r Record, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r.Due, r.Receive = q.clock.Now().Add(d), r.Receive+1
	q.pending = append(q.pending, r)
}

// NextDue is the instant the earliest message is due, if any waits.
func (q *Queue) NextDue() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 {
		return time.Time{}, false
	}
	return slices.MinFunc(q.pending, func(a, b Record) int { return a.Due.Compare(b.Due) }).Due, true
}

// TakeDue removes and returns the messages due at or before t, in the order they were put in.
func (q *Queue) TakeDue(t time.Time) []Record {
	q.mu.Lock()
	defer q.mu.Unlock()
	return takeDue(&q.pending, t, func(r Record) time.Time { return r.Due })
}

// takeDue removes from *list and returns, in order, the items whose instant is at or before t.
func takeDue[T any](list *[]T, t time.Time, at func(T) time.Time) []T {
	var due []T
	*list = slices.DeleteFunc(*list, func(x T) bool {
		if at(x).After(t) {
			return false
		}
		due = append(due, x)
		return true
	})
	return due
}

// Len is how many messages wait.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}
