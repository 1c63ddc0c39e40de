package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Results of a scheduled sync (SPEC §8): none of them is an error, there is nothing to retry.
const (
	ResultStarted   = "started"
	ResultThrottled = "throttled"
)

// Scheduled is the answer to a scheduled sync.
type Scheduled struct {
	Result                        string     `json:"result"`
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

// eventProbe reads just enough of an event to tell a schedule from anything else.
type eventProbe struct {
	DetailType string `json:"detail-type"`
	Source     string `json:"source"`
}

// isScheduled reports whether raw is an EventBridge rule or EventBridge Scheduler event.
func isScheduled(raw []byte) bool {
	var p eventProbe
	if json.Unmarshal(raw, &p) != nil {
		return false
	}
	return p.DetailType == "Scheduled Event" && (p.Source == "aws.events" || p.Source == "aws.scheduler")
}

// scheduled serves a scheduled invocation: the sync function starts a sync, the status function
// returns the status document. Graph's 204, 409 and 429 are results; everything else is an
// error whose message says what to fix, so Lambda's asynchronous retry and destinations apply.
func (f *Function) scheduled(ctx context.Context) (any, error) {
	started := time.Now()
	coldStart := !f.warm.Swap(true)
	ctx, cancel := withBudget(ctx)
	defer cancel()
	var info graph.CallInfo
	var vault time.Duration
	ctx = keyvault.WithReadTime(graph.WithCallInfo(ctx, &info), &vault)

	var a answer
	switch {
	case f.d.Err != nil:
		a = problemAnswer(misconfigured(f.d.Err))
	case f.kind == KindSync:
		a = f.scheduledSync(ctx)
	default:
		a = f.getStatus(ctx)
	}
	a.graph, a.vault = info, vault
	f.logSummary(ctx, "schedule", a, started, coldStart)
	if p, ok := a.body.(*problem.Problem); ok {
		msg := p.Detail
		if p.Code == problem.Misconfigured && p.Err != nil {
			// Configuration errors name the variable to fix and never hold a secret value.
			msg += " " + p.Err.Error()
		}
		return nil, &InvocationError{Code: p.Code, Msg: msg}
	}
	return a.body, nil
}

func (f *Function) scheduledSync(ctx context.Context) answer {
	a := f.sync(ctx, 0)
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
