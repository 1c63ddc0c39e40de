package tenant

import (
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
)

// TestRegistryParsedOncePerVersion: the registry is parsed again only when Key Vault holds a new
// version, not each time the cached secret expires and is read again.
func TestRegistryParsedOncePerVersion(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	clock := emulator.NewManualClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	_, vault, err := Open(cfg, Options{Transport: e.HTTPClient(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	const doc = `[{"name":"a","tenantId":"contoso.onmicrosoft.com","clientId":"00000000-0000-4000-8000-000000000001","credentialSecretName":"a"}]`
	e.SetSecret("registry", doc, "")
	f := NewFleet(vault, "registry", Overrides{}, Options{})

	steps := []struct {
		name       string
		do         func()
		wantReads  int
		wantParses int
	}{
		{"first use", func() {}, 1, 1},
		{"warm", func() {}, 1, 1},
		{"cache expired, same version", func() { clock.Advance(cfg.SecretCacheTTL + time.Second) }, 2, 1},
		{"new version, still cached", func() { e.SetSecret("registry", doc, "") }, 2, 1},
		{"new version seen", func() { clock.Advance(cfg.SecretCacheTTL + time.Second) }, 3, 2},
	}
	// Each parse makes a new entries array: count how often the fleet's array changes.
	var parsed *Entry
	parses := 0
	for _, s := range steps {
		s.do()
		for range 3 {
			if _, err := f.Entries(t.Context()); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			f.mu.Lock()
			if p := &f.entries[0]; p != parsed {
				parsed, parses = p, parses+1
			}
			f.mu.Unlock()
		}
		if reads := e.Counts().SecretReads["registry"]; reads != s.wantReads || parses != s.wantParses {
			t.Errorf("%s: %d reads, %d parses; want %d, %d", s.name, reads, parses, s.wantReads, s.wantParses)
		}
	}
}
