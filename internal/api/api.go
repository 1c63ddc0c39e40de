// Package api is the request path of both functions, one straight line: event → caller check →
// action → Graph → answer (SPEC §5–§8, §11). The actions are rows of one table (actions.go):
// which function serves each, how each source selects it, and its handler. A handler returns a
// typed Outcome; HTTP, chat, scheduled, direct and SQS answers are renderings of it, and one
// record (record.go) writes the invocation's log line for every source.
//
// One *Function serves net/http (cmd/local) and Lambda (Invoke, which only translates event
// shapes through lambdahttp). It never talks to Graph directly: it calls an Intune; it never
// reads the environment (the wiring package does, through config); and it never puts an
// error's text into an answer.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/diagnose"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/webhook"
)

// Intune is one tenant's windowsAutopilotSettings (tenant.Tenant in production). Each call
// returns what it saw of Graph and Key Vault beside its value.
type Intune interface {
	Get(ctx context.Context) (graph.Settings, tenant.Call, error)
	Update(ctx context.Context, u graph.SettingsUpdate) (graph.Settings, tenant.Call, error)
	Sync(ctx context.Context) (tenant.Call, error)
}

// Callers checks HTTP callers (SPEC §6). Check returns the scheme whose valid credentials the
// request carries, or the problem of a refusal (webhook.Checker in production).
type Callers interface {
	Check(ctx context.Context, r *http.Request, body []byte) (webhook.Scheme, error)
}

// Enqueuer sends a batch of messages to the fleet's SQS queue (SPEC §11 fan-out; awssqs.Queue in
// production), each labelled for its errors, and returns how many it sent.
type Enqueuer interface {
	SendBatchNamed(ctx context.Context, bodies [][]byte, labels []string) (int, error)
}

// Deps are what a Function needs: Tenants (or, for one tenant, Intune), or Err.
type Deps struct {
	// Tenants selects the tenant of a request; nil means Single{Intune, TenantID}.
	Tenants Tenants
	Intune  Intune
	// Fleet enqueues one sync per tenant (SPEC §11 fan-out); nil when FLEET_QUEUE_URL is unset.
	Fleet Enqueuer
	// FollowUp follows syncs to their end (SPEC §13); nil when FOLLOWUP_QUEUE_URL is unset.
	FollowUp *FollowUp
	// Err is the configuration error found at cold start: every request answers 500 misconfigured.
	Err error
	// Callers checks HTTP callers; nil lets every caller in only when AllowUnauthenticated is set.
	Callers              Callers
	AllowUnauthenticated bool
	// CallerChecksConfigured tells, when Err is set and Callers is not, that caller checks were
	// configured: requests then answer misconfigured, not unauthorized.
	CallerChecksConfigured bool
	// TenantID is the single tenant's id (GRAPH_TENANT_ID), by which it may be selected too.
	TenantID string
	// Diagnose runs the checks of SPEC §14 for a function, given Err (nil when the configuration
	// loaded), and returns the report (diagnose.Run in production, built by the wiring package
	// even when Err is set). Nil answers diagnose with misconfigured.
	Diagnose func(ctx context.Context, function diagnose.Function, err error) diagnose.Report
	Log      *slog.Logger
	Now      func() time.Time
}

// Kind says which function a Function is.
type Kind string

// The two functions.
const (
	KindSync   Kind = "sync"
	KindStatus Kind = "status"
)

// Function is one Lambda function's handler. It is safe for concurrent use.
type Function struct {
	kind Kind
	d    Deps
	warm atomic.Bool
	// allow is the Allow header: the function's HTTP methods in the action table.
	allow string
}

// New returns the handler of the function kind.
func New(kind Kind, d Deps) *Function {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Tenants == nil {
		d.Tenants = Single{Intune: d.Intune, TenantID: d.TenantID}
	}
	return &Function{kind: kind, d: d, allow: allowOf(kind)}
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
