package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Started is the HTTP answer to a sync that Graph accepted (SPEC §5).
type Started struct {
	Result            autopilot.Result `json:"result"`
	RequestedAt       time.Time        `json:"requestedAt"`
	NextSyncAllowedAt time.Time        `json:"nextSyncAllowedAt"`
	// FollowUp names the follow-up that will report the sync's end (SPEC §13).
	FollowUp *FollowUpRef `json:"followUp,omitempty"`
}

// Followed is the HTTP answer to a sync followed with ?wait: its result and the settings last
// read.
type Followed struct {
	Result            autopilot.Result `json:"result"`
	RequestedAt       time.Time        `json:"requestedAt"`
	NextSyncAllowedAt time.Time        `json:"nextSyncAllowedAt"`
	autopilot.Status
	FollowUp *FollowUpRef `json:"followUp,omitempty"`
}

// Scheduled is the result of a scheduled, direct or queued sync (SPEC §8): none of its results
// is an error, there is nothing to retry.
type Scheduled struct {
	Result                        autopilot.Result `json:"result"`
	FollowUp                      *FollowUpRef     `json:"followUp,omitempty"`
	Tenant                        string           `json:"tenant,omitempty"`
	RequestedAt                   *time.Time       `json:"requestedAt,omitempty"`
	NextSyncAllowedAt             *time.Time       `json:"nextSyncAllowedAt,omitempty"`
	RetryAfterSeconds             int              `json:"retryAfterSeconds,omitempty"`
	SyncStatus                    string           `json:"syncStatus,omitempty"`
	LastManualSyncTriggerDateTime *time.Time       `json:"lastManualSyncTriggerDateTime,omitempty"`
}

// httpAnswer is an encoded HTTP answer.
type httpAnswer struct {
	status      int
	contentType string
	body        []byte
	allow       string
	retryAfter  int
}

// renderHTTP renders o as the answer to an HTTP request, or, for a chat command, as the chat
// platform's message (HTTP 200 for every outcome, SPEC §7). An answer that cannot be encoded
// (a time past year 9999) is a 500 whose cause comes back for the log line.
func renderHTTP(f *Function, o Outcome, cmd *chat.Command) (httpAnswer, error) {
	var body any
	a := httpAnswer{status: http.StatusOK, allow: o.Allow}
	switch {
	case cmd != nil && o.Help == HelpSSLCheck:
		return a, nil
	case cmd != nil:
		body = renderChat(*cmd, o, f.d.Now())
	case o.Problem != nil:
		a.status, a.retryAfter = o.Problem.Status, o.Problem.RetryAfter()
		body = o.Problem
	case o.Sync != nil && o.Sync.Waited:
		if o.Sync.Result == autopilot.InProgress {
			a.status = http.StatusAccepted
		}
		body = Followed{Result: o.Sync.Result, RequestedAt: o.Sync.RequestedAt, NextSyncAllowedAt: o.Sync.NextSyncAllowedAt, Status: o.Sync.Status, FollowUp: o.Sync.FollowUp}
	case o.Sync != nil:
		a.status = http.StatusAccepted
		body = Started{Result: o.Sync.Result, RequestedAt: o.Sync.RequestedAt, NextSyncAllowedAt: o.Sync.NextSyncAllowedAt, FollowUp: o.Sync.FollowUp}
	case o.Status != nil:
		body = o.Status
	case o.Fleet != nil:
		body = o.Fleet
	default: // OPTIONS
		a.status = http.StatusNoContent
		return a, nil
	}
	data, err := marshal(body)
	if err != nil {
		return httpAnswer{status: http.StatusInternalServerError, contentType: "application/problem+json", body: encodeFailed}, err
	}
	a.body = data
	a.contentType = "application/json; charset=utf-8"
	if _, ok := body.(*problem.Problem); ok {
		a.contentType = "application/problem+json"
	}
	return a, nil
}

// encodeFailed is the answer when an answer cannot be encoded: it holds nothing of the cause.
var encodeFailed = []byte(`{"type":"urn:autopilot-sync:problem:misconfigured","title":"Service misconfigured","status":500,"code":"misconfigured"}`)

func (a httpAnswer) write(w http.ResponseWriter) {
	h := w.Header()
	// No browser may read an answer as anything but what its Content-Type says.
	h.Set("X-Content-Type-Options", "nosniff")
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
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// WriteProblem writes p as an application/problem+json answer (cmd/local's own routes).
func WriteProblem(w http.ResponseWriter, p *problem.Problem) {
	a, _ := renderHTTP(nil, failed(p), nil)
	a.write(w)
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

// renderChat renders o as a Slack or Teams message (SPEC §7).
func renderChat(cmd chat.Command, o Outcome, now time.Time) any {
	out := chat.Outcome{Action: cmd.Action, Tenant: cmd.Tenant, Problem: o.Problem, Status: o.Status}
	switch {
	case o.Help == HelpSyncNotHere:
		out.Action = chat.ActionSyncNotHere
	case o.Help == HelpGeneral:
		out.Action = chat.ActionHelp
	}
	if o.Problem != nil {
		out.TimedOut = o.Problem.Code == problem.UpstreamTimeout
	} else if s := o.Sync; s != nil {
		out.Result, out.RequestedAt, out.NextSyncAllowedAt, out.FollowUp = s.Result, s.RequestedAt, s.NextSyncAllowedAt, s.ChatFollowUp
		if s.Waited {
			out.Status = &s.Status
		}
	}
	return chat.Render(cmd.Platform, out, now)
}

// renderResult renders o as the result of a scheduled, direct or queued invocation: the value
// Lambda returns, or the error whose message says what to fix (Lambda's asynchronous retry and
// destinations then apply). status is what the log line records.
func renderResult(o Outcome) (result any, status int, err error) {
	if s := o.Sync; s != nil {
		switch s.Result {
		case autopilot.Started:
			return Scheduled{Result: s.Result, RequestedAt: &s.RequestedAt, NextSyncAllowedAt: &s.NextSyncAllowedAt, FollowUp: s.FollowUp}, http.StatusOK, nil
		case autopilot.InProgress:
			p := o.Problem
			return Scheduled{Result: s.Result, SyncStatus: p.SyncStatus, LastManualSyncTriggerDateTime: p.LastManualSyncTriggerDateTime}, http.StatusOK, nil
		case autopilot.Throttled:
			p := o.Problem
			return Scheduled{Result: s.Result, RetryAfterSeconds: p.RetryAfterSeconds, NextSyncAllowedAt: p.NextSyncAllowedAt}, http.StatusOK, nil
		}
	}
	switch {
	case o.Problem != nil:
		return nil, o.Problem.Status, invocationError(o.Problem)
	case o.Status != nil:
		return o.Status, http.StatusOK, nil
	case o.Fleet != nil:
		return o.Fleet, http.StatusOK, nil
	case o.Enqueued != nil:
		return o.Enqueued, http.StatusOK, nil
	case o.Diagnose != nil:
		return o.Diagnose, http.StatusOK, nil
	}
	return nil, http.StatusOK, nil
}
