package emulator_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/fakests"
)

const (
	fedClientID  = "00000000-0000-4000-8000-0000000000f0"
	fedAudience  = "api://AzureADTokenExchange"
	fedIssuer    = "https://issuer.example.test"
	fedSubject   = "arn:aws:iam::123456789012:role/autopilot-sync"
	vaultDefault = "https://vault.azure.net/.default"
)

// signRS256 returns a JWT of claims signed with key.
func signRS256(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	d := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func assertionForm(assertion string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {fedClientID},
		"scope":                 {vaultDefault},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
}

func TestFederatedAssertionChecks(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e.AddFederatedApp(emulator.SeedTenantID, fedClientID, emulator.FederatedCredential{
		Issuer: fedIssuer, Subject: fedSubject, Audience: fedAudience, Keys: []crypto.PublicKey{&key.PublicKey},
	})

	now := time.Now()
	claims := func(change func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss": fedIssuer, "sub": fedSubject, "aud": fedAudience,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		if change != nil {
			change(c)
		}
		return c
	}
	valid := signRS256(t, key, claims(nil))
	tests := []struct {
		name      string
		assertion string
		wantCode  string // AADSTS code the description starts with; "" = accepted
	}{
		{"valid", valid, ""},
		{"audience in a list", signRS256(t, key, claims(func(c map[string]any) { c["aud"] = []string{"other", fedAudience} })), ""},
		{"wrong issuer", signRS256(t, key, claims(func(c map[string]any) { c["iss"] = "https://evil.example.test" })), "AADSTS700211"},
		{"wrong subject", signRS256(t, key, claims(func(c map[string]any) { c["sub"] = "arn:aws:iam::123456789012:role/other" })), "AADSTS700213"},
		{"wrong audience", signRS256(t, key, claims(func(c map[string]any) { c["aud"] = "api://other" })), "AADSTS700212"},
		{"expired", signRS256(t, key, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() })), "AADSTS700024"},
		{"no expiry", signRS256(t, key, claims(func(c map[string]any) { delete(c, "exp") })), "AADSTS700024"},
		{"not yet valid", signRS256(t, key, claims(func(c map[string]any) {
			c["nbf"], c["exp"] = now.Add(time.Hour).Unix(), now.Add(2*time.Hour).Unix() // beyond the 5 minutes of skew
		})), "AADSTS700024"},
		{"signed by another key", signRS256(t, otherKey, claims(nil)), "AADSTS700027"},
		{"tampered claims", tamper(t, valid), "AADSTS700027"},
		{"alg none", unsigned(t, valid), "AADSTS700027"},
		{"malformed", "not.a-jwt", "AADSTS50027"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, body := rawToken(t, e, emulator.SeedTenantID, assertionForm(tc.assertion))
			if tc.wantCode == "" {
				if status != http.StatusOK || body["access_token"] == nil {
					t.Fatalf("status %d, body %v; want 200 with a token", status, body)
				}
				return
			}
			desc, _ := body["error_description"].(string)
			if status != http.StatusUnauthorized || body["error"] != "invalid_client" || !strings.HasPrefix(desc, tc.wantCode+": ") {
				t.Fatalf("status %d, error %v, description %q; want 401 invalid_client %s", status, body["error"], desc, tc.wantCode)
			}
		})
	}
}

// TestFederatedCredentialsBelongToOneEmulator: a federated credential registered with one
// emulator is unknown to another, and one registered with an app that has a certificate replaces
// the certificate check.
func TestFederatedCredentialsBelongToOneEmulator(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	jwt := signRS256(t, key, map[string]any{"iss": fedIssuer, "sub": fedSubject, "aud": fedAudience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	fc := emulator.FederatedCredential{Issuer: fedIssuer, Subject: fedSubject, Audience: fedAudience, Keys: []crypto.PublicKey{&key.PublicKey}}

	one, _ := emutest.Start(t, emulator.Options{})
	other, _ := emutest.Start(t, emulator.Options{})
	one.AddFederatedApp(emulator.SeedTenantID, fedClientID, fc)
	cert, _ := newSelfSigned(t)
	other.AddApp(emulator.App{TenantID: emulator.SeedTenantID, ClientID: fedClientID, Certificate: cert})

	if status, body := rawToken(t, one, emulator.SeedTenantID, assertionForm(jwt)); status != http.StatusOK {
		t.Errorf("the emulator that has the credential: %d %v, want 200", status, body["error_description"])
	}
	status, body := rawToken(t, other, emulator.SeedTenantID, assertionForm(jwt))
	if desc, _ := body["error_description"].(string); status != http.StatusUnauthorized || !strings.HasPrefix(desc, "AADSTS700027: Client assertion failed signature validation or is invalid: ") {
		t.Errorf("the other emulator: %d %q, want 401 AADSTS700027 from the certificate check", status, desc)
	}
	other.AddFederatedApp(emulator.SeedTenantID, fedClientID, fc)
	if status, body := rawToken(t, other, emulator.SeedTenantID, assertionForm(jwt)); status != http.StatusOK {
		t.Errorf("once federated, the app with a certificate: %d %v, want 200", status, body["error_description"])
	}
}

// tamper changes the sub claim of jwt without re-signing it.
func tamper(t *testing.T, jwt string) string {
	t.Helper()
	p := strings.Split(jwt, ".")
	b, _ := base64.RawURLEncoding.DecodeString(p[1])
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	c["jti"] = "changed"
	b, _ = json.Marshal(c)
	return p[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + p[2]
}

// unsigned returns jwt with alg none and no signature.
func unsigned(t *testing.T, jwt string) string {
	t.Helper()
	p := strings.Split(jwt, ".")
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + p[1] + "."
}

// TestFakeSTSTokensAcceptedThroughDiscovery: Entra fetches the keys of a federated credential's
// issuer through its discovery document, for both of GetWebIdentityToken's algorithms, and
// refuses a token when they cannot be fetched.
func TestFakeSTSTokensAcceptedThroughDiscovery(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	s := emutest.StartSTS(t, fakests.Options{})
	e.AddFederatedApp(emulator.SeedTenantID, fedClientID, s.FederatedCredential(fedAudience))

	for _, alg := range []string{"RS256", "ES384"} {
		t.Run(alg, func(t *testing.T) {
			tok, err := s.Token(fedAudience, alg, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			cred, err := azidentity.NewClientAssertionCredential(emulator.SeedTenantID, fedClientID,
				func(context.Context) (string, error) { return tok, nil },
				&azidentity.ClientAssertionCredentialOptions{ClientOptions: clientOptions(e), DisableInstanceDiscovery: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := getToken(t.Context(), cred, vaultDefault); err != nil {
				t.Fatalf("GetToken with a %s token of the fake STS: %v", alg, err)
			}
		})
	}

	// A token from an issuer whose keys cannot be fetched is refused.
	other := emutest.StartSTS(t, fakests.Options{})
	tok, err := other.Token(fedAudience, "RS256", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	e.AddFederatedApp(emulator.SeedTenantID, fedClientID, other.FederatedCredential(fedAudience))
	status, body := rawToken(t, e, emulator.SeedTenantID, assertionForm(tok))
	if desc, _ := body["error_description"].(string); status != http.StatusUnauthorized || !strings.HasPrefix(desc, "AADSTS50166: ") {
		t.Errorf("unreachable JWKS: status %d, description %q; want 401 AADSTS50166", status, desc)
	}
}
