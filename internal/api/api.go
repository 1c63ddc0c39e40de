// Package api is the request path of both functions: event → caller check → action → Graph →
// answer (SPEC §5). One *Function serves net/http (cmd/local) and Lambda (Invoke, which only
// translates event shapes through lambdahttp). It never talks to Graph directly: it calls an
// Intune, and it never puts an error's text into an answer.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/lambdahttp"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// MaxBodyBytes is the largest request body accepted (SPEC §5: larger is 413).
const MaxBodyBytes = 64 << 10

// SyncInterval is how often Intune allows a manual sync.
const SyncInterval = 10 * time.Minute

const (
	// deadlineMargin is kept free before the Lambda deadline to encode and return the answer.
	deadlineMargin = 500 * time.Millisecond
	// localBudget bounds an invocation that has no deadline (cmd/local).
	localBudget = 29 * time.Second
	// httpBudget bounds an HTTP request from its arrival: API Gateway stops waiting after 30 s,
	// a cold start's init included.
	httpBudget = 29 * time.Second
)

// Intune is one tenant's windowsAutopilotSettings (tenant.Tenant in production).
type Intune interface {
	Get(ctx context.Context) (graph.Settings, error)
	Update(ctx context.Context, u graph.SettingsUpdate) (graph.Settings, error)
	Sync(ctx context.Context) error
}

// Callers checks HTTP callers (SPEC §6). Check returns nil when the request carries valid
// credentials for a configured scheme.
type Callers interface {
	Check(ctx context.Context, r *http.Request, body []byte) error
}

// Deps are what a Function needs: Tenants (or, for one tenant, Intune), or Err.
type Deps struct {
	// Tenants selects the tenant of a request; nil means Single{Intune}.
	Tenants Tenants
	Intune  Intune
	// Fleet enqueues one sync per tenant (SPEC §11 fan-out); nil when FLEET_QUEUE_URL is unset.
	Fleet Enqueuer
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
}

// New returns the handler of the function kind.
func New(kind Kind, d Deps) *Function {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Function{kind: kind, d: d}
}

// allow is the Allow header of each function.
func (f *Function) allow() string {
	if f.kind == KindSync {
		return "POST, OPTIONS"
	}
	return "GET, PATCH, OPTIONS"
}

// answer is what an action returns: a status, a JSON body (a *problem.Problem is sent as
// application/problem+json) and the headers SPEC §5 asks for.
type answer struct {
	status     int
	body       any
	allow      string
	retryAfter int
	action     string
	// source overrides the event's source in the log line (chat platforms).
	source string
	// result is what the action produced before a chat answer rendered it, for the metrics.
	result     any
	graph      graph.CallInfo
	vault      time.Duration // time spent reading Key Vault
	tenantName string
}

func problemAnswer(p *problem.Problem) answer {
	return answer{status: p.Status, body: p, retryAfter: p.RetryAfter()}
}

// ServeHTTP serves one HTTP request: the same path for Lambda and cmd/local.
func (f *Function) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	coldStart := !f.warm.Swap(true)
	a := f.serveHTTP(r, started)
	writeAnswer(w, a)
	source := a.source
	if source == "" {
		source = string(sourceOf(r))
	}
	f.logSummary(r.Context(), source, a, started, coldStart)
}

func sourceOf(r *http.Request) lambdahttp.Source {
	if s := lambdahttp.SourceFrom(r.Context()); s != "" {
		return s
	}
	return "local"
}

func (f *Function) serveHTTP(r *http.Request, arrived time.Time) answer {
	// The status function takes POST only from chat (SPEC §7); that is known once the body is read.
	methodAllowed := r.Method == http.MethodOptions || r.Method == http.MethodPost ||
		(f.kind == KindStatus && (r.Method == http.MethodGet || r.Method == http.MethodPatch))
	if !methodAllowed {
		return f.methodNotAllowed(r.Method)
	}
	if r.Method == http.MethodOptions {
		return answer{status: http.StatusNoContent, allow: f.allow(), action: "options"}
	}
	body, p := readBody(r)
	if p != nil {
		return problemAnswer(p)
	}
	var cmd chat.Command
	isChat := false
	if r.Method == http.MethodPost {
		cmd, isChat = chat.Parse(r.Header.Get("Content-Type"), body)
		if f.kind == KindStatus && !isChat {
			return f.methodNotAllowed(r.Method)
		}
	}
	// Everything from here on, the caller check's secret reads included, fits the budget: the
	// Lambda deadline less a margin, API Gateway's 29 s, and for chat the platform's 3 s or 5 s.
	ctx, cancel := withBudget(r.Context())
	defer cancel()
	budget := httpBudget
	if isChat {
		budget = chatBudget(cmd.Platform)
	}
	ctx, cancelHTTP := context.WithDeadline(ctx, arrived.Add(budget))
	defer cancelHTTP()
	if p := f.checkCaller(ctx, r, body); p != nil {
		return problemAnswer(p)
	}
	if isChat {
		return f.chat(ctx, cmd)
	}
	if f.d.Err != nil {
		return problemAnswer(misconfigured(f.d.Err))
	}
	ctx, tr := traced(ctx)

	query := r.URL.Query()
	var wait time.Duration
	if f.kind == KindSync {
		if wait, p = parseWait(query); p != nil {
			return problemAnswer(p)
		}
	}
	selector, p := parseTenant(query)
	if p != nil {
		return problemAnswer(p)
	}

	var a answer
	if f.kind == KindStatus && r.Method == http.MethodGet && selector == AllTenants {
		a = f.fleetStatus(ctx)
	} else if in, name, p := f.selectTenant(ctx, selector); p != nil {
		a = problemAnswer(p)
	} else {
		switch {
		case f.kind == KindSync:
			a = f.sync(ctx, in, wait)
		case r.Method == http.MethodPatch:
			a = f.patchStatus(ctx, in, r, body)
		default:
			a = f.getStatus(ctx, in)
		}
		a.tenant(name)
	}
	a.record(tr)
	return a
}

func (f *Function) methodNotAllowed(method string) answer {
	a := problemAnswer(problem.New(problem.MethodNotAllowed, method+" is not supported here; use "+f.allow()+"."))
	a.allow = f.allow()
	return a
}

// readBody reads the whole body within MaxBodyBytes.
func readBody(r *http.Request) ([]byte, *problem.Problem) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, problem.New(problem.BadRequest, "The request body could not be read.")
	}
	if len(body) > MaxBodyBytes {
		return nil, tooLarge()
	}
	return body, nil
}

func tooLarge() *problem.Problem {
	return problem.New(problem.PayloadTooLarge, "The request body is larger than 64 KiB.")
}

func (f *Function) checkCaller(ctx context.Context, r *http.Request, body []byte) *problem.Problem {
	if f.d.AllowUnauthenticated {
		return nil
	}
	if f.d.Callers == nil && f.d.Err != nil && f.d.CallerChecksConfigured {
		// Caller checks are configured but the configuration they need is broken: say so
		// (SPEC §3), rather than send every caller hunting for a credential problem.
		return misconfigured(f.d.Err)
	}
	if f.d.Callers != nil {
		if err := f.d.Callers.Check(ctx, r, body); err == nil {
			return nil
		} else if p, ok := problem.As(err); ok && p.Code != problem.Unauthorized {
			// The check itself could not run (e.g. Key Vault down): say so, not "unauthorized".
			return p
		}
	}
	return problem.New(problem.Unauthorized, "The request does not carry valid credentials.")
}

// withBudget bounds the work of one request: the Lambda deadline less a margin to answer in, or
// API Gateway's limit where there is no deadline.
func withBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, deadline.Add(-deadlineMargin))
	}
	return context.WithTimeout(ctx, localBudget)
}

// WriteProblem writes p as an application/problem+json answer.
func WriteProblem(w http.ResponseWriter, p *problem.Problem) { writeAnswer(w, problemAnswer(p)) }

func writeAnswer(w http.ResponseWriter, a answer) {
	h := w.Header()
	if a.allow != "" {
		h.Set("Allow", a.allow)
	}
	if a.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(a.retryAfter))
	}
	if a.body == nil {
		w.WriteHeader(a.status)
		return
	}
	data, err := marshal(a.body)
	if err != nil {
		// Only our own types are encoded; this cannot happen short of a programming error.
		a.status, data = http.StatusInternalServerError, []byte(`{"type":"urn:autopilot-sync:problem:misconfigured","title":"Service misconfigured","status":500,"code":"misconfigured"}`)
		a.body = &problem.Problem{}
	}
	if _, ok := a.body.(*problem.Problem); ok {
		h.Set("Content-Type", "application/problem+json")
	} else {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(a.status)
	_, _ = w.Write(data)
}

// marshal encodes v as JSON without HTML escaping (chat answers carry <, > and &).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// Invoke is the Lambda entry point: HTTP event shapes go through ServeHTTP, schedules to
// scheduled; any other shape is answered with an error naming what was expected, and the process
// keeps serving.
func (f *Function) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	if resp, src, err := lambdahttp.Handle(ctx, f, raw); err != nil {
		return nil, f.badEvent(ctx, string(src), "malformed "+string(src)+" event: "+err.Error())
	} else if src != "" {
		return resp, nil
	}
	p, shape := probe(raw)
	switch shape {
	case shapeSchedule:
		return f.run(ctx, "schedule", f.defaultAction(), p.Tenant, false)
	case shapeDirect:
		return f.direct(ctx, p)
	case shapeSQS:
		if f.kind == KindSync {
			return f.consume(ctx, raw)
		}
	}
	return nil, f.badEvent(ctx, "unknown", "unsupported invocation: the "+string(f.kind)+
		" function expects an API Gateway HTTP API (payload 2.0), API Gateway REST API (payload 1.0) or Lambda Function URL event, an EventBridge scheduled event (detail-type \"Scheduled Event\", source aws.events or aws.scheduler), or a direct invocation "+f.directShapes())
}

func (f *Function) defaultAction() string {
	if f.kind == KindSync {
		return "sync"
	}
	return "status"
}

func (f *Function) directShapes() string {
	if f.kind == KindSync {
		return `{"action":"sync","tenant":"<name>"} or {"action":"sync","tenants":"all"} or {"action":"status","tenant":"<name>"}, or an SQS batch of {"tenant":"<name>"} messages`
	}
	return `{"action":"status","tenant":"<name>"} or {"action":"status","tenants":"all"}`
}

// direct serves a direct invocation (e.g. EventBridge Scheduler with a custom input).
func (f *Function) direct(ctx context.Context, p eventProbe) (any, error) {
	action := strings.ToLower(p.Action)
	valid := action == "status" || (action == "sync" && f.kind == KindSync)
	switch {
	case !valid:
		return nil, f.badEvent(ctx, "direct", "unsupported action "+quote(p.Action)+": the "+string(f.kind)+" function takes "+f.directShapes())
	case p.Tenants != "" && !strings.EqualFold(p.Tenants, AllTenants):
		return nil, f.badEvent(ctx, "direct", `"tenants" takes only "all"; select one tenant with "tenant"`)
	case p.Tenants != "" && p.Tenant != "":
		return nil, f.badEvent(ctx, "direct", `give either "tenant" or "tenants":"all", not both`)
	}
	return f.run(ctx, "direct", action, strings.ToLower(p.Tenant), p.Tenants != "")
}

func (f *Function) badEvent(ctx context.Context, source, msg string) error {
	f.d.Log.LogAttrs(ctx, slog.LevelWarn, "invocation", slog.String("requestId", requestID(ctx)),
		slog.String("function", string(f.kind)), slog.String("source", source), slog.String("code", "badEvent"), slog.String("error", msg))
	return &InvocationError{Msg: msg}
}

// trace is what one invocation (or one tenant of a fleet status) saw of Graph and Key Vault.
type trace struct {
	graph graph.CallInfo
	vault time.Duration
}

// traced returns ctx, recording the Graph answers and Key Vault reads under it into a new trace
// (which, like the recorders it holds, serves one goroutine).
func traced(ctx context.Context) (context.Context, *trace) {
	t := &trace{}
	return keyvault.WithReadTime(graph.WithCallInfo(ctx, &t.graph), &t.vault), t
}

// record adds what the invocation's trace saw to what the action gathered itself (a fleet status
// traces each tenant on its own).
func (a *answer) record(t *trace) {
	total := a.graph.Total + t.graph.Total
	if t.graph.StatusCode != 0 {
		a.graph = t.graph
	}
	a.graph.Total = total
	a.vault += t.vault
}
