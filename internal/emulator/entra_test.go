package emulator_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
)

func TestSeedAndSecretCredential(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	for _, k := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST",
		"KEY_VAULT_URL", "GRAPH_CLIENT_ID", "GRAPH_BASE_URL", "GRAPH_CREDENTIAL_SECRET_NAME"} {
		if env[k] == "" {
			t.Errorf("Seed()[%s] is empty", k)
		}
	}
	if env["AZURE_TENANT_ID"] != emulator.SeedTenantID || env["GRAPH_CLIENT_ID"] != emulator.SeedGraphClientID ||
		env["AZURE_CLIENT_ID"] != emulator.SeedBootstrapClientID || env["GRAPH_CREDENTIAL_SECRET_NAME"] != "graph-credential" {
		t.Errorf("Seed() IDs = %v", env)
	}
	if _, env2 := emutest.Start(t, emulator.Options{}); env2["AZURE_CLIENT_SECRET"] == env["AZURE_CLIENT_SECRET"] {
		t.Error("bootstrap secret is the same across emulators")
	}

	tests := []struct {
		name, tenant, client, secret string
		wantErr                      bool
	}{
		{"bootstrap", emulator.SeedTenantID, emulator.SeedBootstrapClientID, env["AZURE_CLIENT_SECRET"], false},
		{"wrong secret", emulator.SeedTenantID, emulator.SeedBootstrapClientID, "nope", true},
		{"unknown client", emulator.SeedTenantID, "00000000-0000-4000-8000-0000000000ff", "x", true},
		{"unknown tenant", "00000000-0000-4000-8000-0000000000ee", emulator.SeedBootstrapClientID, env["AZURE_CLIENT_SECRET"], true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := getToken(t.Context(), secretCred(t, e, tc.tenant, tc.client, tc.secret), "https://vault.azure.net/.default")
			if tc.wantErr {
				if err == nil {
					t.Fatal("GetToken succeeded")
				}
				if tc.name != "unknown tenant" && !isAuthFailed(err) {
					t.Fatalf("GetToken error %T %v, want *azidentity.AuthenticationFailedError", err, err)
				}
				if strings.Contains(err.Error(), env["AZURE_CLIENT_SECRET"]) {
					t.Fatal("error leaks the secret")
				}
				return
			}
			if err != nil || tok == "" {
				t.Fatalf("GetToken = %q, %v", tok, err)
			}
		})
	}
	if got := e.Counts().Tokens[emulator.SeedBootstrapClientID]; got != 2 {
		t.Errorf("Counts().Tokens[bootstrap] = %d, want 2 (one success, one wrong secret)", got)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	e.AddApp(emulator.App{TenantID: "t1", ClientID: "c1", Secret: "s1"})
	tests := []struct {
		name       string
		tenant     string
		form       url.Values
		wantStatus int
		wantError  string
		wantCode   float64
	}{
		{"ok", "t1", url.Values{"grant_type": {"client_credentials"}, "client_id": {"c1"}, "client_secret": {"s1"}, "scope": {"https://x.example/.default openid"}}, 200, "", 0},
		{"wrong secret", "t1", url.Values{"grant_type": {"client_credentials"}, "client_id": {"c1"}, "client_secret": {"s2"}, "scope": {"https://x.example/.default"}}, 401, "invalid_client", 7000215},
		{"no /.default", "t1", url.Values{"grant_type": {"client_credentials"}, "client_id": {"c1"}, "client_secret": {"s1"}, "scope": {"openid"}}, 400, "invalid_scope", 1002012},
		{"unknown tenant", "t2", url.Values{"grant_type": {"client_credentials"}, "client_id": {"c1"}, "client_secret": {"s1"}, "scope": {"https://x/.default"}}, 400, "invalid_tenant", 90002},
		{"bad grant", "t1", url.Values{"grant_type": {"password"}, "client_id": {"c1"}, "scope": {"https://x/.default"}}, 400, "unsupported_grant_type", 70003},
		{"no credential", "t1", url.Values{"grant_type": {"client_credentials"}, "client_id": {"c1"}, "scope": {"https://x/.default"}}, 401, "invalid_client", 7000218},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, m := rawToken(t, e, tc.tenant, tc.form)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (%v)", status, tc.wantStatus, m)
			}
			if tc.wantError == "" {
				if m["token_type"] != "Bearer" || m["expires_in"].(float64) <= 300 || m["access_token"] == "" {
					t.Fatalf("answer = %v", m)
				}
				return
			}
			codes, _ := m["error_codes"].([]any)
			if m["error"] != tc.wantError || len(codes) != 1 || codes[0] != tc.wantCode || m["trace_id"] == nil || m["correlation_id"] == nil {
				t.Fatalf("answer = %v, want error %s %v", m, tc.wantError, tc.wantCode)
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	resp, err := e.HTTPClient().Get(e.URL() + "/" + emulator.SeedTenantID + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	base := e.URL() + "/" + emulator.SeedTenantID
	if m["issuer"] != base+"/v2.0" || m["token_endpoint"] != base+"/oauth2/v2.0/token" || m["authorization_endpoint"] == nil || m["jwks_uri"] == nil {
		t.Errorf("openid-configuration = %v", m)
	}
	r2, err := e.HTTPClient().Get(e.URL() + "/common/discovery/instance?api-version=1.1")
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 200 {
		t.Errorf("instance discovery status = %d", r2.StatusCode)
	}
}

func newSelfSigned(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "emulator test app"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestClientCertificateCredential(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	cert, key := newSelfSigned(t)
	other, otherKey := newSelfSigned(t)
	e.AddApp(emulator.App{TenantID: "tenant-c", ClientID: "cert-app", Certificate: cert})

	tests := []struct {
		name    string
		cert    *x509.Certificate
		key     *rsa.PrivateKey
		wantErr bool
	}{
		{"registered cert", cert, key, false},
		{"other cert", other, otherKey, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := azidentity.NewClientCertificateCredential("tenant-c", "cert-app", []*x509.Certificate{tc.cert}, tc.key,
				&azidentity.ClientCertificateCredentialOptions{ClientOptions: clientOptions(e), DisableInstanceDiscovery: true})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := getToken(t.Context(), c, graphScope)
			if tc.wantErr {
				if !isAuthFailed(err) {
					t.Fatalf("GetToken error = %v, want AuthenticationFailedError", err)
				}
				return
			}
			if err != nil || tok == "" {
				t.Fatalf("GetToken = %q, %v", tok, err)
			}
		})
	}

	// RS256 with a SHA-1 x5t (base64url), built by hand.
	aud := e.URL() + "/tenant-c/oauth2/v2.0/token"
	assertion := func(alg, aud string, exp time.Time) string {
		s1 := sha1.Sum(cert.Raw)
		h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "x5t": base64.RawURLEncoding.EncodeToString(s1[:])})
		c, _ := json.Marshal(map[string]any{"aud": aud, "iss": "cert-app", "sub": "cert-app", "exp": exp.Unix(), "nbf": time.Now().Unix(), "jti": "j"})
		in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
		d := sha256.Sum256([]byte(in))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return in + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	for _, tc := range []struct {
		name, jwt  string
		wantStatus int
	}{
		{"RS256", assertion("RS256", aud, time.Now().Add(5*time.Minute)), 200},
		{"wrong aud", assertion("RS256", "https://login.microsoftonline.com/x", time.Now().Add(5*time.Minute)), 401},
		{"expired", assertion("RS256", aud, time.Now().Add(-time.Minute)), 401},
		{"alg none", assertion("none", aud, time.Now().Add(5*time.Minute)), 401},
		{"garbage", "a.b", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, m := rawToken(t, e, "tenant-c", url.Values{
				"grant_type": {"client_credentials"}, "client_id": {"cert-app"}, "scope": {graphScope},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {tc.jwt},
			})
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %v", status, tc.wantStatus, m)
			}
		})
	}
}
