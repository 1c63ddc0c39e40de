package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// syncHTTP serves POST /sync (and ?wait=N): 202 started, or the 409/429 problems with what is
// known of the wait; with ?wait, the sync's end as far as N allows (SPEC §5). A callbackUrl in
// the body is checked before the sync (SPEC §13): a refused one starts nothing.
func syncHTTP(a *Actions, ctx context.Context, req *Request) Result {
	if p := a.deferProblem(req); p != nil {
		return failed(p)
	}
	if p := a.readyProblem(req); p != nil {
		return failed(p)
	}
	callback, p := a.callbackTarget(ctx, req.CallbackURL)
	if p != nil {
		return failed(p)
	}
	return a.syncTenant(ctx, req, req.Query.Wait, followup.Targets{Callback: callback}, followUpUnsaid)
}

// scheduledSync serves schedules, direct invocations and fleet messages: the same sync, whose
// 409 and 429 are results, not errors (SPEC §8). Its end is followed too, with no caller to
// tell: the log line and the metrics are its report.
func scheduledSync(a *Actions, ctx context.Context, req *Request) Result {
	return a.syncTenant(ctx, req, 0, followup.Targets{}, followUpUnsaid)
}

// Chat platforms wait 3 s (Slack) and 5 s (Teams); chatWaitMargin is kept free after a "sync
// wait" for the answer itself.
const chatWaitMargin = 300 * time.Millisecond

// chatSync serves `sync [wait] [tenant]` from Slack or Teams: the sync, and with "wait" its end
// as far as the platform's deadline allows. Every outcome is a chat answer (SPEC §7).
func chatSync(a *Actions, ctx context.Context, req *Request) Result {
	if p := a.chatSyncWords(req); p != nil {
		return failed(p)
	}
	if p := a.readyProblem(req); p != nil {
		return failed(p)
	}
	var wait time.Duration
	if deadline, ok := ctx.Deadline(); req.ChatWait && ok {
		wait = time.Until(deadline) - chatWaitMargin
	}
	targets, note := a.chatTargets(req.Chat)
	return a.syncTenant(ctx, req, wait, targets, note)
}

// syncTenant selects the tenant and starts its sync; with wait > 0 it then follows the sync. A
// sync Graph accepted is followed to its end (SPEC §13) unless the wait already saw it.
func (a *Actions) syncTenant(ctx context.Context, req *Request, wait time.Duration, targets followup.Targets, note chatNote) Result {
	in, p := a.selectTenant(ctx, req)
	if p != nil {
		return failed(p) // no sync was asked for: no sync metrics
	}
	s, res := a.sync(ctx, in, req, wait)
	if s == nil {
		if r, ok := res.(Refused); ok && a.defers(req) {
			return a.deferRequest(ctx, in, req, r, targets, note)
		}
		return res
	}
	ready := a.readyNote(req)
	if a.d.FollowUp != nil && (!s.Result.Ended() || ready != nil) {
		s.FollowUp = a.enqueueFollowUp(ctx, req, s.RequestedAt, targets)
		if s.FollowUp == nil && ready != nil {
			// The sync started, but its devices will not be followed: say so, as a deferral
			// that could not be queued does.
			p := problem.New(problem.QueueUnavailable, "The sync started, but following its devices could not be queued; ask again later.")
			return Failure{P: about(req, p), attempt: attemptSync}
		}
	}
	if s.FollowUp != nil || note == followUpRefused {
		s.ChatFollowUp, s.ready = note, ready
	}
	return *s
}

// sync asks Graph for a sync: a Synced result (followed with wait > 0), or the Refused or
// Failure result of Graph's answer.
func (a *Actions) sync(ctx context.Context, in Intune, req *Request, wait time.Duration) (*Synced, Result) {
	now := a.d.Now().UTC()
	err := call(ctx, in, req, true, func(c *graph.Client) (*graph.Response, error) { return c.Sync(ctx) })
	if err != nil {
		res := a.refused(ctx, in, req, err)
		if r, ok := res.(Refused); ok {
			r.requestedAt = now.Truncate(time.Second)
			res = r
		}
		return nil, res
	}
	// SPEC §5: T and T+10m, both to the second: T rounded down (when it was asked), T+10m
	// rounded up (never before Intune allows it), as the 429 that follows rounds it.
	s := &Synced{Result: autopilot.Started, RequestedAt: now.Truncate(time.Second), NextSyncAllowedAt: ceilSecond(autopilot.NextSyncAllowedAt(now))}
	if wait > 0 {
		a.follow(ctx, in, req, s, wait)
	}
	return s, nil
}

// refused turns a failed sync into its result: Graph's 409 and 429 are Refused (reading the
// settings, best effort, to say what runs or how long to wait); anything else is a Failure.
func (a *Actions) refused(ctx context.Context, in Intune, req *Request, err error) Result {
	var ge *graph.Error
	if !errors.As(err, &ge) {
		return Failure{P: about(req, problem.Of(err)), attempt: attemptSync}
	}
	switch ge.StatusCode {
	case http.StatusConflict:
		p := problem.New(problem.SyncInProgress, "A sync of Autopilot devices is already running; wait for it to finish.")
		p.Graph, p.Err = ge.Ref(), err
		r := Refused{P: about(req, p), Result: autopilot.InProgress}
		if s, err := getSettings(ctx, in, req, false); err == nil {
			r.settings = &s
			p.SyncStatus = string(s.SyncStatus)
			if !s.LastManualSyncTriggerDateTime.IsZero() {
				t := s.LastManualSyncTriggerDateTime.UTC()
				p.LastManualSyncTriggerDateTime = &t
				p.Detail = fmt.Sprintf("A sync of Autopilot devices is already running (started %s); wait for it to finish.", t.Format(time.RFC3339))
			}
		}
		return r
	case http.StatusTooManyRequests:
		p, settings := a.throttled(ctx, in, req, ge)
		return Refused{P: about(req, p), Result: autopilot.Throttled, settings: settings}
	}
	return Failure{P: about(req, problem.Of(err)), attempt: attemptSync}
}

// throttled builds the 429 problem. The wait is Graph's Retry-After when it gave one (rounded
// up); otherwise what remains of ten minutes since the last manual sync (at least 1 s);
// otherwise ten minutes. nextSyncAllowedAt is the end of the wait rounded up to the second: from
// the last manual sync, the same time the 202 of that sync named. It returns the settings too,
// when it read them.
func (a *Actions) throttled(ctx context.Context, in Intune, req *Request, ge *graph.Error) (p *problem.Problem, settings *graph.Settings) {
	now := a.d.Now().UTC()
	wait := autopilot.SyncInterval
	if ge.HasRetryAfter {
		wait = ge.RetryAfter
	} else if s, err := getSettings(ctx, in, req, false); err == nil {
		settings = &s
		if lastTrigger := s.LastManualSyncTriggerDateTime.UTC(); !lastTrigger.IsZero() {
			wait = min(lastTrigger.Add(autopilot.SyncInterval).Sub(now), autopilot.SyncInterval)
		}
	}
	secs := graph.CeilSeconds(wait)
	next := ceilSecond(now.Add(max(wait, time.Second)))
	p = problem.New(problem.SyncThrottled, fmt.Sprintf(
		"Intune allows one manual sync every 10 minutes; next allowed at %s.", next.Format(time.RFC3339)))
	p.RetryAfterSeconds = secs
	p.NextSyncAllowedAt = &next
	p.Graph, p.Err = ge.Ref(), ge
	return p, settings
}

// ceilSecond rounds t up to a whole second.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); r.Before(t) {
		return r.Add(time.Second)
	}
	return t
}

const (
	// firstPoll and maxPoll bound the backoff between reads of the settings.
	firstPoll = 500 * time.Millisecond
	maxPoll   = 3 * time.Second
)

// follow reads the settings with backoff until the sync that started at s.RequestedAt has
// completed or failed, or until wait (or the request's budget) runs out, or Deps.Stop closes. A
// read that fails or is cut short leaves the answer at inProgress: the sync itself did start.
func (a *Actions) follow(ctx context.Context, in Intune, req *Request, s *Synced, wait time.Duration) {
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
		case <-a.d.Stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		settings, err := getSettings(ctx, in, req, false)
		if err == nil {
			s.Status = autopilot.NewStatus(settings, a.d.Now())
			if autopilot.Finished(settings, s.RequestedAt) {
				s.Result = autopilot.Result(settings.SyncStatus)
				return
			}
		}
		delay = min(delay*2, maxPoll)
	}
}

// Synced is a sync that Graph accepted: started (202), or followed with ?wait or "sync wait" to
// completed or failed (200) or still inProgress (202).
type Synced struct {
	// Result is started; after a wait completed, failed or inProgress.
	Result                         autopilot.Result
	RequestedAt, NextSyncAllowedAt time.Time
	// Waited is set when the action followed the sync; Status holds the settings last read.
	Waited bool
	Status autopilot.Status
	// FollowUp is the follow-up enqueued to report the sync's end (SPEC §13); nil when none was.
	FollowUp *FollowUpRef
	// ChatFollowUp is what a chat answer says of it; ready, for a request with serials, what it
	// says of the devices.
	ChatFollowUp chatNote
	ready        *readyNote
}

// started is the answer to a sync Graph accepted (SPEC §5).
type started struct {
	Result            autopilot.Result `json:"result"`
	RequestedAt       time.Time        `json:"requestedAt"`
	NextSyncAllowedAt time.Time        `json:"nextSyncAllowedAt"`
	FollowUp          *FollowUpRef     `json:"followUp,omitempty"`
}

// followed is the answer to a sync followed with ?wait: its result and the settings last read.
type followed struct {
	Result            autopilot.Result `json:"result"`
	RequestedAt       time.Time        `json:"requestedAt"`
	NextSyncAllowedAt time.Time        `json:"nextSyncAllowedAt"`
	autopilot.Status
	FollowUp *FollowUpRef `json:"followUp,omitempty"`
}

// HTTP is 202 started, or after a wait 200 with the end (202 while it runs) and the settings.
func (s Synced) HTTP() Answer {
	if !s.Waited {
		return jsonAnswer(http.StatusAccepted, s.started())
	}
	status := http.StatusOK
	if s.Result == autopilot.InProgress {
		status = http.StatusAccepted
	}
	return jsonAnswer(status, followed{Result: s.Result, RequestedAt: s.RequestedAt, NextSyncAllowedAt: s.NextSyncAllowedAt, Status: s.Status, FollowUp: s.FollowUp})
}

func (s Synced) started() started {
	return started{Result: s.Result, RequestedAt: s.RequestedAt, NextSyncAllowedAt: s.NextSyncAllowedAt, FollowUp: s.FollowUp}
}

// Lambda is the result of a scheduled, direct or queued sync: {"result":"started",…}.
func (s Synced) Lambda() (json.RawMessage, error) {
	if s.Waited {
		return lambdaResult(followed{Result: s.Result, RequestedAt: s.RequestedAt, NextSyncAllowedAt: s.NextSyncAllowedAt, Status: s.Status, FollowUp: s.FollowUp})
	}
	return lambdaResult(s.started())
}

// Words says when the sync started (or how it ended), when the next one is allowed, and whether
// a follow-up will come.
func (s Synced) Words(st chat.Style, now time.Time) chat.Words {
	now = now.UTC()
	text := ""
	switch s.Result {
	case autopilot.Completed, autopilot.Failed:
		at := now
		if !s.Status.LastSyncDateTime.IsZero() {
			at = s.Status.LastSyncDateTime
		}
		if s.Result == autopilot.Completed {
			text = fmt.Sprintf("Sync of Windows Autopilot devices completed at %s.", chat.Past(at, now))
		} else {
			text = fmt.Sprintf("Sync of Windows Autopilot devices failed at %s: %s.", chat.Past(at, now), chat.IntuneHint)
		}
	case autopilot.InProgress:
		running := max(int(math.Round(now.Sub(s.RequestedAt).Seconds())), 0)
		text = fmt.Sprintf("Sync of Windows Autopilot devices started at %s; still running after %d s. Use %s to follow it.",
			chat.Past(s.RequestedAt, now), running, st.Code("status"))
	default: // started
		text = fmt.Sprintf("Sync of Windows Autopilot devices started at %s.", chat.Past(s.RequestedAt, now))
	}
	if !s.NextSyncAllowedAt.IsZero() {
		text += fmt.Sprintf(" Next manual sync allowed at %s.", chat.Future(s.NextSyncAllowedAt, now))
	}
	switch {
	case s.ChatFollowUp == followUpComing && s.ready != nil:
		text += s.ready.words()
	case s.ChatFollowUp == followUpComing:
		text += " I will post here when it has finished."
	case s.ChatFollowUp == followUpRefused:
		text += " No follow-up will come: this command's reply address is not an allowed one; use " + st.Code("status") + " to follow it."
	case !s.Waited:
		text += " Use " + st.Code("status") + " to follow it."
	}
	return words(text)
}

// Log counts the sync as started (and failed when Intune says so).
func (s Synced) Log(l *Line) {
	l.Code = "ok"
	failed := 0
	if s.Result == autopilot.Failed {
		failed = 1
	}
	syncCounts(l, 1, 0, 0, failed, 0)
}

// Refused is Graph refusing a sync: 409 (Result inProgress) or 429 (Result throttled). An HTTP
// or chat caller gets the problem; a schedule gets a result, there is nothing to retry.
type Refused struct {
	P      *problem.Problem
	Result autopilot.Result
	// requestedAt is when the sync was asked for; settings are those read after the refusal
	// (nil: none were), for a deferral (SPEC §16).
	requestedAt time.Time
	settings    *graph.Settings
}

// refusal is the result of a refused scheduled, direct or queued sync.
type refusal struct {
	Result                        autopilot.Result `json:"result"`
	NextSyncAllowedAt             *time.Time       `json:"nextSyncAllowedAt,omitempty"`
	RetryAfterSeconds             int              `json:"retryAfterSeconds,omitempty"`
	SyncStatus                    string           `json:"syncStatus,omitempty"`
	LastManualSyncTriggerDateTime *time.Time       `json:"lastManualSyncTriggerDateTime,omitempty"`
}

// HTTP is the 409 or 429 problem.
func (r Refused) HTTP() Answer { return problemAnswer(r.P) }

// Words says what runs or how long to wait.
func (r Refused) Words(st chat.Style, now time.Time) chat.Words {
	return chat.ProblemWords(st, r.P, now)
}

// Lambda is {"result":"inProgress"|"throttled",…}: no error.
func (r Refused) Lambda() (json.RawMessage, error) {
	if r.Result == autopilot.Throttled {
		return lambdaResult(refusal{Result: r.Result, RetryAfterSeconds: r.P.RetryAfterSeconds, NextSyncAllowedAt: r.P.NextSyncAllowedAt})
	}
	return lambdaResult(refusal{Result: r.Result, SyncStatus: r.P.SyncStatus, LastManualSyncTriggerDateTime: r.P.LastManualSyncTriggerDateTime})
}

// Log writes Graph's answer and counts the refusal.
func (r Refused) Log(l *Line) {
	Failure{P: r.P}.Log(l)
	l.Status = 0 // a schedule's refusal is a result, not an error
	r.count(l, 0)
}

// count writes the sync counters of the refusal; deferred is 1 when the request was deferred.
func (r Refused) count(l *Line, deferred int) {
	if r.Result == autopilot.InProgress {
		syncCounts(l, 0, 1, 0, 0, deferred)
	} else {
		syncCounts(l, 0, 0, 1, 0, deferred)
	}
}

// Metric names of a sync request (CloudWatch Embedded Metric Format), each 0 or 1.
const (
	MetricSyncStarted    = "SyncStarted"
	MetricSyncInProgress = "SyncInProgress"
	MetricSyncThrottled  = "SyncThrottled"
	MetricSyncFailed     = "SyncFailed"
	// MetricSyncDeferred counts the requests deferred to the next sync (SPEC §16).
	MetricSyncDeferred = "SyncDeferred"
)

// syncCounts writes the five counters of a request that asked Graph for a sync, so that sums
// and averages work.
func syncCounts(l *Line, started, inProgress, throttled, failed, deferred int) {
	l.Count(MetricSyncStarted, started)
	l.Count(MetricSyncInProgress, inProgress)
	l.Count(MetricSyncThrottled, throttled)
	l.Count(MetricSyncFailed, failed)
	l.Count(MetricSyncDeferred, deferred)
}
