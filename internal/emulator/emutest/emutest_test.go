package emutest_test

import (
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/fakests"
)

func TestStartSeedsAndDescribes(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	seed := e.Seed()
	for k, v := range seed {
		if got := env.Getenv(k); got != v {
			t.Errorf("Getenv(%s) = %q, want Seed's %q", k, got, v)
		}
	}
	if len(env) != len(seed)+2 {
		t.Errorf("Env holds %d variables, want Seed's %d and SSL_CERT_FILE, SSL_CERT_DIR", len(env), len(seed))
	}
	ca, err := os.ReadFile(env.Getenv("SSL_CERT_FILE"))
	if err != nil || string(ca) != string(e.CAPEM()) {
		t.Errorf("SSL_CERT_FILE holds %q (%v), want the emulator's CA", ca, err)
	}
	if dir, err := os.ReadDir(env.Getenv("SSL_CERT_DIR")); err != nil || len(dir) != 0 {
		t.Errorf("SSL_CERT_DIR: %d entries, %v; want an empty directory", len(dir), err)
	}
	if got := env.Getenv("NOT_SET"); got != "" {
		t.Errorf("Getenv(NOT_SET) = %q", got)
	}

	environ := env.Environ()
	if !slices.IsSorted(environ) || len(environ) != len(env) {
		t.Errorf("Environ() = %d entries, sorted %v; want %d sorted", len(environ), slices.IsSorted(environ), len(env))
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if env[k] != v {
			t.Errorf("Environ() has %s=…, not the Env's value", k)
		}
	}

	// Each Start has its own secrets and its own Env.
	_, other := emutest.Start(t, emulator.Options{})
	if other["AZURE_CLIENT_SECRET"] == env["AZURE_CLIENT_SECRET"] || other["SSL_CERT_FILE"] == env["SSL_CERT_FILE"] {
		t.Error("two emulators share a secret or a CA file")
	}
}

func TestCredentialsOfTheSeededApps(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	tests := []struct {
		name, clientID, scope string
		cred                  azcore.TokenCredential
	}{
		{"bootstrap", emulator.SeedBootstrapClientID, "https://vault.azure.net/.default", emutest.BootstrapCredential(t, e, env)},
		{"graph", emulator.SeedGraphClientID, "https://127.0.0.1/.default", emutest.GraphCredential(t, e)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{tc.scope}}); err != nil {
				t.Fatalf("GetToken: %v", err)
			}
			if got := e.Counts().Tokens[tc.clientID]; got != 1 {
				t.Errorf("token requests of %s = %d, want 1", tc.clientID, got)
			}
		})
	}
}

// TestClosedWhenTheTestEnds: what Start and StartSTS start is closed by the cleanup of the test
// that started it.
func TestClosedWhenTheTestEnds(t *testing.T) {
	t.Parallel()
	var (
		e *emulator.Emulator
		s *fakests.STS
	)
	get := map[string]func() error{
		"emulator": func() error { return getURL(e.HTTPClient(), e.URL()+"/common/discovery/instance") },
		"fake STS": func() error { return getURL(s.HTTPClient(), s.URL()+"/.well-known/jwks.json") },
	}
	t.Run("started", func(t *testing.T) {
		e, _ = emutest.Start(t, emulator.Options{})
		s = emutest.StartSTS(t, fakests.Options{})
		for name, get := range get {
			if err := get(); err != nil {
				t.Fatalf("the %s while its test runs: %v", name, err)
			}
		}
	})
	for name, get := range get {
		if get() == nil {
			t.Errorf("the %s still answers after its test ended", name)
		}
	}
}

func getURL(c *http.Client, u string) error {
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// TestNotLinkedIntoTheFunctions: no Lambda binary links the emulator, its fakes, this package or
// flowtest (the emulator's discrete-event driver of the sync function).
func TestNotLinkedIntoTheFunctions(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the functions' dependencies")
	}
	const module = "github.com/autopilot-sync/autopilot-sync"
	out, err := exec.CommandContext(t.Context(), goTool, "list", "-deps", module+"/functions/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, module+"/internal/graph") {
		t.Fatalf("go list -deps ./functions/... does not list internal/graph: %q", deps)
	}
	for _, d := range deps {
		if d == module+"/internal/emulator" || strings.HasPrefix(d, module+"/internal/emulator/") || d == module+"/internal/flowtest" {
			t.Errorf("a Lambda function links %s", d)
		}
	}
}
