package keyvault_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func setup(t *testing.T, ttl time.Duration) (*emulator.Emulator, *keyvault.Store, *clock) {
	t.Helper()
	e, err := emulator.Start(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	env := e.Seed()
	cred, err := azidentity.NewClientSecretCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"],
		&azidentity.ClientSecretCredentialOptions{
			ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.AuthorityHost() + "/"}, Transport: e.HTTPClient()},
			DisableInstanceDiscovery: true,
		})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)}
	s, err := keyvault.New(e.VaultURL(), cred, keyvault.Options{TTL: ttl, Transport: e.HTTPClient(), DisableChallengeResourceVerification: true, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return e, s, c
}

func TestCacheTTL(t *testing.T) {
	t.Parallel()
	e, s, c := setup(t, 15*time.Minute)
	ctx := context.Background()
	e.SetSecret("webhook-token", "first", "")
	var took time.Duration
	got, err := s.Get(keyvault.WithReadTime(ctx, &took), "webhook-token")
	if err != nil || got.Value != "first" || got.Version == "" {
		t.Fatalf("Get = %v, %v", got, err)
	}
	if took <= 0 {
		t.Error("the read time was not recorded")
	}
	e.SetSecret("webhook-token", "second", "")
	c.advance(14 * time.Minute)
	if got, _ := s.Get(ctx, "webhook-token"); got.Value != "first" {
		t.Errorf("within the TTL: %q, want the cached value", got.Value)
	}
	c.advance(2 * time.Minute)
	if got, _ := s.Get(ctx, "webhook-token"); got.Value != "second" {
		t.Errorf("after the TTL: %q, want the new value", got.Value)
	}
	if n := e.Counts().SecretReads["webhook-token"]; n != 2 {
		t.Errorf("secret reads = %d, want 2", n)
	}
	e.SetSecret("webhook-token", "third", "")
	if got, _ := s.Refresh(ctx, "webhook-token"); got.Value != "third" {
		t.Errorf("Refresh = %q", got.Value)
	}
	if got, _ := s.Get(ctx, "webhook-token"); got.Value != "third" {
		t.Errorf("Get after Refresh = %q", got.Value)
	}
}

func TestConcurrentReadsShareOne(t *testing.T) {
	t.Parallel()
	e, s, _ := setup(t, 0)
	e.SetSecret("graph-credential", "value", "application/x-pem-file")
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if got, err := s.Get(context.Background(), "graph-credential"); err != nil || got.ContentType != "application/x-pem-file" {
				t.Errorf("Get = %v, %v", got, err)
			}
		})
	}
	wg.Wait()
	if n := e.Counts().SecretReads["graph-credential"]; n != 1 {
		t.Errorf("secret reads = %d, want 1", n)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	e, s, _ := setup(t, time.Minute)
	_, err := s.Get(context.Background(), "missing")
	var ve *keyvault.Error
	if !errors.As(err, &ve) || !ve.NotFound || ve.Name != "missing" || ve.StatusCode != 404 {
		t.Errorf("missing secret: %v", err)
	}
	e.AddFault(emulator.Fault{Service: emulator.Vault, Status: 503})
	e.SetSecret("other", "v", "")
	_, err = s.Get(context.Background(), "other")
	if !errors.As(err, &ve) || ve.NotFound || ve.StatusCode != 503 {
		t.Errorf("vault down: %v", err)
	}
	if strings.Contains(err.Error(), "v\"") {
		t.Error("error quotes a value")
	}
	if got := (keyvault.Secret{Name: "n", Value: "hidden", Version: "1"}).String(); strings.Contains(got, "hidden") {
		t.Errorf("Secret.String leaks the value: %s", got)
	}
}
