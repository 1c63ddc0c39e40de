package api

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// AllTenants selects every tenant of the registry (GET /status?tenant=all, fan-out).
const AllTenants = "all"

// Tenants selects the tenant a request is about (SPEC §11). Select returns the tenant for a name
// or tenant id, or the only tenant for "" in a single-tenant deployment; its errors wrap
// ErrNoTenantSelected or ErrUnknownTenant, or are the errors of reading the registry.
type Tenants interface {
	Select(ctx context.Context, selector string) (in Intune, name string, err error)
	// Names lists every tenant, in registry order.
	Names(ctx context.Context) ([]string, error)
}

// Errors of Tenants.Select.
var (
	ErrNoTenantSelected = errors.New("no tenant selected")
	ErrUnknownTenant    = errors.New("unknown tenant")
)

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
	return nil, "", ErrUnknownTenant
}

// Names returns the one tenant's id.
func (s Single) Names(context.Context) ([]string, error) { return []string{s.TenantID}, nil }

// parseTenant reads ?tenant=<name|tenantId|all>.
func parseTenant(q url.Values) (string, *problem.Problem) {
	v, ok := q["tenant"]
	if !ok {
		return "", nil
	}
	if len(v) != 1 || v[0] == "" || len(v[0]) > 256 {
		return "", problem.New(problem.BadRequest, "tenant must be given once, as a tenant name or tenant id.")
	}
	return strings.ToLower(strings.TrimSpace(v[0])), nil
}

// selectTenant resolves selector; the problem says how to select when none or an unknown one
// was given.
func (f *Function) selectTenant(ctx context.Context, selector string) (Intune, string, *problem.Problem) {
	in, name, err := f.tenants().Select(ctx, selector)
	switch {
	case err == nil:
		return in, name, nil
	case errors.Is(err, ErrNoTenantSelected):
		return nil, "", problem.New(problem.BadRequest,
			"This deployment serves several tenants: select one with ?tenant=<name or tenant id> (chat: `sync <name>`, `status <name>`; direct invocation: a \"tenant\" field), or ?tenant=all for the status of every tenant.")
	case errors.Is(err, ErrUnknownTenant):
		p := problem.New(problem.UnknownTenant, "No tenant named "+quote(selector)+" is configured.")
		p.Tenant = selector
		return nil, "", p
	}
	return nil, "", classify(err)
}

func (f *Function) tenants() Tenants {
	if f.d.Tenants != nil {
		return f.d.Tenants
	}
	return Single{Intune: f.d.Intune, TenantID: f.d.TenantID}
}

// quote shows a caller's selector safely in a detail: printable ASCII only, at most 64 bytes.
func quote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 64; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return "\"" + b.String() + "\""
}

// tenant records which tenant an answer is about (fleet deployments only).
func (a *answer) tenant(name string) {
	if name == "" {
		return
	}
	a.tenantName = name
	if p, ok := a.body.(*problem.Problem); ok && p.Tenant == "" {
		p.Tenant = name
	}
}
