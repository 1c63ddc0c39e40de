package action

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// status serves GET /status, a scheduled status, {"action":"status"} and `status [tenant]`: the
// status document.
func status(a *Actions, ctx context.Context, req *Request) Result {
	if p := badTenant(req); p != nil {
		return failed(p)
	}
	in, p := a.selectTenant(ctx, req)
	if p != nil {
		return failed(p)
	}
	return a.readStatus(ctx, in, req)
}

// readStatus reads one tenant's settings into its status document.
func (a *Actions) readStatus(ctx context.Context, in Intune, req *Request) Result {
	s, err := getSettings(ctx, in, req, true)
	if err != nil {
		return Failure{P: about(req, problem.Of(err)), attempt: attemptRead}
	}
	return StatusDoc(autopilot.NewStatus(s, a.d.Now()))
}

// StatusDoc is the status document of SPEC §5 as a result.
type StatusDoc autopilot.Status

// HTTP is 200 with the document.
func (s StatusDoc) HTTP() Answer { return jsonAnswer(http.StatusOK, autopilot.Status(s)) }

// Lambda is the document itself (a scheduled status, {"action":"status"}).
func (s StatusDoc) Lambda() (json.RawMessage, error) { return lambdaResult(autopilot.Status(s)) }

// Log writes code ok.
func (s StatusDoc) Log(l *Line) { l.Code = "ok" }

// Words says how the last sync went and when the next manual sync is allowed.
func (s StatusDoc) Words(st chat.Style, now time.Time) chat.Words {
	now = now.UTC()
	var lines []string
	last := ""
	if !s.LastSyncDateTime.IsZero() {
		last = fmt.Sprintf("%s (%s)", chat.Past(s.LastSyncDateTime, now), chat.Ago(now.Sub(s.LastSyncDateTime)))
	}
	switch {
	case s.SyncStatus == graph.SyncStatusCompleted && last != "":
		lines = append(lines, "Last sync completed at "+last+".")
	case s.SyncStatus == graph.SyncStatusCompleted:
		lines = append(lines, "Last sync completed.")
	case s.SyncStatus == graph.SyncStatusFailed && last != "":
		lines = append(lines, "Last sync failed at "+last+": "+chat.IntuneHint+".")
	case s.SyncStatus == graph.SyncStatusFailed:
		lines = append(lines, "Last sync failed: "+chat.IntuneHint+".")
	default:
		switch s.SyncStatus {
		case graph.SyncStatusInProgress:
			lines = append(lines, "A sync is running.")
		case graph.SyncStatusUnknown, "":
			lines = append(lines, "Sync status is unknown.")
		default: // a value Graph added later: shown as it is
			lines = append(lines, "Sync status: "+st.Echo(string(s.SyncStatus))+".")
		}
		if last != "" {
			lines = append(lines, "Last sync: "+last+".")
		} else {
			lines = append(lines, "No sync has been recorded yet.")
		}
	}
	if t := s.LastManualSyncTriggerDateTime; !t.IsZero() {
		lines = append(lines, fmt.Sprintf("Last manual sync requested at %s (%s).", chat.Past(t, now), chat.Ago(now.Sub(t))))
	} else {
		lines = append(lines, "No manual sync has been requested yet.")
	}
	next := s.NextManualSyncAllowedAt
	switch {
	case s.CanSyncNow:
		lines = append(lines, "You can sync now.")
	case next != nil && next.After(now):
		line := fmt.Sprintf("Next manual sync allowed in %s (%s)", chat.In(next.Sub(now)), chat.Future(*next, now))
		if s.SyncStatus == graph.SyncStatusInProgress {
			line += ", once the running sync has finished"
		}
		lines = append(lines, line+".")
	case s.SyncStatus == graph.SyncStatusInProgress:
		lines = append(lines, "You can sync again once the running sync has finished.")
	default:
		lines = append(lines, "Next manual sync allowed in less than a minute.")
	}
	return chat.Words{Paragraphs: lines}
}

// update serves PATCH /status: the Graph update, answered with the status document.
func update(a *Actions, ctx context.Context, req *Request) Result {
	u, p := parseUpdate(req.ContentType, req.Body)
	if p != nil {
		return failed(p)
	}
	in, p := a.selectTenant(ctx, req)
	if p != nil {
		return failed(p)
	}
	var s graph.Settings
	err := call(ctx, in, req, true, func(c *graph.Client) (r *graph.Response, err error) { s, r, err = c.Update(ctx, u); return r, err })
	if err != nil {
		return failed(about(req, problem.Of(err)))
	}
	return StatusDoc(autopilot.NewStatus(s, a.d.Now()))
}
