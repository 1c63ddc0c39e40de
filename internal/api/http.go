package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/lambdahttp"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/autopilot-sync/autopilot-sync/internal/webhook"
)

// MaxBodyBytes is the largest request body accepted (SPEC §5: larger is 413).
const MaxBodyBytes = 64 << 10

// MaxWait is the longest ?wait a caller may ask for (SPEC §5), below API Gateway's 30 s limit.
const MaxWait = 25 * time.Second

// httpBudget bounds an HTTP request from its arrival: API Gateway stops waiting after 30 s, a
// cold start's init included.
const httpBudget = 29 * time.Second

// request is an invocation as the actions see it, whatever its source.
type request struct {
	sel    selector
	source Source
	// HTTP requests.
	contentType string
	body        []byte
	wait        time.Duration
	// tenant selects a tenant ("" none); sel.all or sel.param paramAll selects every tenant.
	tenant string
	// chat is the chat command of a Slack or Teams request.
	chat chat.Command
	// message is an SQS record's body; messageID its id.
	message   []byte
	messageID string
}

// ServeHTTP serves one HTTP request: the same path for Lambda and cmd/local.
func (f *Function) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	source := SourceLocal
	if s := lambdahttp.SourceFrom(r.Context()); s != "" {
		source = Source(s)
	}
	inv := f.begin(source)
	action, out, chatCmd := f.serveHTTP(r, inv, time.Now())
	a, err := renderHTTP(f, out, chatCmd)
	inv.end(r.Context(), action, out, a.status, err)
	a.write(w)
}

// serveHTTP reads the request, checks the caller, limits it to what its scheme may do, selects
// the action and runs it. A chat request comes back with its command (the answer is a chat
// message) and its source set on inv.
func (f *Function) serveHTTP(r *http.Request, inv *invocation, arrived time.Time) (Action, Outcome, *chat.Command) {
	req := &request{source: inv.source, sel: selector{via: viaHTTP, method: r.Method}}
	// The status function takes POST only from chat (SPEC §7), which is known once the body is
	// read and the caller checked.
	if _, ok := f.route(req.sel); !ok && r.Method != http.MethodPost {
		return "", f.methodNotAllowed(r.Method), nil
	}
	if r.Method == http.MethodOptions {
		rt, _ := f.route(req.sel)
		return rt.action, rt.run(f, r.Context(), req), nil
	}
	body, p := readBody(r)
	if p != nil {
		return "", failed(p), nil
	}
	req.body, req.contentType = body, r.Header.Get("Content-Type")
	// A chat command by its content (the schemes whose signature covers a chat body read it as
	// that platform's, whatever its content: see permit).
	var byContent *chat.Command
	if r.Method == http.MethodPost {
		if c, ok := chat.Parse(req.contentType, body); ok {
			byContent = &c
		}
	}
	platform := chatPlatform(r, byContent)
	if _, ok := f.route(req.sel); !ok && platform == "" {
		return "", f.methodNotAllowed(r.Method), nil
	}
	// Everything from here on, the caller check's secret reads included, fits the budget: the
	// Lambda deadline less a margin, API Gateway's 29 s, and for chat the platform's 3 s or 5 s.
	ctx, cancel := withBudget(r.Context())
	defer cancel()
	budget := httpBudget
	if platform != "" {
		budget = chatBudget(platform)
	}
	ctx, cancelHTTP := context.WithDeadline(ctx, arrived.Add(budget))
	defer cancelHTTP()
	scheme, p := f.checkCaller(ctx, r, body)
	if p != nil {
		// A refused caller gets the problem itself, chat callers too: no chat answer to a stranger.
		return "", failed(p), nil
	}
	cmd, p := f.permit(scheme, r, body, byContent)
	if p != nil {
		return "", failed(p), nil
	}
	if cmd != nil && cmd.Platform == chat.Slack && scheme == webhook.SchemeSlack && chat.IsSlackSSLCheck(body) {
		return ActionChatHelp, Outcome{Help: HelpSSLCheck}, cmd
	}
	if cmd != nil {
		req.chat, req.tenant = *cmd, cmd.Tenant
		req.sel = selector{via: viaChat, word: cmd.Action}
		req.source = Source(cmd.Platform)
		inv.source = req.source
	} else {
		if f.d.Err != nil {
			return "", failed(misconfigured(f.d.Err)), nil
		}
		if p := parseQuery(f.kind, r.URL.Query(), req); p != nil {
			return "", failed(p), nil
		}
	}
	rt, ok := f.route(req.sel)
	if !ok {
		return "", f.methodNotAllowed(r.Method), cmd
	}
	return rt.action, rt.run(f, ctx, req), cmd
}

// schemeOpen is the "scheme" of a caller let in without a check (ALLOW_UNAUTHENTICATED, where API
// Gateway itself authenticates): it may do everything, as the token may.
const schemeOpen webhook.Scheme = "open"

// chatPlatform tells, before the caller check, whether the request is for chat: its headers
// name a chat signature, or its body is a chat command (byContent). It sets the request's budget.
func chatPlatform(r *http.Request, byContent *chat.Command) chat.Platform {
	switch {
	case r.Method != http.MethodPost:
		return ""
	case r.Header.Get("X-Slack-Signature") != "":
		return chat.Slack
	case strings.HasPrefix(strings.ToUpper(strings.TrimSpace(r.Header.Get("Authorization"))), "HMAC "):
		return chat.Teams
	case byContent != nil:
		return byContent.Platform
	}
	return ""
}

// teamsMaxSkew bounds how far a Teams activity's timestamp may be from the function's clock: the
// HMAC covers the body only, so the timestamp is what keeps an old activity from being replayed.
const teamsMaxSkew = 5 * time.Minute

// permit limits a checked caller to what its scheme may do (SPEC §6) and reads the chat command
// of a chat request. The token (and an open deployment) may do everything; an HMAC signature
// may only POST to the sync function; a body that a Slack or Teams signature covers is acted on
// only as that platform's chat, whatever its Content-Type.
func (f *Function) permit(scheme webhook.Scheme, r *http.Request, body []byte, byContent *chat.Command) (*chat.Command, *problem.Problem) {
	switch scheme {
	case webhook.SchemeHMAC:
		if f.kind != KindSync || r.Method != http.MethodPost {
			return nil, problem.New(problem.Forbidden, "A signed webhook may only start a sync (POST to the sync function); use the token for anything else.")
		}
		return nil, nil
	case webhook.SchemeSlack:
		cmd, ok := chat.ParseSlack(body)
		if !ok {
			cmd = chat.Command{Platform: chat.Slack, Action: chat.ActionHelp}
		}
		return &cmd, nil
	case webhook.SchemeTeams:
		cmd, ok := chat.ParseTeams(body)
		if !ok {
			return &chat.Command{Platform: chat.Teams, Action: chat.ActionHelp}, nil
		}
		if now := f.d.Now(); cmd.Sent.IsZero() || cmd.Sent.Before(now.Add(-teamsMaxSkew)) || cmd.Sent.After(now.Add(teamsMaxSkew)) {
			return nil, unauthorized()
		}
		return &cmd, nil
	}
	return byContent, nil // the token and an open deployment: a chat body by its content is chat
}

func unauthorized() *problem.Problem {
	return problem.New(problem.Unauthorized, "The request does not carry valid credentials.")
}

// options answers OPTIONS with the function's methods.
func (f *Function) options(context.Context, *request) Outcome { return Outcome{Allow: f.allow} }

func (f *Function) methodNotAllowed(method string) Outcome {
	o := failed(problem.New(problem.MethodNotAllowed, method+" is not supported here; use "+f.allow+"."))
	o.Allow = f.allow
	return o
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
	if errors.Is(err, lambdahttp.ErrBodyNotBase64) {
		return nil, problem.New(problem.BadRequest, "The request body is marked as base64 (isBase64Encoded) but is not valid base64.")
	}
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

// checkCaller returns the scheme the caller proved (schemeOpen when no check applies), or the
// problem that refuses it.
func (f *Function) checkCaller(ctx context.Context, r *http.Request, body []byte) (webhook.Scheme, *problem.Problem) {
	if f.d.AllowUnauthenticated {
		return schemeOpen, nil
	}
	if f.d.Callers == nil && f.d.Err != nil && f.d.CallerChecksConfigured {
		// Caller checks are configured but the configuration they need is broken: say so
		// (SPEC §3), rather than send every caller hunting for a credential problem.
		return "", misconfigured(f.d.Err)
	}
	if f.d.Callers != nil {
		scheme, err := f.d.Callers.Check(ctx, r, body)
		if err == nil {
			return scheme, nil
		}
		if p, ok := problem.As(err); ok && p.Code != problem.Unauthorized {
			// The check itself could not run (e.g. Key Vault down): say so, not "unauthorized".
			return "", p
		}
	}
	return "", unauthorized()
}

// parseQuery reads ?wait (the sync function) and ?tenant into req and its selector.
func parseQuery(kind Kind, q url.Values, req *request) *problem.Problem {
	if kind == KindSync {
		wait, p := parseWait(q)
		if p != nil {
			return p
		}
		req.wait = wait
		if wait > 0 {
			req.sel.param = paramWait
		}
	}
	tenant, p := parseTenant(q)
	if p != nil {
		return p
	}
	req.tenant = tenant
	if tenant == autopilot.AllTenants && req.sel.param == paramNone {
		if serves(kind, selector{via: viaHTTP, method: req.sel.method, param: paramAll}) {
			req.sel.param = paramAll
		}
	}
	return nil
}

// serves reports whether this function has a row for sel.
func serves(kind Kind, sel selector) bool {
	return slices.Contains(triggers(kind, sel.via), sel)
}

// parseWait reads ?wait=N: whole seconds written as digits only, 0 to 25. Absent means 0.
func parseWait(q url.Values) (time.Duration, *problem.Problem) {
	v, ok := q["wait"]
	if !ok {
		return 0, nil
	}
	bad := problem.New(problem.BadRequest, "wait must be a whole number of seconds from 0 to 25.")
	if len(v) != 1 || v[0] == "" || len(v[0]) > 2 || strings.Trim(v[0], "0123456789") != "" {
		return 0, bad
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n > int(MaxWait/time.Second) {
		return 0, bad
	}
	return time.Duration(n) * time.Second, nil
}

// parseTenant reads ?tenant=<name|tenantId|all>.
func parseTenant(q url.Values) (string, *problem.Problem) {
	v, ok := q["tenant"]
	if !ok {
		return "", nil
	}
	if len(v) != 1 || v[0] == "" || len(v[0]) > 256 {
		return "", problem.New(problem.BadRequest, "tenant must be given once, as a tenant name or tenant id.")
	}
	return strings.ToLower(strings.TrimSpace(v[0])), nil
}
