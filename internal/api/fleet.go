package api

import (
	"errors"
	"time"

	"context"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"net/http"
	"sync"

	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Enqueuer queues one sync per tenant (SPEC §11 fan-out; fanout.Queue in production).
type Enqueuer interface {
	Enqueue(ctx context.Context, tenants []string) (int, error)
}

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
	*Status
}

// fleetStatus reads every tenant's settings concurrently, with a bound.
func (f *Function) fleetStatus(ctx context.Context) answer {
	names, err := f.tenants().Names(ctx)
	if err != nil {
		a := problemAnswer(classify(err))
		a.action = "fleetStatus"
		return a
	}
	out := FleetStatus{Tenants: make([]TenantStatus, len(names))}
	sem := make(chan struct{}, fleetStatusBound)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		graph time.Duration
		vault time.Duration
	)
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			// Each tenant has its own trace (a trace serves one goroutine); their times add up
			// into the invocation's.
			tctx, tr := traced(ctx)
			out.Tenants[i] = f.tenantStatus(tctx, name)
			mu.Lock()
			graph += tr.graph.Total
			vault += tr.vault
			mu.Unlock()
		})
	}
	wg.Wait()
	a := answer{status: http.StatusOK, action: "fleetStatus", body: out}
	a.graph.Total, a.vault = graph, vault
	return a
}

func (f *Function) tenantStatus(ctx context.Context, name string) TenantStatus {
	in, _, p := f.selectTenant(ctx, name)
	if p == nil {
		s, err := in.Get(ctx)
		if err == nil {
			st := NewStatus(s, f.d.Now())
			return TenantStatus{Name: name, Result: "ok", Status: &st}
		}
		p = classify(err)
	}
	if p.Err != nil {
		f.d.Log.WarnContext(ctx, "fleet status: tenant failed", "tenant", name, "code", string(p.Code), "error", p.Err.Error())
	}
	return TenantStatus{Name: name, Result: string(p.Code), Detail: p.Detail}
}

// fanOut enqueues one sync per tenant of the registry.
func (f *Function) fanOut(ctx context.Context) answer {
	a := answer{action: "fanOut"}
	if f.d.Fleet == nil {
		a.body = misconfigured(errFleetQueueUnset)
		return a
	}
	names, err := f.tenants().Names(ctx)
	if err != nil {
		a.body = classify(err)
		return a
	}
	n, err := f.d.Fleet.Enqueue(ctx, names)
	if err != nil {
		// The queue's error names the queue and the permission it needs, never a credential.
		p := problem.New(QueueUnavailable, "Enqueueing the fleet's syncs failed: "+err.Error())
		p.Err = err
		a.body = p
		return a
	}
	a.status, a.body = http.StatusOK, Enqueued{Enqueued: n}
	return a
}

// QueueUnavailable is the error code of a failed fan-out (a Lambda error, never an HTTP answer).
const QueueUnavailable problem.Code = "queueUnavailable"

var errFleetQueueUnset = configError("FLEET_QUEUE_URL: required to enqueue a sync per tenant (\"tenants\":\"all\")")

// Enqueued is the answer to a fan-out.
type Enqueued struct {
	Enqueued int `json:"enqueued"`
}

// configError is a configuration problem found while serving (answered as misconfigured).
func configError(msg string) error { return &config.Error{Err: errors.New(msg)} }
