package keyvault

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

func TestVaultScope(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ vault, want string }{
		{"https://contoso.vault.azure.net/", "https://vault.azure.net/.default"},
		{"https://Contoso.Vault.Azure.Net", "https://vault.azure.net/.default"},
		{"https://contoso.vault.usgovcloudapi.net/", "https://vault.usgovcloudapi.net/.default"},
		{"https://contoso.vault.azure.cn/", "https://vault.azure.cn/.default"},
		{"https://contoso.managedhsm.azure.net/", "https://managedhsm.azure.net/.default"},
		{"https://127.0.0.1:8443/", "https://vault.azure.net/.default"},
		{"::", "https://vault.azure.net/.default"},
	} {
		if got := vaultScope(tc.vault); got != tc.want {
			t.Errorf("vaultScope(%q): got %q, want %q", tc.vault, got, tc.want)
		}
	}
}

// prefetchSetup starts a seeded emulator and a Store of its vault whose Options.TenantID is
// tenant, with the bootstrap identity's secret replaced by secret when that is not "".
func prefetchSetup(t *testing.T, tenant, secret string) (*emulator.Emulator, *Store) {
	t.Helper()
	e, err := emulator.Start(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	env := e.Seed()
	if secret == "" {
		secret = env["AZURE_CLIENT_SECRET"]
	}
	cred, err := azidentity.NewClientSecretCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], secret,
		&azidentity.ClientSecretCredentialOptions{
			ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.AuthorityHost() + "/"}, Transport: e.HTTPClient()},
			DisableInstanceDiscovery: true,
		})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(e.VaultURL(), cred, Options{Transport: e.HTTPClient(), DisableChallengeResourceVerification: true, TenantID: tenant})
	if err != nil {
		t.Fatal(err)
	}
	return e, s
}

// TestFirstReadRequestsTheTokenDuringTheChallenge holds Key Vault's challenge until the token
// request has reached Entra: without the prefetch the token is asked for only after the
// challenge, and the read would end on its deadline instead.
func TestFirstReadRequestsTheTokenDuringTheChallenge(t *testing.T) {
	t.Parallel()
	e, s := prefetchSetup(t, emulator.SeedTenantID, "")
	tokenAsked, release := make(chan struct{}), make(chan struct{})
	e.AddFault(emulator.Fault{Service: emulator.Vault, Hold: release, Times: 1})
	e.AddFault(emulator.Fault{Service: emulator.Entra, PathContains: "/token", Arrived: func() { close(tokenAsked) }, Times: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a bound, not a measure
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Get(ctx, emulator.SeedGraphCredentialSecret)
		done <- err
	}()
	select {
	case <-tokenAsked:
	case err := <-done:
		t.Fatalf("the read ended (%v) before the token was asked for while the challenge was held", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Get: %v", err)
	}
	c := e.Counts()
	if got := c.Tokens[emulator.SeedBootstrapClientID]; got != 1 {
		t.Errorf("token requests: got %d, want 1 (the prefetched token handed to the challenge)", got)
	}
	if c.VaultChallenges != 1 || c.SecretReads[emulator.SeedGraphCredentialSecret] != 1 {
		t.Errorf("Key Vault: got %d challenges and %d reads, want 1 and 1", c.VaultChallenges, c.SecretReads[emulator.SeedGraphCredentialSecret])
	}
	// Later reads ask for no token ahead: azsecrets knows the challenge.
	s.primed.Store(true)
	if _, err := s.Refresh(context.Background(), emulator.SeedGraphCredentialSecret); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if got := e.Counts().Tokens[emulator.SeedBootstrapClientID]; got != 1 {
		t.Errorf("token requests after a second read: got %d, want 1 (cached)", got)
	}
}

func TestPrefetchNeverCostsAnExtraTokenRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, tenant, secret string
		wantErr              bool
	}{
		// The guess names another tenant than the challenge: never handed over; the credential
		// refuses a tenant it was not configured for without asking Entra.
		{name: "another tenant", tenant: "00000000-0000-4000-8000-0000000000ff"},
		{name: "no tenant: no prefetch", tenant: ""},
		// Entra refuses the identity: the one refusal serves the prefetch and the challenge.
		{name: "refused identity", tenant: emulator.SeedTenantID, secret: "wrong", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, s := prefetchSetup(t, tc.tenant, tc.secret)
			_, err := s.Get(context.Background(), emulator.SeedGraphCredentialSecret)
			var af *azidentity.AuthenticationFailedError
			if tc.wantErr != (err != nil) || tc.wantErr && !errors.As(err, &af) {
				t.Fatalf("Get: got %v, want an error: %v (an AuthenticationFailedError)", err, tc.wantErr)
			}
			if got := e.Counts().Tokens[emulator.SeedBootstrapClientID]; got != 1 {
				t.Errorf("token requests: got %d, want 1", got)
			}
		})
	}
}
