package followup_test

import (
	"fmt"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

// Example follows a sync started from Slack with a callback: pending at the first check,
// completed at the second; the callback's receiver answers 503 once and gets it a minute later.
func Example() {
	requestedAt := time.Date(2026, 11, 28, 17, 5, 0, 0, time.UTC)
	schedule := followup.DefaultSchedule()
	m := followup.New("0b5c8f0e-5a8e-4d47-9d43-1c2b6a1f9e11", "contoso", requestedAt, followup.Targets{
		Slack:    "https://hooks.slack.com/commands/T0001/1234/abcd",
		Callback: "https://contoso.service-now.com/api/x_autopilot/done",
	})
	now := requestedAt.Add(schedule.FirstDelay())
	for range 5 {
		reading := followup.Reading{Settings: graph.Settings{SyncStatus: "inProgress", LastSyncDateTime: requestedAt.Add(-time.Hour)}}
		if now.Sub(requestedAt) >= 2*time.Minute {
			reading = followup.Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: requestedAt.Add(110 * time.Second)}}
		}
		if !m.NeedsCheck() {
			reading = followup.Reading{} // a delivery retry reads nothing
		}
		plan := followup.Decide(m, reading, now, schedule)
		var again []followup.Target
		for _, n := range plan.Notices {
			fmt.Printf("%s: tell %s\n", now.Format("15:04:05"), n)
			if n.Target == followup.Callback && plan.Message().Attempt == 1 {
				again = append(again, n.Target) // 503 the first time
			}
		}
		if plan.Outcome == nil {
			fmt.Printf("%s: pending\n", now.Format("15:04:05"))
		}
		s := plan.Settle(again)
		if s.Next == nil {
			fmt.Printf("%s: done\n", now.Format("15:04:05"))
			return
		}
		m, now = *s.Next, now.Add(s.Delay)
	}
	// Output:
	// 17:06:00: pending
	// 17:07:00: tell slack completed 0b5c8f0e-5a8e-4d47-9d43-1c2b6a1f9e11
	// 17:07:00: tell callback completed 0b5c8f0e-5a8e-4d47-9d43-1c2b6a1f9e11
	// 17:08:00: tell callback completed 0b5c8f0e-5a8e-4d47-9d43-1c2b6a1f9e11
	// 17:08:00: done
}
