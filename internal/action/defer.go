package action

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// SPEC §16: a sync that Graph refuses (409, 429) is, for a deferred request, accepted and served
// by the first sync that Graph triggers after it, whoever triggers it. The request waits as a
// message of the follow-up queue; its checks (followUp) merge it into a later trigger or trigger
// the sync themselves.

// ParamDefer is ?defer=true|false: it overrides SYNC_WHEN_BUSY for one request.
var ParamDefer = Param{Name: "defer", Read: func(v []string, req *Request) *problem.Problem {
	if v == nil {
		return nil
	}
	if len(v) != 1 || (v[0] != "true" && v[0] != "false") {
		return problem.New(problem.BadRequest, "defer must be given once, as true or false.")
	}
	b := v[0] == "true"
	req.Query.Defer = &b
	return nil
}}

// defers reports whether req is deferred when Graph refuses its sync: as it asks, else as
// SYNC_WHEN_BUSY says.
func (a *Actions) defers(req *Request) bool {
	if _, ok := serials.Get(req); ok {
		return true // SPEC §15: a request with serials always defers
	}
	if req.Query.Defer != nil {
		return *req.Query.Defer
	}
	return a.d.DeferWhenBusy
}

// deferProblem refuses ?defer=true where there is no follow-up queue to wait in (a 400, before
// any Graph call).
func (a *Actions) deferProblem(req *Request) *problem.Problem {
	if req.Query.Defer != nil && *req.Query.Defer && a.d.FollowUp == nil {
		return problem.New(problem.BadRequest, "defer=true is not accepted here: a deferred sync waits in the follow-up queue, and this deployment has none (FOLLOWUP_QUEUE_URL).")
	}
	return nil
}

// deferRequest defers the request whose sync Graph refused (r): one follow-up message, delayed
// until the next sync is allowed (after a 409, RecheckAfter) by followup.DeferDelay, that keeps the trigger time the
// deferral saw. A message that cannot be sent is a transient failure: nothing waits.
func (a *Actions) deferRequest(ctx context.Context, in Intune, req *Request, r Refused, targets followup.Targets, note chatNote) Result {
	now := a.d.Now().UTC()
	if r.settings == nil {
		if s, err := getSettings(ctx, in, req, false); err == nil {
			r.settings = &s
		}
	}
	// Nothing says which trigger was the last: any after the request serves it.
	before := r.requestedAt
	if r.settings != nil {
		before = r.settings.LastManualSyncTriggerDateTime.UTC()
	}
	syncAt := now.Add(followup.RecheckAfter).Truncate(time.Second)
	if r.Result == autopilot.Throttled && r.P.NextSyncAllowedAt != nil {
		syncAt = *r.P.NextSyncAllowedAt
	}
	fu := a.d.FollowUp
	m := withSerials(followup.NewDeferred(followup.NewID(), req.TenantName, r.requestedAt, before, targets), req)
	body, err := m.Encode()
	if err == nil {
		err = fu.Queue.Send(ctx, body, followup.DeferDelay(m, now, syncAt, followup.MinDefer, fu.Schedule))
	}
	if err != nil {
		p := problem.New(problem.QueueUnavailable, "The sync could not be deferred (its wait in the follow-up queue was not sent); try again later.")
		p.Err = err
		return Failure{P: about(req, p), attempt: attemptSync}
	}
	d := Deferred{RequestedAt: r.requestedAt, SyncAt: syncAt, FollowUp: &FollowUpRef{ID: m.ID, Targets: append([]followup.Target{}, targets.List()...)}, refused: r}
	if len(targets.List()) > 0 || note == followUpRefused {
		d.ChatFollowUp, d.ready = note, a.readyNote(req)
	}
	if r.settings != nil {
		d.lastTrigger = before
	}
	return d
}

// Deferred is a request deferred to the next sync (SPEC §16).
type Deferred struct {
	RequestedAt time.Time
	// SyncAt is when the next sync is allowed (Graph's 429), or when the request looks again
	// (a 409: a sync runs).
	SyncAt       time.Time
	FollowUp     *FollowUpRef
	ChatFollowUp chatNote
	ready        *readyNote
	// refused is Graph's refusal; lastTrigger the trigger time the deferral saw (zero: unknown).
	refused     Refused
	lastTrigger time.Time
}

// deferred is a deferral's answer and result.
type deferred struct {
	Result      autopilot.Result `json:"result"`
	RequestedAt time.Time        `json:"requestedAt"`
	SyncAt      time.Time        `json:"syncAt"`
	FollowUp    *FollowUpRef     `json:"followUp"`
}

func (d Deferred) doc() deferred {
	return deferred{Result: autopilot.Deferred, RequestedAt: d.RequestedAt, SyncAt: d.SyncAt, FollowUp: d.FollowUp}
}

// HTTP is 202 {"result":"deferred",…}.
func (d Deferred) HTTP() Answer { return jsonAnswer(http.StatusAccepted, d.doc()) }

// Lambda is the same document: no error, there is nothing to retry.
func (d Deferred) Lambda() (json.RawMessage, error) { return lambdaResult(d.doc()) }

// Log writes code deferred and counts the refusal and the deferral.
func (d Deferred) Log(l *Line) {
	Failure{P: d.refused.P}.Log(l)
	l.Code, l.Level, l.Status = string(autopilot.Deferred), slog.LevelInfo, 0
	d.refused.count(l, 1)
	l.Add(slog.String("followUpId", d.FollowUp.ID))
}

// Words say when the last sync ran (or that one runs), when the next starts, and whether the end
// will be posted here.
func (d Deferred) Words(st chat.Style, now time.Time) chat.Words {
	var b strings.Builder
	if d.refused.Result == autopilot.InProgress {
		b.WriteString("A sync is running")
		if !d.lastTrigger.IsZero() {
			fmt.Fprintf(&b, " (started %s)", chat.Past(d.lastTrigger, now))
		}
		b.WriteString("; the next starts when it has finished and Intune allows one")
		if !d.lastTrigger.IsZero() {
			fmt.Fprintf(&b, " (%s at the earliest)", chat.Future(autopilot.NextSyncAllowedAt(d.lastTrigger), now))
		}
	} else {
		if !d.lastTrigger.IsZero() {
			fmt.Fprintf(&b, "A sync ran at %s; ", chat.Past(d.lastTrigger, now))
		} else {
			b.WriteString("Intune allows one manual sync every 10 minutes; ")
		}
		fmt.Fprintf(&b, "the next starts at %s", chat.Future(d.SyncAt, now))
	}
	switch d.ChatFollowUp {
	case followUpComing:
		if d.ready != nil {
			b.WriteString("." + d.ready.words())
		} else {
			b.WriteString(" and I'll tell you when it ends.")
		}
	case followUpRefused:
		b.WriteString(". No follow-up will come: this command's reply address is not an allowed one; use " + st.Code("status") + " to follow it.")
	default:
		b.WriteString(". Use " + st.Code("status") + " to follow it.")
	}
	return words(b.String())
}

// checkDeferred serves one check of a deferred request (SPEC §16): it reads the settings once,
// then merges the request into a sync triggered after it, waits on, ends it (timedOut, or a
// permanent error), or asks Graph for the sync itself. Its line logs outcome deferred, merged
// or started (or the end it found).
func (a *Actions) checkDeferred(ctx context.Context, req *Request, m followup.Message, now time.Time) Result {
	s := a.d.FollowUp.Schedule
	in, reading, p := a.readForFollowUp(ctx, req)
	res := FollowUpResult{ID: m.ID, Result: autopilot.Deferred, Problem: p, Deferral: &DeferralCheck{}}
	d := followup.Defer(m, reading, now, s)
	switch d.Step {
	case followup.StepMerge:
		return a.merged(ctx, d.Message, reading, now, res)
	case followup.StepEnd:
		res.Checked = true
		return a.carryOut(ctx, d.Plan, res)
	case followup.StepSync:
		return a.syncDeferred(ctx, in, req, m, res)
	}
	return a.carryOut(ctx, d.Plan, res) // a wait, or a read to retry
}

// syncDeferred asks Graph for the sync that serves the deferred request m: 204 starts its
// follow-up; 409 and 429 merge it into a trigger now visible or defer it again; a transient
// failure retries the check; another failure ends it with outcome error.
func (a *Actions) syncDeferred(ctx context.Context, in Intune, req *Request, m followup.Message, res FollowUpResult) Result {
	s := a.d.FollowUp.Schedule
	res.Deferral.Asked = true
	// The sync is triggered at the latest when Graph answers: its follow-up counts from the
	// moment asked, as Actions.sync's does (the 5 s of skew allowed on top).
	now := a.d.Now().UTC()
	err := call(ctx, in, req, true, func(c *graph.Client) (*graph.Response, error) { return c.Sync(ctx) })
	if err == nil {
		res.Result, res.Checked, res.Deferral.Synced = autopilot.Started, true, autopilot.Started
		return a.carryOut(ctx, followup.Triggered(m, now, s), res)
	}
	r, ok := a.refused(ctx, in, req, err).(Refused)
	if !ok {
		p := about(req, problem.Of(err))
		res.Problem = p
		if p.Code.Transient() {
			return res // SQS delivers the record again: the check asks again
		}
		res.Checked = true
		return a.carryOut(ctx, followup.Defer(m, followup.Reading{Code: p.Code}, now, s).Plan, res)
	}
	res.Deferral.Synced = r.Result
	if r.settings == nil {
		if st, err := getSettings(ctx, in, req, false); err == nil {
			r.settings = &st
		}
	}
	var reading followup.Reading
	if r.settings != nil {
		reading.Settings = *r.settings
	} else {
		reading.Code = problem.GraphUnavailable // nothing to merge with: wait on
	}
	var nextAllowed time.Time
	if r.P.NextSyncAllowedAt != nil {
		nextAllowed = *r.P.NextSyncAllowedAt
	}
	d := followup.Refused(m, reading, now, nextAllowed, r.Result == autopilot.InProgress, s)
	if d.Step == followup.StepMerge {
		return a.merged(ctx, d.Message, reading, now, res)
	}
	return a.carryOut(ctx, d.Plan, res)
}

// merged follows the request merged into a sync triggered after it: the merged message is that
// sync's follow-up, decided with the same reading (it may have ended already).
func (a *Actions) merged(ctx context.Context, m followup.Message, r followup.Reading, now time.Time, res FollowUpResult) Result {
	res.Result, res.Checked, res.Deferral.Merged = autopilot.Merged, true, true
	return a.carryOut(ctx, followup.Decide(m, r, now, a.d.FollowUp.Schedule), res)
}
