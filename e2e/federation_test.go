package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/fakests"
)

// Obviously fake AWS credentials: the fake STS reads only the access key id of the signature.
const (
	fedAccessKeyID  = "AKIAEXAMPLEFAKE00000"
	fedSecretKey    = "fake/aws/secret/EXAMPLE/00000000000000000"
	fedSessionToken = "fake-aws-session-token-EXAMPLE"
	fedAudience     = "api://AzureADTokenExchange"
)

// fedEnv is an env whose identity that reads Key Vault has no secret at all: it proves itself
// with a token of the fake STS, which the emulated Entra trusts as a federated credential.
type fedEnv struct {
	*env
	sts *fakests.STS
}

// newFederatedEnv starts an emulator and a fake STS, registers the bootstrap app as federated
// (its client secret removed), and gives the functions the environment of SPEC §3 for
// AZURE_FEDERATED_TOKEN_SOURCE=aws-sts: no AZURE_CLIENT_SECRET, AWS credentials, region and the
// STS endpoint override, and trust in both CAs.
func newFederatedEnv(t *testing.T) *fedEnv {
	t.Helper()
	e := newEnv(t)
	s, err := fakests.Start(fakests.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	// Runs after the functions stop (cleanups run last-in first-out) and before newEnv's leak
	// bookkeeping: no web identity token or AWS credential may appear in a log or an answer.
	t.Cleanup(func() {
		for _, tok := range s.IssuedTokens() {
			e.plant("web identity token", tok)
		}
	})
	e.plant("AWS secret access key", fedSecretKey)
	e.plant("AWS session token", fedSessionToken)

	// The bootstrap app, replaced: no secret, no certificate, one federated credential.
	e.emu.AddApp(emulator.App{TenantID: emulator.SeedTenantID, ClientID: emulator.SeedBootstrapClientID, Roles: []string{}})
	e.emu.AddFederatedApp(emulator.SeedTenantID, emulator.SeedBootstrapClientID, s.FederatedCredential(fedAudience))

	caFile := filepath.Join(t.TempDir(), "emulator-and-sts-ca.pem")
	if err := os.WriteFile(caFile, append(e.emu.CAPEM(), s.CAPEM()...), 0o644); err != nil {
		t.Fatal(err)
	}
	delete(e.vars, "AZURE_CLIENT_SECRET")
	for k, v := range map[string]string{
		"AZURE_FEDERATED_TOKEN_SOURCE": "aws-sts",
		"AWS_ENDPOINT_URL_STS":         s.URL(),
		"AWS_ACCESS_KEY_ID":            fedAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":        fedSecretKey,
		"AWS_SESSION_TOKEN":            fedSessionToken,
		"AWS_REGION":                   "us-east-1",
		"SSL_CERT_FILE":                caFile,
	} {
		e.vars[k] = v
	}
	// The functions inherit the test's environment: it must not hold an Azure secret either.
	if _, ok := os.LookupEnv("AZURE_CLIENT_SECRET"); ok {
		t.Fatal("the test runs with AZURE_CLIENT_SECRET set: unset it")
	}
	return &fedEnv{env: e, sts: s}
}

// processEnviron returns the environment of the running process whose executable is binary and
// whose environment holds marker ("NAME=value"), read from /proc.
func processEnviron(t *testing.T, binary, marker string) []string {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		if exe, err := os.Readlink(filepath.Join(dir, "exe")); err != nil || exe != binary {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, "environ"))
		if err != nil {
			continue
		}
		vars := strings.Split(string(bytes.TrimRight(data, "\x00")), "\x00")
		for _, v := range vars {
			if v == marker {
				return vars
			}
		}
	}
	t.Fatalf("no running %s with %s", binary, marker)
	return nil
}

func TestFederatedIdentityEndToEnd(t *testing.T) {
	t.Parallel()
	e := newFederatedEnv(t)
	status := e.start(t, binaries.status, nil)
	statusEvent := sample(t, "httpapi-status.json")

	// Cold: one web identity token for one Entra token, then Key Vault and Graph as usual.
	got := decodeHTTP(t, status.invoke(t, statusEvent))
	if got.StatusCode != 200 {
		t.Fatalf("status GET: %d %s", got.StatusCode, got.Body)
	}
	if got, want := e.sts.Calls(), 1; got != want {
		t.Errorf("STS calls after the first invocation = %d, want %d", got, want)
	}
	if got, want := e.emu.Counts().Tokens[emulator.SeedBootstrapClientID], 1; got != want {
		t.Errorf("Entra tokens of the identity that reads Key Vault = %d, want %d", got, want)
	}

	// The function's own environment holds no Azure secret, and the AWS settings of the test.
	environ := processEnviron(t, binaries.status, "AWS_ENDPOINT_URL_STS="+e.sts.URL())
	for _, v := range environ {
		if strings.HasPrefix(v, "AZURE_CLIENT_SECRET=") || strings.HasPrefix(v, "AZURE_CLIENT_CERTIFICATE_PATH=") {
			t.Errorf("the function's environment holds %s", strings.SplitN(v, "=", 2)[0])
		}
	}

	// Warm: no STS call, whatever the number of invocations.
	for i := range 20 {
		if got := decodeHTTP(t, status.invoke(t, statusEvent)); got.StatusCode != 200 {
			t.Fatalf("warm status GET #%d: %d %s", i+1, got.StatusCode, got.Body)
		}
	}
	if got, want := e.sts.Calls(), 1; got != want {
		t.Errorf("STS calls after 20 warm invocations = %d, want %d", got, want)
	}

	// The sync function is another process: its own Entra token, so its own STS call.
	sync := e.start(t, binaries.sync, nil)
	got = decodeHTTP(t, sync.invoke(t, sample(t, "httpapi-sync.json")))
	if got.StatusCode != 202 || got.json(t)["result"] != "started" {
		t.Fatalf("sync POST: %d %s", got.StatusCode, got.Body)
	}
	if got, want := e.sts.Calls(), 2; got != want {
		t.Errorf("STS calls after the sync function's first invocation = %d, want %d", got, want)
	}
	if stsCalls, entraTokens := e.sts.Calls(), e.emu.Counts().Tokens[emulator.SeedBootstrapClientID]; stsCalls != entraTokens {
		t.Errorf("%d STS calls for %d Entra tokens, want one per token", stsCalls, entraTokens)
	}

	// What STS was asked for, with the function's own (fake) credentials.
	for _, r := range e.sts.Requests() {
		if r.AccessKeyID != fedAccessKeyID || r.Region != "us-east-1" || !r.SessionToken ||
			r.SigningAlgorithm != "RS256" || r.DurationSeconds != 60 || len(r.Audience) != 1 || r.Audience[0] != fedAudience {
			t.Errorf("STS request %+v", r)
		}
	}
}

func TestFederatedSTSRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fault      fakests.Fault
		wantStatus int
		wantCode   string
		wantDetail string // in the answer's detail
		wantLog    string // in the function's log
	}{
		{"access denied", fakests.AccessDenied, 502, "credentialRejected", "sts:GetWebIdentityToken", "sts:GetWebIdentityToken"},
		{"federation disabled", fakests.FederationDisabled, 502, "credentialRejected", "outbound identity federation", "aws iam enable-outbound-web-identity-federation"},
		{"throttled", fakests.Throttling, 503, "secretStoreUnavailable", "", "Throttling"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newFederatedEnv(t)
			e.sts.Fail(tc.fault)
			fn := e.start(t, binaries.status, nil)
			got := decodeHTTP(t, fn.invokeLogged(t, sample(t, "httpapi-status.json")))
			if e.sts.Calls() == 0 {
				t.Fatalf("STS was not asked: %d %s", got.StatusCode, got.Body)
			}
			if n := e.emu.Counts().Tokens[emulator.SeedBootstrapClientID]; n != 0 {
				t.Errorf("Entra got %d token requests without an assertion", n)
			}
			if !strings.Contains(fn.logs.String(), tc.wantLog) {
				t.Errorf("the log does not say %q:\n%s", tc.wantLog, fn.logs.String())
			}
			body := got.json(t)
			if got.StatusCode != tc.wantStatus || body["code"] != tc.wantCode {
				t.Fatalf("got %d %s, want %d %s", got.StatusCode, got.Body, tc.wantStatus, tc.wantCode)
			}
			if detail, _ := body["detail"].(string); !strings.Contains(detail, tc.wantDetail) {
				t.Errorf("detail %q does not say %q", detail, tc.wantDetail)
			}
			if tc.wantStatus == 503 && atoi(t, got.header("Retry-After")) < 1 {
				t.Errorf("Retry-After = %q", got.header("Retry-After"))
			}
		})
	}
}
