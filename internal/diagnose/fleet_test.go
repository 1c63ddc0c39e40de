package diagnose

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

const (
	fabrikamTenant = "00000000-0000-4000-8000-0000000000f1"
	fabrikamApp    = "00000000-0000-4000-8000-0000000000f2"
	registrySecret = "tenant-registry"
)

func entryJSON(name, tenantID, clientID, secret string) string {
	return fmt.Sprintf(`{"name":%q,"tenantId":%q,"clientId":%q,"credentialSecretName":%q}`, name, tenantID, clientID, secret)
}

// fleetFixture is a fixture with a registry of two tenants: contoso (the seeded app) and
// fabrikam, whose own app's secret is in fabrikam-graph; registry replaces the registry when set.
func fleetFixture(t *testing.T, registry string) *fixture {
	t.Helper()
	f := newFixture(t)
	secret := "fabrikam-graph-secret-0123456789"
	f.e.AddApp(emulator.App{TenantID: fabrikamTenant, ClientID: fabrikamApp, Secret: secret})
	f.setSecret("fabrikam-graph", secret, "")
	if registry == "" {
		registry = "[" + entryJSON("contoso", seedTenant, seedGraphApp, seedSecret) + "," + entryJSON("fabrikam", fabrikamTenant, fabrikamApp, "fabrikam-graph") + "]"
	}
	f.setSecret(registrySecret, registry, "")
	f.env["TENANT_REGISTRY_SECRET_NAME"] = registrySecret
	return f
}

func tenantReport(name, tenantID string, checks ...Check) TenantReport {
	ok := true
	for _, c := range checks {
		ok = ok && c.OK
	}
	return TenantReport{Name: name, TenantID: tenantID, OK: ok, Checks: checks}
}

func tenantsCheck(c Check, tenants ...TenantReport) Check {
	c.Tenants = tenants
	return c
}

// TestFleet is the report of a deployment with a tenant registry, for each fault it can cause.
func TestFleet(t *testing.T) {
	t.Parallel()
	contosoOK := tenantReport("contoso", seedTenant, passed(CheckGraphCredential), withRoles(passed(CheckGraphToken), readWrite), passed(CheckGraphRead))
	fabrikamOK := tenantReport("fabrikam", fabrikamTenant, passed(CheckGraphCredential), withRoles(passed(CheckGraphToken), readWrite), passed(CheckGraphRead))
	head := []Check{passed(CheckConfiguration), passed(CheckKeyVaultToken)}
	someFailed := func(code problem.Code, which string) Check {
		return failed(CheckTenants, code, "1 of 2 tenants failed a check: "+which+".", FixTenantChecks())
	}
	tests := []struct {
		name     string
		registry string
		setup    func(f *fixture)
		want     Check
	}{
		{name: "all good", want: tenantsCheck(passed(CheckTenants), contosoOK, fabrikamOK)},
		{
			name:  "a tenant's credential is missing",
			setup: func(f *fixture) { f.e.DeleteSecret("fabrikam-graph") },
			want: tenantsCheck(someFailed(problem.Misconfigured, "fabrikam (graphCredential)"), contosoOK,
				tenantReport("fabrikam", fabrikamTenant,
					failed(CheckGraphCredential, problem.Misconfigured, `Key Vault has no enabled secret named "fabrikam-graph".`, FixMissingSecret(noVault, "fabrikam-graph")),
					skipped(CheckGraphToken), skipped(CheckGraphRead))),
		},
		{
			name:  "a tenant's app lacks the role",
			setup: func(f *fixture) { f.e.SetAppRoles(fabrikamTenant, fabrikamApp, nil) },
			want: tenantsCheck(someFailed(problem.GraphPermissionDenied, "fabrikam (graphToken)"), contosoOK,
				tenantReport("fabrikam", fabrikamTenant, passed(CheckGraphCredential),
					withRoles(failed(CheckGraphToken, problem.GraphPermissionDenied,
						"The Graph app's token has no roles: it lacks DeviceManagementServiceConfig.ReadWrite.All, which the sync function needs.",
						"az ad app permission add --id "+fabrikamApp+" --api 00000003-0000-0000-c000-000000000000 --api-permissions 5ac13192-7ace-4fcf-b828-1a26f28068ee=Role && az ad app permission admin-consent --id "+fabrikamApp+
							"; then an admin of tenant "+fabrikamTenant+" opens https://login.microsoftonline.com/"+fabrikamTenant+"/adminconsent?client_id="+fabrikamApp+
							" (DeviceManagementServiceConfig.ReadWrite.All; a token issued before the consent lacks the role until it expires, up to about an hour)")),
					skipped(CheckGraphRead))),
		},
		{
			name:     "a tenant never consented to the app",
			registry: "[" + entryJSON("contoso", seedTenant, seedGraphApp, seedSecret) + "," + entryJSON("fabrikam", fabrikamTenant, "00000000-0000-4000-8000-0000000000f9", "fabrikam-graph") + "]",
			want: tenantsCheck(someFailed(problem.CredentialRejected, "fabrikam (graphToken)"), contosoOK,
				tenantReport("fabrikam", fabrikamTenant, passed(CheckGraphCredential),
					failed(CheckGraphToken, problem.CredentialRejected,
						`Microsoft Entra ID refused the Graph app (client 00000000-0000-4000-8000-0000000000f9, tenant `+fabrikamTenant+`) its credential from Key Vault secret "fabrikam-graph": AADSTS700016: Application with identifier '00000000-0000-4000-8000-0000000000f9' was not found in the directory '`+fabrikamTenant+`'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
						FixGraphPermission(fabrikamTenant, "00000000-0000-4000-8000-0000000000f9", readWrite)),
					skipped(CheckGraphRead))),
		},
		{
			name:     "a tenant that does not exist",
			registry: "[" + entryJSON("contoso", seedTenant, seedGraphApp, seedSecret) + "," + entryJSON("fabrikam", "00000000-0000-4000-8000-0000000000e1", fabrikamApp, "fabrikam-graph") + "]",
			want: tenantsCheck(someFailed(problem.CredentialRejected, "fabrikam (graphToken)"), contosoOK,
				tenantReport("fabrikam", "00000000-0000-4000-8000-0000000000e1", passed(CheckGraphCredential),
					failed(CheckGraphToken, problem.CredentialRejected,
						`Microsoft Entra ID refused the Graph app (client `+fabrikamApp+`, tenant 00000000-0000-4000-8000-0000000000e1) its credential from Key Vault secret "fabrikam-graph": AADSTS90002: Tenant '00000000-0000-4000-8000-0000000000e1' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
						FixRegistryEntry(noVault, registrySecret, 2, "tenantId")),
					skipped(CheckGraphRead))),
		},
		{
			name: "Graph refuses a tenant",
			setup: func(f *fixture) {
				f.e.AddFault(emulator.Fault{Service: emulator.Graph, Status: http.StatusForbidden, Times: 1})
			},
			want: Check{}, // which tenant is refused depends on which asks first: checked below
		},
		{
			name:     "a bad registry entry",
			registry: "[" + entryJSON("contoso", seedTenant, seedGraphApp, seedSecret) + "," + entryJSON("fabrikam", fabrikamTenant, "not-a-guid", "fabrikam-graph") + "]",
			want: failed(CheckTenants, problem.Misconfigured,
				`Key Vault secret "tenant-registry" (TENANT_REGISTRY_SECRET_NAME) is not a valid tenant registry (entries counted from 1): entry 2 ("fabrikam"), clientId: "not-a-guid" is not a GUID (the application id of the Graph app).`,
				FixRegistryEntry(noVault, registrySecret, 2, "clientId")),
		},
		{
			name:     "a duplicate registry entry",
			registry: "[" + entryJSON("contoso", seedTenant, seedGraphApp, seedSecret) + "," + entryJSON("contoso", fabrikamTenant, fabrikamApp, "fabrikam-graph") + "]",
			want: failed(CheckTenants, problem.Misconfigured,
				`Key Vault secret "tenant-registry" (TENANT_REGISTRY_SECRET_NAME) is not a valid tenant registry (entries counted from 1): entry 2 ("contoso"), name: duplicate of entry 1.`,
				FixRegistryEntry(noVault, registrySecret, 2, "name")),
		},
		{
			name:     "a registry that is not JSON",
			registry: "contoso,fabrikam",
			want: failed(CheckTenants, problem.Misconfigured,
				`Key Vault secret "tenant-registry" (TENANT_REGISTRY_SECRET_NAME) is not a valid tenant registry (entries counted from 1): the document: not a JSON array of tenants [{"name","tenantId","clientId","credentialSecretName","cloud"}].`,
				FixRegistryEntry(noVault, registrySecret, 0, "")),
		},
		{
			name:  "the registry is missing",
			setup: func(f *fixture) { f.e.DeleteSecret(registrySecret) },
			want: failed(CheckTenants, problem.Misconfigured, `Key Vault has no enabled secret named "tenant-registry" (TENANT_REGISTRY_SECRET_NAME).`,
				"az keyvault secret set --vault-name <vault> --name tenant-registry --file tenant-registry.json"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := fleetFixture(t, tt.registry)
			if tt.setup != nil {
				tt.setup(f)
			}
			rep := f.run(t, FunctionSync)
			if tt.want.Name == "" {
				checkOneTenantRefused(t, rep)
				return
			}
			checkReport(t, rep, FunctionSync, append(append([]Check{}, head...), tt.want))
		})
	}
}

// checkOneTenantRefused: one Graph 403 fails exactly one tenant's graphRead and hides no other.
func checkOneTenantRefused(t *testing.T, rep Report) {
	t.Helper()
	if got, want := strings.Join(rep.Failed(), " "), ""; rep.OK || len(rep.Failed()) != 1 || !strings.HasSuffix(rep.Failed()[0], "/graphRead") {
		t.Fatalf("failed checks %q (want one tenant's graphRead)%s", got, want)
	}
	c, _ := rep.FirstFailure()
	if c.Code != problem.GraphPermissionDenied || !strings.Contains(c.Fix, "/adminconsent?client_id=") {
		t.Errorf("the refused tenant's graphRead: %+v", c)
	}
	if n := len(rep.Checks[2].Tenants); n != 2 {
		t.Errorf("%d tenants reported, want 2", n)
	}
}

// TestFleetConcurrency: at most Concurrency tenants are checked at once.
func TestFleetConcurrency(t *testing.T) {
	t.Parallel()
	const tenants, bound = 5, 2
	f := newFixture(t)
	var entries, secrets []string
	for i := range tenants {
		tid, cid := fmt.Sprintf("00000000-0000-4000-8000-0000000001%02d", i), fmt.Sprintf("00000000-0000-4000-8000-0000000002%02d", i)
		secret, name := fmt.Sprintf("tenant-%d-graph-secret-0123456789", i), fmt.Sprintf("tenant-%d-graph", i)
		f.e.AddApp(emulator.App{TenantID: tid, ClientID: cid, Secret: secret})
		f.setSecret(name, secret, "")
		entries, secrets = append(entries, entryJSON(fmt.Sprintf("tenant-%d", i), tid, cid, name)), append(secrets, name)
	}
	f.setSecret(registrySecret, "["+strings.Join(entries, ",")+"]", "")
	f.env["TENANT_REGISTRY_SECRET_NAME"] = registrySecret

	release, arrived := make(chan struct{}), make(chan struct{}, tenants)
	f.e.AddFault(emulator.Fault{Service: emulator.Graph, Method: http.MethodGet, Hold: release, Arrived: func() { arrived <- struct{}{} }})
	done := make(chan Report, 1)
	go func() { done <- f.run(t, FunctionSync, func(o *Options) { o.Concurrency = bound }) }()
	for range bound {
		<-arrived
	}
	// Both slots are held in Graph: no other tenant may have read its credential yet.
	reads := 0
	counts := f.e.Counts().SecretReads
	for _, name := range secrets {
		reads += counts[name]
	}
	close(release)
	rep := <-done
	if reads != bound {
		t.Errorf("%d tenants had read their credential while %d held the slots", reads, bound)
	}
	if !rep.OK || len(rep.Checks[2].Tenants) != tenants || f.e.Counts().Graph[http.MethodGet] != tenants {
		t.Errorf("report ok %v with %d tenants, %d Graph reads; want ok with %d", rep.OK, len(rep.Checks[2].Tenants), f.e.Counts().Graph[http.MethodGet], tenants)
	}
}
