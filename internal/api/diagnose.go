package api

import (
	"context"
	"errors"

	"github.com/autopilot-sync/autopilot-sync/internal/diagnose"
)

// diagnose checks every link of this function's chain (SPEC §14) and answers the report, whose
// failed checks are part of the answer, not a Lambda error. It runs even when the configuration
// is broken (Action.runsMisconfigured): that is its first check. It starts no sync and writes
// nothing; the invocation line carries the first failed check's code and the Graph answer of
// graphRead.
func (f *Function) diagnose(ctx context.Context, _ *request) Outcome {
	if f.d.Diagnose == nil {
		return failed(misconfigured(errors.New("diagnose is not wired: api.Deps.Diagnose is nil")))
	}
	report := f.d.Diagnose(ctx, diagnose.Function(f.kind), f.d.Err)
	return Outcome{Diagnose: &report, Calls: Calls{Graph: report.Graph, GraphTime: report.Graph.Duration}}
}
