// Package autopilot is the domain vocabulary of autopilot-sync, said once: the two functions and
// where an invocation comes from, the status document of SPEC §5 and its rules
// (nextManualSyncAllowedAt, canSyncNow), when a sync has finished, what became of a sync (one
// vocabulary for its answer and its follow-up), how a tenant is named and selected (SPEC §11),
// and how ready a serial's devices are (SPEC §15, devices.go). Every other package imports it; it
// imports only the Graph wire types and the problem codes. It never does I/O.
package autopilot

import (
	"errors"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

// SyncInterval is how often Intune allows a manual sync.
const SyncInterval = 10 * time.Minute

// ClockSkew tolerates Graph's clock running behind ours when telling the end of our sync apart
// from an older one: a 204 proves no other manual sync ran in the last 10 minutes.
const ClockSkew = 5 * time.Second

// MaxTime is the latest instant an answer can carry: encoding/json cannot encode a time past
// year 9999, and SPEC §5 wants such a time to be a 400 on input and never a 500.
var MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// Function is one of the two functions.
type Function string

// The two functions.
const (
	FunctionSync   Function = "sync"
	FunctionStatus Function = "status"
)

// Source is where an invocation came from, as the log line spells it (SPEC §12).
type Source string

// The sources of SPEC §12.
const (
	SourceHTTPAPI     Source = "httpApi"     // API Gateway HTTP API, payload 2.0
	SourceREST        Source = "rest"        // API Gateway REST API, payload 1.0
	SourceFunctionURL Source = "functionUrl" // Lambda Function URL
	SourceLocal       Source = "local"       // cmd/local's HTTP server
	SourceSlack       Source = "slack"       // a Slack slash command
	SourceTeams       Source = "teams"       // a Teams outgoing webhook
	SourceSchedule    Source = "schedule"    // EventBridge rule or Scheduler
	SourceDirect      Source = "direct"      // a direct invocation {"action":…}
	SourceSQS         Source = "sqs"         // one record of an SQS batch
	SourceUnknown     Source = "unknown"     // an invocation of no shape the functions take
)

// NoHTTPAnswer reports whether an invocation from s gets no HTTP answer (a schedule, a direct
// invocation, a queue record, or an event of no shape).
func (s Source) NoHTTPAnswer() bool {
	return s == SourceSchedule || s == SourceDirect || s == SourceSQS || s == SourceUnknown
}

// Result is what became of a sync, from its request to its follow-up's end (SPEC §5, §8, §13).
type Result string

// The results of a sync.
const (
	// Started: Graph accepted the sync (204).
	Started Result = "started"
	// InProgress: a sync is already running (Graph 409), or a followed sync has not finished.
	InProgress Result = "inProgress"
	// Throttled: Intune allows one manual sync every 10 minutes (Graph 429).
	Throttled Result = "throttled"
	// Completed and Failed: Intune reports the sync's end.
	Completed Result = "completed"
	Failed    Result = "failed"
	// TimedOut: the follow-up gave up waiting for the end (FOLLOWUP_MAX_AGE).
	TimedOut Result = "timedOut"
	// Error: the follow-up could not learn the end (a permanent failure, with a problem code).
	Error Result = "error"
	// Pending: a follow-up check found the sync still running and will look again.
	Pending Result = "pending"
	// Deferred: Graph refused the sync (409, 429) and the request waits for the next one
	// (SPEC §16); a check of it that found none it could be served by yet.
	Deferred Result = "deferred"
	// Merged: a deferred request is served by a sync someone else triggered after it.
	Merged Result = "merged"
	// Importing: devices are being imported (SPEC §17); Imported: every import has ended, and
	// the request waits for a sync.
	Importing Result = "importing"
	Imported  Result = "imported"
)

// Ended reports whether r is the end of a followed sync (completed, failed, timedOut or error).
func (r Result) Ended() bool {
	return r == Completed || r == Failed || r == TimedOut || r == Error
}

// Status is the status document of SPEC §5.
type Status struct {
	ID                            string           `json:"id"`
	SyncStatus                    graph.SyncStatus `json:"syncStatus"`
	LastSyncDateTime              time.Time        `json:"lastSyncDateTime"`
	LastManualSyncTriggerDateTime time.Time        `json:"lastManualSyncTriggerDateTime"`
	// NextManualSyncAllowedAt is lastManualSyncTriggerDateTime + 10 min, at most MaxTime; null
	// when no manual sync was ever triggered.
	NextManualSyncAllowedAt *time.Time `json:"nextManualSyncAllowedAt"`
	CanSyncNow              bool       `json:"canSyncNow"`
}

// NewStatus derives the status document from the settings at now. A trigger time so late that
// ten minutes after it cannot be encoded (Graph stores what it is sent) gives MaxTime, so a read
// never fails on what Graph holds.
func NewStatus(s graph.Settings, now time.Time) Status {
	st := Status{
		ID:                            s.ID,
		SyncStatus:                    s.SyncStatus,
		LastSyncDateTime:              s.LastSyncDateTime.UTC(),
		LastManualSyncTriggerDateTime: s.LastManualSyncTriggerDateTime.UTC(),
		CanSyncNow:                    s.SyncStatus != graph.SyncStatusInProgress,
	}
	if !s.LastManualSyncTriggerDateTime.IsZero() {
		next := NextSyncAllowedAt(st.LastManualSyncTriggerDateTime)
		st.NextManualSyncAllowedAt = &next
		st.CanSyncNow = st.CanSyncNow && !now.Before(next)
	}
	return st
}

// NextSyncAllowedAt is when Intune next allows a manual sync after one triggered at t: t + 10
// min, at most MaxTime.
func NextSyncAllowedAt(t time.Time) time.Time {
	if t.After(MaxTime.Add(-SyncInterval)) {
		return MaxTime
	}
	return t.Add(SyncInterval)
}

// Finished reports whether the settings show the end of the sync requested at requestedAt:
// syncStatus completed or failed, and lastSyncDateTime not older than the request (ClockSkew
// allowed).
func Finished(s graph.Settings, requestedAt time.Time) bool {
	done := s.SyncStatus == graph.SyncStatusCompleted || s.SyncStatus == graph.SyncStatusFailed
	return done && !s.LastSyncDateTime.Before(requestedAt.Add(-ClockSkew))
}

// AllTenants selects every tenant of the registry (GET /status?tenant=all, "tenants":"all").
const AllTenants = "all"

// IsTenantName reports whether s can name a tenant of the registry: 1–63 characters of
// [a-z0-9-] (SPEC §11). ("all" has this shape but selects every tenant.)
func IsTenantName(s string) bool {
	if len(s) == 0 || len(s) > maxTenantNameLength {
		return false
	}
	return isLabelChars(s)
}

// IsTenantID reports whether s (lower-case) is an Entra tenant id: a GUID or a verified domain
// such as contoso.onmicrosoft.com.
func IsTenantID(s string) bool { return IsGUID(s) || isDomain(s) }

// IsGUID reports whether s (lower-case) has the 8-4-4-4-12 hex shape.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

const (
	maxTenantNameLength = 63
	maxDomainLength     = 253
)

// isDomain reports whether s (lower-case) is a DNS name of at least two labels that is not an
// IP address.
func isDomain(s string) bool {
	if len(s) > maxDomainLength {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' || !isLabelChars(l) {
			return false
		}
	}
	tld := labels[len(labels)-1]
	return strings.Trim(tld, "0123456789") != ""
}

func isLabelChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Errors of selecting a tenant (SPEC §11).
var (
	// ErrNoTenantSelected: a deployment with a registry was asked about no tenant.
	ErrNoTenantSelected = errors.New("no tenant selected")
	// ErrUnknownTenant: no tenant of that name or id is configured.
	ErrUnknownTenant = errors.New("unknown tenant")
)
