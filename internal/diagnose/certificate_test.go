package diagnose

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// newCertificate returns a self-signed certificate and the PEM Key Vault exposes for it: the
// PKCS#8 private key, then the certificate.
func newCertificate(t *testing.T) (*x509.Certificate, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "autopilot-sync-graph"},
		NotBefore: epoch.Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	return cert, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestCertificateCredential: a Graph credential that is a certificate, registered on the app or
// not, or that is a PKCS#12 that is not base64.
func TestCertificateCredential(t *testing.T) {
	t.Parallel()
	head := []Check{passed(CheckConfiguration), passed(CheckKeyVaultToken)}
	tests := []struct {
		name       string
		registered bool // the certificate is the app's
		pkcs12Junk bool
		want       []Check
	}{
		{name: "registered", registered: true,
			want: append(head, passed(CheckGraphCredential), withRoles(passed(CheckGraphToken), readWrite), passed(CheckGraphRead))},
		{name: "not registered on the app",
			want: append(head, passed(CheckGraphCredential), failed(CheckGraphToken, problem.CredentialRejected,
				`Microsoft Entra ID refused the Graph app (client `+seedGraphApp+`, tenant `+seedTenant+`) its credential from Key Vault secret "graph-credential": AADSTS700027: Client assertion failed signature validation or is invalid: certificate thumbprint does not match a registered certificate.`,
				"az ad app credential reset --id "+seedGraphApp+" --append --create-cert --keyvault <vault> --cert graph-credential"), skipped(CheckGraphRead))},
		{name: "PKCS#12 that is not base64", pkcs12Junk: true,
			want: append(head, failed(CheckGraphCredential, problem.Misconfigured,
				`Key Vault secret "graph-credential" (application/x-pkcs12) is not a usable certificate with its private key: the PKCS#12 certificate is not base64.`,
				FixUnusableCertificate(noVault, seedSecret)), skipped(CheckGraphToken), skipped(CheckGraphRead))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			cert, pemText := newCertificate(t)
			other, _ := newCertificate(t)
			if !tt.registered {
				cert = other
			}
			f.e.AddApp(emulator.App{TenantID: seedTenant, ClientID: seedGraphApp, Certificate: cert})
			if tt.pkcs12Junk {
				f.setSecret(seedSecret, "not base64!", "application/x-pkcs12")
			} else {
				f.setSecret(seedSecret, pemText, "application/x-pem-file")
			}
			checkReport(t, f.run(t, FunctionSync), FunctionSync, tt.want)
		})
	}
}
