package diagnose

import (
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/jsonenc"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// The functions a report is about: their needs differ (the sync function needs
// DeviceManagementServiceConfig.ReadWrite.All, the status function Read.All or ReadWrite.All).
const (
	FunctionSync   = autopilot.FunctionSync
	FunctionStatus = autopilot.FunctionStatus
)

// The names of the checks, in the order they run (SPEC §14).
const (
	CheckConfiguration   = "configuration"
	CheckKeyVaultToken   = "keyVaultToken"
	CheckGraphCredential = "graphCredential"
	CheckCallerSecrets   = "callerSecrets"
	CheckGraphToken      = "graphToken"
	CheckGraphRead       = "graphRead"
	CheckTenants         = "tenants"
)

// Report is the answer of diagnose: every check in order, and whether all passed.
type Report struct {
	OK       bool               `json:"ok"`
	Function autopilot.Function `json:"function"`
	Checks   []Check            `json:"checks"`

	// Graph is the answer to the graphRead check of a single-tenant deployment (StatusCode 0 when
	// Graph was not reached), for the invocation's log line; it is not part of the report.
	Graph graph.Response `json:"-"`
}

// Check is one link of the chain. A check whose prerequisite failed is Skipped (and not OK).
// A failed check has a Code of SPEC §5, a Detail for operators (it may name secrets, roles and
// Entra error codes, never a secret value or a token) and a Fix, the command or portal step that
// mends it.
type Check struct {
	Name    string       `json:"name"`
	OK      bool         `json:"ok"`
	Ms      int64        `json:"ms"`
	Code    problem.Code `json:"code,omitempty"`
	Detail  string       `json:"detail,omitempty"`
	Fix     string       `json:"fix,omitempty"`
	Skipped bool         `json:"skipped,omitempty"`
	// Roles are the Graph token's roles (graphToken), when the token is a JWT; empty, not nil,
	// when it has none.
	Roles []string `json:"roles,omitzero"`
	// Tenants are the per-tenant checks of a tenant registry (tenants).
	Tenants []TenantReport `json:"tenants,omitempty"`
	// Warnings are what needs doing soon without failing the check: a secret that expires within
	// ExpiryWarning (expiry.go).
	Warnings []string `json:"warnings,omitempty"`
}

// TenantReport is the checks of one tenant of the registry: graphCredential, graphToken and
// graphRead with its own Graph app.
type TenantReport struct {
	Name     string  `json:"name"`
	TenantID string  `json:"tenantId"`
	OK       bool    `json:"ok"`
	Checks   []Check `json:"checks"`
}

// MarshalJSON writes the check as SPEC §14 shows it: a skipped check has no ms. Fixes keep
// their <, > and & as they are (the encoder that embeds this may still escape them).
func (c Check) MarshalJSON() ([]byte, error) {
	type plain Check // the same fields, without this method
	var v any = plain(c)
	if c.Skipped {
		v = struct {
			Name    string `json:"name"`
			OK      bool   `json:"ok"`
			Skipped bool   `json:"skipped"`
		}{c.Name, false, true}
	}
	return jsonenc.Marshal(v)
}

// Failed returns the checks that failed (not those skipped), the tenants' included as
// "tenants/<name>/<check>", in order.
func (r Report) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK && !c.Skipped && len(c.Tenants) == 0 {
			out = append(out, c.Name)
		}
		for _, t := range c.Tenants {
			for _, tc := range t.Checks {
				if !tc.OK && !tc.Skipped {
					out = append(out, c.Name+"/"+t.Name+"/"+tc.Name)
				}
			}
		}
	}
	return out
}

// FirstFailure returns the first check that failed, a tenant's included, and false when none did.
func (r Report) FirstFailure() (Check, bool) {
	for _, c := range r.Checks {
		if c.OK || c.Skipped {
			continue
		}
		for _, t := range c.Tenants {
			for _, tc := range t.Checks {
				if !tc.OK && !tc.Skipped {
					return tc, true
				}
			}
		}
		return c, true
	}
	return Check{}, false
}
