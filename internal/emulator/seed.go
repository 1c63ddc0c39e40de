package emulator

// Seed: the ready-to-use single-tenant setup most tests start from.

import "maps"

// IDs used by Seed. They are fixed and obviously fake.
const (
	SeedTenantID              = "00000000-0000-4000-8000-000000000001"
	SeedBootstrapClientID     = "00000000-0000-4000-8000-0000000000b0"
	SeedGraphClientID         = "00000000-0000-4000-8000-0000000000a0"
	SeedGraphCredentialSecret = "graph-credential" // Key Vault secret name holding the Graph app's client secret
)

// newSeedEnv returns the environment Seed returns, with a bootstrap secret that is random per
// emulator.
func newSeedEnv(e *Emulator) map[string]string {
	return map[string]string{
		"AZURE_TENANT_ID":              SeedTenantID,
		"AZURE_CLIENT_ID":              SeedBootstrapClientID,
		"AZURE_CLIENT_SECRET":          "emu-bootstrap-" + randHex(16),
		"AZURE_AUTHORITY_HOST":         e.AuthorityHost(),
		"KEY_VAULT_URL":                e.VaultURL(),
		"GRAPH_CLIENT_ID":              SeedGraphClientID,
		"GRAPH_BASE_URL":               e.GraphBaseURL(),
		"GRAPH_CREDENTIAL_SECRET_NAME": SeedGraphCredentialSecret,
	}
}

// Seed registers a ready-to-use single-tenant setup: a bootstrap app that
// reads Key Vault and a Graph app whose client secret is stored in the vault
// under SeedGraphCredentialSecret. Secrets are random per Start. It returns
// the environment a function needs (AZURE_TENANT_ID, AZURE_CLIENT_ID,
// AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST, KEY_VAULT_URL, GRAPH_CLIENT_ID,
// GRAPH_BASE_URL, GRAPH_CREDENTIAL_SECRET_NAME). Calling it again only returns
// the environment.
func (e *Emulator) Seed() map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.seeded {
		e.seeded = true
		e.vaultTenant = SeedTenantID
		e.addAppLocked(App{TenantID: SeedTenantID, ClientID: SeedBootstrapClientID, Secret: e.seedEnv["AZURE_CLIENT_SECRET"], Roles: []string{}})
		gs := "emu-graph-" + randHex(16)
		e.addAppLocked(App{TenantID: SeedTenantID, ClientID: SeedGraphClientID, Secret: gs})
		e.setSecretLocked(SeedGraphCredentialSecret, gs, "")
	}
	return maps.Clone(e.seedEnv)
}
