package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
)

const graphScope = "https://127.0.0.1/.default"

// clientOptions are emutest's, without retries: these tests look at each answer of the emulator.
func clientOptions(e *emulator.Emulator) azcore.ClientOptions {
	o := emutest.ClientOptions(e)
	o.Retry = policy.RetryOptions{MaxRetries: -1}
	return o
}

func secretCred(t *testing.T, e *emulator.Emulator, tenant, client, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	c, err := azidentity.NewClientSecretCredential(tenant, client, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: clientOptions(e), DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatalf("NewClientSecretCredential: %v", err)
	}
	return c
}

func getToken(ctx context.Context, c azcore.TokenCredential, scope string) (string, error) {
	tk, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	return tk.Token, err
}

// seededGraphToken returns a Graph token of the seeded Graph app.
func seededGraphToken(t *testing.T, e *emulator.Emulator) string {
	t.Helper()
	tok, err := getToken(t.Context(), secretCred(t, e, emulator.SeedTenantID, emulator.SeedGraphClientID, mustSecret(t, e)), graphScope)
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	return tok
}

// rawToken asks the token endpoint directly, without MSAL.
func rawToken(t *testing.T, e *emulator.Emulator, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := e.HTTPClient().PostForm(e.URL()+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("token answer: %v", err)
	}
	return resp.StatusCode, m
}

type graphAnswer struct {
	status int
	header http.Header
	body   []byte
}

// errorCode returns error.code of a Graph or Key Vault error body.
func (a graphAnswer) errorCode() string {
	var b struct{ Error struct{ Code string } }
	_ = json.Unmarshal(a.body, &b)
	return b.Error.Code
}

// graph sends one request to the emulated Graph.
func graph(t *testing.T, e *emulator.Emulator, token, method, path, body string) graphAnswer {
	t.Helper()
	a, err := graphTry(t.Context(), e.HTTPClient(), e, token, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

func graphTry(ctx context.Context, c *http.Client, e *emulator.Emulator, token, method, path, body string) (graphAnswer, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.GraphBaseURL()+path, rd)
	if err != nil {
		return graphAnswer{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return graphAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return graphAnswer{}, err
	}
	return graphAnswer{resp.StatusCode, resp.Header, b}, nil
}

const (
	settingsPath = "/deviceManagement/windowsAutopilotSettings"
	syncPath     = settingsPath + "/sync"
)

func isAuthFailed(err error) bool {
	var af *azidentity.AuthenticationFailedError
	return errors.As(err, &af)
}

var epoch = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// tokens are Graph tokens of the seeded tenant: of the seeded Graph app (ReadWrite.All), of an
// app with Read.All only, of the bootstrap app (no Graph roles), and of the Graph app for Key
// Vault and for graph.microsoft.com (audiences the emulated Graph refuses).
type tokens struct{ writer, reader, noRoles, vault, otherHost string }

// appTokens registers the Read.All app and asks the token endpoint for each of tokens.
func appTokens(t *testing.T, e *emulator.Emulator, env emutest.Env) tokens {
	t.Helper()
	e.AddApp(emulator.App{TenantID: emulator.SeedTenantID, ClientID: "reader", Secret: "r", Roles: []string{emulator.RoleReadAll}})
	token := func(client, secret, scope string) string {
		t.Helper()
		_, m := rawToken(t, e, emulator.SeedTenantID, url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {scope}})
		s, _ := m["access_token"].(string)
		return s
	}
	return tokens{
		writer:    seededGraphToken(t, e),
		reader:    token("reader", "r", graphScope),
		noRoles:   token(emulator.SeedBootstrapClientID, env["AZURE_CLIENT_SECRET"], graphScope),
		vault:     token(emulator.SeedGraphClientID, mustSecret(t, e), "https://vault.azure.net/.default"),
		otherHost: token(emulator.SeedGraphClientID, mustSecret(t, e), "https://graph.microsoft.com/.default"),
	}
}
