// Package autopilot is the domain vocabulary of autopilot-sync, said once: the status document
// of SPEC §5 and its rules (nextManualSyncAllowedAt, canSyncNow), when a sync has finished, the
// result kinds of a sync, and how a tenant is selected (SPEC §11). Every other package imports it;
// it imports only the Graph wire types. It never does I/O.
package autopilot

import (
	"errors"
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

// Result is what became of a sync (SPEC §5, §8, §13).
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
)

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

// Errors of selecting a tenant (SPEC §11).
var (
	// ErrNoTenantSelected: a deployment with a registry was asked about no tenant.
	ErrNoTenantSelected = errors.New("no tenant selected")
	// ErrUnknownTenant: no tenant of that name or id is configured.
	ErrUnknownTenant = errors.New("unknown tenant")
)
