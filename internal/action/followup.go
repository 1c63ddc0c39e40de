package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/notify"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// MessageQueue sends a message with a delay (the follow-up queue of SPEC §13: awssqs.Queue in
// production, an in-process delayed queue in cmd/local).
type MessageQueue interface {
	Send(ctx context.Context, body []byte, delay time.Duration) error
}

// CallbackTargets returns the allowed callback prefixes (CALLBACK_TARGETS_SECRET_NAME;
// notify.VaultSecrets in production).
type CallbackTargets interface {
	CallbackTargets(ctx context.Context) ([]notify.Prefix, error)
}

// FollowUp follows every sync Graph accepted to its end and tells whoever asked (SPEC §13).
type FollowUp struct {
	Queue MessageQueue
	// QueueARN is the queue's ARN: only its records are follow-up messages.
	QueueARN string
	Schedule followup.Schedule
	// SlackPrefixes are SLACK_RESPONSE_URL_PREFIXES: a slash command's response_url is used only
	// under one of them.
	SlackPrefixes []notify.Prefix
	// Teams is set when TEAMS_NOTIFY_URL_SECRET_NAME is: a sync started from Teams is reported
	// to that Workflows URL.
	Teams bool
	// Callbacks gives the allowed callback prefixes; nil when callbacks are not configured.
	Callbacks CallbackTargets
	// Loopback lets a callbackUrl on a loopback host through without Callbacks: cmd/local on its
	// embedded emulator only.
	Loopback bool
	// Deliver sends one notice (notify.Sender.Deliver).
	Deliver func(ctx context.Context, n followup.Notice) notify.Delivery
}

// FollowUpRef is what a sync answer says of its follow-up.
type FollowUpRef struct {
	ID      string            `json:"id"`
	Targets []followup.Target `json:"targets"`
}

// chatNote is what a chat answer to a sync says of the follow-up.
type chatNote int

const (
	// followUpUnsaid: follow-ups are off, or none applies: the answer says nothing.
	followUpUnsaid chatNote = iota
	// followUpComing: the outcome will be posted here when the sync ends.
	followUpComing
	// followUpRefused: the platform's reply address is not an allowed one: none will come.
	followUpRefused
)

// callbackTarget checks a callbackUrl from a POST /sync body (SPEC §13): a string, https, under
// an allowed prefix, and only when callbacks are configured; otherwise a 400, before any sync.
// raw is nil when the body asked for none.
func (a *Actions) callbackTarget(ctx context.Context, raw json.RawMessage) (string, *problem.Problem) {
	if raw == nil {
		return "", nil
	}
	var target string
	if json.Unmarshal(raw, &target) != nil {
		return "", problem.New(problem.BadRequest, "callbackUrl must be a string: an https URL under one of the allowed prefixes.")
	}
	fu := a.d.FollowUp
	if fu == nil || (fu.Callbacks == nil && !fu.Loopback) {
		return "", problem.New(problem.BadRequest, "callbackUrl is not accepted here: this deployment has no callback targets configured (FOLLOWUP_QUEUE_URL and CALLBACK_TARGETS_SECRET_NAME).")
	}
	if fu.Loopback {
		_, err := notify.MatchLoopback(target)
		switch {
		case err == nil:
			return target, nil
		case fu.Callbacks == nil:
			return "", refusedCallback(err, "a callbackUrl must be an http(s) URL on a loopback host here (the embedded emulator)")
		}
	}
	prefixes, err := fu.Callbacks.CallbackTargets(ctx)
	if err != nil {
		return "", problem.Of(err)
	}
	if _, err := notify.MatchCallback(prefixes, target); err != nil {
		return "", refusedCallback(err, "a callbackUrl must be an https URL under one of the allowed prefixes")
	}
	return target, nil
}

// refusedCallback is the 400 of a callbackUrl that err refused: its rule, then what is wanted.
func refusedCallback(err error, want string) *problem.Problem {
	p := problem.New(problem.BadRequest, "callbackUrl is not allowed; "+want+".")
	var ue *notify.URLError
	if errors.As(err, &ue) {
		p = problem.New(problem.BadRequest, ue.Error()+"; "+want+".")
	}
	p.Err = fmt.Errorf("callbackUrl refused: %w", err) // the rule, for the log line (never the URL)
	return p
}

// chatTargets says where the end of a sync started from chat goes, and what the answer says of
// it.
func (a *Actions) chatTargets(cmd chat.Command) (followup.Targets, chatNote) {
	fu := a.d.FollowUp
	if fu == nil {
		return followup.Targets{}, followUpUnsaid
	}
	switch cmd.Platform {
	case autopilot.SourceSlack:
		if _, err := notify.MatchSlack(fu.SlackPrefixes, cmd.ResponseURL); err != nil {
			return followup.Targets{}, followUpRefused
		}
		return followup.Targets{Slack: cmd.ResponseURL}, followUpComing
	case autopilot.SourceTeams:
		if fu.Teams {
			return followup.Targets{Teams: true}, followUpComing
		}
	}
	return followup.Targets{}, followUpUnsaid
}

// enqueueFollowUp sends the first check of a sync Graph accepted at requestedAt. It is best
// effort: the sync did start, so a queue that fails is logged and the answer says nothing of a
// follow-up.
func (a *Actions) enqueueFollowUp(ctx context.Context, req *Request, requestedAt time.Time, targets followup.Targets) *FollowUpRef {
	fu := a.d.FollowUp
	m := withSerials(followup.New(followup.NewID(), req.TenantName, requestedAt, targets), req)
	body, err := m.Encode()
	if err == nil {
		err = fu.Queue.Send(ctx, body, fu.Schedule.FirstDelay())
	}
	if err != nil {
		a.d.Log.ErrorContext(ctx, "follow-up not enqueued: the sync started, its end will not be reported",
			slog.String("followUpId", m.ID), slog.String("error", err.Error()))
		return nil
	}
	return &FollowUpRef{ID: m.ID, Targets: append([]followup.Target{}, targets.List()...)}
}

// followUp serves one follow-up message (SPEC §13): reads the settings once (unless only
// deliveries remain), decides, reports an outcome to every target still owed, and sends the
// next message. A transient read failure is redelivered; a malformed message is logged and
// dropped; a broken configuration keeps the record (redelivered, then in the dead-letter queue)
// so that fixing it loses no caller's report.
func followUp(a *Actions, ctx context.Context, req *Request) Result {
	now := a.d.Now()
	m, err := followup.Decode(req.Message, now)
	if err != nil {
		p := problem.New(problem.BadRequest, "A follow-up message is malformed; it is dropped.")
		p.Err = fmt.Errorf("message %s: %w", req.MessageID, err)
		return failed(p)
	}
	fu := a.d.FollowUp
	if fu == nil {
		return Failure{P: problem.Misconfiguration(configError("FOLLOWUP_QUEUE_URL: not set, but a follow-up message arrived; set it to the queue the template created")), redeliver: true}
	}
	req.Tenant, req.TenantName = m.Tenant, m.Tenant
	switch {
	case m.Deferred != nil && m.NeedsCheck():
		return a.checkDeferred(ctx, req, m, now)
	case m.Devices != nil && m.NeedsCheck():
		return a.checkDevices(ctx, req, m, now)
	case m.Import != nil && m.TriggeredAt == nil && m.NeedsCheck():
		return a.checkImports(ctx, req, m, now)
	}
	var reading followup.Reading
	var readProblem *problem.Problem
	if m.NeedsCheck() {
		_, reading, readProblem = a.readForFollowUp(ctx, req)
	}
	plan := followup.Decide(m, reading, now, fu.Schedule)
	res := FollowUpResult{ID: m.ID, Result: autopilot.Pending, Checked: m.NeedsCheck() && !plan.Retry, Problem: readProblem}
	return a.carryOut(ctx, plan, res)
}

// carryOut does what a plan says: nothing while the record must be delivered again; else it
// delivers the notices (an outcome or Slack's notice) and sends what remains (the next check, or
// the targets still owed). res says what the check did, and takes what came of it.
func (a *Actions) carryOut(ctx context.Context, plan followup.Plan, res FollowUpResult) Result {
	fu := a.d.FollowUp
	if plan.Retry {
		return res // the read's problem is transient: SQS delivers the record again
	}
	if out := plan.Outcome; out != nil {
		res.Result, res.SyncDurationSeconds = out.Result, out.SyncDurationSeconds
		if out.Devices != nil {
			seconds := int64(out.DeviceWait(plan.Message().RequestedAt).Seconds())
			res.DeviceWaitSeconds = &seconds
		}
	}
	res.Deliveries = deliverAll(ctx, fu, plan.Notices)
	var again []followup.Target
	for _, d := range res.Deliveries {
		if d.Again() {
			again = append(again, d.Target)
		}
	}
	settled := plan.Settle(again)
	res.GaveUp = append(plan.GaveUp, settled.GaveUp...)
	if next := settled.Next; next != nil {
		body, err := next.Encode()
		if err == nil {
			err = fu.Queue.Send(ctx, body, settled.Delay)
		}
		if err != nil {
			// The record is delivered again and decided anew: delivery is at least once.
			p := problem.New(problem.QueueUnavailable, "The next follow-up message could not be sent; the record will be delivered again.")
			p.Err = err
			res.Problem = p
		}
	}
	return res
}

// readForFollowUp selects the tenant and reads its settings; a failure is the reading's code and
// the problem returned.
func (a *Actions) readForFollowUp(ctx context.Context, req *Request) (Intune, followup.Reading, *problem.Problem) {
	in, p := a.selectTenant(ctx, req)
	if p == nil {
		s, err := getSettings(ctx, in, req, true)
		if err == nil {
			return in, followup.Reading{Settings: s}, nil
		}
		p = problem.Of(err)
	}
	return in, followup.Reading{Code: p.Code}, p
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

// FollowUpResult is what a follow-up check (or delivery round) did.
type FollowUpResult struct {
	ID string
	// Result is the outcome, or pending while the sync runs.
	Result autopilot.Result
	// Checked is set when the settings were read and decided on (a check, not a delivery
	// round): only then are the outcome metrics written, so each outcome counts once.
	Checked             bool
	SyncDurationSeconds *int64
	Deliveries          []notify.Delivery
	GaveUp              []followup.Target
	// Problem is a failed read of the settings (transient: the record is delivered again; else
	// the outcome is error) or a next message that could not be sent.
	Problem *problem.Problem
	// Deferral is set for a check of a deferred request (SPEC §16): it merged or asked Graph
	// for a sync (and what Graph said: started, inProgress, throttled, or failed).
	Deferral *DeferralCheck
	// DeviceCheck is set for a device check (SPEC §15): its line counts DevicesReady and
	// DevicesNotReady instead of the sync's outcomes, and DeviceWaitSeconds once reported.
	DeviceCheck       bool
	DeviceWaitSeconds *int64
	// ImportCheck is set for an import check (SPEC §17): Imported and ImportFailed count the
	// imports that ended at it (EMF DevicesImported, DeviceImportFailed), NotDeleted the records
	// it could not delete (tried again at the next check).
	ImportCheck                        bool
	Imported, ImportFailed, NotDeleted int
}

// DeferralCheck is what a check of a deferred request did besides the follow-up's own.
type DeferralCheck struct {
	Merged bool
	// Synced is Graph's answer to the sync the check asked for: started, inProgress, throttled,
	// or "" for another failure; unset (Asked false) when it asked none.
	Asked  bool
	Synced autopilot.Result
}

// retry reports whether SQS should deliver the record again.
func (f FollowUpResult) retry() bool {
	return f.Problem != nil && (f.Problem.Code.Transient())
}

// HTTP is not reached (a follow-up is a queue record); it is 200 with nothing.
func (f FollowUpResult) HTTP() Answer { return Answer{Status: http.StatusOK} }

// Words are not reached.
func (f FollowUpResult) Words(chat.Style, time.Time) chat.Words {
	return words("Follow-up " + f.ID + ": " + string(f.Result) + ".")
}

// Lambda fails the record when SQS should deliver it again.
func (f FollowUpResult) Lambda() (json.RawMessage, error) {
	if f.retry() {
		return nil, &InvocationError{Code: f.Problem.Code, Msg: f.Problem.Detail, Retry: true}
	}
	return nil, nil
}
