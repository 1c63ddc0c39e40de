// Package api is the edge of both functions: it reads each invocation once (an HTTP request, a
// chat command, a schedule, a direct invocation, an SQS record), checks HTTP callers and limits
// each to what its scheme may do (SPEC §6), selects the row of the action table
// (package action) that serves it, runs it, writes the answer its source needs from the typed
// result, and writes the invocation's one log line (SPEC §12).
//
// One *Function serves net/http (cmd/local) and Lambda (Invoke; lambdahttp translates the HTTP
// shapes). It never talks to Graph or Key Vault itself (the actions do, through their
// dependencies), never reads the environment (the wiring package does, through config), and
// never puts an error's text into an answer.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/webhook"
)

// Callers checks HTTP callers (SPEC §6). Check returns the scheme whose valid credentials the
// request carries, or the problem of a refusal (webhook.Checker in production).
type Callers interface {
	Check(ctx context.Context, r *http.Request, body []byte) (webhook.Scheme, error)
}

// Deps are what a Function needs: the actions' dependencies, and the caller checks.
type Deps struct {
	action.Deps
	// Callers checks HTTP callers; nil lets every caller in only when AllowUnauthenticated is set.
	Callers              Callers
	AllowUnauthenticated bool
	// CallerChecksConfigured tells, when Err is set and Callers is not, that caller checks were
	// configured: requests then answer misconfigured, not unauthorized.
	CallerChecksConfigured bool
}

// Function is one Lambda function's handler. It is safe for concurrent use.
type Function struct {
	fn      autopilot.Function
	d       Deps
	actions *action.Actions
	warm    atomic.Bool
}

// New returns the handler of function fn.
func New(fn autopilot.Function, d Deps) *Function {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Function{fn: fn, d: d, actions: action.New(fn, d.Deps)}
}

// coldStart reports whether this is the process's first invocation.
func (f *Function) coldStart() bool { return !f.warm.Swap(true) }

const (
	// deadlineMargin is kept free before the Lambda deadline to encode and return the answer.
	deadlineMargin = 500 * time.Millisecond
	// localBudget bounds an invocation that has no deadline (cmd/local).
	localBudget = 29 * time.Second
)

// withBudget bounds the work of one invocation: the Lambda deadline less a margin to answer in,
// or API Gateway's limit where there is no deadline.
func withBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, deadline.Add(-deadlineMargin))
	}
	return context.WithTimeout(ctx, localBudget)
}
