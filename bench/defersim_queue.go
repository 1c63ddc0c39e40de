package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// simQueue is the follow-up queue of the simulation (action.MessageQueue): it keeps each message
// with the instant it is due, now + the delay rounded up to whole seconds (awssqs sends SQS
// DelaySeconds so).
type simQueue struct {
	clock *emulator.ManualClock

	mu      sync.Mutex
	seq     int
	pending []simMessage
}

// simMessage is one message waiting in simQueue.
type simMessage struct {
	id      string
	body    []byte
	due     time.Time
	receive int // ApproximateReceiveCount of its next delivery
}

// ARN is the queue's ARN, which its records carry.
func (q *simQueue) ARN() string { return simQueueARN }

// Send keeps body until its delay has passed on the clock.
func (q *simQueue) Send(_ context.Context, body []byte, delay time.Duration) error {
	if delay < 0 || delay > 15*time.Minute {
		return fmt.Errorf("simulated SQS: a delay of %v is not between 0 and 15m", delay)
	}
	seconds := time.Duration(math.Ceil(delay.Seconds())) * time.Second
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	q.pending = append(q.pending, simMessage{id: fmt.Sprintf("sim-%06d", q.seq), body: append([]byte(nil), body...),
		due: q.clock.Now().Add(seconds), receive: 1})
	return nil
}

// redeliver puts m back, due after d, one receive later.
func (q *simQueue) redeliver(m simMessage, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m.due, m.receive = q.clock.Now().Add(d), m.receive+1
	q.pending = append(q.pending, m)
}

// nextDue is the instant the earliest message is due, if any waits.
func (q *simQueue) nextDue() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 {
		return time.Time{}, false
	}
	return slices.MinFunc(q.pending, func(a, b simMessage) int { return a.due.Compare(b.due) }).due, true
}

// takeDue removes and returns the messages due at or before t, in the order they were put in.
func (q *simQueue) takeDue(t time.Time) []simMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	var due []simMessage
	q.pending = slices.DeleteFunc(q.pending, func(m simMessage) bool {
		if m.due.After(t) {
			return false
		}
		due = append(due, m)
		return true
	})
	return due
}
