package emulator_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
)

func newSecretsClient(t *testing.T, e *emulator.Emulator, cred azcore.TokenCredential) *azsecrets.Client {
	t.Helper()
	c, err := azsecrets.NewClient(e.VaultURL(), cred, &azsecrets.ClientOptions{
		ClientOptions: clientOptions(e), DisableChallengeResourceVerification: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestKeyVault(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	e.SetSecret("pem", "-----BEGIN CERTIFICATE-----", "application/x-pem-file")
	c := newSecretsClient(t, e, secretCred(t, e, env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"]))

	want, _, _ := e.Secret("graph-credential")
	tests := []struct {
		name, secret, version string
		wantValue, wantCT     string
		wantCode              string
	}{
		{"graph credential", "graph-credential", "", want, "", ""},
		{"content type", "pem", "", "-----BEGIN CERTIFICATE-----", "application/x-pem-file", ""},
		{"not found", "missing", "", "", "", "SecretNotFound"},
		{"unknown version", "pem", "0123456789abcdef0123456789abcdef", "", "", "SecretNotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.GetSecret(t.Context(), tc.secret, tc.version, nil)
			if tc.wantCode != "" {
				var re *azcore.ResponseError
				if !errors.As(err, &re) || re.ErrorCode != tc.wantCode || re.StatusCode != http.StatusNotFound {
					t.Fatalf("GetSecret error = %v, want ResponseError %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ct := ""
			if resp.ContentType != nil {
				ct = *resp.ContentType
			}
			if *resp.Value != tc.wantValue || ct != tc.wantCT || resp.ID == nil || !strings.HasPrefix(string(*resp.ID), e.VaultURL()+"secrets/"+tc.secret+"/") {
				t.Fatalf("GetSecret = value ok %v, contentType %q, id %v", *resp.Value == tc.wantValue, ct, resp.ID)
			}
			// The version in the id can be read back.
			if v := resp.ID.Version(); v != "" {
				if _, err := c.GetSecret(t.Context(), tc.secret, v, nil); err != nil {
					t.Fatalf("GetSecret(version %s): %v", v, err)
				}
			}
		})
	}
	cnt := e.Counts()
	if cnt.VaultChallenges != 1 || cnt.SecretReads["graph-credential"] != 2 || cnt.SecretReads["missing"] != 1 {
		t.Errorf("Counts = %+v", cnt)
	}

	e.SetSecret("pem", "v2", "")
	if r, err := c.GetSecret(t.Context(), "pem", "", nil); err != nil || *r.Value != "v2" {
		t.Errorf("after SetSecret: %v", err)
	}
	e.DeleteSecret("pem")
	if _, err := c.GetSecret(t.Context(), "pem", "", nil); err == nil {
		t.Error("GetSecret after DeleteSecret succeeded")
	}
}

func TestKeyVaultRejectsBadTokens(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	graphTok := seededGraphToken(t, e)
	for _, tc := range []struct{ name, token string }{
		{"missing", ""},
		{"unknown", "emu.nope"},
		{"graph audience", graphTok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.VaultURL()+"secrets/graph-credential/?api-version=2026-04-01", nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := e.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			wa := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != 401 || !strings.Contains(wa, `authorization="https://login.microsoftonline.com/`+emulator.SeedTenantID+`"`) ||
				!strings.Contains(wa, `resource="https://vault.azure.net"`) {
				t.Fatalf("status %d, WWW-Authenticate %q", resp.StatusCode, wa)
			}
		})
	}
}
