package action

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// The checks of an import (SPEC §17): read the records whose import runs, delete those that
// ended, import a StorageError once more, then the sync or the report (import.go has the request).

// checkImports serves one import check: it reads every running import at once, deletes the
// records whose import ended, imports a StorageError's device once more, and once every import
// has ended hands the request to the sync (a deferral) or, when none registered, reports.
func (a *Actions) checkImports(ctx context.Context, req *Request, m followup.Message, now time.Time) Result {
	s := a.d.FollowUp.Schedule
	res := FollowUpResult{ID: m.ID, Result: autopilot.Importing, ImportCheck: true}
	in, p := a.selectTenant(ctx, req)
	if p != nil {
		res.Problem = p
		if p.Code.Transient() {
			return res
		}
		return a.carryOut(ctx, followup.ReportImportError(m, p.Code, now), res)
	}
	if m.Import.Ended {
		return a.toSync(ctx, in, req, m, now, res)
	}
	reading, problems := a.readImports(ctx, in, req, m.Running())
	step := followup.DecideImports(m, reading, now, s)
	switch {
	case step.Retry:
		res.Problem = firstProblem(problems)
		return res
	case step.Code != "":
		res.Problem = firstProblem(problems)
		return a.carryOut(ctx, followup.ReportImportError(m, step.Code, now), res)
	}
	deleted := a.deleteRecords(ctx, in, req, step.Delete)
	reimported := a.reimport(ctx, in, req, step.Reimports(deleted))
	out := step.Settle(deleted, reimported, s)
	res.Imported, res.ImportFailed = out.Registered, out.Failed
	if missed := len(step.Delete) - len(deleted); missed > 0 {
		res.NotDeleted = missed
	}
	if out.Ended {
		return a.toSync(ctx, in, req, out.Next, now, res)
	}
	return a.sendNext(ctx, out.Next, out.Delay, res)
}

// toSync goes on with a request whose imports have all ended: when no device registered, the
// report; else a wait for a sync triggered after the settings' last trigger, read now (a
// deferral, SPEC §16). A read that fails for now sends the message again, its imports ended,
// for a check that only reads the settings: records already deleted are never read again.
func (a *Actions) toSync(ctx context.Context, in Intune, req *Request, m followup.Message, now time.Time, res FollowUpResult) Result {
	if !m.Registered() {
		return a.carryOut(ctx, followup.ReportImports(m, now), res)
	}
	settings, err := getSettings(ctx, in, req, false)
	if err != nil {
		res.Problem = problem.Of(err)
		if !res.Problem.Code.Transient() {
			return a.carryOut(ctx, followup.ReportImportError(m, res.Problem.Code, now), res)
		}
		return res // SQS delivers the record again: the check reads again (sending m too forked the follow-up)
	}
	res.Result = autopilot.Imported
	return a.sendNext(ctx, followup.ToSync(m, settings.LastManualSyncTriggerDateTime.UTC()), time.Second, res)
}

// sendNext sends m after delay; a message that cannot be sent has the record delivered again.
func (a *Actions) sendNext(ctx context.Context, m followup.Message, delay time.Duration, res FollowUpResult) Result {
	body, err := m.Encode()
	if err == nil {
		err = a.d.FollowUp.Queue.Send(ctx, body, delay)
	}
	if err != nil {
		p := problem.New(problem.QueueUnavailable, "The next follow-up message could not be sent; the record will be delivered again.")
		p.Err = err
		res.Problem = p
	}
	return res
}

// readImports reads each record of ids at once.
func (a *Actions) readImports(ctx context.Context, in Intune, req *Request, ids []string) (followup.ImportReading, []*problem.Problem) {
	out := make(followup.ImportReading, len(ids))
	var mu sync.Mutex
	var problems []*problem.Problem
	each(ctx, in, req, ids, func(c *graph.Client, id string) (*graph.Response, error) {
		d, r, err := c.GetImported(ctx, id)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			out[id] = followup.RecordReading{State: d.State}
		case isNotFound(err):
			out[id] = followup.RecordReading{Gone: true}
		default:
			p := problem.Of(err)
			out[id] = followup.RecordReading{Code: p.Code}
			problems = append(problems, p)
		}
		return r, err
	})
	return out, problems
}

// deleteRecords deletes the records of ids at once and returns those now gone (deleted, or gone
// already: a duplicate delivery deleted them).
func (a *Actions) deleteRecords(ctx context.Context, in Intune, req *Request, ids []string) []string {
	var mu sync.Mutex
	var gone []string
	each(ctx, in, req, ids, func(c *graph.Client, id string) (*graph.Response, error) {
		r, err := c.DeleteImported(ctx, id)
		if err == nil || isNotFound(err) {
			mu.Lock()
			gone = append(gone, id)
			mu.Unlock()
		}
		return r, err
	})
	return gone
}

// reimport imports the devices of a StorageError once more (one Graph call, never retried) and
// maps each serial to its new record id ("" when that import failed).
func (a *Actions) reimport(ctx context.Context, in Intune, req *Request, recs []followup.ImportRecord) map[string]string {
	if len(recs) == 0 {
		return nil
	}
	devices := make([]graph.ImportedDevice, len(recs))
	for i, r := range recs {
		devices[i] = graph.ImportedDevice{SerialNumber: r.SerialNumber, HardwareIdentifier: r.HardwareHash, GroupTag: r.GroupTag, AssignedUserPrincipalName: r.AssignedUser}
	}
	var records []graph.ImportedDevice
	err := call(ctx, in, req, false, func(c *graph.Client) (r *graph.Response, err error) {
		records, r, err = c.Import(ctx, devices)
		return r, err
	})
	out := make(map[string]string, len(recs))
	for _, d := range devices {
		if err == nil {
			out[d.SerialNumber] = idOf(records, d.SerialNumber)
		} else {
			out[d.SerialNumber] = ""
		}
	}
	return out
}

// each runs fn for every id at once, each call's times added to req's.
func each(ctx context.Context, in Intune, req *Request, ids []string, fn func(*graph.Client, string) (*graph.Response, error)) {
	atOnce(req, len(ids), func(i int, r *Request) {
		_ = call(ctx, in, r, false, func(c *graph.Client) (*graph.Response, error) { return fn(c, ids[i]) })
	})
}

// isNotFound reports whether err is Graph's 404.
func isNotFound(err error) bool {
	var ge *graph.Error
	return errors.As(err, &ge) && ge.StatusCode == http.StatusNotFound
}

func firstProblem(ps []*problem.Problem) *problem.Problem {
	if len(ps) == 0 {
		return nil
	}
	return ps[0]
}
