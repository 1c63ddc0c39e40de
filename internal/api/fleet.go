package api

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
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
func (f *Function) fleetStatus(ctx context.Context, _ *request) Outcome {
	names, err := f.d.Tenants.Names(ctx)
	if err != nil {
		return failed(classify(err))
	}
	fleet := FleetStatus{Tenants: make([]TenantStatus, len(names))}
	calls := make([]Calls, len(names))
	sem := make(chan struct{}, fleetStatusBound)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			fleet.Tenants[i], calls[i] = f.tenantStatus(ctx, name)
		})
	}
	wg.Wait()
	o := Outcome{Fleet: &fleet}
	for _, c := range calls {
		o.Calls.merge(c)
	}
	return o
}

func (f *Function) tenantStatus(ctx context.Context, name string) (TenantStatus, Calls) {
	in, _, p := f.selectTenant(ctx, name)
	if p != nil {
		return TenantStatus{Name: name, Result: string(p.Code), Detail: p.Detail}, Calls{}
	}
	o := f.readStatus(ctx, in)
	if o.Problem == nil {
		return TenantStatus{Name: name, Result: "ok", Status: o.Status}, o.Calls
	}
	if o.Problem.Err != nil {
		f.d.Log.WarnContext(ctx, "fleet status: tenant failed", "tenant", name, "code", string(o.Problem.Code), "error", o.Problem.Err.Error())
	}
	return TenantStatus{Name: name, Result: string(o.Problem.Code), Detail: o.Problem.Detail}, o.Calls
}

// QueueUnavailable is the error code of a failed fan-out (a Lambda error, never an HTTP answer).
const QueueUnavailable problem.Code = "queueUnavailable"

// Enqueued is the answer to a fan-out.
type Enqueued struct {
	Enqueued int `json:"enqueued"`
}

var (
	errNoRegistry      = configError("TENANT_REGISTRY_SECRET_NAME: \"tenants\":\"all\" needs a tenant registry; a single-tenant deployment syncs with {\"action\":\"sync\"}")
	errFleetQueueUnset = configError("FLEET_QUEUE_URL: required to enqueue a sync per tenant (\"tenants\":\"all\")")
)

// fanOut serves {"action":"sync","tenants":"all"}: one queued sync per tenant of the registry.
func (f *Function) fanOut(ctx context.Context, _ *request) Outcome {
	if _, single := f.d.Tenants.(Single); single {
		return failed(misconfigured(errNoRegistry))
	}
	if f.d.Fleet == nil {
		return failed(misconfigured(errFleetQueueUnset))
	}
	names, err := f.d.Tenants.Names(ctx)
	if err != nil {
		return failed(classify(err))
	}
	bodies := make([][]byte, len(names))
	for i, name := range names {
		if bodies[i], err = json.Marshal(fleetMessage{Tenant: name}); err != nil {
			return failed(classify(err))
		}
	}
	n, err := f.d.Fleet.SendBatchNamed(ctx, bodies, names)
	if err != nil {
		// The queue's error names the queue and the permission it needs, never a credential.
		p := problem.New(QueueUnavailable, "Enqueueing the fleet's syncs failed: "+err.Error())
		p.Err = err
		return failed(p)
	}
	return Outcome{Enqueued: &Enqueued{Enqueued: n}}
}

// configError is a configuration problem found while serving (answered as misconfigured).
func configError(msg string) error { return &config.Error{Err: errors.New(msg)} }
