package entra_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/entra"
)

func identity(e *emulator.Emulator, clientID string) entra.Identity {
	return entra.Identity{TenantID: emulator.SeedTenantID, ClientID: clientID, AuthorityHost: e.AuthorityHost(),
		Transport: e.HTTPClient(), DisableInstanceDiscovery: true}
}

// certificatePEM returns a self-signed certificate and its key as one PEM document.
func certificatePEM(t *testing.T) (*x509.Certificate, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "bootstrap"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	return cert, append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
}

func TestBootstrapFromCertificateFile(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	cert, data := certificatePEM(t)
	e.AddApp(emulator.App{TenantID: emulator.SeedTenantID, ClientID: "cert-reader", Certificate: cert})
	path := filepath.Join(t.TempDir(), "reader.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cred, err := entra.NewBootstrapCredential(identity(e, "cert-reader"), entra.Bootstrap{CertificatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}}); err != nil {
		t.Fatalf("token with the certificate: %v", err)
	}
}

func TestBootstrapErrors(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	id := identity(e, emulator.SeedBootstrapClientID)
	if _, err := entra.NewBootstrapCredential(id, entra.Bootstrap{}); err == nil {
		t.Error("no credential at all was accepted")
	}
	_, err := entra.NewBootstrapCredential(id, entra.Bootstrap{CertificatePath: "/nonexistent/reader.pem"})
	if err == nil || !strings.Contains(err.Error(), "AZURE_CLIENT_CERTIFICATE_PATH") {
		t.Errorf("missing certificate file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	_ = os.WriteFile(bad, []byte("not a certificate"), 0o600)
	if _, err := entra.NewBootstrapCredential(id, entra.Bootstrap{CertificatePath: bad}); err == nil {
		t.Error("an unreadable certificate was accepted")
	}
}

func TestAppCredentialContentTypes(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	id := identity(e, emulator.SeedGraphClientID)
	tests := []struct {
		name, value, contentType string
		wantErr                  string
	}{
		{"empty client secret", "  ", "", "empty"},
		{"PKCS#12 that is not base64", "%%%", "application/x-pkcs12", "not base64"},
		{"PKCS#12 garbage", "AAAA", "application/x-pkcs12", "certificate"},
		{"PEM garbage", "nope", "application/x-pem-file", "certificate"},
		{"client secret", "s3cr3t-value", "", ""},
		{"content type case and spaces", "nope", " Application/X-PEM-File ", "certificate"},
	}
	for _, tt := range tests {
		_, err := entra.NewAppCredential(id, tt.value, tt.contentType)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
		case err != nil && tt.value != "" && strings.Contains(err.Error(), tt.value) && len(tt.value) > 3:
			t.Errorf("%s: the error quotes the secret", tt.name)
		}
	}
}
