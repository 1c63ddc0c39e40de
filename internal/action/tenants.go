package action

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

// Tenants selects the tenant a request is about (SPEC §11). Select returns the tenant for a name
// or tenant id, or the only tenant for "" in a single-tenant deployment; its errors wrap
// autopilot.ErrNoTenantSelected or autopilot.ErrUnknownTenant, or are the errors of reading the
// registry.
type Tenants interface {
	Select(ctx context.Context, selector string) (in Intune, name string, err error)
	// Names lists every tenant, in registry order.
	Names(ctx context.Context) ([]string, error)
}

// Single is the Tenants of a deployment without a registry: one Intune, selected by "" or by
// its tenant id.
type Single struct {
	Intune   Intune
	TenantID string
}

// Select returns the one tenant for "" or its own tenant id.
func (s Single) Select(_ context.Context, selector string) (Intune, string, error) {
	if selector == "" || strings.EqualFold(selector, s.TenantID) {
		return s.Intune, "", nil
	}
	return nil, "", autopilot.ErrUnknownTenant
}

// Names returns the one tenant's id.
func (s Single) Names(context.Context) ([]string, error) { return []string{s.TenantID}, nil }

// Fleet selects tenants from the registry of SPEC §11.
type Fleet struct{ Fleet *tenant.Fleet }

// Select returns the registry's tenant of that name or tenant id.
func (f Fleet) Select(ctx context.Context, selector string) (Intune, string, error) {
	if selector == "" {
		return nil, "", autopilot.ErrNoTenantSelected
	}
	t, entry, err := f.Fleet.Tenant(ctx, selector)
	if err != nil {
		return nil, "", err
	}
	return t, entry.Name, nil
}

// Names lists the registry's tenants.
func (f Fleet) Names(ctx context.Context) ([]string, error) {
	entries, err := f.Fleet.Entries(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name
	}
	return names, nil
}

// selectTenant resolves req's tenant selector and records the tenant's name on req; the
// problem says how to select when none, "all" or an unknown one was given.
func (a *Actions) selectTenant(ctx context.Context, req *Request) (Intune, *problem.Problem) {
	selector := req.Tenant
	if selector == autopilot.AllTenants {
		return nil, problem.New(problem.BadRequest,
			"\"all\" only reads the status of every tenant (GET /status?tenant=all). Select one tenant by its name or tenant id; to sync every tenant, invoke the sync function with {\"action\":\"sync\",\"tenants\":\"all\"} (as the fleet's schedule does).")
	}
	in, name, err := a.d.Tenants.Select(ctx, selector)
	switch {
	case err == nil:
		req.TenantName = name
		return in, nil
	case errors.Is(err, autopilot.ErrNoTenantSelected):
		return nil, problem.New(problem.BadRequest,
			"This deployment serves several tenants: select one with ?tenant=<name or tenant id> (chat: `sync <name>`, `status <name>`; direct invocation: a \"tenant\" field), or ?tenant=all for the status of every tenant.")
	case errors.Is(err, autopilot.ErrUnknownTenant):
		p := problem.New(problem.UnknownTenant, fmt.Sprintf("No tenant named %s is configured.", Quote(selector)))
		p.Tenant = selector
		return nil, p
	}
	return nil, problem.Of(err)
}

// about marks p as the problem of the tenant req acted on (fleet deployments only).
func about(req *Request, p *problem.Problem) *problem.Problem {
	if req.TenantName != "" && p.Tenant == "" {
		p.Tenant = req.TenantName
	}
	return p
}

// Quote shows a caller's text safely in a detail or a message: printable ASCII only, at most 64
// bytes.
func Quote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 64; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return "\"" + b.String() + "\""
}
