package followup

import (
	"math"
	"slices"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Reading is what one check learnt from one read of the settings.
type Reading struct {
	// Settings are the settings read, when Code is "".
	Settings graph.Settings
	// Code is the problem code (SPEC §5, §11) of a read that failed; "" when it succeeded. A
	// transient one (problem.Code.Transient: Graph 5xx after retries, Key Vault down, a
	// timeout) has the message delivered again; any other ends the follow-up with an error.
	Code problem.Code
}

// Notice is one report to one target.
type Notice struct {
	Target Target
	// URL is the Slack response_url or the callback URL; empty for Teams, whose URL lives in
	// Key Vault. A secret for logging purposes.
	URL string
	// ID, Tenant and RequestedAt are the follow-up's.
	ID          string
	Tenant      string
	RequestedAt time.Time
	// Outcome is what to report; nil for Slack's one "still running" notice.
	Outcome *Outcome
	// Waiting marks the notices of a deferred request that no sync serves (SPEC §16): Slack's
	// notice says it still waits, an outcome that no sync started.
	Waiting bool
	// Serials are a request's serials (SPEC §15); Devices, in Slack's notice of a device check,
	// their readiness so far (a report carries it in Outcome).
	Serials []string
	Devices []autopilot.Readiness
}

// StillRunning reports whether n is Slack's notice that the sync still runs after 29 minutes.
func (n Notice) StillRunning() bool { return n.Outcome == nil }

// Plan is what to do with one follow-up message: deliver Notices, then Settle.
type Plan struct {
	// Retry: the settings could not be read for a transient reason. List the record in
	// batchItemFailures so that SQS delivers it again; nothing else happens.
	Retry bool
	// Outcome is the follow-up's outcome; nil while the sync runs (log outcome "pending").
	Outcome *Outcome
	// Notices are the reports to deliver now, at most one per target.
	Notices []Notice
	// GaveUp lists the targets dropped without a try: Slack after its 30 minutes.
	GaveUp []Target

	message Message // the message decided, with the outcome once known
	now     time.Time
	next    *Message // the next check, while pending
	delay   time.Duration
}

// Settlement is what remains after a plan's deliveries.
type Settlement struct {
	// Next, when not nil, is the message to send with Delay (SQS DelaySeconds: DelaySeconds).
	Next  *Message
	Delay time.Duration
	// GaveUp lists the targets still owed that will not be tried again: log them as given up.
	GaveUp []Target
}

// Decide says what to do with message m at now, given r, what the check read (ignored when
// m already carries an outcome: then only deliveries remain and nothing is read). Decide is
// deterministic: a duplicate of a message, decided at the same time, gets the same plan.
func Decide(m Message, r Reading, now time.Time, s Schedule) Plan {
	now = now.UTC()
	if m.Outcome != nil {
		return deliver(m, now)
	}
	if r.Code != "" {
		if r.Code.Transient() {
			return Plan{Retry: true, message: m, now: now}
		}
		return end(m, Outcome{Result: autopilot.Error, At: now, Code: r.Code}, now)
	}
	st := r.Settings
	if autopilot.Finished(st, m.Since()) {
		o := Outcome{Result: autopilot.Completed, At: now, SyncStatus: string(st.SyncStatus), LastSyncDateTime: timePtr(st.LastSyncDateTime)}
		if st.SyncStatus == graph.SyncStatusFailed {
			o.Result = autopilot.Failed
		}
		seconds := int64(max(math.Round(st.LastSyncDateTime.Sub(m.Since()).Seconds()), 0))
		o.SyncDurationSeconds = &seconds
		return end(m, o, now)
	}
	deadline := m.RequestedAt.Add(s.maxAge(m))
	if !now.Before(deadline) {
		o := Outcome{Result: autopilot.TimedOut, At: now, SyncStatus: string(st.SyncStatus)}
		if !st.LastSyncDateTime.IsZero() {
			o.LastSyncDateTime = timePtr(st.LastSyncDateTime)
		}
		return end(m, o, now)
	}
	return pending(m, now, deadline)
}

// pending plans the next check of a sync that still runs, and Slack's 29-minute notice.
func pending(m Message, now, deadline time.Time) Plan {
	return waiting(m, now, deadline, after(m.Attempt))
}

// waiting plans the next check of m after delay (never past deadline), and Slack's 29-minute
// notice.
func waiting(m Message, now, deadline time.Time, delay time.Duration) Plan {
	p := Plan{message: m, now: now}
	next := m
	next.Attempt = min(m.Attempt+1, maxAttempt)
	slackNotice := m.RequestedAt.Add(SlackNoticeAfter)
	if m.Targets.Slack != "" && !now.Before(slackNotice) {
		if now.Before(m.RequestedAt.Add(SlackExpiry)) {
			p.Notices = append(p.Notices, notice(m, Slack, nil))
		} else {
			p.GaveUp = append(p.GaveUp, Slack)
		}
		next.Targets = next.Targets.without(Slack)
	}
	delay = min(delay, deadline.Sub(now))
	if next.Targets.Slack != "" {
		delay = min(delay, slackNotice.Sub(now))
	}
	p.next, p.delay = &next, queueDelay(delay)
	return p
}

// deliver plans the delivery of m's outcome to every target m still names.
func deliver(m Message, now time.Time) Plan {
	p := Plan{Outcome: m.Outcome, message: m, now: now}
	for _, t := range m.Targets.List() {
		if t == Slack && !slackOpen(m, now) {
			p.GaveUp = append(p.GaveUp, Slack)
			p.message.Targets = p.message.Targets.without(Slack)
			continue
		}
		p.Notices = append(p.Notices, notice(m, t, m.Outcome))
	}
	return p
}

// Message returns the message the plan is about, carrying the outcome once known; its
// Attempt is the check's number, or the delivery round's once an outcome is known (for logs).
func (p Plan) Message() Message { return p.message }

// Settle returns what remains once the plan's notices were delivered, again listing the
// targets whose delivery failed in a way worth another try (outbound.Retry: a 5xx, a timeout,
// a connection failure). A pending plan's next check comes whatever happened to Slack's
// still-running notice, which is never repeated. A failed outcome delivery is tried again
// after the backoff delay, for targets still owed only, until an hour after the outcome;
// Slack only within its 30 minutes.
func (p Plan) Settle(again []Target) Settlement {
	if p.Retry {
		return Settlement{}
	}
	if p.Outcome == nil || p.next != nil { // still checking (a sync's end goes on to its devices)
		return Settlement{Next: p.next, Delay: p.delay}
	}
	var owed Targets
	for _, n := range p.Notices {
		if slices.Contains(again, n.Target) {
			owed = owe(owed, p.message.Targets, n.Target)
		}
	}
	list := owed.List()
	if len(list) == 0 {
		return Settlement{}
	}
	deadline := p.Outcome.At.Add(DeliveryWindow)
	if !p.now.Before(deadline) {
		return Settlement{GaveUp: list}
	}
	delay := queueDelay(min(after(p.message.Attempt), deadline.Sub(p.now)))
	var gaveUp []Target
	if owed.Slack != "" && !p.now.Add(delay).Before(p.message.RequestedAt.Add(SlackExpiry)) {
		owed, gaveUp = owed.without(Slack), []Target{Slack}
	}
	if len(owed.List()) == 0 {
		return Settlement{GaveUp: gaveUp}
	}
	next := p.message
	next.Targets, next.Attempt = owed, min(p.message.Attempt+1, maxAttempt)
	return Settlement{Next: &next, Delay: delay, GaveUp: gaveUp}
}

// owe adds target t, as from, to owed.
func owe(owed, from Targets, t Target) Targets {
	switch t {
	case Slack:
		owed.Slack = from.Slack
	case Teams:
		owed.Teams = from.Teams
	case Callback:
		owed.Callback = from.Callback
	}
	return owed
}

// withOutcome returns m carrying outcome o, at its first delivery round. The serials decided
// before are in o now: the message does not carry them twice.
func withOutcome(m Message, o Outcome) Message {
	m.Outcome, m.Attempt = &o, 1
	if m.Devices != nil {
		m.Devices = &DeviceChecks{SyncResult: m.Devices.SyncResult}
	}
	return m
}

// slackOpen reports whether m's response_url still works at now.
func slackOpen(m Message, now time.Time) bool {
	return now.Before(m.RequestedAt.Add(SlackExpiry))
}

func notice(m Message, t Target, o *Outcome) Notice {
	n := Notice{Target: t, ID: m.ID, Tenant: m.Tenant, RequestedAt: m.RequestedAt, Outcome: o, Waiting: m.Deferred != nil, Serials: m.Serials}
	switch t {
	case Slack:
		n.URL = m.Targets.Slack
	case Callback:
		n.URL = m.Targets.Callback
	}
	return n
}

func timePtr(t time.Time) *time.Time {
	t = t.UTC()
	return &t
}
