package action

import (
	"log/slog"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/outbound"
)

// The log line and the metrics of a follow-up check (SPEC §13, §15, §16).

// The outcomes of followed syncs (SPEC §13): 0 or 1 on each check's line, and the duration.
const (
	MetricSyncOutcomeCompleted = "SyncOutcomeCompleted"
	MetricSyncOutcomeFailed    = "SyncOutcomeFailed"
	MetricSyncOutcomeTimedOut  = "SyncOutcomeTimedOut"
	MetricSyncDurationSeconds  = "SyncDurationSeconds"
	// MetricDeliveryFailures counts the deliveries of a round that did not go through, and
	// MetricDeliveriesGivenUp the targets given up: on the line of every round that delivered.
	MetricDeliveryFailures  = "DeliveryFailures"
	MetricDeliveriesGivenUp = "DeliveriesGivenUp"
	// MetricSyncMerged is 1 on the line of a deferred request's check that found a sync someone
	// else triggered after it (SPEC §16), 0 on the other checks of deferred requests.
	MetricSyncMerged = "SyncMerged"
	// MetricDevicesReady and MetricDevicesNotReady are 0 or 1 on each device check's line (SPEC
	// §15), MetricDeviceWaitSeconds the time from the request to the report.
	MetricDevicesReady      = "DevicesReady"
	MetricDevicesNotReady   = "DevicesNotReady"
	MetricDeviceWaitSeconds = "DeviceWaitSeconds"
	// MetricDevicesImported and MetricDeviceImportFailed count, on an import check's line, the
	// imports that ended at it registered or failed (SPEC §17).
	MetricDevicesImported    = "DevicesImported"
	MetricDeviceImportFailed = "DeviceImportFailed"
)

// Log writes the outcome, the follow-up id, the sync's duration and how each delivery went
// (target names and statuses, never a URL); a check that decided adds the outcome metrics.
func (f FollowUpResult) Log(l *Line) {
	l.Code = "ok"
	if p := f.Problem; p != nil {
		Failure{P: p}.Log(l)
	}
	l.Add(slog.String("outcome", string(f.Result)), slog.String("followUpId", f.ID))
	if f.SyncDurationSeconds != nil {
		l.Add(slog.Int64("syncDurationSeconds", *f.SyncDurationSeconds))
	}
	if len(f.Deliveries) > 0 {
		ds := make([]map[string]any, len(f.Deliveries))
		for i, d := range f.Deliveries {
			ds[i] = map[string]any{"target": string(d.Target), "verdict": d.Verdict.String()}
			if d.Status != 0 {
				ds[i]["status"] = d.Status
			}
			if d.Err != nil {
				ds[i]["error"] = d.Err.Error()
			}
		}
		l.Add(slog.Any("deliveries", ds))
	}
	if len(f.GaveUp) > 0 {
		names := make([]string, len(f.GaveUp))
		for i, t := range f.GaveUp {
			names[i] = string(t)
		}
		l.Add(slog.Any("gaveUp", names))
	}
	if len(f.Deliveries) > 0 || len(f.GaveUp) > 0 {
		failures := 0
		for _, d := range f.Deliveries {
			if d.Verdict != outbound.Delivered {
				failures++
			}
		}
		l.Count(MetricDeliveryFailures, failures)
		l.Count(MetricDeliveriesGivenUp, len(f.GaveUp))
	}
	if d := f.Deferral; d != nil {
		merged := 0
		if d.Merged {
			merged = 1
		}
		l.Count(MetricSyncMerged, merged)
		if d.Asked {
			is := func(r autopilot.Result) int {
				if d.Synced == r {
					return 1
				}
				return 0
			}
			syncCounts(l, is(autopilot.Started), is(autopilot.InProgress), is(autopilot.Throttled), is(""), 0)
		}
	}
	if f.DeviceCheck || f.DeviceWaitSeconds != nil { // a device check, or an import check that reported
		f.logDevices(l)
	}
	if f.ImportCheck {
		l.Count(MetricDevicesImported, f.Imported)
		l.Count(MetricDeviceImportFailed, f.ImportFailed)
		if f.NotDeleted > 0 {
			l.Add(slog.Int("recordsNotDeleted", f.NotDeleted))
		}
	}
	if f.DeviceCheck || f.ImportCheck {
		return
	}
	if !f.Checked {
		return
	}
	for _, c := range []struct {
		name string
		r    autopilot.Result
	}{{MetricSyncOutcomeCompleted, autopilot.Completed}, {MetricSyncOutcomeFailed, autopilot.Failed}, {MetricSyncOutcomeTimedOut, autopilot.TimedOut}} {
		n := 0
		if f.Result == c.r {
			n = 1
		}
		l.Count(c.name, n)
	}
	if f.SyncDurationSeconds != nil {
		l.Metrics = append(l.Metrics, Metric{Name: MetricSyncDurationSeconds, Unit: "Seconds", Value: slog.Int64Value(*f.SyncDurationSeconds)})
	}
}

// logDevices writes a device check's counts, and the wait once the devices were reported.
func (f FollowUpResult) logDevices(l *Line) {
	is := func(r autopilot.Result) int {
		if f.Result == r {
			return 1
		}
		return 0
	}
	l.Count(MetricDevicesReady, is(autopilot.DevicesReady))
	l.Count(MetricDevicesNotReady, is(autopilot.DevicesNotReady))
	if f.DeviceWaitSeconds != nil {
		l.Add(slog.Int64("deviceWaitSeconds", *f.DeviceWaitSeconds))
		l.Metrics = append(l.Metrics, Metric{Name: MetricDeviceWaitSeconds, Unit: "Seconds", Value: slog.Int64Value(*f.DeviceWaitSeconds)})
	}
}
