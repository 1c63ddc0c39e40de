package graph

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Error is a non-2xx answer from Graph. Branch on StatusCode and Code, never on Message: Intune
// often puts a stringified JSON document there.
type Error struct {
	StatusCode      int
	Code            string // Graph's error.code, e.g. "TooManyRequests"; may be empty on malformed bodies
	Message         string
	RequestID       string
	ClientRequestID string
	Date            string // innerError.date, or the Date header
	// RetryAfter is Graph's Retry-After (whole seconds, fractional seconds or an HTTP date);
	// HasRetryAfter tells a zero wait apart from no header at all.
	RetryAfter    time.Duration
	HasRetryAfter bool
}

// Error describes the answer without its message (which may be long and is for logs only).
func (e *Error) Error() string {
	s := fmt.Sprintf("graph: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.RequestID != "" {
		s += " request-id " + e.RequestID
	}
	return s
}

// Problem says what Graph's answer means to a caller (problem.Classifier): 401 and 403 name the
// permissions to grant; 409 and 429 are a sync in progress and throttling; 5xx is unavailable;
// any other answer is graphError. Graph's identifiers come along for support.
func (e *Error) Problem() *problem.Problem {
	var p *problem.Problem
	switch {
	case e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden:
		p = problem.New(problem.GraphPermissionDenied, fmt.Sprintf(
			"Microsoft Graph refused the Graph app (HTTP %d). Grant it the application permission %s (status needs %s) and admin consent.",
			e.StatusCode, PermissionReadWrite, PermissionRead))
	case e.StatusCode == http.StatusConflict:
		p = problem.New(problem.SyncInProgress, "A sync of Autopilot devices is already running; wait for it to finish.")
	case e.StatusCode == http.StatusTooManyRequests:
		p = problem.New(problem.SyncThrottled, "Microsoft Graph asked to slow down; try again later.")
		p.RetryAfterSeconds = e.retryAfterSeconds()
	case e.StatusCode >= 500:
		p = problem.New(problem.GraphUnavailable, fmt.Sprintf("Microsoft Graph is unavailable (HTTP %d); try again later.", e.StatusCode))
		p.RetryAfterSeconds = e.retryAfterSeconds()
	default:
		p = problem.New(problem.GraphError, fmt.Sprintf("Microsoft Graph refused the request (HTTP %d %s).", e.StatusCode, e.Code))
	}
	p.Graph = e.Ref()
	return p
}

// Ref identifies the answer in a problem (request ids and date, for Microsoft support).
func (e *Error) Ref() *problem.Graph {
	return &problem.Graph{Code: e.Code, RequestID: e.RequestID, ClientRequestID: e.ClientRequestID, Date: e.Date}
}

// retryAfterSeconds is Retry-After in whole seconds, rounded up (at least 1), or 0 without one.
func (e *Error) retryAfterSeconds() int {
	if !e.HasRetryAfter {
		return 0
	}
	return CeilSeconds(e.RetryAfter)
}

// CeilSeconds rounds a wait up to whole seconds, at least one (Retry-After is in whole seconds).
func CeilSeconds(d time.Duration) int { return max(int(math.Ceil(d.Seconds())), 1) }

type errorBody struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			Date            string `json:"date"`
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

// newError builds an *Error from a non-2xx answer; a body that is not Graph's error JSON still
// yields the status and the header identifiers.
func newError(resp *http.Response, sentClientRequestID string, body []byte, now time.Time) *Error {
	e := &Error{
		StatusCode:      resp.StatusCode,
		RequestID:       resp.Header.Get("request-id"),
		ClientRequestID: resp.Header.Get("client-request-id"),
		Date:            resp.Header.Get("Date"),
	}
	var b errorBody
	if json.Unmarshal(body, &b) == nil {
		e.Code = b.Error.Code
		e.Message = b.Error.Message
		if b.Error.InnerError.RequestID != "" {
			e.RequestID = b.Error.InnerError.RequestID
		}
		if b.Error.InnerError.ClientRequestID != "" {
			e.ClientRequestID = b.Error.InnerError.ClientRequestID
		}
		if b.Error.InnerError.Date != "" {
			e.Date = b.Error.InnerError.Date
		}
	}
	if e.ClientRequestID == "" {
		e.ClientRequestID = sentClientRequestID
	}
	e.RetryAfter, e.HasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	return e
}

// ParseRetryAfter reads a Retry-After value: whole seconds ("120"), fractional seconds ("2.128",
// as Intune sends) or an HTTP date (relative to now). ok is false when v is empty or unreadable;
// negative waits become zero.
func ParseRetryAfter(v string, now time.Time) (wait time.Duration, ok bool) {
	return parseRetryAfter(v, now)
}

// maxRetryAfter caps a Retry-After: no Graph answer asks for a day.
const maxRetryAfter = 24 * time.Hour

func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0, false
		}
		if secs <= 0 {
			return 0, true
		}
		if secs > maxRetryAfter.Seconds() {
			return maxRetryAfter, true
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter), true
	}
	return 0, false
}
