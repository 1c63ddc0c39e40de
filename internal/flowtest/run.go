package flowtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/autopilot-sync/autopilot-sync/internal/followup"
)

// event is something to do at an instant (At).
type event struct {
	at time.Time
	do func(ctx context.Context) error
}

// Counts are what the Flow did.
type Counts struct {
	Requests    int // POST /sync served (Post)
	Deliveries  int // records handed to the function, duplicates included
	Redelivered int // records put back after they failed (batchItemFailures, or an invocation error)
	DeadLetters int // records that failed MaxReceives times
	Duplicates  int // extra copies of records handed by HandTwice
}

// Delivery is one record handed to the function, and whether it failed (listed in
// batchItemFailures, or an invocation error).
type Delivery struct {
	Record
	At     time.Time
	Failed bool
	// Copy is set on the extra copy of a record HandTwice handed.
	Copy bool
}

// At has do run at instant t on the clock (not before the clock's reading when Run reaches it),
// at once with the other events and the records due then. An error do returns stops Run.
func (f *Flow) At(t time.Time, do func(ctx context.Context) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, event{at: t, do: do})
}

// HandTwice has every due record for which match reports true handed to the function twice, the
// same id, body and receive count, as SQS's at-least-once delivery may: at once (together) or
// the second once the first has returned. match sees the record and its message, decoded now;
// it is called one record at a time, under the Flow's lock: it may keep state, and must not call
// the Flow's methods.
func (f *Flow) HandTwice(match func(Record, followup.Message) bool, together bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.twice = append(f.twice, twice{match: match, together: together})
}

type twice struct {
	match    func(Record, followup.Message) bool
	together bool
}

// MaxSteps bounds Run and RunUntil: a product that kept sending messages for ever must fail, not
// hang.
const MaxSteps = 100_000

// Run serves every event and record at its instant, moving the clock from one to the next, until
// none is left. It returns the first failure of the driver (an event's error, a callback the
// receiver could not read); what the function decided is left to the caller to judge.
func (f *Flow) Run(ctx context.Context) error { return f.run(ctx, time.Time{}) }

// RunUntil is Run up to and including instant t; then the clock reads t (if it was earlier).
func (f *Flow) RunUntil(ctx context.Context, t time.Time) error {
	if err := f.run(ctx, t); err != nil {
		return err
	}
	if f.clock.Now().Before(t) {
		f.clock.Set(t)
	}
	return nil
}

func (f *Flow) run(ctx context.Context, until time.Time) error {
	for step := 0; ; step++ {
		if step == MaxSteps {
			return fmt.Errorf("flowtest: still running after %d instants (at %s): the follow-ups do not end", step, f.clock.Now())
		}
		at, ok := f.next()
		if !ok || !until.IsZero() && at.After(until) {
			break
		}
		if at.After(f.clock.Now()) {
			f.clock.Set(at)
		}
		var wg sync.WaitGroup
		for _, e := range f.takeEvents(at) {
			wg.Go(func() {
				if err := e.do(ctx); err != nil {
					f.fail(err)
				}
			})
		}
		for _, r := range f.queue.TakeDue(at) {
			wg.Go(func() { f.hand(ctx, r) })
		}
		wg.Wait()
		if err := f.firstError(); err != nil {
			return err
		}
	}
	return f.callback.err()
}

// next is the earliest instant of an event or a record, if any.
func (f *Flow) next() (time.Time, bool) {
	at, ok := f.queue.NextDue()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.events {
		if !ok || e.at.Before(at) {
			at, ok = e.at, true
		}
	}
	return at, ok
}

// takeEvents removes and returns the events at or before t, in the order they were added.
func (f *Flow) takeEvents(t time.Time) []event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return takeDue(&f.events, t, func(e event) time.Time { return e.at })
}

// hand hands r to the function, twice when HandTwice says so.
func (f *Flow) hand(ctx context.Context, r Record) {
	m, _ := followup.Decode(r.Body, f.clock.Now())
	f.mu.Lock()
	var dup *twice
	for i := range f.twice {
		if f.twice[i].match(r, m) {
			dup = &f.twice[i]
			break
		}
	}
	if dup != nil {
		f.counts.Duplicates++
	}
	f.mu.Unlock()
	switch {
	case dup == nil:
		f.deliver(ctx, r, false)
	case dup.together:
		var wg sync.WaitGroup
		wg.Go(func() { f.deliver(ctx, r, true) })
		f.deliver(ctx, r, false)
		wg.Wait()
	default:
		f.deliver(ctx, r, false)
		f.deliver(ctx, r, true)
	}
}

// deliver hands one record to the function as the SQS event of an invocation of its own, and
// puts it back as SQS would when the function lists it in batchItemFailures or the invocation
// fails (an extra copy is not put back: its original is).
func (f *Flow) deliver(ctx context.Context, r Record, copied bool) {
	event, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: r.ID, Body: string(r.Body), EventSource: "aws:sqs", EventSourceARN: QueueARN,
		Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(r.Receive)},
	}}})
	f.mu.Lock()
	f.invocations++
	requestID := fmt.Sprintf("%s-invocation-%d", r.ID, f.invocations)
	f.mu.Unlock()
	ctx = lambdacontext.NewContext(context.WithValue(ctx, originKey{}, FromCheck), &lambdacontext.LambdaContext{AwsRequestID: requestID})
	out, err := f.fn.Invoke(ctx, event)
	var resp events.SQSEventResponse
	if err == nil {
		err = json.Unmarshal(out, &resp)
	}
	failed := err != nil || len(resp.BatchItemFailures) > 0
	f.mu.Lock()
	f.counts.Deliveries++
	f.deliveries = append(f.deliveries, Delivery{Record: r, At: f.clock.Now(), Failed: failed, Copy: copied})
	switch {
	case !failed || copied:
	case r.Receive >= f.o.MaxReceives:
		f.counts.DeadLetters++
	default:
		f.counts.Redelivered++
		f.queue.Redeliver(r, f.o.RedeliverAfter)
	}
	f.mu.Unlock()
}

func (f *Flow) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, err)
}

func (f *Flow) firstError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return errors.Join(f.errs...)
}
