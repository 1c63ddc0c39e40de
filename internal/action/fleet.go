package action

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// fleetStatusBound is how many tenants are read at once for GET /status?tenant=all.
const fleetStatusBound = 16

// FleetStatus is the answer to GET /status?tenant=all: one entry per tenant, in registry order.
type FleetStatus struct {
	Tenants []TenantStatus `json:"tenants"`
}

// TenantStatus is one tenant's entry: result "ok" with the status fields, or a problem code
// with its detail. One failing tenant never hides the others.
type TenantStatus struct {
	Name   string `json:"name"`
	Result string `json:"result"`
	Detail string `json:"detail,omitempty"`
	*autopilot.Status
}

// fleetStatus reads every tenant's settings concurrently, with a bound.
func fleetStatus(a *Actions, ctx context.Context, req *Request) Result {
	names, err := a.d.Tenants.Names(ctx)
	if err != nil {
		return failed(problem.Of(err))
	}
	fleet := FleetStatus{Tenants: make([]TenantStatus, len(names))}
	calls := make([]Calls, len(names))
	sem := make(chan struct{}, fleetStatusBound)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			fleet.Tenants[i], calls[i] = a.tenantStatus(ctx, name)
		})
	}
	wg.Wait()
	for _, c := range calls {
		req.Calls.merge(c)
	}
	return fleet
}

func (a *Actions) tenantStatus(ctx context.Context, name string) (TenantStatus, Calls) {
	req := &Request{Tenant: name}
	in, p := a.selectTenant(ctx, req)
	if p != nil {
		return TenantStatus{Name: name, Result: string(p.Code), Detail: p.Detail}, Calls{}
	}
	res := a.readStatus(ctx, in, req)
	if doc, ok := res.(StatusDoc); ok {
		st := autopilot.Status(doc)
		return TenantStatus{Name: name, Result: "ok", Status: &st}, req.Calls
	}
	p = res.(Failure).P
	if p.Err != nil {
		a.d.Log.WarnContext(ctx, "fleet status: tenant failed", "tenant", name, "code", string(p.Code), "error", p.Err.Error())
	}
	return TenantStatus{Name: name, Result: string(p.Code), Detail: p.Detail}, req.Calls
}

// HTTP is 200 with every tenant's entry.
func (f FleetStatus) HTTP() Answer { return jsonAnswer(http.StatusOK, f) }

// Lambda is the same document ({"action":"status","tenants":"all"}).
func (f FleetStatus) Lambda() (json.RawMessage, error) { return lambdaResult(f) }

// Log writes code ok.
func (f FleetStatus) Log(l *Line) { l.Code = "ok" }

// Words are not reached from chat (a chat command names one tenant); they count the tenants.
func (f FleetStatus) Words(chat.Style, time.Time) chat.Words {
	ok := 0
	for _, t := range f.Tenants {
		if t.Result == "ok" {
			ok++
		}
	}
	return words(plural(len(f.Tenants), "tenant") + " read, " + plural(ok, "answer") + ".")
}

// Enqueued is the result of a fan-out: how many syncs were queued.
type Enqueued struct {
	Enqueued int `json:"enqueued"`
}

// HTTP is not reached (a fan-out is a direct invocation); it is 200 with the count.
func (e Enqueued) HTTP() Answer { return jsonAnswer(http.StatusOK, e) }

// Lambda is {"enqueued":N}.
func (e Enqueued) Lambda() (json.RawMessage, error) { return lambdaResult(e) }

// Log writes code ok.
func (e Enqueued) Log(l *Line) { l.Code = "ok" }

// Words count the queued syncs.
func (e Enqueued) Words(chat.Style, time.Time) chat.Words {
	return words(plural(e.Enqueued, "sync") + " queued.")
}

var (
	errNoRegistry      = configError("TENANT_REGISTRY_SECRET_NAME: \"tenants\":\"all\" needs a tenant registry; a single-tenant deployment syncs with {\"action\":\"sync\"}")
	errFleetQueueUnset = configError("FLEET_QUEUE_URL: required to enqueue a sync per tenant (\"tenants\":\"all\")")
)

// fleetMessage is the body of a fan-out message (fanOut sends it; the edge reads it).
type fleetMessage struct {
	Tenant string `json:"tenant"`
}

// FleetTenant reads a fleet queue message {"tenant":"<name>"}: the tenant, lower-cased, or
// false for any other body.
func FleetTenant(body []byte) (string, bool) {
	var m fleetMessage
	if json.Unmarshal(body, &m) != nil || strings.TrimSpace(m.Tenant) == "" {
		return "", false
	}
	return strings.ToLower(strings.TrimSpace(m.Tenant)), true
}

// fanOut serves {"action":"sync","tenants":"all"}: one queued sync per tenant of the registry.
func fanOut(a *Actions, ctx context.Context, _ *Request) Result {
	if _, single := a.d.Tenants.(Single); single {
		return failed(problem.Misconfiguration(errNoRegistry))
	}
	if a.d.Fleet == nil {
		return failed(problem.Misconfiguration(errFleetQueueUnset))
	}
	names, err := a.d.Tenants.Names(ctx)
	if err != nil {
		return failed(problem.Of(err))
	}
	bodies := make([][]byte, len(names))
	for i, name := range names {
		if bodies[i], err = json.Marshal(fleetMessage{Tenant: name}); err != nil {
			return failed(problem.Of(err))
		}
	}
	n, err := a.d.Fleet.SendBatchNamed(ctx, bodies, names)
	if err != nil {
		// The queue's error (the queue, the permission it needs) is the Lambda error's cause and
		// the log line's error, never the problem's detail.
		p := problem.New(problem.QueueUnavailable, "Enqueueing the fleet's syncs failed.")
		p.Err = err
		return failed(p)
	}
	return Enqueued{Enqueued: n}
}

// configError is a configuration problem found while serving (answered as misconfigured).
func configError(msg string) error { return &config.Error{Err: errors.New(msg)} }

// plural says "1 tenant", "2 tenants".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
