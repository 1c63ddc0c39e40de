package action

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/notify"
	"github.com/autopilot-sync/autopilot-sync/internal/outbound"
)

// TestFollowUpLineMetrics: a round that delivered counts its failed deliveries and its give-ups
// (DeliveryFailures, DeliveriesGivenUp); a check that only reschedules writes neither.
func TestFollowUpLineMetrics(t *testing.T) {
	t.Parallel()
	metrics := func(f FollowUpResult) map[string]int64 {
		var l Line
		f.Log(&l)
		out := map[string]int64{}
		for _, m := range l.Metrics {
			if m.Value.Kind() == slog.KindInt64 {
				out[m.Name] = m.Value.Int64()
			}
		}
		return out
	}
	round := FollowUpResult{ID: "f-1", Result: autopilot.Completed, Checked: true,
		Deliveries: []notify.Delivery{
			{Target: followup.Callback, Verdict: outbound.Delivered, Status: 204},
			{Target: followup.Teams, Verdict: outbound.Retry, Status: 503, Err: errors.New("teams answered 503")},
			{Target: followup.Slack, Verdict: outbound.Blocked, Err: errors.New("slack: not allowed")},
		},
		GaveUp: []followup.Target{followup.Slack}}
	got := metrics(round)
	if got[MetricDeliveryFailures] != 2 || got[MetricDeliveriesGivenUp] != 1 || got[MetricSyncOutcomeCompleted] != 1 {
		t.Errorf("metrics of a delivery round: %v", got)
	}
	if got := metrics(FollowUpResult{ID: "f-1", Result: autopilot.Pending, Checked: true}); got[MetricDeliveryFailures] != 0 || len(got) != 3 {
		t.Errorf("metrics of a pending check: %v, want the three outcome counts only", got)
	}
}
