package tenant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
)

// ErrUnknownTenant is returned (wrapped, with the selector) by Fleet.Tenant when no registry
// entry has that name or tenant id: the domain's own error.
var ErrUnknownTenant = autopilot.ErrUnknownTenant

// Overrides are the global cloud's endpoints when GRAPH_BASE_URL and AZURE_AUTHORITY_HOST are
// explicitly configured; leave a field empty when its variable is unset (the defaults then
// apply). National-cloud tenants never use them.
type Overrides struct {
	GraphBaseURL  string
	AuthorityHost string
}

// Fleet is the set of tenants of a tenant registry (SPEC §11): the registry is read from Key
// Vault through the Store (so it is cached for the Store's TTL) and parsed again only when the
// secret's version changes. Each tenant is a *Tenant of its own, with its own Graph credential,
// token and Graph client, built on first use and kept warm; a tenant is rebuilt only when its
// registry entry changes. A Fleet is safe for concurrent use.
type Fleet struct {
	vault          *keyvault.Store
	registrySecret string
	overrides      Overrides
	opts           Options

	mu       sync.Mutex
	parsed   bool
	version  string         // version of the registry secret last parsed
	entries  []Entry        // of that version; replaced, never modified
	index    map[string]int // lower-case name and tenant id → position in entries
	parseErr error          // of that version
	members  map[string]*member
}

// member is a tenant built from its registry entry.
type member struct {
	entry  Entry
	tenant *Tenant
}

// NewFleet returns the fleet whose registry is the Key Vault secret registrySecretName of vault.
// Every tenant shares o (transport, clock). Nothing is read until the first call.
func NewFleet(vault *keyvault.Store, registrySecretName string, overrides Overrides, o Options) *Fleet {
	return &Fleet{
		vault:          vault,
		registrySecret: registrySecretName,
		overrides:      overrides,
		opts:           o,
		members:        map[string]*member{},
	}
}

// Entries returns the registry's tenants, in registry order. Errors: the *keyvault.Error of
// reading the secret (wrapped), or, for an invalid registry, a *config.Error wrapping a
// *RegistryError that names the entries and fields at fault.
func (f *Fleet) Entries(ctx context.Context) ([]Entry, error) {
	entries, _, err := f.load(ctx)
	return slices.Clone(entries), err
}

// Tenant returns the tenant selected by a registry name or a tenant id (both case-insensitive;
// a name wins over a tenant id) and its entry. An unknown selector is ErrUnknownTenant wrapped
// with the selector; other errors are Entries'.
func (f *Fleet) Tenant(ctx context.Context, selector string) (*Tenant, Entry, error) {
	entries, index, err := f.load(ctx)
	if err != nil {
		return nil, Entry{}, err
	}
	i, ok := index[strings.ToLower(selector)]
	if !ok {
		return nil, Entry{}, fmt.Errorf("%w %.64q", ErrUnknownTenant, selector)
	}
	e := entries[i]
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.members[e.Name]
	if m == nil || m.entry != e {
		graphBaseURL, authorityHost, err := CloudEndpoints(e.Cloud, f.overrides.GraphBaseURL, f.overrides.AuthorityHost)
		if err != nil { // ParseRegistry already refused unknown clouds
			return nil, Entry{}, &config.Error{Err: fmt.Errorf("tenant %q: %w", e.Name, err)}
		}
		m = &member{entry: e, tenant: New(f.vault, App{
			TenantID:             e.TenantID,
			ClientID:             e.ClientID,
			CredentialSecretName: e.CredentialSecretName,
			AuthorityHost:        authorityHost,
			GraphBaseURL:         graphBaseURL,
		}, f.opts)}
		f.members[e.Name] = m
	}
	return m.tenant, e, nil
}

// newIndex maps each entry's lower-case name and tenant id to its position; a name wins over
// another entry's tenant id (ParseRegistry refuses such registries anyway).
func newIndex(entries []Entry) map[string]int {
	index := make(map[string]int, 2*len(entries))
	for i, e := range entries {
		index[strings.ToLower(e.TenantID)] = i
	}
	for i, e := range entries {
		index[e.Name] = i
	}
	return index
}

// load reads the registry secret (from the Store's cache while it lasts) and parses it when its
// version is new. The slice and map returned must not be modified.
func (f *Fleet) load(ctx context.Context) ([]Entry, map[string]int, error) {
	if f.registrySecret == "" {
		return nil, nil, &config.Error{Err: errors.New("TENANT_REGISTRY_SECRET_NAME: not set, so there is no tenant registry")}
	}
	secret, err := f.vault.Get(ctx, f.registrySecret)
	if err != nil {
		return nil, nil, fmt.Errorf("tenant registry: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.parsed && secret.Version != "" && secret.Version == f.version {
		return f.entries, f.index, f.parseErr
	}
	f.parsed, f.version = true, secret.Version
	f.entries, f.parseErr = ParseRegistry([]byte(secret.Value))
	f.index = newIndex(f.entries)
	if f.parseErr != nil {
		f.parseErr = &config.Error{Err: fmt.Errorf("Key Vault secret %q (TENANT_REGISTRY_SECRET_NAME): %w", f.registrySecret, f.parseErr)}
		return nil, nil, f.parseErr
	}
	// Forget tenants that left the registry; changed ones are rebuilt on their next use.
	for name := range f.members {
		if !slices.ContainsFunc(f.entries, func(e Entry) bool { return e.Name == name }) {
			delete(f.members, name)
		}
	}
	return f.entries, f.index, nil
}
