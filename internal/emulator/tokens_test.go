package emulator_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
)

// claims decodes the payload of a JWT-shaped token.
func claims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload is not base64url: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("payload is not JSON: %v", err)
	}
	return m
}

func roles(m map[string]any) []string {
	var out []string
	rs, _ := m["roles"].([]any)
	for _, r := range rs {
		s, _ := r.(string)
		out = append(out, s)
	}
	return out
}

func TestTokensAreJWTsWithTheAppsRoles(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	graphTok := seededGraphToken(t, e)
	c := claims(t, graphTok)
	if got, want := roles(c), []string{emulator.RoleReadWriteAll}; !slices.Equal(got, want) {
		t.Errorf("Graph token roles = %v, want %v", got, want)
	}
	if c["aud"] != "https://127.0.0.1" || c["tid"] != emulator.SeedTenantID || c["appid"] != emulator.SeedGraphClientID {
		t.Errorf("Graph token claims aud %v tid %v appid %v", c["aud"], c["tid"], c["appid"])
	}
	if a := graph(t, e, graphTok, http.MethodGet, settingsPath, ""); a.status != http.StatusOK {
		t.Errorf("GET with the token: %d", a.status)
	}

	// The bootstrap app has no Graph roles: its token has no roles claim.
	vaultTok, err := getToken(t.Context(), secretCred(t, e, emulator.SeedTenantID, emulator.SeedBootstrapClientID, env["AZURE_CLIENT_SECRET"]), "https://vault.azure.net/.default")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := claims(t, vaultTok)["roles"]; ok {
		t.Errorf("Key Vault token of an app without roles has a roles claim")
	}
	if tokens := e.IssuedTokens(); !slices.Contains(tokens, graphTok) || !slices.Contains(tokens, vaultTok) {
		t.Errorf("IssuedTokens lacks a token it issued")
	}
}

func TestSetAppRoles(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	before := seededGraphToken(t, e)
	e.SetAppRoles(emulator.SeedTenantID, emulator.SeedGraphClientID, []string{emulator.RoleReadAll})
	after := seededGraphToken(t, e)
	if got := roles(claims(t, after)); !slices.Equal(got, []string{emulator.RoleReadAll}) {
		t.Errorf("roles after SetAppRoles = %v", got)
	}
	tests := []struct {
		name, token, method, path string
		want                      int
	}{
		{"read with Read.All", after, http.MethodGet, settingsPath, http.StatusOK},
		{"sync with Read.All", after, http.MethodPost, syncPath, http.StatusForbidden},
		{"an earlier token keeps its roles", before, http.MethodPost, syncPath, http.StatusNoContent},
	}
	for _, tt := range tests {
		if got := graph(t, e, tt.token, tt.method, tt.path, "").status; got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	e.SetAppRoles(emulator.SeedTenantID, emulator.SeedGraphClientID, nil)
	if _, ok := claims(t, seededGraphToken(t, e))["roles"]; ok {
		t.Error("token of an app without roles has a roles claim")
	}
}

func TestDisabledSecret(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	tok, err := getToken(t.Context(), secretCred(t, e, emulator.SeedTenantID, emulator.SeedBootstrapClientID, env["AZURE_CLIENT_SECRET"]), "https://vault.azure.net/.default")
	if err != nil {
		t.Fatal(err)
	}
	read := func() graphAnswer {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.VaultURL()+"secrets/graph-credential/?api-version=2026-04-01", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := e.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return graphAnswer{resp.StatusCode, resp.Header, b}
	}
	e.SetSecretEnabled("graph-credential", false)
	a := read()
	var body struct {
		Error struct {
			Code       string
			Innererror struct{ Code string }
		}
	}
	_ = json.Unmarshal(a.body, &body)
	if a.status != http.StatusForbidden || body.Error.Code != "Forbidden" || body.Error.Innererror.Code != "SecretDisabled" {
		t.Errorf("disabled secret: %d %s", a.status, a.body)
	}
	e.SetSecretEnabled("graph-credential", true)
	if a := read(); a.status != http.StatusOK {
		t.Errorf("enabled again: %d %s", a.status, a.body)
	}
	e.SetSecretEnabled("no-such-secret", false) // ignored
}
