package api

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// consumeBound is how many records of one SQS batch are synced at once.
const consumeBound = 4

// fleetMessage is the body of a fan-out message.
type fleetMessage struct {
	Tenant string `json:"tenant"`
}

// consume syncs the tenant of each SQS record and reports exactly the records that failed
// transiently, so SQS redelivers only those (partial batch response). Graph's 204, 409 and 429
// count as done; a permanent failure (unknown tenant, missing permission, bad message) is logged
// and not retried, since a retry cannot succeed.
func (f *Function) consume(ctx context.Context, raw []byte) (events.SQSEventResponse, error) {
	var batch events.SQSEvent
	if err := json.Unmarshal(raw, &batch); err != nil {
		return events.SQSEventResponse{}, f.badEvent(ctx, "sqs", "malformed SQS event: "+err.Error())
	}
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	var mu sync.Mutex
	sem := make(chan struct{}, consumeBound)
	var wg sync.WaitGroup
	for _, rec := range batch.Records {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if f.consumeOne(ctx, rec) {
				mu.Lock()
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return resp, nil
}

// consumeOne syncs one record's tenant and reports whether SQS should deliver it again.
func (f *Function) consumeOne(ctx context.Context, rec events.SQSMessage) (retry bool) {
	var msg fleetMessage
	if err := json.Unmarshal([]byte(rec.Body), &msg); err != nil || strings.TrimSpace(msg.Tenant) == "" {
		p := problem.New(problem.BadRequest, "An SQS message is not {\"tenant\":\"<name>\"}.")
		p.Err = errors.New("message " + rec.MessageId + " dropped: its body is not {\"tenant\":\"<name>\"}")
		a := problemAnswer(p)
		a.action = "sqsMessage"
		f.logSummary(ctx, "sqs", a, time.Now(), !f.warm.Swap(true))
		return false
	}
	_, err := f.run(ctx, "sqs", "sync", strings.ToLower(msg.Tenant), false)
	if ie, ok := err.(*InvocationError); ok {
		return ie.Transient()
	}
	return err != nil
}
