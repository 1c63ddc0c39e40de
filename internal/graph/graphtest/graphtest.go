// Package graphtest fakes Microsoft Graph in memory for the tests of code that calls Graph through
// a graph.Client: Client gives a real graph.Client whose requests an http.Handler of the test
// answers (no network, no TLS), so the client's own decoding, typed errors and request ids are the
// real ones; Tenant and Run do the same for code that takes a tenant's Do. Tests only: no function
// binary imports it (the embedded emulator is the faithful fake, over real HTTPS).
package graphtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

// BaseURL is the Graph root the fake clients call.
const BaseURL = "https://graph.test/beta"

// Client returns a graph.Client whose requests h answers in memory. It retries nothing, so a
// test sees each answer once.
func Client(h http.Handler) *graph.Client {
	c, err := graph.NewClient(BaseURL, token{}, &graph.Options{Transport: transport{h}, MaxRetries: -1})
	if err != nil {
		panic(err) // BaseURL is valid
	}
	return c
}

type token struct{}

func (token) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "graphtest", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Failer is a handler that can fail a request before answering it, as a transport would (Graph
// unreachable, or a test's stand-in for a Key Vault or Entra failure underneath).
type Failer interface {
	Fail(r *http.Request) error
}

type transport struct{ h http.Handler }

func (t transport) Do(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	if f, ok := t.h.(Failer); ok {
		if err := f.Fail(r); err != nil {
			return nil, err
		}
	}
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	res := w.Result()
	res.Request = r
	return res, nil
}

// Run runs call with a new client of h, as a tenant's Do does.
func Run(h http.Handler, call func(*graph.Client) (*graph.Response, error)) (tenant.Call, error) {
	return run(Client(h), call)
}

func run(client *graph.Client, call func(*graph.Client) (*graph.Response, error)) (tenant.Call, error) {
	r, err := call(client)
	var c tenant.Call
	if r != nil {
		c.Graph, c.GraphTime = *r, r.Duration
	}
	return c, err
}

// Tenant is a fake of one tenant's Graph (an action.Intune): Do fails with Err before reaching
// Graph when Err is set (a Key Vault or Entra failure), else runs the call against Graph with
// one client for the tenant's life, as the real one does.
type Tenant struct {
	Graph http.Handler
	Err   error

	once   sync.Once
	client *graph.Client
}

// Do runs call with the client of t.Graph.
func (t *Tenant) Do(_ context.Context, call func(*graph.Client) (*graph.Response, error)) (tenant.Call, error) {
	if t.Err != nil {
		return tenant.Call{}, t.Err
	}
	t.once.Do(func() { t.client = Client(t.Graph) })
	return run(t.client, call)
}

// WriteJSON answers 200 with v as JSON.
func WriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes e as Graph would have answered: its status, error code, request ids and
// Retry-After (fractional seconds).
func WriteError(w http.ResponseWriter, e *graph.Error) {
	if e.HasRetryAfter {
		w.Header().Set("Retry-After", strconv.FormatFloat(e.RetryAfter.Seconds(), 'f', -1, 64))
	}
	if e.RequestID != "" {
		w.Header().Set("request-id", e.RequestID)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.StatusCode)
	inner := map[string]string{}
	if e.Date != "" {
		inner["date"] = e.Date
	}
	if e.ClientRequestID != "" {
		inner["client-request-id"] = e.ClientRequestID
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message, "innerError": inner}})
}

// Devices answers searches of windowsAutopilotDeviceIdentities from List as Graph's contains()
// does (case ignored), in one page, and counts them; a search term in Fail is answered with
// that error instead.
type Devices struct {
	List     []graph.DeviceIdentity
	Fail     map[string]*graph.Error
	searches atomic.Int64
}

// ServeHTTP answers one search.
func (g *Devices) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.searches.Add(1)
	term := strings.TrimSuffix(strings.TrimPrefix(r.URL.Query().Get("$filter"), "contains(serialNumber,'"), "')")
	if e := g.Fail[term]; e != nil {
		WriteError(w, e)
		return
	}
	page := struct {
		Value []graph.DeviceIdentity `json:"value"`
	}{Value: []graph.DeviceIdentity{}}
	for _, d := range g.List {
		if strings.Contains(strings.ToLower(d.SerialNumber), strings.ToLower(term)) {
			page.Value = append(page.Value, d)
		}
	}
	WriteJSON(w, page)
}

// Searches is how many searches g answered.
func (g *Devices) Searches() int64 { return g.searches.Load() }
