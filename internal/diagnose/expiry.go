package diagnose

// Warnings before a Key Vault secret expires: Key Vault keeps answering a secret past its exp
// attribute, so a client secret whose date was set with `az keyvault secret set --expires` (or a
// certificate, whose secret Key Vault dates itself) stops working only when Entra refuses it.
// The report says so a month before, as a warning that fails no check.

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

// ExpiryWarning is how long before a secret's expiry date the report warns.
const ExpiryWarning = 30 * 24 * time.Hour

// warnExpiry adds a warning to each check that read a Key Vault secret expiring within
// ExpiryWarning, or expired: graphCredential (a tenant's too), callerSecrets and tenants (the
// registry). The secrets come from the store's memory of the checks' reads: no request is sent.
func (r *runner) warnExpiry(ctx context.Context, l *links, checks []Check) {
	if l == nil || l.vault == nil {
		return
	}
	for i := range checks {
		c := &checks[i]
		switch {
		case c.Skipped:
		case c.Name == CheckGraphCredential:
			c.Warnings = r.expiring(ctx, l, namedSecret{variable: "GRAPH_CREDENTIAL_SECRET_NAME", name: r.cfg.GraphCredentialSecretName})
		case c.Name == CheckCallerSecrets:
			c.Warnings = r.expiring(ctx, l, callerSecrets(r.cfg)...)
		case c.Name == CheckTenants:
			r.warnTenants(ctx, l, c)
		}
	}
}

// warnTenants warns of the registry's secret and of each tenant's Graph credential.
func (r *runner) warnTenants(ctx context.Context, l *links, c *Check) {
	c.Warnings = r.expiring(ctx, l, namedSecret{variable: registryVariable, name: r.cfg.TenantRegistrySecretName})
	registry, err := l.vault.Get(ctx, r.cfg.TenantRegistrySecretName)
	if err != nil {
		return
	}
	entries, err := tenant.ParseRegistry([]byte(registry.Value))
	if err != nil {
		return
	}
	secretOf := map[string]string{}
	for _, e := range entries {
		secretOf[e.Name] = e.CredentialSecretName
	}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		for j := range t.Checks {
			if tc := &t.Checks[j]; tc.Name == CheckGraphCredential && tc.OK {
				tc.Warnings = r.expiring(ctx, l, namedSecret{variable: "credentialSecretName of " + t.Name, name: secretOf[t.Name]})
			}
		}
	}
}

// expiring returns a warning for each secret, of those read, that expires within ExpiryWarning.
func (r *runner) expiring(ctx context.Context, l *links, secrets ...namedSecret) []string {
	var out []string
	now := r.o.Now()
	for _, s := range secrets {
		if s.name == "" {
			continue
		}
		secret, err := l.vault.Get(ctx, s.name)
		if err != nil || secret.Expires.IsZero() {
			continue
		}
		if w := ExpiryWarningText(s.name, s.variable, secret.Expires, now); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// ExpiryWarningText is the warning for the Key Vault secret name (named by variable) that expires
// at exp, seen at now; empty when exp is more than ExpiryWarning away.
func ExpiryWarningText(name, variable string, exp, now time.Time) string {
	left := exp.Sub(now)
	if left > ExpiryWarning {
		return ""
	}
	when := exp.UTC().Format(time.RFC3339)
	if left <= 0 {
		return fmt.Sprintf("Key Vault secret %q (%s) expired on %s: if the credential in it has expired too, Entra refuses it; rotate it now (docs/operating.md#rotating-secrets).", name, variable, when)
	}
	days := int(math.Ceil(left.Hours() / 24))
	return fmt.Sprintf("Key Vault secret %q (%s) expires on %s, in %s: rotate it before then (docs/operating.md#rotating-secrets).", name, variable, when, plural(days, "day"))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
