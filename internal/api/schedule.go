package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Results of a scheduled sync (SPEC §8): none of them is an error, there is nothing to retry.
const (
	ResultStarted   = "started"
	ResultThrottled = "throttled"
)

// Scheduled is the answer to a scheduled or direct sync.
type Scheduled struct {
	Result                        string     `json:"result"`
	Tenant                        string     `json:"tenant,omitempty"`
	RequestedAt                   *time.Time `json:"requestedAt,omitempty"`
	NextSyncAllowedAt             *time.Time `json:"nextSyncAllowedAt,omitempty"`
	RetryAfterSeconds             int        `json:"retryAfterSeconds,omitempty"`
	SyncStatus                    string     `json:"syncStatus,omitempty"`
	LastManualSyncTriggerDateTime *time.Time `json:"lastManualSyncTriggerDateTime,omitempty"`
}

// InvocationError is a Lambda error: an invocation of a shape this function does not serve, or
// a scheduled run that failed. Code is the problem code; Lambda reports the type as errorType.
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
		return p, shapeSchedule
	case len(p.Records) > 0 && p.Records[0].EventSource == "aws:sqs":
		return p, shapeSQS
	case p.Action != "":
		return p, shapeDirect
	}
	return p, shapeUnknown
}

// run serves a scheduled or direct invocation: action "sync" starts a sync (or, with
// tenants "all", enqueues one per tenant), "status" returns the status document. Graph's 204,
// 409 and 429 are results; everything else is an error whose message says what to fix, so
// Lambda's asynchronous retry and destinations apply.
func (f *Function) run(ctx context.Context, source, action, selector string, all bool) (any, error) {
	started := time.Now()
	coldStart := !f.warm.Swap(true)
	ctx, cancel := withBudget(ctx)
	defer cancel()
	ctx, tr := traced(ctx)

	var a answer
	switch {
	case f.d.Err != nil:
		a = problemAnswer(misconfigured(f.d.Err))
	case action == "sync" && all && f.d.Tenants == nil:
		a = problemAnswer(misconfigured(configError("TENANT_REGISTRY_SECRET_NAME: \"tenants\":\"all\" needs a tenant registry; a single-tenant deployment syncs with {\"action\":\"sync\"}")))
		a.action = "fanOut"
	case action == "sync" && all:
		a = f.fanOut(ctx)
	case action == "status" && all:
		a = f.fleetStatus(ctx)
	default:
		in, name, p := f.selectTenant(ctx, selector)
		switch {
		case p != nil:
			a = problemAnswer(p)
		case action == "sync":
			a = f.scheduledSync(ctx, in)
		default:
			a = f.getStatus(ctx, in)
		}
		a.tenant(name)
	}
	a.record(tr)
	f.logSummary(ctx, source, a, started, coldStart)
	if p, ok := a.body.(*problem.Problem); ok {
		return nil, invocationError(p)
	}
	return a.body, nil
}

func invocationError(p *problem.Problem) *InvocationError {
	msg := p.Detail
	if p.Code == problem.Misconfigured && p.Err != nil {
		// Configuration errors name the variable to fix and never hold a secret value.
		msg += " " + p.Err.Error()
	}
	if p.Tenant != "" {
		msg = "tenant " + quote(p.Tenant) + ": " + msg
	}
	return &InvocationError{Code: p.Code, Msg: msg}
}

// scheduledSync starts a sync and turns Graph's 409 and 429 into results.
func (f *Function) scheduledSync(ctx context.Context, in Intune) answer {
	a := f.sync(ctx, in, 0)
	a.action = "scheduledSync"
	if s, ok := a.body.(Started); ok {
		a.body = Scheduled{Result: ResultStarted, RequestedAt: &s.RequestedAt, NextSyncAllowedAt: &s.NextSyncAllowedAt}
		return a
	}
	p := a.body.(*problem.Problem)
	switch p.Code {
	case problem.SyncInProgress:
		a.status, a.body = http.StatusOK, Scheduled{Result: ResultInProgress, SyncStatus: p.SyncStatus, LastManualSyncTriggerDateTime: p.LastManualSyncTriggerDateTime}
	case problem.SyncThrottled:
		a.status, a.body = http.StatusOK, Scheduled{Result: ResultThrottled, RetryAfterSeconds: p.RetryAfterSeconds, NextSyncAllowedAt: p.NextSyncAllowedAt}
	}
	return a
}
