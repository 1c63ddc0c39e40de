package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/notify"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Queue sends a message with a delay (the follow-up queue of SPEC §13: awssqs.Queue in
// production, an in-process delayed queue in cmd/local).
type Queue interface {
	Send(ctx context.Context, body []byte, delay time.Duration) error
}

// FollowUp follows every sync Graph accepted to its end and tells whoever asked (SPEC §13).
type FollowUp struct {
	Queue    Queue
	Schedule followup.Schedule
	// SlackPrefixes are SLACK_RESPONSE_URL_PREFIXES: a slash command's response_url is used only
	// under one of them.
	SlackPrefixes []notify.Prefix
	// Teams is set when TEAMS_NOTIFY_URL_SECRET_NAME is: a sync started from Teams is reported
	// to that Workflows URL.
	Teams bool
	// Callbacks returns the allowed callback prefixes (CALLBACK_TARGETS_SECRET_NAME); nil when
	// callbacks are not configured.
	Callbacks func(ctx context.Context) ([]notify.Prefix, error)
	// Loopback lets a callbackUrl on a loopback host through without Callbacks: cmd/local on its
	// embedded emulator only.
	Loopback bool
	// Deliver sends one notice (notify.Sender.Deliver).
	Deliver func(ctx context.Context, n followup.Notice) notify.Delivery
}

// FollowUpOutcome is what a follow-up check (or delivery round) did, for the log line.
type FollowUpOutcome struct {
	ID string
	// Result is the outcome, or pending while the sync runs.
	Result followup.Result
	// Checked is set when the settings were read and decided on (a check, not a delivery
	// round): only then are the outcome metrics written, so each outcome counts once.
	Checked             bool
	SyncDurationSeconds *int64
	Deliveries          []notify.Delivery
	GaveUp              []followup.Target
}

// FollowUpRef is what a sync answer says of its follow-up.
type FollowUpRef struct {
	ID      string            `json:"id"`
	Targets []followup.Target `json:"targets"`
}

const kindFollowUp = followup.Kind

// callbackBody is the part of a POST /sync body that asks for a callback.
type callbackBody struct {
	CallbackURL json.RawMessage `json:"callbackUrl"`
}

// callbackTarget reads a callbackUrl from a POST /sync body and checks it (SPEC §13): https,
// under an allowed prefix, and only when callbacks are configured; otherwise a 400, before any
// sync. A body without callbackUrl, or not JSON, asks for none.
func (f *Function) callbackTarget(ctx context.Context, contentType string, body []byte) (string, *problem.Problem) {
	var b callbackBody
	if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &b) != nil || b.CallbackURL == nil {
		return "", nil
	}
	var raw string
	if json.Unmarshal(b.CallbackURL, &raw) != nil {
		return "", problem.New(problem.BadRequest, "callbackUrl must be a string: an https URL under one of the allowed prefixes.")
	}
	fu := f.d.FollowUp
	if fu == nil || (fu.Callbacks == nil && !fu.Loopback) {
		return "", problem.New(problem.BadRequest, "callbackUrl is not accepted here: this deployment has no callback targets configured (FOLLOWUP_QUEUE_URL and CALLBACK_TARGETS_SECRET_NAME).")
	}
	if fu.Loopback {
		if _, err := notify.MatchLoopback(raw); err == nil {
			return raw, nil
		}
	}
	if fu.Callbacks == nil {
		return "", problem.New(problem.BadRequest, "callbackUrl must be an http(s) URL on a loopback host here (the embedded emulator).")
	}
	prefixes, err := fu.Callbacks(ctx)
	if err != nil {
		return "", classify(err)
	}
	if _, err := notify.MatchCallback(prefixes, raw); err != nil {
		p := problem.New(problem.BadRequest, "callbackUrl is not allowed.")
		var ue *notify.URLError
		if errors.As(err, &ue) {
			p = problem.New(problem.BadRequest, ue.Error()+"; a callbackUrl must be an https URL under one of the allowed prefixes.")
		}
		p.Err = fmt.Errorf("callbackUrl refused: %w", err) // the rule, for the log line (never the URL)
		return "", p
	}
	return raw, nil
}

// chatTargets says where the end of a sync started from chat goes, and what the answer says of
// it.
func (f *Function) chatTargets(cmd chat.Command) (followup.Targets, chat.FollowUp) {
	fu := f.d.FollowUp
	if fu == nil {
		return followup.Targets{}, chat.FollowUpUnsaid
	}
	switch cmd.Platform {
	case chat.Slack:
		if _, err := notify.MatchSlack(fu.SlackPrefixes, cmd.ResponseURL); err != nil {
			return followup.Targets{}, chat.FollowUpRefused
		}
		return followup.Targets{Slack: cmd.ResponseURL}, chat.FollowUpComing
	case chat.Teams:
		if fu.Teams {
			return followup.Targets{Teams: true}, chat.FollowUpComing
		}
	}
	return followup.Targets{}, chat.FollowUpUnsaid
}

// enqueueFollowUp sends the first check of a sync Graph accepted at requestedAt. It is best
// effort: the sync did start, so a queue that fails is logged and the answer says nothing of a
// follow-up.
func (f *Function) enqueueFollowUp(ctx context.Context, tenant string, requestedAt time.Time, targets followup.Targets) *FollowUpRef {
	fu := f.d.FollowUp
	m := followup.New(followup.NewID(), tenant, requestedAt, targets)
	body, err := m.Encode()
	if err == nil {
		err = fu.Queue.Send(ctx, body, fu.Schedule.FirstDelay())
	}
	if err != nil {
		f.d.Log.ErrorContext(ctx, "follow-up not enqueued: the sync started, its end will not be reported",
			slog.String("followUpId", m.ID), slog.String("error", err.Error()))
		return nil
	}
	return &FollowUpRef{ID: m.ID, Targets: append([]followup.Target{}, targets.List()...)}
}

// followUp serves one follow-up message (SPEC §13): reads the settings once (unless only
// deliveries remain), decides, reports an outcome to every target still owed, and sends the
// next message. A transient read failure is a transient problem (the record is redelivered);
// a malformed message is a bad request (logged and dropped).
func (f *Function) followUp(ctx context.Context, req *request) Outcome {
	now := f.d.Now()
	m, err := followup.Decode(req.message, now)
	if err != nil {
		p := problem.New(problem.BadRequest, "A follow-up message is malformed; it is dropped.")
		p.Err = fmt.Errorf("message %s: %w", req.messageID, err)
		return failed(p)
	}
	fu := f.d.FollowUp
	if fu == nil {
		return failed(misconfigured(&config.Error{Err: errors.New("FOLLOWUP_QUEUE_URL: not set, but a follow-up message arrived; set it to the queue the template created")}))
	}
	var o Outcome
	var reading followup.Reading
	if m.NeedsCheck() {
		if p := f.readForFollowUp(ctx, m.Tenant, &reading, &o.Calls); p != nil {
			o.Problem = p
		}
	}
	plan := followup.Decide(m, reading, now, fu.Schedule)
	fo := &FollowUpOutcome{ID: m.ID, Result: followup.Pending, Checked: m.NeedsCheck() && !plan.Retry}
	o.FollowUp, o.Tenant = fo, m.Tenant
	if plan.Retry {
		return o // o.Problem is transient: SQS delivers the record again
	}
	if out := plan.Outcome; out != nil {
		fo.Result, fo.SyncDurationSeconds = out.Result, out.SyncDurationSeconds
	}
	fo.Deliveries = deliverAll(ctx, fu, plan.Notices)
	var again []followup.Target
	for _, d := range fo.Deliveries {
		if d.Again() {
			again = append(again, d.Target)
		}
	}
	settled := plan.Settle(again)
	fo.GaveUp = append(plan.GaveUp, settled.GaveUp...)
	if next := settled.Next; next != nil {
		body, err := next.Encode()
		if err == nil {
			err = fu.Queue.Send(ctx, body, settled.Delay)
		}
		if err != nil {
			// The record is delivered again and decided anew: delivery is at least once.
			p := problem.New(QueueUnavailable, "The next follow-up message could not be sent; the record will be delivered again.")
			p.Err = err
			o.Problem = p
		}
	}
	return o
}

// readForFollowUp reads the tenant's settings into r; a failure becomes r's code and the
// problem returned.
func (f *Function) readForFollowUp(ctx context.Context, tenant string, r *followup.Reading, calls *Calls) *problem.Problem {
	in, _, p := f.selectTenant(ctx, tenant)
	if p == nil {
		s, call, err := in.Get(ctx)
		calls.add(call, true)
		if err == nil {
			r.SyncStatus, r.LastSyncDateTime = string(s.SyncStatus), s.LastSyncDateTime
			return nil
		}
		p = classify(err)
	}
	r.Code, r.Transient = string(p.Code), p.Code.Transient()
	return p
}

// deliverAll delivers the notices at once (each target gets at most 10 s, SPEC §13).
func deliverAll(ctx context.Context, fu *FollowUp, notices []followup.Notice) []notify.Delivery {
	out := make([]notify.Delivery, len(notices))
	var wg sync.WaitGroup
	for i, n := range notices {
		wg.Go(func() { out[i] = fu.Deliver(ctx, n) })
	}
	wg.Wait()
	return out
}
