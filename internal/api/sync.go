package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Started is the answer to a sync that Graph accepted.
type Started struct {
	Result            string    `json:"result"`
	RequestedAt       time.Time `json:"requestedAt"`
	NextSyncAllowedAt time.Time `json:"nextSyncAllowedAt"`
}

// fallbackThrottle is the wait when neither Graph nor the settings say how long to wait.
const fallbackThrottle = SyncInterval

// sync starts a sync: 202 started, or the 409/429 problems with what is known of the wait.
// With wait > 0 it then follows the sync (see follow): 200 with its outcome, or 202 inProgress.
func (f *Function) sync(ctx context.Context, in Intune, wait time.Duration) answer {
	requestedAt := f.d.Now().UTC().Truncate(time.Second)
	err := in.Sync(ctx)
	if err != nil {
		a := problemAnswer(f.syncProblem(ctx, in, err))
		a.action = "sync"
		return a
	}
	// SPEC §5: T and T+10m, both to the second.
	started := Started{Result: "started", RequestedAt: requestedAt, NextSyncAllowedAt: requestedAt.Add(SyncInterval)}
	if wait <= 0 {
		return answer{status: http.StatusAccepted, action: "sync", body: started}
	}
	// Follow-up reads must not replace the sync's identifiers in the log line.
	ctx = graph.WithCallInfo(ctx, new(graph.CallInfo))
	outcome := f.follow(ctx, in, started, wait)
	status := http.StatusOK
	if outcome.Result == ResultInProgress {
		status = http.StatusAccepted
	}
	return answer{status: status, action: "syncWait", body: outcome}
}

// syncProblem turns a failed sync into its problem, reading the settings (best effort) to say
// what runs or how long to wait.
func (f *Function) syncProblem(ctx context.Context, in Intune, err error) *problem.Problem {
	var ge *graph.Error
	if !errors.As(err, &ge) {
		return classify(err)
	}
	// The reads below must not replace the sync's identifiers in the log line.
	ctx = graph.WithCallInfo(ctx, new(graph.CallInfo))
	switch ge.StatusCode {
	case http.StatusConflict:
		p := problem.New(problem.SyncInProgress, "A sync of Autopilot devices is already running; wait for it to finish.")
		p.Graph, p.Err = graphRef(ge), err
		if s, err := in.Get(ctx); err == nil {
			p.SyncStatus = string(s.SyncStatus)
			if !s.LastManualSyncTriggerDateTime.IsZero() {
				t := s.LastManualSyncTriggerDateTime.UTC()
				p.LastManualSyncTriggerDateTime = &t
				p.Detail = fmt.Sprintf("A sync of Autopilot devices is already running (started %s); wait for it to finish.", t.Format(time.RFC3339))
			}
		}
		return p
	case http.StatusTooManyRequests:
		return f.throttled(ctx, in, ge)
	}
	return classify(err)
}

// throttled builds the 429 problem. The wait is Graph's Retry-After when it gave one (rounded
// up); otherwise what remains of ten minutes since the last manual sync (at least 1 s);
// otherwise ten minutes.
func (f *Function) throttled(ctx context.Context, in Intune, ge *graph.Error) *problem.Problem {
	now := f.d.Now().UTC()
	wait := fallbackThrottle
	switch {
	case ge.HasRetryAfter:
		wait = ge.RetryAfter
	default:
		if s, err := in.Get(ctx); err == nil && !s.LastManualSyncTriggerDateTime.IsZero() {
			wait = min(s.LastManualSyncTriggerDateTime.Add(SyncInterval).Sub(now), SyncInterval)
		}
	}
	secs := ceilSeconds(wait)
	next := now.Add(time.Duration(secs) * time.Second).Truncate(time.Second)
	if next.Before(now) {
		next = next.Add(time.Second)
	}
	p := problem.New(problem.SyncThrottled, fmt.Sprintf(
		"Intune allows one manual sync every 10 minutes; next allowed at %s.", next.Format(time.RFC3339)))
	p.RetryAfterSeconds = secs
	p.NextSyncAllowedAt = &next
	p.Graph, p.Err = graphRef(ge), ge
	return p
}

// ceilSeconds rounds a wait up to whole seconds, at least one (Retry-After is in whole seconds).
func ceilSeconds(d time.Duration) int { return max(int(math.Ceil(d.Seconds())), 1) }

func graphRef(ge *graph.Error) *problem.Graph {
	return &problem.Graph{Code: ge.Code, RequestID: ge.RequestID, ClientRequestID: ge.ClientRequestID, Date: ge.Date}
}
