package api

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// MaxWait is the longest ?wait a caller may ask for (SPEC §5), below API Gateway's 30 s limit.
const MaxWait = 25 * time.Second

// Results of a followed sync.
const (
	ResultCompleted  = "completed"
	ResultFailed     = "failed"
	ResultInProgress = "inProgress"
)

const (
	// firstPoll and maxPoll bound the backoff between reads of the settings.
	firstPoll = 500 * time.Millisecond
	maxPoll   = 3 * time.Second
	// clockSkew tolerates Graph's clock running behind ours when telling our sync's completion
	// apart from an older one: a 204 proves no other manual sync ran in the last 10 minutes.
	clockSkew = 5 * time.Second
)

// Outcome is the answer to a followed sync: its result and the settings last read.
type Outcome struct {
	Result            string    `json:"result"`
	RequestedAt       time.Time `json:"requestedAt"`
	NextSyncAllowedAt time.Time `json:"nextSyncAllowedAt"`
	Status
}

// parseWait reads ?wait=N (whole seconds, 0 to 25). Absent means 0.
func parseWait(q url.Values) (time.Duration, *problem.Problem) {
	v, ok := q["wait"]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(v[0])
	if len(v) != 1 || err != nil || n < 0 || n > int(MaxWait/time.Second) {
		return 0, problem.New(problem.BadRequest, "wait must be a whole number of seconds from 0 to 25.")
	}
	return time.Duration(n) * time.Second, nil
}

// follow reads the settings with backoff until the sync that started at s.RequestedAt has
// completed or failed, or until wait (or the request's budget) runs out. A read that fails or
// is cut short by the deadline leaves the answer at inProgress: the sync itself did start.
func (f *Function) follow(ctx context.Context, in Intune, s Started, wait time.Duration) Outcome {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	out := Outcome{Result: ResultInProgress, RequestedAt: s.RequestedAt, NextSyncAllowedAt: s.NextSyncAllowedAt,
		Status: Status{SyncStatus: graph.SyncStatusInProgress, LastManualSyncTriggerDateTime: s.RequestedAt}}
	delay := firstPoll
	for {
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return out
		case <-timer.C:
		}
		settings, err := in.Get(ctx)
		if err == nil {
			out.Status = NewStatus(settings, f.d.Now())
			if finished(settings, s.RequestedAt) {
				out.Result = string(settings.SyncStatus)
				return out
			}
		}
		delay = min(delay*2, maxPoll)
	}
}

// finished reports whether settings show the end of the sync requested at requestedAt.
func finished(settings graph.Settings, requestedAt time.Time) bool {
	done := settings.SyncStatus == graph.SyncStatusCompleted || settings.SyncStatus == graph.SyncStatusFailed
	return done && !settings.LastSyncDateTime.Before(requestedAt.Add(-clockSkew))
}
