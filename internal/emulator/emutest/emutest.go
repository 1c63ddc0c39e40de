// Package emutest starts the loopback fakes of package emulator for a test, the way most tests
// need them: a seeded emulator closed when the test ends, with the environment a function reads
// (Env), the trust a subprocess needs (SSL_CERT_FILE), and credentials of its apps.
//
// It is imported by _test.go files only: never by production code, which must not link the
// emulator (go list -deps ./functions/... shows neither package). It never reaches beyond
// loopback and never logs a secret.
package emutest

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/fakests"
)

// Env is the environment of a seeded emulator: the variables of emulator.Seed (AZURE_TENANT_ID,
// AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST, KEY_VAULT_URL, GRAPH_CLIENT_ID,
// GRAPH_BASE_URL, GRAPH_CREDENTIAL_SECRET_NAME), plus SSL_CERT_FILE, a file holding the
// emulator's CA, and SSL_CERT_DIR, an empty directory: a process started with it trusts the
// emulator's CA and nothing else. Tests add their own variables to it freely.
type Env map[string]string

// Getenv returns the value of key, "" when unset: the shape config.Load and os.Getenv have.
func (e Env) Getenv(key string) string { return e[key] }

// Environ returns the variables as "KEY=value", sorted by key, for exec.Cmd.Env (appended to
// os.Environ(): later entries win).
func (e Env) Environ() []string {
	out := make([]string, 0, len(e))
	for _, k := range slices.Sorted(maps.Keys(e)) {
		out = append(out, k+"="+e[k])
	}
	return out
}

// Start starts an emulator with o, seeds it (emulator.Seed) and closes it when the test and its
// subtests end. It returns the emulator and a new Env of its own; it ends the test with Fatal when
// the emulator cannot start.
func Start(t testing.TB, o emulator.Options) (*emulator.Emulator, Env) {
	t.Helper()
	e, err := emulator.Start(o)
	if err != nil {
		t.Fatalf("emutest: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	dir := t.TempDir()
	ca, noCerts := filepath.Join(dir, "emulator-ca.pem"), filepath.Join(dir, "no-certs")
	if err := e.WriteCAFile(ca); err != nil {
		t.Fatalf("emutest: %v", err)
	}
	if err := os.Mkdir(noCerts, 0o755); err != nil {
		t.Fatalf("emutest: %v", err)
	}
	env := Env(e.Seed())
	env["SSL_CERT_FILE"], env["SSL_CERT_DIR"] = ca, noCerts
	return e, env
}

// StartSTS starts a fake AWS STS with o and closes it when the test and its subtests end; it ends
// the test with Fatal when the fake cannot start.
func StartSTS(t testing.TB, o fakests.Options) *fakests.STS {
	t.Helper()
	s, err := fakests.Start(o)
	if err != nil {
		t.Fatalf("emutest: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// ClientOptions returns the azcore options of a client of e: its authority (the global cloud's
// shape on the emulator's URL) and its HTTP client, which trusts only e's CA.
func ClientOptions(e *emulator.Emulator) azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: e.AuthorityHost() + "/"},
		Transport: e.HTTPClient(),
	}
}

// Credential returns the real azidentity client-secret credential of an app of e, on e's
// authority with instance discovery off (it would leave loopback). It ends the test with Fatal
// when azidentity refuses the arguments.
func Credential(t testing.TB, e *emulator.Emulator, tenantID, clientID, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	c, err := azidentity.NewClientSecretCredential(tenantID, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: ClientOptions(e), DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatalf("emutest: %v", err)
	}
	return c
}

// GraphCredential returns the credential of the seeded Graph app (emulator.SeedGraphClientID),
// with the client secret Seed stored in e's vault. It ends the test with Fatal when e was not
// seeded.
func GraphCredential(t testing.TB, e *emulator.Emulator) *azidentity.ClientSecretCredential {
	t.Helper()
	secret, _, ok := e.Secret(emulator.SeedGraphCredentialSecret)
	if !ok {
		t.Fatalf("emutest: the emulator holds no secret %q: was it seeded?", emulator.SeedGraphCredentialSecret)
	}
	return Credential(t, e, emulator.SeedTenantID, emulator.SeedGraphClientID, secret)
}

// BootstrapCredential returns the credential of the seeded bootstrap app (the one that reads Key
// Vault), with the client secret of env.
func BootstrapCredential(t testing.TB, e *emulator.Emulator, env Env) *azidentity.ClientSecretCredential {
	t.Helper()
	return Credential(t, e, env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"])
}
