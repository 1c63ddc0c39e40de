// Package problem holds the stable error answers of SPEC §5: RFC 9457 problem documents with a
// small set of codes, each mapped to one HTTP status in one table. Errors reach the edge already
// coded: the error types of the packages that talk to the outside world (graph, keyvault, entra,
// awssts, config) say which problem they are (Classifier), and Of turns any error into its
// problem, so the edge knows none of those types. Internal detail goes to logs, never into the
// encoded problem.
package problem

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Code is a stable problem code of SPEC §5.
type Code string

// The stable codes.
const (
	SyncInProgress         Code = "syncInProgress"
	SyncThrottled          Code = "syncThrottled"
	Unauthorized           Code = "unauthorized"
	BadRequest             Code = "badRequest"
	NotFound               Code = "notFound"
	UnknownTenant          Code = "unknownTenant"
	MethodNotAllowed       Code = "methodNotAllowed"
	PayloadTooLarge        Code = "payloadTooLarge"
	UnsupportedMediaType   Code = "unsupportedMediaType"
	GraphPermissionDenied  Code = "graphPermissionDenied"
	GraphError             Code = "graphError"
	GraphUnavailable       Code = "graphUnavailable"
	SecretStoreUnavailable Code = "secretStoreUnavailable"
	CredentialRejected     Code = "credentialRejected"
	UpstreamTimeout        Code = "upstreamTimeout"
	Misconfigured          Code = "misconfigured"
	// Forbidden: valid credentials of a scheme that may not do this (SPEC §6).
	Forbidden Code = "forbidden"
	// QueueUnavailable: a message to SQS could not be sent (a fan-out, a follow-up's next check, a
	// deferred request's wait): transient.
	QueueUnavailable Code = "queueUnavailable"
)

type meta struct {
	status int
	title  string
}

// table is the one place that maps codes to HTTP status and title.
var table = map[Code]meta{
	SyncInProgress:         {http.StatusConflict, "A sync is already in progress"},
	SyncThrottled:          {http.StatusTooManyRequests, "Sync requested too soon"},
	Unauthorized:           {http.StatusUnauthorized, "Unauthorized"},
	BadRequest:             {http.StatusBadRequest, "Bad request"},
	NotFound:               {http.StatusNotFound, "Not found"},
	UnknownTenant:          {http.StatusNotFound, "Unknown tenant"},
	MethodNotAllowed:       {http.StatusMethodNotAllowed, "Method not allowed"},
	PayloadTooLarge:        {http.StatusRequestEntityTooLarge, "Payload too large"},
	UnsupportedMediaType:   {http.StatusUnsupportedMediaType, "Unsupported media type"},
	GraphPermissionDenied:  {http.StatusBadGateway, "Graph permission missing"},
	GraphError:             {http.StatusBadGateway, "Graph refused the request"},
	GraphUnavailable:       {http.StatusServiceUnavailable, "Graph unavailable"},
	SecretStoreUnavailable: {http.StatusServiceUnavailable, "Key Vault unavailable"},
	CredentialRejected:     {http.StatusBadGateway, "Credential rejected"},
	UpstreamTimeout:        {http.StatusGatewayTimeout, "Upstream timeout"},
	Misconfigured:          {http.StatusInternalServerError, "Service misconfigured"},
	Forbidden:              {http.StatusForbidden, "Forbidden"},
	QueueUnavailable:       {http.StatusServiceUnavailable, "Queue unavailable"},
}

// Status returns the HTTP status of code (500 for a code not in the table).
func (c Code) Status() int {
	if m, ok := table[c]; ok {
		return m.status
	}
	return http.StatusInternalServerError
}

// Transient reports whether a retry later may succeed without anyone changing anything. A
// throttled Graph call is: a follow-up's read of the settings, a device or an imported record
// that Graph still throttles after its retries is read again later, never ended as an error.
// (A sync Graph refused with 429 is answered as such, not retried: §5, §16.)
func (c Code) Transient() bool {
	switch c {
	case GraphUnavailable, SecretStoreUnavailable, UpstreamTimeout, QueueUnavailable, SyncThrottled:
		return true
	}
	return false
}

// DefaultRetryAfter is the Retry-After of a 503 when nobody upstream said how long to wait.
const DefaultRetryAfter = 30 * time.Second

// Graph identifies the Graph answer behind a problem.
type Graph struct {
	Code            string `json:"code,omitempty"`
	RequestID       string `json:"requestId,omitempty"`
	ClientRequestID string `json:"clientRequestId,omitempty"`
	Date            string `json:"date,omitempty"`
}

// Problem is an RFC 9457 problem document with the extension members of SPEC §5.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   Code   `json:"code"`

	RetryAfterSeconds             int        `json:"retryAfterSeconds,omitempty"`
	NextSyncAllowedAt             *time.Time `json:"nextSyncAllowedAt,omitempty"`
	SyncStatus                    string     `json:"syncStatus,omitempty"`
	LastManualSyncTriggerDateTime *time.Time `json:"lastManualSyncTriggerDateTime,omitempty"`
	Graph                         *Graph     `json:"graph,omitempty"`
	// Tenant names the tenant a fleet answer is about.
	Tenant string `json:"tenant,omitempty"`

	// Err is the cause, for logs only; never encoded.
	Err error `json:"-"`
}

// New returns the problem of code with detail.
func New(code Code, detail string) *Problem {
	m, ok := table[code]
	if !ok {
		m = table[Misconfigured]
	}
	return &Problem{
		Type:   "urn:autopilot-sync:problem:" + kebab(string(code)),
		Title:  m.title,
		Status: m.status,
		Detail: detail,
		Code:   code,
	}
}

func (p *Problem) Error() string { return string(p.Code) + ": " + p.Detail }

// Unwrap returns the cause.
func (p *Problem) Unwrap() error { return p.Err }

// RetryAfter is the Retry-After a 429 or 503 answer carries, in whole seconds: its own, else
// DefaultRetryAfter, since SPEC §5 wants one on every 429 and 503. It is 0 for other answers.
func (p *Problem) RetryAfter() int {
	if p.RetryAfterSeconds > 0 {
		return p.RetryAfterSeconds
	}
	if p.Status == http.StatusServiceUnavailable || p.Status == http.StatusTooManyRequests {
		return int(DefaultRetryAfter / time.Second)
	}
	return 0
}

// Misconfiguration is the problem of a broken configuration, the same words for every cause:
// err (the variable, the secret, what to fix) goes to the log line only.
func Misconfiguration(err error) *Problem {
	p := New(Misconfigured, "The service is not configured correctly; its operators have the details in the logs.")
	p.Err = err
	return p
}

// Classifier is an error that knows which problem it is. Problem returns a fresh problem without
// its cause (Of sets Err).
type Classifier interface {
	error
	Problem() *Problem
}

// Of returns the problem of err: err itself when it is (or wraps) a *Problem; upstreamTimeout
// when a context ended; else the problem of the outermost Classifier in err's chain; else
// graphUnavailable (nothing answered that could say more). The cause is kept in Err for the log
// line; no error text reaches the encoded problem. Of(nil) is nil.
func Of(err error) *Problem {
	if err == nil {
		return nil
	}
	if p, ok := As(err); ok {
		return p
	}
	var p *Problem
	var c Classifier
	switch {
	case IsTimeout(err):
		p = New(UpstreamTimeout, "Microsoft Graph, Entra ID or Key Vault did not answer in time.")
	case errors.As(err, &c):
		p = c.Problem()
	default:
		p = New(GraphUnavailable, "Microsoft Graph could not be reached; try again later.")
	}
	p.Err = err
	return p
}

// As returns err as a *Problem when it is (or wraps) one.
func As(err error) (*Problem, bool) {
	var p *Problem
	ok := errors.As(err, &p)
	return p, ok
}

// IsTimeout reports whether err is a context deadline or cancellation.
func IsTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// kebab turns "syncThrottled" into "sync-throttled".
func kebab(s string) string {
	out := make([]byte, 0, len(s)+4)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			out = append(out, '-', c+'a'-'A')
			continue
		}
		out = append(out, c)
	}
	return string(out)
}
