package awssqs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"
)

const (
	// maxBatch is SendMessageBatch's limit of entries per call.
	maxBatch = 10
	// maxBatchBytes is SendMessageBatch's limit on the sum of the bodies of one call.
	maxBatchBytes = 256 << 10
	// maxListed bounds how many refused messages an error names.
	maxListed = 10
)

// Failure is a message SQS did not accept.
type Failure struct {
	Index       int    // the message's position in the bodies given to SendBatch
	Code        string // SQS's error code, e.g. InternalError
	SenderFault bool   // true when the entry itself was wrong: a retry cannot help
}

// PartialError reports messages SQS refused within otherwise successful calls, after one retry
// (none for sender faults). SendBatch sorts Failed by Index.
type PartialError struct {
	QueueURL string
	Failed   []Failure
	// Labels, when set, name the messages (by Index) in Error, such as the fleet's tenants.
	Labels []string
}

func (e *PartialError) Error() string {
	return e.describe("message(s) not sent", e.label)
}

// label names message i: its label, or its index.
func (e *PartialError) label(i int) string {
	if i >= 0 && i < len(e.Labels) {
		return e.Labels[i]
	}
	return "message " + strconv.Itoa(i)
}

// describe lists the first refused messages, each named by name(Index).
func (e *PartialError) describe(what string, name func(int) string) string {
	names := make([]string, 0, min(len(e.Failed), maxListed))
	for _, f := range e.Failed[:min(len(e.Failed), maxListed)] {
		names = append(names, fmt.Sprintf("%.63s (%.40s)", name(f.Index), f.Code))
	}
	more := ""
	if n := len(e.Failed) - len(names); n > 0 {
		more = fmt.Sprintf(" and %d more", n)
	}
	return fmt.Sprintf("SQS queue %s: %d %s: %s%s", e.QueueURL, len(e.Failed), what, strings.Join(names, ", "), more)
}

// SendBatch sends one message per body, in calls of at most ten entries and 256 KiB of bodies,
// a few calls in flight at once (Options.Concurrency), and returns how many messages SQS
// accepted. Entries SQS refuses within a call are sent once more; those still refused are
// reported in a *PartialError naming them by index. A failed call (no such queue, access denied,
// throttling after the SDK's retries) stops the remaining calls and is returned wrapped, naming
// the queue and the permission it needs (sqs:SendMessage); the count then says how many got
// through before. A body that is empty, not UTF-8, holds a character SQS does not accept, or is
// over 256 KiB makes SendBatch send nothing and fail.
func (q *Queue) SendBatch(ctx context.Context, bodies [][]byte) (int, error) {
	return q.SendBatchNamed(ctx, bodies, nil)
}

// SendBatchNamed is SendBatch with a label per body (the fleet's tenant names, say): a
// *PartialError then names the refused messages by their labels, in label order.
func (q *Queue) SendBatchNamed(ctx context.Context, bodies [][]byte, labels []string) (int, error) {
	sent, failed, err := q.sendAll(ctx, bodies)
	if len(failed) > 0 {
		e := &PartialError{QueueURL: q.url, Failed: failed, Labels: labels}
		if len(labels) > 0 {
			slices.SortStableFunc(e.Failed, func(a, b Failure) int { return strings.Compare(e.label(a.Index), e.label(b.Index)) })
		}
		err = errors.Join(err, e)
	}
	return sent, err
}

// sendAll is SendBatch with the refused messages returned apart from the error of a failed call.
func (q *Queue) sendAll(ctx context.Context, bodies [][]byte) (int, []Failure, error) {
	for i, b := range bodies {
		if err := checkBody(b); err != nil {
			return 0, nil, fmt.Errorf("SQS queue %s: message %d: %w", q.url, i, err)
		}
		if len(b) > maxBatchBytes {
			return 0, nil, fmt.Errorf("SQS queue %s: message %d: %d bytes, over SQS's %d", q.url, i, len(b), maxBatchBytes)
		}
	}
	var (
		mu     sync.Mutex
		sent   int
		failed []Failure
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(q.concurrency)
	for _, batch := range batches(bodies) {
		g.Go(func() error {
			ok, bad, err := q.sendBatch(gctx, batch, bodies[batch.first:batch.end])
			mu.Lock()
			sent += ok
			failed = append(failed, bad...)
			mu.Unlock()
			return err
		})
	}
	err := g.Wait()
	if err != nil {
		err = q.callError("SendMessageBatch", err)
	}
	slices.SortFunc(failed, func(a, b Failure) int { return a.Index - b.Index })
	return sent, failed, err
}

// span is one call's bodies: indexes first to end (exclusive).
type span struct{ first, end int }

// batches cuts bodies into consecutive calls within SendMessageBatch's limits.
func batches(bodies [][]byte) []span {
	var out []span
	for first := 0; first < len(bodies); {
		end, size := first, 0
		for end < len(bodies) && end-first < maxBatch && size+len(bodies[end]) <= maxBatchBytes {
			size += len(bodies[end])
			end++
		}
		out = append(out, span{first, end})
		first = end
	}
	return out
}

// sendBatch sends one call's bodies, whose entries have ids "m<index>", retrying refused
// entries once. It returns how many were accepted and which were refused for good.
func (q *Queue) sendBatch(ctx context.Context, s span, bodies [][]byte) (int, []Failure, error) {
	entries := make([]types.SendMessageBatchRequestEntry, len(bodies))
	for i, body := range bodies {
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String("m" + strconv.Itoa(s.first+i)), MessageBody: aws.String(string(body))}
	}
	accepted := 0
	var refused []types.BatchResultErrorEntry
	for attempt := 0; attempt < 2 && len(entries) > 0; attempt++ {
		out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		if err != nil {
			return accepted, nil, err
		}
		accepted += len(out.Successful)
		retry := entries[:0:0]
		for _, f := range out.Failed {
			if !f.SenderFault && attempt == 0 {
				if e, ok := entryByID(entries, aws.ToString(f.Id)); ok {
					retry = append(retry, e)
					continue
				}
			}
			refused = append(refused, f)
		}
		entries = retry
	}
	failures := make([]Failure, 0, len(refused))
	for _, f := range refused {
		index, err := strconv.Atoi(strings.TrimPrefix(aws.ToString(f.Id), "m"))
		if err != nil || index < s.first || index >= s.end {
			index = -1 // an id SQS made up: still counted as refused
		}
		failures = append(failures, Failure{Index: index, Code: aws.ToString(f.Code), SenderFault: f.SenderFault})
	}
	return accepted, failures, nil
}

func entryByID(entries []types.SendMessageBatchRequestEntry, id string) (types.SendMessageBatchRequestEntry, bool) {
	for _, e := range entries {
		if aws.ToString(e.Id) == id {
			return e, true
		}
	}
	return types.SendMessageBatchRequestEntry{}, false
}
