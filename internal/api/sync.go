package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// syncNow serves POST /sync: 202 started, or the 409/429 problems with what is known of the wait.
// A callbackUrl in the body is checked before the sync (SPEC §13).
func (f *Function) syncNow(ctx context.Context, req *request) Outcome {
	return f.syncHTTP(ctx, req, 0)
}

// syncWait serves POST /sync?wait=N: the sync, then its end as far as N allows (SPEC §5).
func (f *Function) syncWait(ctx context.Context, req *request) Outcome {
	return f.syncHTTP(ctx, req, req.wait)
}

func (f *Function) syncHTTP(ctx context.Context, req *request, wait time.Duration) Outcome {
	callback, p := f.callbackTarget(ctx, req.contentType, req.body)
	if p != nil {
		return failed(p) // no sync is started
	}
	return f.syncTenant(ctx, req.tenant, wait, followup.Targets{Callback: callback})
}

// scheduledSync serves schedules, direct invocations and fleet messages: the same sync, whose
// 409 and 429 the result renderer turns into results (SPEC §8). Its end is followed too, with
// no caller to tell: the log line and the metrics are its report.
func (f *Function) scheduledSync(ctx context.Context, req *request) Outcome {
	return f.syncTenant(ctx, req.tenant, 0, followup.Targets{})
}

// syncTenant selects the tenant and starts its sync; with wait > 0 it then follows the sync.
// A sync Graph accepted is followed to its end (SPEC §13) unless the wait already saw it.
func (f *Function) syncTenant(ctx context.Context, selector string, wait time.Duration, targets followup.Targets) Outcome {
	in, name, p := f.selectTenant(ctx, selector)
	if p != nil {
		return failed(p) // no sync was asked for: no sync metrics
	}
	o := f.sync(ctx, in, wait)
	o.about(name)
	// A sync that ?wait saw finish needs no follow-up: its own answer carried the end.
	if s := o.Sync; f.d.FollowUp != nil && (s.Result == autopilot.Started || s.Waited && s.Result == autopilot.InProgress) {
		s.FollowUp = f.enqueueFollowUp(ctx, name, s.RequestedAt, targets)
	}
	return o
}

// sync starts a sync. With wait > 0 it then follows the sync (see follow).
func (f *Function) sync(ctx context.Context, in Intune, wait time.Duration) Outcome {
	requestedAt := f.d.Now().UTC().Truncate(time.Second)
	var o Outcome
	call, err := in.Sync(ctx)
	o.Calls.add(call, true)
	if err != nil {
		p, result := f.syncProblem(ctx, in, err, &o.Calls)
		o.Problem, o.Sync = p, &SyncOutcome{Result: result}
		return o
	}
	// SPEC §5: T and T+10m, both to the second.
	o.Sync = &SyncOutcome{Result: autopilot.Started, RequestedAt: requestedAt, NextSyncAllowedAt: autopilot.NextSyncAllowedAt(requestedAt)}
	if wait > 0 {
		f.follow(ctx, in, o.Sync, wait, &o.Calls)
	}
	return o
}

const (
	// firstPoll and maxPoll bound the backoff between reads of the settings.
	firstPoll = 500 * time.Millisecond
	maxPoll   = 3 * time.Second
)

// follow reads the settings with backoff until the sync that started at s.RequestedAt has
// completed or failed, or until wait (or the request's budget) runs out. A read that fails or
// is cut short by the deadline leaves the answer at inProgress: the sync itself did start.
func (f *Function) follow(ctx context.Context, in Intune, s *SyncOutcome, wait time.Duration, calls *Calls) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	s.Waited, s.Result = true, autopilot.InProgress
	s.Status = autopilot.Status{SyncStatus: graph.SyncStatusInProgress, LastManualSyncTriggerDateTime: s.RequestedAt}
	delay := firstPoll
	for {
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		settings, call, err := in.Get(ctx)
		calls.add(call, false)
		if err == nil {
			s.Status = autopilot.NewStatus(settings, f.d.Now())
			if autopilot.Finished(settings, s.RequestedAt) {
				s.Result = autopilot.Result(settings.SyncStatus)
				return
			}
		}
		delay = min(delay*2, maxPoll)
	}
}

// fallbackThrottle is the wait when neither Graph nor the settings say how long to wait.
const fallbackThrottle = autopilot.SyncInterval

// syncProblem turns a failed sync into its problem and result, reading the settings (best
// effort) to say what runs or how long to wait.
func (f *Function) syncProblem(ctx context.Context, in Intune, err error, calls *Calls) (*problem.Problem, autopilot.Result) {
	var ge *graph.Error
	if !errors.As(err, &ge) {
		return classify(err), ""
	}
	switch ge.StatusCode {
	case http.StatusConflict:
		p := problem.New(problem.SyncInProgress, "A sync of Autopilot devices is already running; wait for it to finish.")
		p.Graph, p.Err = graphRef(ge), err
		s, call, err := in.Get(ctx)
		calls.add(call, false)
		if err == nil {
			p.SyncStatus = string(s.SyncStatus)
			if !s.LastManualSyncTriggerDateTime.IsZero() {
				t := s.LastManualSyncTriggerDateTime.UTC()
				p.LastManualSyncTriggerDateTime = &t
				p.Detail = fmt.Sprintf("A sync of Autopilot devices is already running (started %s); wait for it to finish.", t.Format(time.RFC3339))
			}
		}
		return p, autopilot.InProgress
	case http.StatusTooManyRequests:
		return f.throttled(ctx, in, ge, calls), autopilot.Throttled
	}
	return classify(err), ""
}

// throttled builds the 429 problem. The wait is Graph's Retry-After when it gave one (rounded
// up); otherwise what remains of ten minutes since the last manual sync (at least 1 s);
// otherwise ten minutes.
func (f *Function) throttled(ctx context.Context, in Intune, ge *graph.Error, calls *Calls) *problem.Problem {
	now := f.d.Now().UTC()
	wait := fallbackThrottle
	if ge.HasRetryAfter {
		wait = ge.RetryAfter
	} else {
		s, call, err := in.Get(ctx)
		calls.add(call, false)
		if err == nil && !s.LastManualSyncTriggerDateTime.IsZero() {
			wait = min(s.LastManualSyncTriggerDateTime.Add(autopilot.SyncInterval).Sub(now), autopilot.SyncInterval)
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
