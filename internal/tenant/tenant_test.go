package tenant_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

func setup(t *testing.T) (*emulator.Emulator, *tenant.Tenant) {
	t.Helper()
	e, env := emutest.Start(t, emulator.Options{})
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	tn, _, err := tenant.Open(cfg, tenant.Options{Transport: e.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	return e, tn
}

func TestWarmCallsReuseSecretAndTokens(t *testing.T) {
	t.Parallel()
	e, tn := setup(t)
	ctx := context.Background()
	// Concurrent first calls share one secret read and one token per identity.
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			if _, _, err := getSettings(ctx, tn); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c := e.Counts()
	if c.SecretReads[emulator.SeedGraphCredentialSecret] != 1 {
		t.Errorf("secret reads = %v, want exactly 1", c.SecretReads)
	}
	if c.Tokens[emulator.SeedBootstrapClientID] != 1 || c.Tokens[emulator.SeedGraphClientID] != 1 {
		t.Errorf("token requests = %v, want 1 per identity", c.Tokens)
	}
	if c.Graph["GET"] != 100 {
		t.Errorf("Graph GETs = %d, want 100", c.Graph["GET"])
	}
}

func TestRotationOn401(t *testing.T) {
	t.Parallel()
	e, tn := setup(t)
	ctx := context.Background()
	if _, _, err := getSettings(ctx, tn); err != nil {
		t.Fatal(err)
	}
	// The admin rotates the Graph app's secret in Entra and in Key Vault.
	newSecret := "rotated-" + randomString(t)
	e.SetAppSecret(emulator.SeedTenantID, emulator.SeedGraphClientID, newSecret)
	e.SetSecret(emulator.SeedGraphCredentialSecret, newSecret, "")
	e.ResetCounts()

	if _, _, err := getSettings(ctx, tn); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	c := e.Counts()
	if c.Graph["GET"] != 2 || c.SecretReads[emulator.SeedGraphCredentialSecret] != 1 || c.Tokens[emulator.SeedGraphClientID] != 1 {
		t.Errorf("rotation: Graph GETs %d, secret reads %v, tokens %v; want 2 (401, retry), 1 re-read, 1 new token", c.Graph["GET"], c.SecretReads, c.Tokens)
	}
	// Warm again: nothing more from Key Vault or Entra.
	e.ResetCounts()
	if _, err := startSync(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if c := e.Counts(); len(c.SecretReads) != 0 || len(c.Tokens) != 0 {
		t.Errorf("after rotation, a warm call read %v and requested tokens %v", c.SecretReads, c.Tokens)
	}
}

func TestRotationRetriesOnlyOnce(t *testing.T) {
	t.Parallel()
	e, tn := setup(t)
	e.AddFault(emulator.Fault{Service: emulator.Graph, Status: 401})
	_, _, err := getSettings(context.Background(), tn)
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.StatusCode != 401 {
		t.Fatalf("err = %v, want Graph 401", err)
	}
	c := e.Counts()
	if c.Graph["GET"] != 2 || c.SecretReads[emulator.SeedGraphCredentialSecret] != 2 {
		t.Errorf("Graph GETs %d, secret reads %v; want 2 and 2 (one re-read, one retry)", c.Graph["GET"], c.SecretReads)
	}
}

func Test403IsNotRotation(t *testing.T) {
	t.Parallel()
	e, tn := setup(t)
	e.AddApp(emulator.App{TenantID: emulator.SeedTenantID, ClientID: emulator.SeedGraphClientID, Roles: []string{emulator.RoleReadAll},
		Secret: mustSecret(t, e)})
	if _, _, err := getSettings(context.Background(), tn); err != nil {
		t.Fatalf("read with Read.All: %v", err)
	}
	_, err := startSync(context.Background(), tn)
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.StatusCode != 403 {
		t.Fatalf("err = %v, want Graph 403", err)
	}
	if n := e.Counts().SecretReads[emulator.SeedGraphCredentialSecret]; n != 1 {
		t.Errorf("a 403 re-read the secret (%d reads)", n)
	}
}

func mustSecret(t *testing.T, e *emulator.Emulator) string {
	t.Helper()
	v, _, ok := e.Secret(emulator.SeedGraphCredentialSecret)
	if !ok {
		t.Fatal("seeded secret missing")
	}
	return v
}

func TestCredentialErrors(t *testing.T) {
	t.Parallel()
	t.Run("wrong secret in Key Vault", func(t *testing.T) {
		t.Parallel()
		e, tn := setup(t)
		e.SetSecret(emulator.SeedGraphCredentialSecret, "wrong-"+randomString(t), "")
		_, _, err := getSettings(context.Background(), tn)
		var af *azidentity.AuthenticationFailedError
		if !errors.As(err, &af) || af.RawResponse == nil || af.RawResponse.StatusCode != 401 {
			t.Fatalf("err = %v, want Entra's 401", err)
		}
		if strings.Contains(err.Error(), "wrong-") {
			t.Error("the error quotes the secret")
		}
	})
	t.Run("secret missing", func(t *testing.T) {
		t.Parallel()
		e, tn := setup(t)
		e.DeleteSecret(emulator.SeedGraphCredentialSecret)
		_, _, err := getSettings(context.Background(), tn)
		var ve *keyvault.Error
		if !errors.As(err, &ve) || !ve.NotFound {
			t.Fatalf("err = %v, want a not-found keyvault.Error", err)
		}
	})
	t.Run("Key Vault down", func(t *testing.T) {
		t.Parallel()
		e, tn := setup(t)
		e.AddFault(emulator.Fault{Service: emulator.Vault, Status: 500})
		_, _, err := getSettings(context.Background(), tn)
		var ve *keyvault.Error
		if !errors.As(err, &ve) || ve.NotFound || ve.StatusCode != 500 {
			t.Fatalf("err = %v, want a keyvault.Error with 500", err)
		}
		if n := e.Counts().Graph["GET"]; n != 0 {
			t.Errorf("Graph was called %d times without a credential", n)
		}
	})
	t.Run("empty secret", func(t *testing.T) {
		t.Parallel()
		e, tn := setup(t)
		e.SetSecret(emulator.SeedGraphCredentialSecret, " ", "")
		if _, _, err := getSettings(context.Background(), tn); !errors.Is(err, tenant.ErrCredentialUnusable) {
			t.Fatalf("err = %v, want ErrCredentialUnusable", err)
		}
	})
	t.Run("certificate that is not one", func(t *testing.T) {
		t.Parallel()
		e, tn := setup(t)
		e.SetSecret(emulator.SeedGraphCredentialSecret, "not a pem", "application/x-pem-file")
		if _, _, err := getSettings(context.Background(), tn); !errors.Is(err, tenant.ErrCredentialUnusable) {
			t.Fatalf("err = %v, want ErrCredentialUnusable", err)
		}
	})
}

// TestCertificateCredentials stores a generated certificate in Key Vault the way Key Vault exposes
// certificates (PEM, or base64 PKCS#12) and registers it with the Graph app in Entra.
func TestCertificateCredentials(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, rsaKey)
	keyDER, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	pemValue := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	pfx, err := pkcs12.LegacyDES.Encode(rsaKey, cert, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, value, contentType string }{
		{"PEM", pemValue, "application/x-pem-file"},
		{"PKCS#12", base64.StdEncoding.EncodeToString(pfx), "application/x-pkcs12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, tn := setup(t)
			e.AddApp(emulator.App{TenantID: emulator.SeedTenantID, ClientID: emulator.SeedGraphClientID, Certificate: cert})
			e.SetSecret(emulator.SeedGraphCredentialSecret, tt.value, tt.contentType)
			if _, err := startSync(context.Background(), tn); err != nil {
				t.Fatalf("sync with a %s certificate: %v", tt.name, err)
			}
			if n := e.Counts().Tokens[emulator.SeedGraphClientID]; n != 1 {
				t.Errorf("token requests = %d", n)
			}
		})
	}
}

func selfSigned(t *testing.T, key *rsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "autopilot-sync test"},
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
	return cert
}

func randomString(t *testing.T) string {
	t.Helper()
	return rand.Text()
}

// TestWaitingForABuildHonoursTheDeadline: while one call builds the Graph client on a slow Key
// Vault, another whose deadline is near gives up in time instead of queueing past it.
func TestWaitingForABuildHonoursTheDeadline(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	// The secret read hangs until the test lets it go; its start is an event to wait on.
	reading, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	transport := transportFunc(func(r *http.Request) (*http.Response, error) {
		if strings.Contains(r.URL.Path, "/secrets/") && r.Header.Get("Authorization") != "" {
			once.Do(func() { close(reading) })
			<-release
		}
		return e.HTTPClient().Do(r)
	})
	tn, _, err := tenant.Open(cfg, tenant.Options{Transport: transport})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { _, _, err := getSettings(context.Background(), tn); first <- err }()
	<-reading // the first call is building the Graph client
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// Were the second call queued behind the build, it would succeed once the build is done,
	// which only happens after release below.
	if _, _, err := getSettings(ctx, tn); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the deadline", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("the building call: %v", err)
	}
	if n := e.Counts().SecretReads[emulator.SeedGraphCredentialSecret]; n != 1 {
		t.Errorf("secret reads = %d, want 1", n)
	}
}

type transportFunc func(*http.Request) (*http.Response, error)

func (f transportFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// getSettings reads the tenant's windowsAutopilotSettings through Do.
func getSettings(ctx context.Context, tn *tenant.Tenant) (graph.Settings, tenant.Call, error) {
	var s graph.Settings
	call, err := tn.Do(ctx, func(c *graph.Client) (r *graph.Response, err error) { s, r, err = c.Get(ctx); return r, err })
	return s, call, err
}

// startSync starts a sync of the tenant's Autopilot devices through Do.
func startSync(ctx context.Context, tn *tenant.Tenant) (tenant.Call, error) {
	return tn.Do(ctx, func(c *graph.Client) (*graph.Response, error) { return c.Sync(ctx) })
}
