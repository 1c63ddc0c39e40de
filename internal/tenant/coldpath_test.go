package tenant_test

import (
	"context"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/azhttp"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

// TestColdPathRequests follows a cold call with each upstream behind its own Link, as the
// benchmark does (issue 17): Open preconnects one connection per upstream, the call uses those
// and no other, and Entra sees one discovery for the two identities of the tenant.
func TestColdPathRequests(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	var links [3]*emulator.Link
	for i := range links {
		l, err := emulator.StartLink(e.URL(), emulator.LinkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		links[i] = l
	}
	env["AZURE_AUTHORITY_HOST"] = "https://" + links[0].Addr()
	env["KEY_VAULT_URL"] = "https://" + links[1].Addr() + "/"
	env["GRAPH_BASE_URL"] = "https://" + links[2].Addr() + "/beta"
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	tr := azhttp.New(azhttp.Options{RootCAs: e.CertPool()})
	t.Cleanup(tr.CloseIdleConnections)
	tn, _, err := tenant.Open(cfg, tenant.Options{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := getSettings(context.Background(), tn); err != nil {
		t.Fatalf("cold Get: %v", err)
	}
	if _, _, err := getSettings(context.Background(), tn); err != nil {
		t.Fatalf("warm Get: %v", err)
	}
	for i, name := range []string{"Entra", "Key Vault", "Graph"} {
		if got := links[i].Accepted(); got != 1 {
			t.Errorf("%s: got %d connections, want 1", name, got)
		}
	}
	c := e.Counts()
	tokens := c.Tokens[emulator.SeedBootstrapClientID] + c.Tokens[emulator.SeedGraphClientID]
	for _, check := range []struct {
		what      string
		got, want int
	}{
		{"Entra discovery", c.Requests[emulator.Entra] - tokens, 1},
		{"tokens", tokens, 2},
		{"Key Vault challenges", c.VaultChallenges, 1},
		{"Key Vault requests", c.Requests[emulator.Vault], 2},
		{"Graph requests", c.Requests[emulator.Graph], 2},
	} {
		if check.got != check.want {
			t.Errorf("%s: got %d, want %d", check.what, check.got, check.want)
		}
	}
}
