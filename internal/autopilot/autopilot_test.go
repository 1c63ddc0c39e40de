package autopilot_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

var now = time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)

func TestFinished(t *testing.T) {
	t.Parallel()
	requested := now
	tests := []struct {
		name string
		s    graph.Settings
		want bool
	}{
		{"completed after the request", graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastSyncDateTime: now.Add(time.Minute)}, true},
		{"failed after the request", graph.Settings{SyncStatus: graph.SyncStatusFailed, LastSyncDateTime: now.Add(time.Second)}, true},
		{"completed within clock skew", graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastSyncDateTime: now.Add(-3 * time.Second)}, true},
		{"an older completion", graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastSyncDateTime: now.Add(-time.Hour)}, false},
		{"still running", graph.Settings{SyncStatus: graph.SyncStatusInProgress, LastSyncDateTime: now.Add(time.Minute)}, false},
		{"unknown", graph.Settings{SyncStatus: graph.SyncStatusUnknown, LastSyncDateTime: now.Add(time.Minute)}, false},
	}
	for _, tt := range tests {
		if got := autopilot.Finished(tt.s, requested); got != tt.want {
			t.Errorf("%s: Finished = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNewStatus(t *testing.T) {
	t.Parallel()
	at := func(t time.Time) *time.Time { return &t }
	tests := []struct {
		name string
		s    graph.Settings
		want autopilot.Status
	}{
		{
			name: "never triggered: no next time, can sync",
			s:    graph.Settings{ID: "id", SyncStatus: graph.SyncStatusCompleted},
			want: autopilot.Status{ID: "id", SyncStatus: graph.SyncStatusCompleted, CanSyncNow: true},
		},
		{
			name: "triggered 3 min ago: next in 7 min",
			s:    graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastManualSyncTriggerDateTime: now.Add(-3 * time.Minute)},
			want: autopilot.Status{SyncStatus: graph.SyncStatusCompleted, LastManualSyncTriggerDateTime: now.Add(-3 * time.Minute),
				NextManualSyncAllowedAt: at(now.Add(7 * time.Minute))},
		},
		{
			name: "in progress, long ago: cannot sync",
			s:    graph.Settings{SyncStatus: graph.SyncStatusInProgress, LastManualSyncTriggerDateTime: now.Add(-time.Hour)},
			want: autopilot.Status{SyncStatus: graph.SyncStatusInProgress, LastManualSyncTriggerDateTime: now.Add(-time.Hour),
				NextManualSyncAllowedAt: at(now.Add(-50 * time.Minute))},
		},
		{
			name: "a trigger time whose +10 min cannot be encoded: the latest time that can",
			s:    graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastManualSyncTriggerDateTime: time.Date(9999, 12, 31, 23, 55, 0, 0, time.UTC)},
			want: autopilot.Status{SyncStatus: graph.SyncStatusCompleted, LastManualSyncTriggerDateTime: time.Date(9999, 12, 31, 23, 55, 0, 0, time.UTC),
				NextManualSyncAllowedAt: at(autopilot.MaxTime)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, autopilot.NewStatus(tt.s, now)); diff != "" {
				t.Errorf("NewStatus (-want +got):\n%s", diff)
			}
		})
	}
}
