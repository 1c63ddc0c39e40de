package action

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/diagnose"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

// Intune is one tenant's Graph (tenant.Tenant in production): Do runs a call of graph.Client's
// methods with the tenant's client (rotation included) and returns what it saw of Graph and Key
// Vault. Its errors know their problem (problem.Of).
type Intune interface {
	Do(ctx context.Context, call func(*graph.Client) (*graph.Response, error)) (tenant.Call, error)
}

// Enqueuer sends a batch of messages to the fleet's SQS queue (SPEC §11 fan-out; awssqs.Queue in
// production), each labelled for its errors, and returns how many it sent.
type Enqueuer interface {
	SendBatchNamed(ctx context.Context, bodies [][]byte, labels []string) (int, error)
}

// Deps are what the actions need: Tenants (or, for one tenant, Intune), or Err.
type Deps struct {
	// Tenants selects the tenant of a request; nil means Single{Intune, TenantID}.
	Tenants Tenants
	Intune  Intune
	// TenantID is the single tenant's id (GRAPH_TENANT_ID), by which it may be selected too.
	TenantID string
	// Fleet enqueues one sync per tenant (SPEC §11 fan-out); nil when FLEET_QUEUE_URL is unset.
	// FleetARN is that queue's ARN: only its records are fleet messages.
	Fleet    Enqueuer
	FleetARN string
	// SenderID, when set, is the unique id of the function's role (SYNC_ROLE_ID): a queue record
	// is taken only when SQS says that role sent it (its SenderId is the id, or the id and ":" and
	// the role session), so that a message sent by anyone else is dropped.
	SenderID string
	// FollowUp follows syncs to their end (SPEC §13); nil when FOLLOWUP_QUEUE_URL is unset.
	FollowUp *FollowUp
	// DeferWhenBusy defers a sync that Graph refuses with 409 or 429 (SYNC_WHEN_BUSY=defer, SPEC
	// §16), unless a request says otherwise (?defer=false). It needs FollowUp.
	DeferWhenBusy bool
	// Err is the configuration error found at cold start: every action but those that run
	// anyway (Row.RunsMisconfigured) answers 500 misconfigured.
	Err error
	// Diagnose runs the checks of SPEC §14 for a function, given Err (nil when the configuration
	// loaded), and returns the report (diagnose.Run in production, built by the wiring package
	// even when Err is set). Nil answers diagnose with misconfigured.
	Diagnose func(ctx context.Context, function autopilot.Function, err error) diagnose.Report
	// Stop, when closed, ends every ?wait at once with what it knows (cmd/local closes it when
	// it stops, so a waiting client gets its answer before the server closes).
	Stop <-chan struct{}
	Log  *slog.Logger
	Now  func() time.Time
}

// Actions runs the rows of Table for one function. It is safe for concurrent use.
type Actions struct {
	fn autopilot.Function
	d  Deps
	// allow is the function's Allow header, from the table.
	allow string
}

// New returns the actions of function fn.
func New(fn autopilot.Function, d Deps) *Actions {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Tenants == nil {
		d.Tenants = Single{Intune: d.Intune, TenantID: d.TenantID}
	}
	return &Actions{fn: fn, d: d, allow: Allow(fn)}
}

// Misconfigured is the configuration error found at cold start (nil when it loaded).
func (a *Actions) Misconfigured() error { return a.d.Err }

// Run runs row for req: a function whose configuration is broken answers misconfigured, but for
// the rows that run anyway. ctx bounds the work (the edge gives it the invocation's budget).
func (a *Actions) Run(ctx context.Context, row *Row, req *Request) Result {
	if a.d.Err != nil && !row.RunsMisconfigured {
		return Failure{P: problem.Misconfiguration(a.d.Err), redeliver: row.KeepsMessages}
	}
	return row.Run(a, ctx, req)
}

// Request is an invocation as the actions see it, whatever its source: the edge reads the event
// once into it, and the handler adds what it learns.
type Request struct {
	Source autopilot.Source
	// Tenant selects a tenant: ?tenant, a chat tenant word, a direct or scheduled "tenant", a
	// fleet message's; "" none.
	Tenant string
	// Query holds the query parameters the row's HTTP trigger declares.
	Query Query
	// ContentType and Body are an HTTP request's; CallbackURL is the callbackUrl of a JSON POST
	// body, decoded with the body once (nil when absent).
	ContentType string
	Body        []byte
	CallbackURL json.RawMessage
	// Chat is a Slack or Teams command; ChatWait is "sync wait"; BadTenant a tenant word that is
	// neither a registry name nor a tenant id (refused, never echoed); SSLCheck is Slack's check
	// of the command's URL.
	Chat      chat.Command
	ChatWait  bool
	BadTenant bool
	SSLCheck  bool
	// Message is an SQS record's body; MessageID its id.
	Message   []byte
	MessageID string

	// Calls is what the action saw of Graph and Key Vault; TenantName the registry name of the
	// tenant it acted on (fleet deployments). The handler fills both; the log line reads them.
	Calls      Calls
	TenantName string

	// values are what the row's triggers read for its handler (Value).
	values map[*byte]any
}

// Calls adds up what an action's calls saw of Graph and Key Vault, for the log line.
type Calls struct {
	// Graph is the answer that identifies the action (the sync's, not the reads after it).
	Graph     graph.Response
	GraphTime time.Duration
	VaultTime time.Duration
}

// add takes in a tenant call. A primary call's Graph answer identifies the action; the reads that
// explain a 409 or 429, or follow a sync, only add their time.
func (c *Calls) add(call tenant.Call, primary bool) {
	if (primary || c.Graph == graph.Response{}) && call.Graph != (graph.Response{}) {
		c.Graph = call.Graph
	}
	c.GraphTime += call.GraphTime
	c.VaultTime += call.VaultTime
}

// merge adds other's times (a fleet status adds up its tenants).
func (c *Calls) merge(other Calls) {
	c.GraphTime += other.GraphTime
	c.VaultTime += other.VaultTime
}

// call runs fn on in's Graph client and adds what it saw to req's calls.
func call(ctx context.Context, in Intune, req *Request, primary bool, fn func(*graph.Client) (*graph.Response, error)) error {
	c, err := in.Do(ctx, fn)
	req.Calls.add(c, primary)
	return err
}

// getSettings reads the tenant's windowsAutopilotSettings.
func getSettings(ctx context.Context, in Intune, req *Request, primary bool) (graph.Settings, error) {
	var s graph.Settings
	err := call(ctx, in, req, primary, func(c *graph.Client) (r *graph.Response, err error) { s, r, err = c.Get(ctx); return r, err })
	return s, err
}
