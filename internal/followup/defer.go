package followup

import (
	"hash/fnv"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

// A deferred request (SPEC §16) is accepted when Graph refuses its sync with 409 or 429, and is
// served by the first sync that Graph triggers after it, whoever triggers it. It waits in the
// queue as a message that keeps Before, the lastManualSyncTriggerDateTime its deferral saw
// (Graph's own time, so no clock skew enters). Each check of it reads the settings once and
// Defer says what comes next; nothing is stored outside the message.

const (
	// RecheckAfter is how long a deferred request waits after a 409, or while a sync runs.
	RecheckAfter = 60 * time.Second
	// MinDefer is the least the deferral of a request waits (SPEC §16: DelaySeconds 1-900 s).
	MinDefer = time.Second
	// MinRedefer is the least a re-deferral after a check's own refused sync waits (SPEC §16:
	// never less than 30 s from now).
	MinRedefer = 30 * time.Second
	// MaxSpread bounds Spread: a check comes at most 19 s after its time.
	MaxSpread = 20 * time.Second
)

// Spread is how long after its time a deferred request's check comes: 0-19 s, fixed by its id.
// Requests deferred to the same time (every one refused in a 10-minute window waits for the same
// next allowed sync) then do not all ask Graph at once: the first check's sync is visible to most
// of the others, which merge without a Graph call instead of meeting a 409.
func Spread(id string) time.Duration {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return time.Duration(h.Sum32()%uint32(MaxSpread/time.Second)) * time.Second
}

// DeferDelay is how long the deferred request m waits at now for the sync allowed at syncAt
// (after a 409: now + RecheckAfter), SPEC §16: until syncAt, never less than least (MinDefer for
// the request's deferral, MinRedefer for a check's own refused sync), then its Spread; never past
// FOLLOWUP_MAX_AGE from the request (its check then ends timedOut on time); in whole seconds, 1 to
// MaxDelay. The deferral of a request and every check that defers it again wait by it.
func DeferDelay(m Message, now, syncAt time.Time, least time.Duration, s Schedule) time.Duration {
	deadline := m.RequestedAt.Add(s.maxAge(m))
	return queueDelay(min(max(syncAt.Sub(now), least)+Spread(m.ID), deadline.Sub(now)))
}

// Step is what a check of a deferred request does.
type Step int

// The steps.
const (
	// StepWait: no sync serves the request yet, and none may be asked for now: deliver the
	// plan's notices (Slack's 29-minute one), then Settle: the request waits on.
	StepWait Step = iota + 1
	// StepMerge: a sync triggered after the request serves it, with no Graph call: Message is
	// now that sync's follow-up; Decide it with the same reading.
	StepMerge
	// StepSync: ask Graph for a sync; then Triggered (204) or Refused (409, 429).
	StepSync
	// StepEnd: the wait ended without a sync (timedOut past FOLLOWUP_MAX_AGE, or a permanent
	// error): deliver the plan, then Settle, as a follow-up's outcome.
	StepEnd
)

// Deferral is what to do with one check of a deferred request.
type Deferral struct {
	Step Step
	// Retry: the settings could not be read for a transient reason (as Plan.Retry).
	Retry bool
	// Message is, for StepMerge, the follow-up of the sync that serves the request.
	Message Message
	// Plan is, for StepWait and StepEnd, what to deliver and send.
	Plan Plan
}

// Defer says what a check of the deferred request m does at now, given r. In this order: a read
// that failed retries (transient) or ends (permanent); a trigger later than Before merges; past
// FOLLOWUP_MAX_AGE since the request it ends timedOut, no sync called; while a sync runs it waits
// RecheckAfter; else it asks for a sync.
func Defer(m Message, r Reading, now time.Time, s Schedule) Deferral {
	now = now.UTC()
	switch {
	case r.Code != "" && r.Code.Transient():
		return Deferral{Retry: true, Plan: Plan{Retry: true, message: m, now: now}}
	case r.Code != "":
		return Deferral{Step: StepEnd, Plan: end(m, Outcome{Result: autopilot.Error, At: now, Code: r.Code}, now)}
	}
	if merged, ok := merge(m, r.Settings); ok {
		return Deferral{Step: StepMerge, Message: merged}
	}
	deadline := m.RequestedAt.Add(s.maxAge(m))
	st := r.Settings
	switch {
	case !now.Before(deadline):
		o := Outcome{Result: autopilot.TimedOut, At: now, SyncStatus: string(st.SyncStatus)}
		if !st.LastSyncDateTime.IsZero() {
			o.LastSyncDateTime = timePtr(st.LastSyncDateTime)
		}
		return Deferral{Step: StepEnd, Plan: end(m, o, now)}
	case st.SyncStatus == graph.SyncStatusInProgress:
		return Deferral{Step: StepWait, Plan: waiting(m, now, deadline, RecheckAfter+Spread(m.ID))}
	}
	return Deferral{Step: StepSync}
}

// Triggered is the plan of a deferred request m whose check had Graph accept a sync at now: it is
// that sync's follow-up, triggered at now ("finished" allows §13's clock skew, as for a sync
// triggered at the request: autopilot.Finished), its first check after the schedule's first
// delay (SPEC §13). Its duration counts from now, as a merged one's counts from its trigger.
func Triggered(m Message, now time.Time, s Schedule) Plan {
	now = now.UTC()
	f := served(m, timePtr(now))
	f.Attempt = 0 // waiting adds one: the follow-up's first check
	p := waiting(f, now, m.RequestedAt.Add(s.maxAge(m)), s.FirstDelay())
	p.next.Attempt = 1
	return p
}

// Refused is what follows Graph's 409 (conflict) or 429 to a deferred request's sync, given r, a
// read after it: a trigger later than Before now visible merges; otherwise the request waits
// until nextAllowed (after a 409, or a 429 that named no time: RecheckAfter), never less than
// MinRedefer (DeferDelay).
func Refused(m Message, r Reading, now, nextAllowed time.Time, conflict bool, s Schedule) Deferral {
	now = now.UTC()
	if r.Code == "" {
		if merged, ok := merge(m, r.Settings); ok {
			return Deferral{Step: StepMerge, Message: merged}
		}
	}
	syncAt := now.Add(RecheckAfter)
	if !conflict && !nextAllowed.IsZero() {
		syncAt = nextAllowed
	}
	return Deferral{Step: StepWait, Plan: waiting(m, now, m.RequestedAt.Add(s.maxAge(m)), DeferDelay(m, now, syncAt, MinRedefer, s))}
}

// merge returns m as the follow-up of a sync triggered after its deferral saw Before: the one
// whose trigger the settings show.
func merge(m Message, st graph.Settings) (Message, bool) {
	t := st.LastManualSyncTriggerDateTime
	if t.IsZero() || m.Deferred == nil || m.Deferred.Before != nil && !t.After(*m.Deferred.Before) {
		return Message{}, false
	}
	f := served(m, timePtr(t))
	f.Attempt = 1
	return f, true
}

// served is m served by the sync triggered at triggeredAt.
func served(m Message, triggeredAt *time.Time) Message {
	m.Deferred, m.TriggeredAt = nil, triggeredAt
	return m
}
