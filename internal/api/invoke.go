package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/jsonenc"
	"github.com/autopilot-sync/autopilot-sync/internal/lambdaevent"
	"github.com/autopilot-sync/autopilot-sync/internal/lambdahttp"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Invoke is the Lambda entry point. It reads the event once: HTTP events go through ServeHTTP
// (lambdahttp translates their shapes); schedules, direct invocations and SQS records select a
// row of the action table; any other shape is answered with an error naming what this function
// takes, and the process keeps serving. The result is encoded here, as the Lambda runtime would.
func (f *Function) Invoke(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
	ev, shape := lambdaevent.Read(raw)
	source := ev.Source(shape)
	switch shape {
	case lambdaevent.HTTP:
		resp, err := lambdahttp.ServeEvent(ctx, f, &ev.Event)
		if err != nil {
			return nil, f.badEvent(ctx, source, err.Error()) // "malformed API Gateway HTTP API (payload 2.0) event: …"
		}
		return jsonenc.Marshal(resp)
	case lambdaevent.Schedule:
		return f.invokeOnce(ctx, source, action.Selector{Via: action.ViaSchedule}, &action.Request{Tenant: ev.Tenant}, nil)
	case lambdaevent.Direct:
		req := &action.Request{Tenant: ev.Tenant}
		switch {
		case ev.Tenants != "" && ev.Tenants != autopilot.AllTenants:
			return nil, f.badEvent(ctx, source, `"tenants" takes only "all"; select one tenant with "tenant"; the `+string(f.fn)+" function takes "+action.Takes(f.fn))
		case ev.Tenants != "" && ev.Tenant != "":
			return nil, f.badEvent(ctx, source, `give either "tenant" or "tenants":"all", not both; the `+string(f.fn)+" function takes "+action.Takes(f.fn))
		}
		sel := action.Selector{Via: action.ViaDirect, Action: ev.Action, All: ev.Tenants != ""}
		return f.invokeOnce(ctx, source, sel, req, raw)
	case lambdaevent.SQS:
		if len(action.Triggers(f.fn, action.ViaQueue)) > 0 {
			return jsonenc.Marshal(f.Consume(ctx, ev.Records))
		}
	}
	return nil, f.badEvent(ctx, source, "unsupported invocation: the "+string(f.fn)+" function expects "+action.Takes(f.fn))
}

// invokeOnce serves a scheduled or direct invocation as one row of the table; a direct
// invocation's other fields are read by its trigger from the event.
func (f *Function) invokeOnce(ctx context.Context, source autopilot.Source, sel action.Selector, req *action.Request, event json.RawMessage) (json.RawMessage, error) {
	inv := f.begin(source)
	req.Source = source
	row, trigger, ok := action.Route(f.fn, sel)
	if !ok {
		return nil, f.badEvent(ctx, source, "unsupported action "+action.Quote(sel.Action)+": the "+string(f.fn)+" function takes "+action.Takes(f.fn))
	}
	var res action.Result
	if p := readFields(trigger, event, req); p != nil {
		res = action.Fail(p)
	} else {
		res = f.run(ctx, row, req)
	}
	out, err := res.Lambda()
	inv.end(ctx, row.Name, res, req, lambdaStatus(err), nil)
	return out, err
}

// readFields reads a direct invocation's fields that its trigger declares.
func readFields(t action.Trigger, event json.RawMessage, req *action.Request) *problem.Problem {
	if t.Fields == nil || event == nil {
		return nil
	}
	return t.Fields(event, req)
}

// run runs a row for an invocation that is not HTTP, within the Lambda deadline.
func (f *Function) run(ctx context.Context, row *action.Row, req *action.Request) action.Result {
	ctx, cancel := withBudget(ctx)
	defer cancel()
	return f.actions.Run(ctx, row, req)
}

// lambdaStatus is the status a scheduled, direct or queued invocation logs: its error's, or 200.
func lambdaStatus(err error) int {
	var ie *action.InvocationError
	if errors.As(err, &ie) && ie.Code != "" {
		return ie.Code.Status()
	}
	return http.StatusOK
}

// codeBadEvent is the log line's code of an invocation of a shape this function does not serve
// (a Lambda error, never an HTTP answer).
const codeBadEvent problem.Code = "badEvent"

// badEvent refuses an invocation before any action: its invocation line (action empty, code
// badEvent, status 400) and the Lambda error naming what was expected.
func (f *Function) badEvent(ctx context.Context, source autopilot.Source, msg string) error {
	p := &problem.Problem{Status: http.StatusBadRequest, Code: codeBadEvent, Detail: msg, Err: errors.New(msg)}
	f.begin(source).end(ctx, "", action.Fail(p), &action.Request{}, p.Status, nil)
	return &action.InvocationError{Msg: msg}
}

// consumeBound is how many records of one SQS batch are served at once: a whole batch (the
// template's event sources deliver at most 10), so that a batch of follow-ups, each a Graph read
// and deliveries of up to 10 s, fits the function's timeout.
const consumeBound = 10

// Consume serves each SQS record as an invocation of its own, a row chosen by the queue the record
// came from, and reports exactly the records to deliver again (partial batch response): those
// that failed transiently. Graph's 204, 409 and 429 count as done; a permanent failure (unknown
// tenant, missing permission, a malformed message, a record of a queue this function does not
// read) is logged and not retried, since a retry cannot succeed.
func (f *Function) Consume(ctx context.Context, records []events.SQSMessage) events.SQSEventResponse {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	var mu sync.Mutex
	sem := make(chan struct{}, consumeBound)
	var wg sync.WaitGroup
	for _, rec := range records {
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
	return resp
}

// consumeOne serves one record and reports whether SQS should deliver it again.
func (f *Function) consumeOne(ctx context.Context, rec events.SQSMessage) (retry bool) {
	inv := f.begin(autopilot.SourceSQS)
	req := &action.Request{Source: autopilot.SourceSQS, Message: []byte(rec.Body), MessageID: rec.MessageId}
	row, _, _ := action.Route(f.fn, action.Selector{Via: action.ViaQueue, Queue: f.queueOf(rec, req)}) // QueueOther has its row
	res := f.run(ctx, row, req)
	_, err := res.Lambda()
	inv.end(ctx, row.Name, res, req, lambdaStatus(err), nil)
	var ie *action.InvocationError
	return errors.As(err, &ie) && ie.Retry
}

// queueOf tells which queue a record came from by its eventSourceARN: the follow-up queue's
// records are follow-up messages (the action decodes them); the fleet queue's are
// {"tenant":"<name>"} (read here into req); anything else is dropped.
func (f *Function) queueOf(rec events.SQSMessage, req *action.Request) action.Queue {
	switch arn := rec.EventSourceARN; {
	case arn == "", !f.sentByUs(rec):
	case f.d.FollowUp != nil && arn == f.d.FollowUp.QueueARN:
		return action.QueueFollowUp
	case arn == f.d.FleetARN:
		if tenant, ok := action.FleetTenant(req.Message); ok {
			req.Tenant = tenant
			return action.QueueFleet
		}
	}
	return action.QueueOther
}

// sentByUs reports whether SQS says the function's own role sent rec (Deps.SenderID); true when
// no sender is checked (cmd/local's in-process queue).
func (f *Function) sentByUs(rec events.SQSMessage) bool {
	id := f.d.SenderID
	if id == "" {
		return true
	}
	sender := rec.Attributes["SenderId"]
	return sender == id || strings.HasPrefix(sender, id+":")
}
