package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/lambdaevent"
	"github.com/autopilot-sync/autopilot-sync/internal/lambdahttp"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/autopilot-sync/autopilot-sync/internal/webhook"
)

// MaxBodyBytes is the largest request body accepted (SPEC §5: larger is 413).
const MaxBodyBytes = 64 << 10

// httpBudget bounds an HTTP request from its arrival: API Gateway stops waiting after 30 s, a
// cold start's init included.
const httpBudget = 29 * time.Second

// Chat platforms wait 3 s (Slack) and 5 s (Teams) for an answer; a request gets less from its
// arrival, caller check included, so the answer leaves in time even when Graph does not answer.
const (
	slackBudget = 2500 * time.Millisecond
	teamsBudget = 4500 * time.Millisecond
)

// ServeHTTP serves one HTTP request: the same path for Lambda and cmd/local.
func (f *Function) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	source := lambdaevent.HTTPSource(lambdahttp.SourceFrom(r.Context()))
	inv := f.begin(source)
	req := &action.Request{Source: source}
	name, res := f.serveHTTP(r, inv, req, time.Now())
	var a action.Answer
	if req.Chat.Platform != "" {
		a = f.chatAnswer(req, res)
	} else {
		a = res.HTTP()
	}
	if a.Err != nil {
		a = action.Answer{Status: http.StatusInternalServerError, ContentType: "application/problem+json", Body: encodeFailed, Err: a.Err}
	}
	inv.end(r.Context(), name, res, req, a.Status, a.Err)
	write(w, a)
}

// serveHTTP reads the request once, checks the caller, limits it to what its scheme may do,
// selects the row and runs it. A chat command comes back in req.Chat (the answer is a chat
// message), its source on inv.
func (f *Function) serveHTTP(r *http.Request, inv *invocation, req *action.Request, arrived time.Time) (action.Name, action.Result) {
	methods := action.Methods(f.fn)
	// The status function takes POST only from chat (SPEC §7), which is known once the body is
	// read and the caller checked.
	if !slices.Contains(methods, r.Method) && r.Method != http.MethodPost {
		return "", action.MethodNotAllowed(f.fn, r.Method)
	}
	if r.Method == http.MethodOptions {
		row, _, _ := action.Route(f.fn, action.Selector{Via: action.ViaHTTP, Method: r.Method, Request: req})
		return row.Name, f.actions.Run(r.Context(), row, req)
	}
	body, p := readBody(r)
	if p != nil {
		return "", action.Fail(p)
	}
	req.Body, req.ContentType = body, r.Header.Get("Content-Type")
	// A POST body is read once (a chat command by its content, a callbackUrl); so is any body
	// that a chat signature covers, whatever the method: it is only ever chat.
	var post posted
	if signer := signedBy(r.Header); r.Method == http.MethodPost || signer != "" {
		post = readPost(signer, req.ContentType, body)
		if r.Method == http.MethodPost {
			req.CallbackURL = post.callbackURL
		} else {
			post.byContent = nil
		}
	}
	platform := signedBy(r.Header)
	if platform == "" && post.byContent != nil {
		platform = post.byContent.Platform
	}
	if !slices.Contains(methods, r.Method) && platform == "" {
		return "", action.MethodNotAllowed(f.fn, r.Method)
	}
	// Everything from here on, the caller check's secret reads included, fits the budget: the
	// Lambda deadline less a margin, API Gateway's 29 s, and for chat the platform's 3 s or 5 s.
	ctx, cancel := withBudget(r.Context())
	defer cancel()
	budget := httpBudget
	switch platform {
	case autopilot.SourceSlack:
		budget = slackBudget
	case autopilot.SourceTeams:
		budget = teamsBudget
	}
	ctx, cancelHTTP := context.WithDeadline(ctx, arrived.Add(budget))
	defer cancelHTTP()
	scheme, p := f.checkCaller(ctx, r, body)
	if p != nil {
		// A refused caller gets the problem itself, chat callers too: no chat answer to a stranger.
		return "", action.Fail(p)
	}
	cmd, p := f.permit(scheme, r.Method, post)
	if p != nil {
		return "", action.Fail(p)
	}
	var row *action.Row
	if cmd != nil {
		req.Chat, req.SSLCheck = *cmd, scheme == webhook.SchemeSlack && post.sslCheck
		req.Source, inv.source = cmd.Platform, cmd.Platform
		row = f.chatRow(req)
	} else {
		if err := f.actions.Misconfigured(); err != nil {
			return "", action.Fail(problem.Misconfiguration(err))
		}
		if p := readQuery(f.fn, r.Method, r.URL.Query(), req); p != nil {
			return "", action.Fail(p)
		}
		if read := action.BodyFields(f.fn, r.Method); read != nil && post.object != nil {
			if p := read(post.object, req); p != nil {
				return "", action.Fail(p)
			}
		}
		row, _, ok := action.Route(f.fn, action.Selector{Via: action.ViaHTTP, Method: r.Method, Request: req})
		if !ok {
			return "", action.MethodNotAllowed(f.fn, r.Method)
		}
		return row.Name, f.actions.Run(ctx, row, req)
	}
	return row.NameFor(action.ViaChat), f.actions.Run(ctx, row, req)
}

// chatRow selects the row of a chat command: its word's, when its arguments make sense there;
// otherwise the help's.
func (f *Function) chatRow(req *action.Request) *action.Row {
	if req.Chat.Word != "" && !req.SSLCheck {
		if row, t, ok := action.Route(f.fn, action.Selector{Via: action.ViaChat, Word: req.Chat.Word}); ok && readArgs(t.Args, req) {
			return row
		}
	}
	*req = action.Request{Source: req.Source, Chat: req.Chat, SSLCheck: req.SSLCheck, Body: req.Body, ContentType: req.ContentType}
	row, _, _ := action.Route(f.fn, action.Selector{Via: action.ViaChat, Word: "help"})
	return row
}

// readArgs reads a word's arguments into req; false when they make no sense there.
func readArgs(args action.Args, req *action.Request) bool {
	if args.Read == nil {
		return len(req.Chat.Args) == 0
	}
	return args.Read(req, req.Chat.Args)
}

// chatAnswer renders a result as the chat platform's message: HTTP 200 for every outcome (SPEC
// §7); no words (Slack's SSL check) is an empty 200.
func (f *Function) chatAnswer(req *action.Request, res action.Result) action.Answer {
	w := res.Words(chat.StyleOf(req.Chat.Platform), f.d.Now())
	if len(w.Paragraphs) == 0 {
		return action.Answer{Status: http.StatusOK}
	}
	body, err := chat.Reply(req.Chat.Platform, w, req.Tenant)
	if err != nil {
		return action.Answer{Err: err}
	}
	return action.Answer{Status: http.StatusOK, ContentType: "application/json; charset=utf-8", Body: body}
}

// posted is a POST body, read once: a chat command by its content, Slack's SSL check, and the
// callbackUrl of a JSON body.
type posted struct {
	// byContent is a Slack form with a command (Content-Type form) or a Teams message activity
	// (Content-Type JSON); signed is the command read as the platform whose signature headers the
	// request carries (help when the body holds none).
	byContent, signed *chat.Command
	// activity reports that a Teams-signed body is a message activity (its timestamp counts).
	activity    bool
	sslCheck    bool
	callbackURL json.RawMessage
	// object is the body when it is a JSON object that is not chat: the trigger's fields read it.
	object json.RawMessage
}

// jsonBody is a JSON POST body: a Teams activity, or a sync request's fields.
type jsonBody struct {
	chat.Activity
	CallbackURL json.RawMessage `json:"callbackUrl"`
}

// readPost reads a POST body once: as JSON when it starts with "{" (and Slack did not sign it),
// else as a form. A Slack-signed body is only ever a Slack form; a JSON body's callbackUrl is
// read even when another field has the wrong type.
func readPost(signer autopilot.Source, contentType string, body []byte) posted {
	var out posted
	mediaType, _, _ := mime.ParseMediaType(contentType)
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) && signer != autopilot.SourceSlack {
		var b jsonBody
		err := json.Unmarshal(body, &b)
		var typeErr *json.UnmarshalTypeError
		if err == nil || errors.As(err, &typeErr) {
			out.callbackURL, out.object = b.CallbackURL, body
		}
		if cmd, ok := chat.FromActivity(b.Activity); ok && err == nil {
			if mediaType == "application/json" {
				out.byContent = &cmd
			}
			if signer == autopilot.SourceTeams {
				out.signed, out.activity = &cmd, true
			}
		}
	} else if form, err := url.ParseQuery(string(body)); err == nil {
		if cmd, ok := chat.FromForm(form); ok {
			if mediaType == "application/x-www-form-urlencoded" {
				out.byContent = &cmd
			}
			if signer == autopilot.SourceSlack {
				out.signed = &cmd
			}
		}
		out.sslCheck = chat.IsSSLCheck(form)
	}
	if out.signed == nil && signer != "" {
		out.signed = &chat.Command{Platform: signer, Word: "help"}
	}
	return out
}

// signedBy names the chat platform whose signature headers a request carries: Slack for
// X-Slack-Signature, Teams for an Authorization header whose scheme is HMAC.
func signedBy(h http.Header) autopilot.Source {
	switch {
	case h.Get("X-Slack-Signature") != "":
		return autopilot.SourceSlack
	case strings.HasPrefix(strings.ToUpper(strings.TrimSpace(h.Get("Authorization"))), "HMAC "):
		return autopilot.SourceTeams
	}
	return ""
}

// schemeOpen is the "scheme" of a caller let in without a check (ALLOW_UNAUTHENTICATED, where API
// Gateway itself authenticates): it may do everything, as the token may.
const schemeOpen webhook.Scheme = "open"

// permit limits a checked caller to what its scheme may do (SPEC §6) and gives the chat command
// of a chat request. The token (and an open deployment) may do everything, a chat body by its
// content included; an HMAC signature may only POST to the sync function; a body that a Slack or
// Teams signature covers is acted on only as that platform's chat, whatever its Content-Type, and
// a Teams activity only within the replay window.
func (f *Function) permit(scheme webhook.Scheme, method string, post posted) (*chat.Command, *problem.Problem) {
	switch scheme {
	case webhook.SchemeHMAC:
		if f.fn != autopilot.FunctionSync || method != http.MethodPost {
			return nil, problem.New(problem.Forbidden, "A signed webhook may only start a sync (POST to the sync function); use the token for anything else.")
		}
		return nil, nil
	case webhook.SchemeSlack:
		return post.signed, nil
	case webhook.SchemeTeams:
		cmd := post.signed
		if !post.activity {
			return cmd, nil // not a message activity: the help text
		}
		if now := f.d.Now(); cmd.Sent.IsZero() || cmd.Sent.Before(now.Add(-webhook.TeamsMaxSkew)) || cmd.Sent.After(now.Add(webhook.TeamsMaxSkew)) {
			return nil, webhook.Unauthorized()
		}
		return cmd, nil
	}
	return post.byContent, nil
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

// readQuery reads the query parameters that fn's triggers of method declare into req. A
// parameter that fn reads with another method only is refused (a 400 naming it), as it would
// otherwise be ignored; any other is ignored.
func readQuery(fn autopilot.Function, method string, q url.Values, req *action.Request) *problem.Problem {
	params := action.Params(fn, method)
	for _, m := range action.Methods(fn) {
		for _, p := range action.Params(fn, m) {
			if _, given := q[p.Name]; given && !slices.ContainsFunc(params, func(o action.Param) bool { return o.Name == p.Name }) {
				return problem.New(problem.BadRequest, p.Name+" is not taken by "+method+" here.")
			}
		}
	}
	for _, p := range params {
		if prob := p.Read(q[p.Name], req); prob != nil {
			return prob
		}
	}
	return nil
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
		return "", problem.Misconfiguration(f.d.Err)
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
	return "", webhook.Unauthorized()
}

// encodeFailed is the answer when an answer cannot be encoded: it holds nothing of the cause.
var encodeFailed = []byte(`{"type":"urn:autopilot-sync:problem:misconfigured","title":"Service misconfigured","status":500,"code":"misconfigured"}`)

// write writes an answer. No browser may read it as anything but what its Content-Type says.
func write(w http.ResponseWriter, a action.Answer) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if a.Allow != "" {
		h.Set("Allow", a.Allow)
	}
	if a.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(a.RetryAfter))
	}
	if a.Body == nil {
		w.WriteHeader(a.Status)
		return
	}
	h.Set("Content-Type", a.ContentType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
}

// WriteProblem writes p as an application/problem+json answer (cmd/local's own routes).
func WriteProblem(w http.ResponseWriter, p *problem.Problem) { write(w, action.ProblemAnswer(p)) }
