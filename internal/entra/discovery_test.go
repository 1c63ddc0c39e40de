package entra_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/entra"
)

func TestShareDiscoveryFetchesATenantsConfigurationOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		concurrent bool
	}{{"one after the other", false}, {"at once", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, env := emutest.Start(t, emulator.Options{})
			shared := entra.ShareDiscovery(e.HTTPClient())
			reader, app := identity(e, emulator.SeedBootstrapClientID), identity(e, emulator.SeedGraphClientID)
			reader.Transport, app.Transport = shared, shared
			boot, err := entra.NewBootstrapCredential(reader, entra.Bootstrap{ClientSecret: env["AZURE_CLIENT_SECRET"]})
			if err != nil {
				t.Fatal(err)
			}
			secret, _, _ := e.Secret(emulator.SeedGraphCredentialSecret)
			graph, err := entra.NewAppCredential(app, secret, "")
			if err != nil {
				t.Fatal(err)
			}
			e.ResetCounts()
			var wg sync.WaitGroup
			for _, get := range []func(){
				func() { token(t, boot, "https://vault.azure.net/.default") },
				func() { token(t, graph, "https://127.0.0.1/.default") },
			} {
				if tc.concurrent {
					wg.Go(get)
				} else {
					get()
				}
			}
			wg.Wait()
			c := e.Counts()
			tokens := c.Tokens[emulator.SeedBootstrapClientID] + c.Tokens[emulator.SeedGraphClientID]
			if got, want := c.Requests[emulator.Entra]-tokens, 1; got != want || tokens != 2 {
				t.Errorf("Entra: got %d discovery and %d token requests, want %d and 2", got, tokens, want)
			}
		})
	}
}

func TestShareDiscoveryKeepsNoFailure(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	shared := entra.ShareDiscovery(e.HTTPClient())
	url := e.AuthorityHost() + "/no-such-tenant/v2.0/.well-known/openid-configuration"
	for range 2 {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		resp, err := shared.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || len(body) == 0 {
			t.Errorf("unknown tenant: got %d %q, want 400 with Entra's error", resp.StatusCode, body)
		}
	}
	if got := e.Counts().Requests[emulator.Entra]; got != 2 {
		t.Errorf("Entra requests: got %d, want 2 (a 400 is not kept)", got)
	}
}

func token(t *testing.T, cred azcore.TokenCredential, scope string) {
	t.Helper()
	if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}, EnableCAE: true}); err != nil {
		t.Errorf("GetToken(%s): %v", scope, err)
	}
}
