package graph

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
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
