package tenant_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

const registrySecret = "tenant-registry"

// member returns a registry entry with a tenant id, client id and credential secret of its own.
func member(i int, name, cloud string) tenant.Entry {
	return tenant.Entry{
		Name:                 name,
		TenantID:             fmt.Sprintf("00000000-0000-4000-8000-%012x", 0x100000+i),
		ClientID:             fmt.Sprintf("00000000-0000-4000-9000-%012x", 0x100000+i),
		CredentialSecretName: "graph-" + name,
		Cloud:                cloud,
	}
}

// register makes the emulator know each entry's Graph app and stores its credential in Key Vault.
// National-cloud tenants are bound to their cloud, so their tokens come only from its authority.
func register(e *emulator.Emulator, entries ...tenant.Entry) {
	for _, en := range entries {
		secret := "emu-" + en.Name + "-" + rand16()
		e.AddApp(emulator.App{TenantID: en.TenantID, ClientID: en.ClientID, Secret: secret})
		e.SetSecret(en.CredentialSecretName, secret, "")
		if en.Cloud != "" && en.Cloud != tenant.CloudGlobal {
			e.SetTenantCloud(en.TenantID, en.Cloud)
		}
	}
}

func rand16() string { return strings.ToLower(rand.Text()[:16]) }

// setRegistry stores entries as a new version of the registry secret.
func setRegistry(t testing.TB, e *emulator.Emulator, entries []tenant.Entry) {
	t.Helper()
	b, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	e.SetSecret(registrySecret, string(b), "")
}

// fleetSetup starts an emulator (seeded with the identity that reads Key Vault), registers
// entries and returns a Fleet over them whose global tenants use the emulator's endpoints.
func fleetSetup(t testing.TB, o tenant.Options, entries ...tenant.Entry) (*emulator.Emulator, *tenant.Fleet) {
	t.Helper()
	e, _ := emutest.Start(t, emulator.Options{})
	register(e, entries...)
	setRegistry(t, e, entries)
	if o.Transport == nil {
		o.Transport = e.HTTPClient()
	}
	return e, newFleet(t, e, o)
}

func newFleet(t testing.TB, e *emulator.Emulator, o tenant.Options) *tenant.Fleet {
	t.Helper()
	env := e.Seed()
	env["TENANT_REGISTRY_SECRET_NAME"] = registrySecret
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	_, vault, err := tenant.Open(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return tenant.NewFleet(vault, registrySecret, tenant.Overrides{GraphBaseURL: e.GraphBaseURL(), AuthorityHost: e.AuthorityHost()}, o)
}

// TestFleetTokensNeverCrossTenants reads each tenant's settings a different number of times,
// concurrently: the emulator must see each tenant's token exactly as often as that tenant was
// called, and each tenant must get its own tenant's settings.
func TestFleetTokensNeverCrossTenants(t *testing.T) {
	t.Parallel()
	entries := []tenant.Entry{member(1, "contoso", ""), member(2, "fabrikam", "global"), member(3, "woodgrove", "global")}
	e, fleet := fleetSetup(t, tenant.Options{}, entries...)

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i, en := range entries {
		for range i + 1 {
			wg.Go(func() {
				tn, got, err := fleet.Tenant(t.Context(), en.Name)
				if err != nil {
					errs <- err
					return
				}
				if got.Name != en.Name {
					errs <- fmt.Errorf("Tenant(%q) returned entry %q", en.Name, got.Name)
				}
				s, _, err := getSettings(t.Context(), tn)
				if err != nil {
					errs <- err
					return
				}
				if want := e.Settings(en.TenantID).ID; s.ID != want {
					errs <- fmt.Errorf("tenant %s read settings %s, want its own %s", en.Name, s.ID, want)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := e.Counts()
	for i, en := range entries {
		if got, want := c.GraphTokensSeen[en.TenantID], i+1; got != want {
			t.Errorf("GraphTokensSeen[%s] = %d, want %d", en.Name, got, want)
		}
		if c.Tokens[en.ClientID] != 1 || c.SecretReads[en.CredentialSecretName] != 1 {
			t.Errorf("%s: %d token requests, %d secret reads; want 1 and 1", en.Name, c.Tokens[en.ClientID], c.SecretReads[en.CredentialSecretName])
		}
	}
	if n := len(c.GraphTokensSeen); n != len(entries) {
		t.Errorf("GraphTokensSeen has %d tenants, want %d: %v", n, len(entries), c.GraphTokensSeen)
	}
}

// TestFleetSharedMultiTenantApp: tenants consented to one multi-tenant app share its client id
// and credential secret, yet each gets its own token from its own tenant.
func TestFleetSharedMultiTenantApp(t *testing.T) {
	t.Parallel()
	a, b := member(1, "alpha", ""), member(2, "beta", "")
	b.ClientID, b.CredentialSecretName = a.ClientID, a.CredentialSecretName
	e, fleet := fleetSetup(t, tenant.Options{})
	register(e, a)
	secret, _, _ := e.Secret(a.CredentialSecretName)
	e.AddApp(emulator.App{TenantID: b.TenantID, ClientID: b.ClientID, Secret: secret})
	setRegistry(t, e, []tenant.Entry{a, b})
	for _, en := range []tenant.Entry{a, b} {
		tn, _, err := fleet.Tenant(t.Context(), en.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := startSync(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
	}
	if tn, _, err := fleet.Tenant(t.Context(), a.TenantID); err != nil {
		t.Fatal(err)
	} else if _, _, err := getSettings(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	c := e.Counts()
	if c.GraphTokensSeen[a.TenantID] != 2 || c.GraphTokensSeen[b.TenantID] != 1 || c.Tokens[a.ClientID] != 2 || c.SecretReads[a.CredentialSecretName] != 1 {
		t.Errorf("tokens seen %v, token requests %v, secret reads %v; want 2/1 seen, 2 tokens (one per tenant), 1 shared secret read",
			c.GraphTokensSeen, c.Tokens, c.SecretReads)
	}
	if e.Settings(a.TenantID).SyncStatus != "inProgress" || e.Settings(b.TenantID).SyncStatus != "inProgress" {
		t.Error("a sync did not reach its own tenant")
	}
}

func TestFleetSelectors(t *testing.T) {
	t.Parallel()
	contoso := member(1, "contoso", "")
	byDomain := member(2, "fabrikam", "")
	byDomain.TenantID = "fabrikam.onmicrosoft.com"
	_, fleet := fleetSetup(t, tenant.Options{}, contoso, byDomain)
	tests := []struct {
		selector, want string // want "" = unknown
	}{
		{"contoso", "contoso"},
		{"CONTOSO", "contoso"},
		{contoso.TenantID, "contoso"},
		{strings.ToUpper(contoso.TenantID), "contoso"},
		{"Fabrikam.OnMicrosoft.com", "fabrikam"},
		{"fabrikam", "fabrikam"},
		{"", ""},
		{"all", ""},
		{"nobody", ""},
		{contoso.ClientID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.selector, func(t *testing.T) {
			t.Parallel()
			tn, en, err := fleet.Tenant(t.Context(), tt.selector)
			if tt.want == "" {
				if !errors.Is(err, tenant.ErrUnknownTenant) || tn != nil {
					t.Fatalf("Tenant(%q) = %v, %v; want ErrUnknownTenant", tt.selector, en, err)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.selector)) {
					t.Errorf("error %q does not name the selector", err)
				}
				return
			}
			if err != nil || en.Name != tt.want || tn == nil {
				t.Fatalf("Tenant(%q) = %v, %v; want %s", tt.selector, en, err, tt.want)
			}
		})
	}
	// Entries lists the registry, in order, and callers cannot change the fleet's copy.
	entries, err := fleet.Entries(t.Context())
	if err != nil || len(entries) != 2 || entries[0].Name != "contoso" || entries[1].Name != "fabrikam" || entries[0].Cloud != "global" {
		t.Fatalf("Entries = %v, %v", entries, err)
	}
	entries[0].Name = "changed"
	if again, _ := fleet.Entries(t.Context()); again[0].Name != "contoso" {
		t.Error("Entries shares its slice with callers")
	}
}

func TestFleetConcurrentFirstUseBuildsOnce(t *testing.T) {
	t.Parallel()
	en := member(1, "contoso", "")
	e, fleet := fleetSetup(t, tenant.Options{}, en)
	const n = 50
	got := make([]*tenant.Tenant, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tn, _, err := fleet.Tenant(t.Context(), "contoso")
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = tn
			if _, _, err := getSettings(t.Context(), tn); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] {
			t.Fatalf("Tenant built more than once (%p, %p)", got[0], got[i])
		}
	}
	c := e.Counts()
	if c.Tokens[en.ClientID] != 1 || c.SecretReads[en.CredentialSecretName] != 1 || c.SecretReads[registrySecret] != 1 || c.GraphTokensSeen[en.TenantID] != n {
		t.Errorf("tokens %v, secret reads %v, seen %v; want 1 token, 1 read each, %d Graph calls", c.Tokens, c.SecretReads, c.GraphTokensSeen, n)
	}
}

// TestFleetFollowsRegistryChanges: a new version of the registry (seen once the secret's cache
// expires) rebuilds only the tenants whose entry changed and forgets removed ones.
func TestFleetFollowsRegistryChanges(t *testing.T) {
	t.Parallel()
	clock := emulator.NewManualClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	a, b, c := member(1, "a", ""), member(2, "b", ""), member(3, "c", "")
	e, fleet := fleetSetup(t, tenant.Options{Now: clock.Now}, a, b, c)
	before := map[string]*tenant.Tenant{}
	for _, name := range []string{"a", "b", "c"} {
		tn, _, err := fleet.Tenant(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := getSettings(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
		before[name] = tn
	}
	// b moves to another app registration; c leaves.
	b2 := b
	b2.ClientID, b2.CredentialSecretName = member(4, "b2", "").ClientID, "graph-b2"
	register(e, tenant.Entry{Name: "b2", TenantID: b.TenantID, ClientID: b2.ClientID, CredentialSecretName: "graph-b2"})
	setRegistry(t, e, []tenant.Entry{a, b2})

	// Within the secret cache's TTL the old registry still applies.
	if tn, _, err := fleet.Tenant(t.Context(), "c"); err != nil || tn != before["c"] {
		t.Fatalf("within the TTL: Tenant(c) = %p, %v", tn, err)
	}
	clock.Advance(config.DefaultSecretCacheTTL + time.Second)
	e.ResetCounts()

	if tn, _, _ := fleet.Tenant(t.Context(), "a"); tn != before["a"] {
		t.Error("an unchanged tenant was rebuilt")
	}
	tn, en, err := fleet.Tenant(t.Context(), "b")
	if err != nil || tn == before["b"] || en.ClientID != b2.ClientID {
		t.Fatalf("changed tenant: %p (before %p), %v, %v", tn, before["b"], en, err)
	}
	if _, _, err := getSettings(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fleet.Tenant(t.Context(), "c"); !errors.Is(err, tenant.ErrUnknownTenant) {
		t.Errorf("removed tenant: err = %v", err)
	}
	cnt := e.Counts()
	if cnt.SecretReads[registrySecret] != 1 || cnt.Tokens[b2.ClientID] != 1 || cnt.Tokens[a.ClientID] != 0 {
		t.Errorf("after the change: secret reads %v, tokens %v", cnt.SecretReads, cnt.Tokens)
	}
}

func TestFleetRegistryErrors(t *testing.T) {
	t.Parallel()
	t.Run("invalid registry", func(t *testing.T) {
		t.Parallel()
		e, fleet := fleetSetup(t, tenant.Options{}, member(1, "contoso", ""))
		e.SetSecret(registrySecret, `[{"name":"contoso","tenantId":"","clientId":"`+guidB+`","credentialSecretName":"x"}]`, "")
		fleet = newFleet(t, e, tenant.Options{Transport: e.HTTPClient()})
		for _, call := range []func() error{
			func() error { _, err := fleet.Entries(t.Context()); return err },
			func() error { _, _, err := fleet.Tenant(t.Context(), "contoso"); return err },
		} {
			err := call()
			var re *tenant.RegistryError
			var ce *config.Error
			if !errors.As(err, &re) || !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want a *config.Error wrapping a *RegistryError", err, err)
			}
			if msg := err.Error(); !strings.Contains(msg, `entry 0 ("contoso"): tenantId: required`) || !strings.Contains(msg, registrySecret) {
				t.Errorf("error %q does not name the secret, entry and field", msg)
			}
		}
		// Read once within the TTL, errors included.
		if n := e.Counts().SecretReads[registrySecret]; n != 1 {
			t.Errorf("registry read %d times", n)
		}
	})
	t.Run("registry secret missing", func(t *testing.T) {
		t.Parallel()
		e, _ := fleetSetup(t, tenant.Options{})
		e.DeleteSecret(registrySecret)
		fleet := newFleet(t, e, tenant.Options{Transport: e.HTTPClient()})
		_, err := fleet.Entries(t.Context())
		var ve *keyvault.Error
		if !errors.As(err, &ve) || !ve.NotFound || ve.Name != registrySecret {
			t.Fatalf("err = %v, want a not-found keyvault.Error for %s", err, registrySecret)
		}
	})
	t.Run("no registry configured", func(t *testing.T) {
		t.Parallel()
		fleet := tenant.NewFleet(nil, "", tenant.Overrides{}, tenant.Options{})
		_, _, err := fleet.Tenant(context.Background(), "x")
		var ce *config.Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "TENANT_REGISTRY_SECRET_NAME") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestFleetNationalClouds: one emulator serves a fleet with a tenant in every cloud. Global uses
// the emulator's own address (the overrides); the national tenants reach the real host names
// (login.microsoftonline.us, graph.microsoft.us, ...) through the emulator's CONNECT proxy, with
// MSAL's instance discovery on as in production. Each tenant syncs and reads its own settings,
// and the emulator sees each tenant's token only on that tenant's calls.
func TestFleetNationalClouds(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	proxyURL, stop := emulator.StartProxy(e.URL())
	t.Cleanup(stop)
	pu, err := url.Parse(proxyURL)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{
		// As HTTPS_PROXY does for Go's default transport: loopback direct, every other host proxied.
		Proxy: func(r *http.Request) (*url.URL, error) {
			if config.IsLoopback("https://" + r.URL.Host) {
				return nil, nil
			}
			return pu, nil
		},
		TLSClientConfig: &tls.Config{RootCAs: e.CertPool(), MinVersion: tls.VersionTLS12},
	}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	entries := []tenant.Entry{
		member(1, "contoso", "global"),
		member(2, "fabrikam-gov", "usgov"),
		member(3, "litware-dod", "usgovdod"),
		member(4, "woodgrove-cn", "china"),
	}
	register(e, entries...)
	setRegistry(t, e, entries)
	fleet := newFleet(t, e, tenant.Options{Transport: client})

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for i, en := range entries {
		tn, _, err := fleet.Tenant(ctx, en.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := startSync(ctx, tn); err != nil {
			t.Fatalf("%s (%s): sync: %v", en.Name, en.Cloud, err)
		}
		for range i {
			s, _, err := getSettings(ctx, tn)
			if err != nil {
				t.Fatalf("%s: get: %v", en.Name, err)
			}
			if s.SyncStatus != "inProgress" || s.ID != e.Settings(en.TenantID).ID {
				t.Errorf("%s read %+v, not its own tenant's settings", en.Name, s)
			}
		}
	}
	c := e.Counts()
	for i, en := range entries {
		if got, want := c.GraphTokensSeen[en.TenantID], 1+i; got != want {
			t.Errorf("GraphTokensSeen[%s] = %d, want %d", en.Name, got, want)
		}
		if c.Tokens[en.ClientID] != 1 {
			t.Errorf("%s: %d token requests, want 1", en.Name, c.Tokens[en.ClientID])
		}
	}
	if len(c.GraphTokensSeen) != len(entries) {
		t.Errorf("GraphTokensSeen = %v", c.GraphTokensSeen)
	}
	// The national tenants are bound to their clouds: had their tokens come from the global
	// authority (the overrides), the emulator would have refused them (AADSTS90002).
}
