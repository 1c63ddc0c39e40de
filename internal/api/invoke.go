package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/lambdahttp"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// InvocationError is a Lambda error: an invocation of a shape this function does not serve, or
// a scheduled or direct run that failed. Code is the problem code; Lambda reports the type as
// errorType.
type InvocationError struct {
	Code problem.Code
	Msg  string
}

func (e *InvocationError) Error() string {
	if e.Code == "" {
		return e.Msg
	}
	return string(e.Code) + ": " + e.Msg
}

// Transient reports whether Lambda's asynchronous retry may help.
func (e *InvocationError) Transient() bool { return e.Code.Transient() }

// Invoke is the Lambda entry point. HTTP events go through ServeHTTP (lambdahttp translates
// their shapes); schedules, direct invocations and SQS batches select a row of the action
// table; any other shape is answered with an error naming what this function takes, and the
// process keeps serving.
func (f *Function) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	if resp, src, err := lambdahttp.Handle(ctx, f, raw); err != nil {
		return nil, f.badEvent(ctx, Source(src), "malformed "+string(src)+" event: "+err.Error())
	} else if src != "" {
		return resp, nil
	}
	p, shape := probe(raw)
	switch shape {
	case shapeSchedule:
		return f.invokeOnce(ctx, SourceSchedule, &request{sel: selector{via: viaSchedule}, tenant: p.Tenant})
	case shapeDirect:
		req, err := directRequest(p)
		if err != nil {
			return nil, f.badEvent(ctx, SourceDirect, err.Error()+"; the "+string(f.kind)+" function takes "+shapesOf(f.kind))
		}
		return f.invokeOnce(ctx, SourceDirect, req)
	case shapeSQS:
		if len(triggers(f.kind, viaQueue)) > 0 {
			return f.consume(ctx, raw)
		}
	}
	return nil, f.badEvent(ctx, "unknown", "unsupported invocation: the "+string(f.kind)+" function expects "+shapesOf(f.kind))
}

// invokeOnce serves a scheduled or direct invocation as one row of the table.
func (f *Function) invokeOnce(ctx context.Context, source Source, req *request) (any, error) {
	inv := f.begin(source)
	req.source = source
	rt, ok := f.route(req.sel)
	if !ok {
		return nil, f.badEvent(ctx, source, "unsupported action "+quote(req.sel.name)+": the "+string(f.kind)+" function takes "+shapesOf(f.kind))
	}
	o := f.run(ctx, rt, req)
	result, status, err := renderResult(o)
	inv.end(ctx, rt.action, o, status, nil)
	return result, err
}

// run runs a row for an invocation that is not HTTP, within the Lambda deadline; a function
// whose configuration is broken answers misconfigured, but for the actions that run anyway
// (Action.runsMisconfigured: diagnose, dropping a message of no known kind).
func (f *Function) run(ctx context.Context, rt route, req *request) Outcome {
	if f.d.Err != nil && !rt.action.runsMisconfigured() {
		return failed(misconfigured(f.d.Err))
	}
	ctx, cancel := withBudget(ctx)
	defer cancel()
	return rt.run(f, ctx, req)
}

// eventProbe reads just enough of an event to tell its shape: a schedule (detail-type, source),
// a direct invocation (action, tenant, tenants) or an SQS batch (Records).
type eventProbe struct {
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Action     string          `json:"action"`
	Tenant     string          `json:"tenant"`
	Tenants    string          `json:"tenants"`
	Records    []sqsRecordHead `json:"Records"`
}

type sqsRecordHead struct {
	EventSource string `json:"eventSource"`
}

// shape names an event the Lambda entry serves besides HTTP.
type shape int

const (
	shapeUnknown shape = iota
	shapeSchedule
	shapeDirect
	shapeSQS
)

func probe(raw []byte) (eventProbe, shape) {
	var p eventProbe
	if json.Unmarshal(raw, &p) != nil {
		return p, shapeUnknown
	}
	switch {
	case p.DetailType == "Scheduled Event" && (p.Source == "aws.events" || p.Source == "aws.scheduler"):
		p.Tenant = strings.ToLower(p.Tenant)
		return p, shapeSchedule
	case len(p.Records) > 0 && p.Records[0].EventSource == "aws:sqs":
		return p, shapeSQS
	case p.Action != "":
		return p, shapeDirect
	}
	return p, shapeUnknown
}

// directRequest reads a direct invocation: {"action":…, "tenant":…} or {"action":…, "tenants":"all"}.
func directRequest(p eventProbe) (*request, error) {
	switch {
	case p.Tenants != "" && !strings.EqualFold(p.Tenants, autopilot.AllTenants):
		return nil, errors.New(`"tenants" takes only "all"; select one tenant with "tenant"`)
	case p.Tenants != "" && p.Tenant != "":
		return nil, errors.New(`give either "tenant" or "tenants":"all", not both`)
	}
	return &request{
		sel:    selector{via: viaDirect, name: strings.ToLower(p.Action), all: p.Tenants != ""},
		tenant: strings.ToLower(p.Tenant),
	}, nil
}

// codeBadEvent is the log line's code of an invocation of a shape this function does not serve
// (a Lambda error, never an HTTP answer).
const codeBadEvent problem.Code = "badEvent"

// badEvent refuses an invocation before any action: its invocation line (action empty, code
// badEvent, status 400) and the Lambda error naming what was expected.
func (f *Function) badEvent(ctx context.Context, source Source, msg string) error {
	p := &problem.Problem{Status: http.StatusBadRequest, Code: codeBadEvent, Detail: msg, Err: errors.New(msg)}
	f.begin(source).end(ctx, "", failed(p), p.Status, nil)
	return &InvocationError{Msg: msg}
}

func invocationError(p *problem.Problem) *InvocationError {
	msg := p.Detail
	if (p.Code == problem.Misconfigured || p.Code == problem.CredentialRejected) && p.Err != nil {
		// A Lambda error reaches only operators (IAM protects direct invocations): it names what
		// to fix (the variable, the secret, STS's advice), never a secret value.
		msg += " Cause: " + p.Err.Error()
	}
	if p.Tenant != "" {
		msg = "tenant " + quote(p.Tenant) + ": " + msg
	}
	return &InvocationError{Code: p.Code, Msg: msg}
}

// consumeBound is how many records of one SQS batch are served at once: a whole batch (the
// template's event sources deliver at most 10), so that a batch of follow-ups, each a Graph read
// and deliveries of up to 10 s, fits the function's timeout.
const consumeBound = 10

// consume serves each SQS record as an invocation of its own (a row chosen by the message's
// kind) and reports exactly the records that failed transiently, so SQS redelivers only those
// (partial batch response). Graph's 204, 409 and 429 count as done; a permanent failure (unknown
// tenant, missing permission, a malformed message) is logged and not retried, since a retry
// cannot succeed.
func (f *Function) consume(ctx context.Context, raw []byte) (events.SQSEventResponse, error) {
	var batch events.SQSEvent
	if err := json.Unmarshal(raw, &batch); err != nil {
		return events.SQSEventResponse{}, f.badEvent(ctx, SourceSQS, "malformed SQS event: "+err.Error())
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

// consumeOne serves one record and reports whether SQS should deliver it again.
func (f *Function) consumeOne(ctx context.Context, rec events.SQSMessage) (retry bool) {
	inv := f.begin(SourceSQS)
	req := queueRequest(rec)
	rt, _ := f.route(req.sel) // kindUnknown has its row: a message of no known kind is dropped
	o := f.run(ctx, rt, req)
	_, status, _ := renderResult(o)
	inv.end(ctx, rt.action, o, status, nil)
	if o.Problem == nil {
		return false
	}
	// A follow-up is kept (redelivered, then in the dead-letter queue) while the configuration
	// is broken: fixing it must not have lost the caller's report.
	return o.Problem.Code.Transient() || o.Problem.Code == QueueUnavailable ||
		rt.action == ActionFollowUp && o.Problem.Code == problem.Misconfigured
}

// fleetMessage is the body of a fan-out message (fanOut sends it, queueRequest reads it).
type fleetMessage struct {
	Tenant string `json:"tenant"`
}

// queueRequest tells a record's message kind and reads it.
func queueRequest(rec events.SQSMessage) *request {
	req := &request{source: SourceSQS, sel: selector{via: viaQueue, name: kindUnknown},
		message: []byte(rec.Body), messageID: rec.MessageId}
	if followup.IsFollowUp([]byte(rec.Body)) {
		req.sel.name = kindFollowUp
		return req
	}
	var msg fleetMessage
	if json.Unmarshal([]byte(rec.Body), &msg) == nil && strings.TrimSpace(msg.Tenant) != "" {
		req.sel.name, req.tenant = kindFleet, strings.ToLower(strings.TrimSpace(msg.Tenant))
	}
	return req
}

// dropMessage answers a queue message of no known kind: logged and dropped, never retried.
func (f *Function) dropMessage(_ context.Context, req *request) Outcome {
	p := problem.New(problem.BadRequest, "An SQS message is not {\"tenant\":\"<name>\"}.")
	p.Err = errors.New("message " + req.messageID + " dropped: its body is not {\"tenant\":\"<name>\"}")
	return failed(p)
}
