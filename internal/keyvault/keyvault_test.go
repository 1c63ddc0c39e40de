package keyvault_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// gate holds every Key Vault request until it is opened (or the request's context ends), so a
// test decides when a read in flight may finish.
type gate struct {
	next policy.Transporter
	open chan struct{}
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) Do(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/secrets/") {
		select {
		case <-g.open:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return g.next.Do(r)
}

type fixture struct {
	e     *emulator.Emulator
	s     *keyvault.Store
	clock *clock
	env   map[string]string
}

// setup starts a seeded emulator and a Store reading its vault with the bootstrap identity;
// with g set, the Store's requests go through g.
func setup(t *testing.T, ttl time.Duration, g *gate) fixture {
	t.Helper()
	e, env := emutest.Start(t, emulator.Options{})
	cred := emutest.BootstrapCredential(t, e, env)
	var transport policy.Transporter = e.HTTPClient()
	if g != nil {
		g.next = transport
		transport = g
	}
	c := &clock{t: time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)}
	s, err := keyvault.New(e.VaultURL(), cred, keyvault.Options{TTL: ttl, Transport: transport, DisableChallengeResourceVerification: true, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{e: e, s: s, clock: c, env: env}
}

func (f fixture) reads(name string) int { return f.e.Counts().SecretReads[name] }

func TestCacheTTL(t *testing.T) {
	t.Parallel()
	f := setup(t, 15*time.Minute, nil)
	ctx := context.Background()
	f.e.SetSecret("webhook-token", "first", "")
	got, err := f.s.Get(ctx, "webhook-token")
	if err != nil || got.Value != "first" || got.Version == "" {
		t.Fatalf("Get = %v, %v", got, err)
	}
	if got.Took <= 0 {
		t.Errorf("Took = %v after a read from the vault, want > 0", got.Took)
	}
	f.e.SetSecret("webhook-token", "second", "")
	f.clock.advance(14 * time.Minute)
	got, _ = f.s.Get(ctx, "webhook-token")
	if got.Value != "first" {
		t.Errorf("within the TTL: %q, want the cached value", got.Value)
	}
	if got.Took != 0 {
		t.Errorf("Took = %v for a value from memory, want 0", got.Took)
	}
	f.clock.advance(2 * time.Minute)
	if got, _ := f.s.Get(ctx, "webhook-token"); got.Value != "second" {
		t.Errorf("after the TTL: %q, want the new value", got.Value)
	}
	if got, want := f.reads("webhook-token"), 2; got != want {
		t.Errorf("secret reads = %d, want %d", got, want)
	}
	f.e.SetSecret("webhook-token", "third", "")
	got, _ = f.s.Refresh(ctx, "webhook-token")
	if got.Value != "third" || got.Took <= 0 {
		t.Errorf("Refresh = %q, took %v; want the new value, read from the vault", got.Value, got.Took)
	}
	if got, _ := f.s.Get(ctx, "webhook-token"); got.Value != "third" {
		t.Errorf("Get after Refresh = %q", got.Value)
	}
}

// TestConcurrentReadsShareOne holds the vault's answer until all callers wait for the read in
// flight, so every one of them must get the one read's value.
func TestConcurrentReadsShareOne(t *testing.T) {
	t.Parallel()
	const callers = 50
	g := newGate()
	f := setup(t, 0, g)
	joined := make(chan struct{}, callers)
	keyvault.SetHooks(f.s, nil, func(string) { joined <- struct{}{} })
	f.e.SetSecret("graph-credential", "value", "application/x-pem-file")

	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if got, err := f.s.Get(context.Background(), "graph-credential"); err != nil || got.ContentType != "application/x-pem-file" || got.Took <= 0 {
				t.Errorf("Get = %v (took %v), %v; want the value read from the vault", got, got.Took, err)
			}
		})
	}
	for range callers {
		<-joined
	}
	close(g.open)
	wg.Wait()
	if got, want := f.reads("graph-credential"), 1; got != want {
		t.Errorf("secret reads = %d, want %d", got, want)
	}
}

// TestLateReaderFindsMemory is defect 4 of issue 13: a caller that found memory empty, then
// starts a read after another caller's read filled it, must take the value from memory.
func TestLateReaderFindsMemory(t *testing.T) {
	t.Parallel()
	f := setup(t, 0, nil)
	f.e.SetSecret("graph-credential", "value", "")
	var first atomic.Bool
	late, release := make(chan struct{}), make(chan struct{})
	keyvault.SetHooks(f.s, func(string) {
		if first.CompareAndSwap(false, true) {
			close(late)
			<-release
		}
	}, nil)

	type result struct {
		s   keyvault.Secret
		err error
	}
	lateResult := make(chan result, 1)
	go func() {
		s, err := f.s.Get(context.Background(), "graph-credential")
		lateResult <- result{s, err}
	}()
	<-late // the late caller has found memory empty
	if got, err := f.s.Get(context.Background(), "graph-credential"); err != nil || got.Value != "value" {
		t.Fatalf("Get = %v, %v", got, err)
	}
	close(release)
	r := <-lateResult
	if r.err != nil || r.s.Value != "value" || r.s.Took != 0 {
		t.Errorf("late Get = %v (took %v), %v; want the value from memory, took 0", r.s, r.s.Took, r.err)
	}
	if got, want := f.reads("graph-credential"), 1; got != want {
		t.Errorf("secret reads = %d, want %d", got, want)
	}
}

// TestCallerGivesUpAlone: the caller that started a read stops waiting; the read goes on for
// the caller still waiting, and the first caller's context error is not remembered.
func TestCallerGivesUpAlone(t *testing.T) {
	t.Parallel()
	g := newGate()
	f := setup(t, 0, g)
	joined := make(chan struct{}, 2)
	keyvault.SetHooks(f.s, nil, func(string) { joined <- struct{}{} })
	f.e.SetSecret("graph-credential", "value", "")

	type result struct {
		s   keyvault.Secret
		err error
	}
	get := func(ctx context.Context) <-chan result {
		ch := make(chan result, 1)
		go func() {
			s, err := f.s.Get(ctx, "graph-credential")
			ch <- result{s, err}
		}()
		return ch
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := get(ctx)
	<-joined // the first caller started the read
	second := get(context.Background())
	<-joined
	cancel()

	r := <-first
	var ve *keyvault.Error
	if !errors.As(r.err, &ve) || ve.Name != "graph-credential" || !errors.Is(r.err, context.Canceled) {
		t.Errorf("cancelled Get = %v, %v; want a *keyvault.Error wrapping context.Canceled", r.s, r.err)
	}
	close(g.open)
	if r := <-second; r.err != nil || r.s.Value != "value" {
		t.Errorf("second Get = %v, %v; want the value", r.s, r.err)
	}
	if got, err := f.s.Get(context.Background(), "graph-credential"); err != nil || got.Value != "value" || got.Took != 0 {
		t.Errorf("Get afterwards = %v (took %v), %v; want the value from memory", got, got.Took, err)
	}
	if got, want := f.reads("graph-credential"), 1; got != want {
		t.Errorf("secret reads = %d, want %d", got, want)
	}
}

func TestDoneContextReadsNothing(t *testing.T) {
	t.Parallel()
	f := setup(t, 0, nil)
	f.e.SetSecret("graph-credential", "value", "")
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.s.Get(done, "graph-credential")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Get(done ctx) = %v, want context.Canceled", err)
	}
	if got := f.reads("graph-credential"); got != 0 {
		t.Errorf("secret reads = %d, want 0", got)
	}
	if _, err := f.s.Get(context.Background(), "graph-credential"); err != nil {
		t.Fatal(err)
	}
	if got, err := f.s.Get(done, "graph-credential"); err != nil || got.Value != "value" {
		t.Errorf("Get(done ctx) with the value in memory = %v, %v; want the value", got, err)
	}
}

// TestFailuresRemembered counts the vault's work while a secret cannot be read: 10 callers in
// the period SPEC §6 gives the failure cause one read, and the next read comes only after it.
func TestFailuresRemembered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		memory     time.Duration
		notFound   bool
		status     int
		cause      func(*testing.T, error) // nil: no check
		breakVault func(f fixture) (heal func())
		vaultAsked func(f fixture) int // nil: the emulator cannot count these (faults are not counted)
	}{
		{
			name: "not found", memory: keyvault.RememberNotFound, notFound: true, status: http.StatusNotFound,
			breakVault: func(f fixture) func() { return func() { f.e.SetSecret("s", "value", "") } },
			vaultAsked: func(f fixture) int { return f.reads("s") },
		},
		{
			name: "disabled", memory: keyvault.RememberNotFound, notFound: true, status: http.StatusOK,
			breakVault: func(f fixture) func() {
				f.e.SetSecret("s", "value", "")
				return f.e.AddFault(emulator.Fault{Service: emulator.Vault, Status: http.StatusOK,
					Body: `{"value":"old","id":"` + f.e.VaultURL() + `secrets/s/0123","attributes":{"enabled":false}}`})
			},
		},
		{
			// Real Key Vault answers a disabled secret with 403 and the inner code SecretDisabled.
			name: "disabled, as Key Vault says it", memory: keyvault.RememberNotFound, notFound: true, status: http.StatusForbidden,
			breakVault: func(f fixture) func() {
				f.e.SetSecret("s", "value", "")
				f.e.SetSecretEnabled("s", false)
				return func() { f.e.SetSecretEnabled("s", true) }
			},
		},
		{
			name: "forbidden", memory: keyvault.RememberFailure, status: http.StatusForbidden,
			breakVault: func(f fixture) func() {
				f.e.SetSecret("s", "value", "")
				return f.e.AddFault(emulator.Fault{Service: emulator.Vault, Status: http.StatusForbidden})
			},
		},
		{
			name: "entra refuses the identity that reads the vault", memory: keyvault.RememberFailure,
			cause: func(t *testing.T, err error) {
				var af *azidentity.AuthenticationFailedError
				if !errors.As(err, &af) {
					t.Errorf("cause = %v, want an *azidentity.AuthenticationFailedError", err)
				}
			},
			breakVault: func(f fixture) func() {
				f.e.SetSecret("s", "value", "")
				f.e.SetAppSecret(emulator.SeedTenantID, emulator.SeedBootstrapClientID, "rotated-away")
				return func() {
					f.e.SetAppSecret(emulator.SeedTenantID, emulator.SeedBootstrapClientID, f.env["AZURE_CLIENT_SECRET"])
				}
			},
			vaultAsked: func(f fixture) int { return f.e.Counts().Tokens[emulator.SeedBootstrapClientID] },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, time.Hour, nil)
			ctx := context.Background()
			heal := tt.breakVault(f)
			check := func(when string, wantTook bool) {
				t.Helper()
				got, err := f.s.Get(ctx, "s")
				var ve *keyvault.Error
				if !errors.As(err, &ve) {
					t.Fatalf("%s: Get = %v, %v; want a *keyvault.Error", when, got, err)
				}
				if ve.Name != "s" || ve.NotFound != tt.notFound || ve.StatusCode != tt.status {
					t.Errorf("%s: error = %+v, want NotFound %v, StatusCode %d", when, ve, tt.notFound, tt.status)
				}
				if tt.cause != nil {
					tt.cause(t, err)
				}
				if (got.Took > 0) != wantTook {
					t.Errorf("%s: Took = %v, want a read from the vault: %v", when, got.Took, wantTook)
				}
			}
			asked := func(when string, want int) {
				t.Helper()
				if tt.vaultAsked == nil {
					return
				}
				if got := tt.vaultAsked(f); got != want {
					t.Errorf("%s: vault asked %d times, want %d", when, got, want)
				}
			}

			check("first read", true)
			for range 9 {
				check("remembered", false)
			}
			if _, err := f.s.Refresh(ctx, "s"); err == nil {
				t.Error("Refresh while the failure is remembered succeeded")
			}
			asked("10 Gets and a Refresh", 1)
			f.clock.advance(tt.memory - time.Second)
			heal()
			check("a second before the end, though the vault would now answer", false)
			asked("still within the period", 1)
			f.clock.advance(time.Second)
			if got, err := f.s.Get(ctx, "s"); err != nil || got.Value != "value" {
				t.Errorf("Get after %v = %v, %v; want the value", tt.memory, got, err)
			}
			asked("after the period", 2)
		})
	}
}

// TestReadTimeoutNotRemembered: a read that ran out of its own time says nothing about the
// secret, so the next caller reads again.
func TestReadTimeoutNotRemembered(t *testing.T) {
	t.Parallel()
	f := setup(t, 0, nil)
	f.e.SetSecret("s", "value", "")
	keyvault.SetReadTimeout(f.s, -time.Second) // already over when the read starts
	if _, err := f.s.Get(context.Background(), "s"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get = %v, want context.DeadlineExceeded", err)
	}
	keyvault.SetReadTimeout(f.s, keyvault.ReadTimeout)
	if got, err := f.s.Get(context.Background(), "s"); err != nil || got.Value != "value" {
		t.Errorf("Get after a timed-out read = %v, %v; want the value", got, err)
	}
}

// TestRefreshAfterFailure: a failed Refresh leaves Get the value in memory, and is remembered
// for Refresh like any failure.
func TestRefreshAfterFailure(t *testing.T) {
	t.Parallel()
	f := setup(t, time.Hour, nil)
	ctx := context.Background()
	f.e.SetSecret("s", "first", "")
	if _, err := f.s.Get(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	f.e.SetSecret("s", "second", "")
	remove := f.e.AddFault(emulator.Fault{Service: emulator.Vault, Status: http.StatusForbidden})
	var ve *keyvault.Error
	if _, err := f.s.Refresh(ctx, "s"); !errors.As(err, &ve) || ve.StatusCode != http.StatusForbidden {
		t.Fatalf("Refresh = %v, want the 403", err)
	}
	remove()
	if got, err := f.s.Get(ctx, "s"); err != nil || got.Value != "first" {
		t.Errorf("Get after a failed Refresh = %v, %v; want the value in memory", got, err)
	}
	if _, err := f.s.Refresh(ctx, "s"); !errors.As(err, &ve) || ve.StatusCode != http.StatusForbidden {
		t.Errorf("Refresh within %v = %v, want the remembered 403", keyvault.RememberFailure, err)
	}
	f.clock.advance(keyvault.RememberFailure)
	if got, err := f.s.Refresh(ctx, "s"); err != nil || got.Value != "second" {
		t.Errorf("Refresh after %v = %v, %v; want the new value", keyvault.RememberFailure, got, err)
	}
	if got, want := f.reads("s"), 2; got != want {
		t.Errorf("secret reads = %d, want %d", got, want)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	f := setup(t, time.Minute, nil)
	_, err := f.s.Get(context.Background(), "missing")
	var ve *keyvault.Error
	if !errors.As(err, &ve) || !ve.NotFound || ve.Name != "missing" || ve.StatusCode != 404 {
		t.Errorf("missing secret: %v", err)
	}
	f.e.AddFault(emulator.Fault{Service: emulator.Vault, Status: 503})
	f.e.SetSecret("other", "v", "")
	_, err = f.s.Get(context.Background(), "other")
	if !errors.As(err, &ve) || ve.NotFound || ve.StatusCode != 503 {
		t.Errorf("vault down: %v", err)
	}
	if strings.Contains(err.Error(), "v\"") {
		t.Error("error quotes a value")
	}
	if got := (keyvault.Secret{Name: "n", Value: "hidden", Version: "1"}).String(); strings.Contains(got, "hidden") {
		t.Errorf("Secret.String leaks the value: %s", got)
	}
}
