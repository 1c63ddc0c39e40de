package diagnose

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

func TestExpiryWarningText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		exp  time.Time
		want string
	}{
		{"31 days away", epoch.Add(31 * 24 * time.Hour), ""},
		{"exactly 30 days away", epoch.Add(ExpiryWarning),
			`Key Vault secret "graph-credential" (GRAPH_CREDENTIAL_SECRET_NAME) expires on 2026-12-28T15:00:00Z, in 30 days: rotate it before then (docs/operating.md#rotating-secrets).`},
		{"an hour away", epoch.Add(time.Hour),
			`Key Vault secret "graph-credential" (GRAPH_CREDENTIAL_SECRET_NAME) expires on 2026-11-28T16:00:00Z, in 1 day: rotate it before then (docs/operating.md#rotating-secrets).`},
		{"expired", epoch.Add(-time.Second),
			`Key Vault secret "graph-credential" (GRAPH_CREDENTIAL_SECRET_NAME) expired on 2026-11-28T14:59:59Z: if the credential in it has expired too, Entra refuses it; rotate it now (docs/operating.md#rotating-secrets).`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ExpiryWarningText("graph-credential", "GRAPH_CREDENTIAL_SECRET_NAME", tc.exp, epoch); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// dated makes Key Vault answer the secret name with the exp attribute exp.
func (f *fixture) dated(name string, exp time.Time) {
	value, contentType, _ := f.e.Secret(name)
	ct := ""
	if contentType != "" {
		ct = fmt.Sprintf(`,"contentType":%q`, contentType)
	}
	f.e.AddFault(emulator.Fault{Service: emulator.Vault, Method: http.MethodGet, PathContains: "/secrets/" + name + "/", Status: http.StatusOK,
		Body: fmt.Sprintf(`{"value":%q,"id":"%ssecrets/%s/0123","attributes":{"enabled":true,"exp":%d}%s}`, value, f.e.VaultURL(), name, exp.Unix(), ct)})
}

// TestExpiryWarnings: a secret that expires within 30 days is a warning on the check that read
// it, and the report is still ok; one further away is not mentioned.
func TestExpiryWarnings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setSecret("webhook-token", "a-token-the-callers-send-0123456789", "")
	f.setSecret("webhook-hmac", "an-hmac-key-the-callers-sign-with-0123", "")
	f.env["WEBHOOK_TOKEN_SECRET_NAME"] = "webhook-token"
	f.env["WEBHOOK_HMAC_SECRET_NAME"] = "webhook-hmac"
	f.dated(emulator.SeedGraphCredentialSecret, epoch.Add(12*24*time.Hour))
	f.dated("webhook-token", epoch.Add(-24*time.Hour))
	f.dated("webhook-hmac", epoch.Add(90*24*time.Hour))

	graphCredential := passed(CheckGraphCredential)
	graphCredential.Warnings = []string{ExpiryWarningText(emulator.SeedGraphCredentialSecret, "GRAPH_CREDENTIAL_SECRET_NAME", epoch.Add(12*24*time.Hour), epoch)}
	callers := passed(CheckCallerSecrets)
	callers.Warnings = []string{ExpiryWarningText("webhook-token", "WEBHOOK_TOKEN_SECRET_NAME", epoch.Add(-24*time.Hour), epoch)}
	checkReport(t, f.run(t, FunctionSync), FunctionSync, []Check{
		passed(CheckConfiguration), passed(CheckKeyVaultToken), graphCredential, callers,
		withRoles(passed(CheckGraphToken), readWrite), passed(CheckGraphRead),
	})
	if reads := f.e.Counts().SecretReads[emulator.SeedGraphCredentialSecret]; reads > 1 {
		t.Errorf("%d reads of the Graph credential, want the check's one: the warning comes from memory", reads)
	}
}

// TestExpiryWarningsFleet: with a registry, the registry's secret warns on the tenants check and
// each tenant's credential on that tenant's graphCredential.
func TestExpiryWarningsFleet(t *testing.T) {
	t.Parallel()
	f := fleetFixture(t, "")
	registryExp, fabrikamExp := epoch.Add(2*24*time.Hour), epoch.Add(29*24*time.Hour)
	f.dated(registrySecret, registryExp)
	f.dated("fabrikam-graph", fabrikamExp)

	fabrikamCredential := passed(CheckGraphCredential)
	fabrikamCredential.Warnings = []string{ExpiryWarningText("fabrikam-graph", "credentialSecretName of fabrikam", fabrikamExp, epoch)}
	tenants := tenantsCheck(passed(CheckTenants),
		tenantReport("contoso", seedTenant, passed(CheckGraphCredential), withRoles(passed(CheckGraphToken), readWrite), passed(CheckGraphRead)),
		tenantReport("fabrikam", fabrikamTenant, fabrikamCredential, withRoles(passed(CheckGraphToken), readWrite), passed(CheckGraphRead)))
	tenants.Warnings = []string{ExpiryWarningText(registrySecret, registryVariable, registryExp, epoch)}
	checkReport(t, f.run(t, FunctionSync), FunctionSync, []Check{passed(CheckConfiguration), passed(CheckKeyVaultToken), tenants})
}
