package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
	"github.com/google/uuid"

	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// DefaultBaseURL is the root of Microsoft Graph's beta endpoint in the global cloud.
const DefaultBaseURL = "https://graph.microsoft.com/beta"

// Version is the client's version, sent in the User-Agent.
const Version = "v0.1.0"

const (
	settingsPath = "/deviceManagement/windowsAutopilotSettings"
	// maxBodyBytes bounds every answer read from Graph: the settings object is a few hundred bytes.
	maxBodyBytes = 1 << 20
)

// SyncStatus is the syncStatus of windowsAutopilotSettings. Values Graph adds in the future pass
// through unchanged.
type SyncStatus string

// The documented syncStatus values.
const (
	SyncStatusUnknown    SyncStatus = "unknown"
	SyncStatusInProgress SyncStatus = "inProgress"
	SyncStatusCompleted  SyncStatus = "completed"
	SyncStatusFailed     SyncStatus = "failed"
)

// Known reports whether s is one of the documented values.
func (s SyncStatus) Known() bool {
	switch s {
	case SyncStatusUnknown, SyncStatusInProgress, SyncStatusCompleted, SyncStatusFailed:
		return true
	}
	return false
}

// Settings is the windowsAutopilotSettings resource.
type Settings struct {
	ID                            string     `json:"id"`
	LastSyncDateTime              time.Time  `json:"lastSyncDateTime"`
	LastManualSyncTriggerDateTime time.Time  `json:"lastManualSyncTriggerDateTime"`
	SyncStatus                    SyncStatus `json:"syncStatus"`
}

// SettingsUpdate holds the properties a PATCH changes; nil fields are left as they are.
type SettingsUpdate struct {
	LastSyncDateTime              *time.Time  `json:"lastSyncDateTime,omitempty"`
	LastManualSyncTriggerDateTime *time.Time  `json:"lastManualSyncTriggerDateTime,omitempty"`
	SyncStatus                    *SyncStatus `json:"syncStatus,omitempty"`
}

// Response describes Graph's answer to one call, for logs and error answers; it comes back
// beside the value, as go-github returns its *Response.
type Response struct {
	// StatusCode is Graph's final HTTP status; 0 when Graph never answered.
	StatusCode      int
	RequestID       string
	ClientRequestID string // the one this call sent, whether or not Graph echoed it
	Date            string
	// Duration is the time the call took, retries (and a read-back after a 204) included.
	Duration time.Duration
}

// Options configures a Client. The zero value is ready for production.
type Options struct {
	// Transport sends the HTTP requests; nil means Go's default HTTP client.
	Transport policy.Transporter
	// Now is the clock used to turn an HTTP-date Retry-After into a duration; nil means time.Now.
	Now func() time.Time
	// MaxRetries bounds retries of a call (default 3); RetryDelay is the base backoff (default 400ms).
	MaxRetries int32
	RetryDelay time.Duration
	// ApplicationID is prefixed to the User-Agent (default "autopilot-sync/<Version>").
	ApplicationID string
	// TracingProvider lets an OpenTelemetry or X-Ray user attach tracing; the zero value traces nothing.
	TracingProvider tracing.Provider
}

// Client talks to one Graph endpoint with one credential. It is safe for concurrent use.
type Client struct {
	pl       runtime.Pipeline
	tracer   tracing.Tracer
	root     *url.URL // the Graph root, e.g. https://graph.microsoft.com/beta
	settings string   // absolute URL of windowsAutopilotSettings
	now      func() time.Time
	retry    policy.RetryOptions
}

// NewClient returns a Client for the Graph root baseURL (e.g. DefaultBaseURL) that authenticates
// with cred for the scope derived from baseURL's host (see Scope). It fails only on a bad baseURL.
func NewClient(baseURL string, cred azcore.TokenCredential, o *Options) (*Client, error) {
	if o == nil {
		o = &Options{}
	}
	scope, err := Scope(baseURL)
	if err != nil {
		return nil, err
	}
	root, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("graph: base URL %q: %w", baseURL, err)
	}
	c := &Client{root: root, settings: root.String() + settingsPath, now: o.Now}
	if c.now == nil {
		c.now = time.Now
	}
	c.retry = policy.RetryOptions{
		MaxRetries:    o.MaxRetries,
		RetryDelay:    o.RetryDelay,
		MaxRetryDelay: 30 * time.Second,
		StatusCodes:   []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
	}
	if c.retry.MaxRetries == 0 {
		c.retry.MaxRetries = 3
	}
	if c.retry.RetryDelay == 0 {
		c.retry.RetryDelay = 400 * time.Millisecond
	}
	c.retry.ShouldRetry = shouldRetry(c.retry.StatusCodes, c.now)

	appID := o.ApplicationID
	if appID == "" {
		appID = "autopilot-sync/" + Version
	}
	client, err := azcore.NewClient("autopilot-sync/graph", Version,
		runtime.PipelineOptions{
			PerCall:  []policy.Policy{clientRequestIDPolicy{}},
			PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{scope}, nil)},
		},
		&policy.ClientOptions{
			Transport:       o.Transport,
			Retry:           c.retry,
			Telemetry:       policy.TelemetryOptions{ApplicationID: appID},
			TracingProvider: o.TracingProvider,
		})
	if err != nil {
		return nil, fmt.Errorf("graph: build pipeline: %w", err)
	}
	c.pl = client.Pipeline()
	c.tracer = client.Tracer()
	return c, nil
}

// Scope returns the app-only token scope for a Graph root: "https://<host without port>/.default".
func Scope(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" || u.Scheme != "https" {
		return "", fmt.Errorf("graph: base URL %q is not an absolute https URL", baseURL)
	}
	return "https://" + u.Hostname() + "/.default", nil
}

// Get reads windowsAutopilotSettings. Needs DeviceManagementServiceConfig.Read.All.
// Errors are *Error for Graph answers, or the transport or context error.
//
// https://learn.microsoft.com/graph/api/intune-enrollment-windowsautopilotsettings-get?view=graph-rest-beta
func (c *Client) Get(ctx context.Context) (Settings, *Response, error) {
	var s Settings
	resp, err := c.do(ctx, http.MethodGet, c.settings, nil, &s)
	return s, resp, err
}

// Update patches windowsAutopilotSettings and returns the object as Graph now holds it (Graph
// documents 200 with the object; on 204 the settings are read back). Needs
// DeviceManagementServiceConfig.ReadWrite.All. Errors as for Get; the Response identifies the
// PATCH, its Duration includes the read-back.
//
// https://learn.microsoft.com/graph/api/intune-enrollment-windowsautopilotsettings-update?view=graph-rest-beta
func (c *Client) Update(ctx context.Context, u SettingsUpdate) (Settings, *Response, error) {
	body, err := json.Marshal(u)
	if err != nil {
		return Settings{}, &Response{}, fmt.Errorf("graph: encode update: %w", err)
	}
	var s Settings
	resp, err := c.do(ctx, http.MethodPatch, c.settings, body, &s)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		return s, resp, err
	}
	s, back, err := c.Get(ctx)
	resp.Duration += back.Duration
	if err != nil {
		// The read-back failed: its answer is the one to report.
		back.Duration = resp.Duration
		return Settings{}, back, err
	}
	return s, resp, nil
}

// Sync starts a sync of Windows Autopilot devices with the Windows Autopilot deployment service.
// Graph answers 204 when the sync started, 409 when one is already in progress and 429 within 10
// minutes of the previous manual sync: those two come back as *Error at once, never retried.
// 502, 503, 504 and transport errors are retried with backoff (SPEC §5); should an attempt that
// failed that way have reached Intune after all, its retry answers 409 or 429, so a caller may
// see "in progress" or "throttled" for a sync that this call started. Needs
// DeviceManagementServiceConfig.ReadWrite.All.
//
// https://learn.microsoft.com/graph/api/intune-enrollment-windowsautopilotsettings-sync?view=graph-rest-beta
func (c *Client) Sync(ctx context.Context) (*Response, error) {
	retry := c.retry
	retry.StatusCodes = []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}
	retry.ShouldRetry = shouldRetry(retry.StatusCodes, c.now)
	ctx = policy.WithRetryOptions(ctx, retry)
	return c.do(ctx, http.MethodPost, c.settings+"/sync", nil, nil)
}

// do sends one request through the pipeline and decodes a 2xx body into out (when out is non-nil
// and there is a body) of at most maxBodyBytes. The Response is never nil: it says what Graph
// answered, if anything.
func (c *Client) do(ctx context.Context, method, endpoint string, body []byte, out any) (*Response, error) {
	return c.doLimit(ctx, method, endpoint, body, out, maxBodyBytes)
}

// doLimit is do for an answer of at most limit bytes (a page of a list is larger than an object).
func (c *Client) doLimit(ctx context.Context, method, endpoint string, body []byte, out any, limit int) (r *Response, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "graph."+method+" "+opName(endpoint), c.tracer, nil)
	defer func() { endSpan(err) }()
	r = &Response{}
	req, err := runtime.NewRequest(ctx, method, endpoint)
	if err != nil {
		return r, fmt.Errorf("graph: new request: %w", err)
	}
	req.Raw().Header.Set("Accept", "application/json")
	if body != nil {
		if err := req.SetBody(streamingBody(body), "application/json"); err != nil {
			return r, fmt.Errorf("graph: set body: %w", err)
		}
	}
	// The body is read here, through a limit, rather than buffered whole by the pipeline.
	runtime.SkipBodyDownload(req)

	started := time.Now()
	resp, err := c.pl.Do(req)
	r.Duration = time.Since(started)
	// Set by clientRequestIDPolicy on the first attempt, kept across retries.
	r.ClientRequestID = req.Raw().Header.Get("client-request-id")
	if err != nil {
		return r, fmt.Errorf("graph: %s %s: %w", method, opName(endpoint), err)
	}
	defer resp.Body.Close()
	r.StatusCode = resp.StatusCode
	r.RequestID = resp.Header.Get("request-id")
	r.Date = resp.Header.Get("Date")
	if id := resp.Header.Get("client-request-id"); id != "" {
		r.ClientRequestID = id
	}
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return r, newError(resp, req.Raw().Header.Get("client-request-id"), data, c.now())
	}
	if readErr != nil {
		return r, fmt.Errorf("graph: %s %s: read answer: %w", method, opName(endpoint), readErr)
	}
	if len(data) > limit {
		return r, fmt.Errorf("graph: %s %s: %w: larger than %d bytes", method, opName(endpoint), ErrMalformedAnswer, limit)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return r, fmt.Errorf("graph: %s %s: %w: %w", method, opName(endpoint), ErrMalformedAnswer, err)
		}
	}
	return r, nil
}

// ErrMalformedAnswer marks a 2xx answer whose body is not the JSON Graph documents. Its problem
// (problem.Classifier) is graphError.
var ErrMalformedAnswer error = malformedAnswer{}

type malformedAnswer struct{}

func (malformedAnswer) Error() string { return "malformed answer" }

func (malformedAnswer) Problem() *problem.Problem {
	return problem.New(problem.GraphError, "Microsoft Graph answered with a body that is not the documented JSON.")
}

// opName names the operation of an endpoint, for spans and errors: its path below
// deviceManagement, without the query (which may hold a serial) and with GUIDs as {id}:
// "windowsAutopilotSettings/sync", "windowsAutopilotDeviceIdentities",
// "importedWindowsAutopilotDeviceIdentities/{id}".
func opName(endpoint string) string {
	path := endpoint
	if u, err := url.Parse(endpoint); err == nil {
		path = u.Path
	} else if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	const under = "/devicemanagement/"
	if i := strings.Index(strings.ToLower(path), under); i >= 0 {
		path = path[i+len(under):]
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		if len(s) == 36 && uuid.Validate(s) == nil {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// clientRequestIDPolicy gives each call a fresh client-request-id (kept across its retries, so
// Graph's logs tie the attempts together).
type clientRequestIDPolicy struct{}

func (clientRequestIDPolicy) Do(req *policy.Request) (*http.Response, error) {
	if req.Raw().Header.Get("client-request-id") == "" {
		req.Raw().Header.Set("client-request-id", uuid.NewString())
	}
	return req.Next()
}

// shouldRetry retries transport errors and the given statuses, but not when the wait Graph asks
// for would end after the context's deadline: then the answer is returned at once, so the caller can
// pass Graph's Retry-After on instead of timing out.
func shouldRetry(statuses []int, now func() time.Time) func(*http.Response, error) bool {
	return func(resp *http.Response, err error) bool {
		if err != nil {
			return true
		}
		if !runtime.HasStatusCode(resp, statuses...) {
			return false
		}
		if deadline, ok := resp.Request.Context().Deadline(); ok {
			// The deadline is on the real clock, whatever clock reads Retry-After dates.
			if wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now()); ok && wait > time.Until(deadline) {
				return false
			}
		}
		return true
	}
}

// streamingBody adapts a byte slice to the ReadSeekCloser azcore wants.
func streamingBody(b []byte) io.ReadSeekCloser {
	return nopCloser{bytes.NewReader(b)}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
