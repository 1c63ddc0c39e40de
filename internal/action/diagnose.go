package action

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/diagnose"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// diagnoseChain checks every link of this function's chain (SPEC §14) and answers the report,
// whose failed checks are part of the answer, not a Lambda error. It runs even when the
// configuration is broken (its first check says so). It starts no sync and writes nothing.
func diagnoseChain(a *Actions, ctx context.Context, req *Request) Result {
	if a.d.Diagnose == nil {
		return failed(problem.Misconfiguration(errors.New("diagnose is not wired: action.Deps.Diagnose is nil")))
	}
	report := a.d.Diagnose(ctx, a.fn, a.d.Err)
	req.Calls = Calls{Graph: report.Graph, GraphTime: report.Graph.Duration}
	return Report(report)
}

// Report is the diagnose report as a result.
type Report diagnose.Report

// HTTP is not reached (diagnose is a direct invocation); it is 200 with the report.
func (r Report) HTTP() Answer { return jsonAnswer(http.StatusOK, diagnose.Report(r)) }

// Lambda is the report, whatever its checks found.
func (r Report) Lambda() (json.RawMessage, error) { return lambdaResult(diagnose.Report(r)) }

// Words are not reached; they say whether every check passed.
func (r Report) Words(chat.Style, time.Time) chat.Words {
	if r.OK {
		return words("Every check passed.")
	}
	return words("Failed checks: " + strings.Join(diagnose.Report(r).Failed(), ", ") + ".")
}

// Log writes the first failed check's code and, as a warning, the failed checks.
func (r Report) Log(l *Line) {
	l.Code = "ok"
	rep := diagnose.Report(r)
	if c, failed := rep.FirstFailure(); failed {
		l.Code = string(c.Code)
	}
	if !r.OK {
		l.Level = slog.LevelWarn
		l.Add(slog.String("failedChecks", strings.Join(rep.Failed(), ",")))
	}
}
