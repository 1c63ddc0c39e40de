package diagnose

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// epoch is the fixed clock of the tests: every check takes 0 ms.
var epoch = time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)

// fixture is a seeded emulator, the environment a function reads from it, and what a report
// must never show: every secret value the test planted and every token anyone issued.
type fixture struct {
	e      *emulator.Emulator
	env    emutest.Env
	writes atomic.Int64 // requests to Key Vault or Graph other than GET

	mu      sync.Mutex
	planted []string
	tokens  []func() []string // more issuers of tokens (a fake STS)
}

// newFixture starts a seeded emulator that counts every write to Key Vault or Graph.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	e, env := emutest.Start(t, emulator.Options{})
	f := &fixture{e: e, env: env}
	value, _, _ := e.Secret(emulator.SeedGraphCredentialSecret)
	f.plant(env["AZURE_CLIENT_SECRET"], value)
	for _, svc := range []emulator.Service{emulator.Vault, emulator.Graph} {
		for _, m := range []string{http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete} {
			e.AddFault(emulator.Fault{Service: svc, Method: m, Arrived: func() { f.writes.Add(1) }})
		}
	}
	return f
}

func (f *fixture) plant(values ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.planted = append(f.planted, values...)
}

// setSecret stores a Key Vault secret and remembers its value.
func (f *fixture) setSecret(name, value, contentType string) {
	f.plant(value)
	f.e.SetSecret(name, value, contentType)
}

// run diagnoses fn with the fixture's environment, and fails the test when the report shows a
// secret or a token, or when anything was written to Key Vault or Graph.
func (f *fixture) run(t *testing.T, fn autopilot.Function, edit ...func(*Options)) Report {
	t.Helper()
	cfg, cfgErr := config.Load(f.env.Getenv)
	o := Options{Function: fn, Transport: f.e.HTTPClient(), Now: func() time.Time { return epoch }}
	for _, ed := range edit {
		ed(&o)
	}
	rep := Run(t.Context(), cfg, cfgErr, o)
	f.checkNoLeak(t, rep)
	if n := f.writes.Load(); n != 0 {
		t.Errorf("diagnose sent %d requests other than GET to Key Vault or Graph", n)
	}
	for key := range f.e.Counts().Graph {
		if key != http.MethodGet {
			t.Errorf("diagnose sent Graph %s", key)
		}
	}
	return rep
}

// checkNoLeak fails the test when the report's JSON holds a planted secret, a token or a token's
// signature.
func (f *fixture) checkNoLeak(t *testing.T, rep Report) {
	t.Helper()
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatalf("report does not encode: %v", err)
	}
	f.mu.Lock()
	secrets := slices.Clone(f.planted)
	issuers := slices.Clone(f.tokens)
	f.mu.Unlock()
	tokens := f.e.IssuedTokens()
	for _, issued := range issuers {
		tokens = append(tokens, issued()...)
	}
	if len(tokens) == 0 && len(rep.Checks) > 1 && rep.Checks[1].OK {
		t.Error("no token was issued: the leak check checks nothing")
	}
	for _, tok := range tokens {
		secrets = append(secrets, tok)
		if i := strings.LastIndex(tok, "."); i >= 0 {
			secrets = append(secrets, tok[i+1:])
		}
	}
	for _, s := range secrets {
		if len(s) >= 8 && strings.Contains(string(data), s) {
			t.Errorf("the report holds a secret or token (%d bytes): %s", len(s), data)
		}
	}
}

// Checks as a report shows them.
func passed(name string) Check  { return Check{Name: name, OK: true} }
func skipped(name string) Check { return Check{Name: name, Skipped: true} }
func failed(name string, code problem.Code, detail, fix string) Check {
	return Check{Name: name, Code: code, Detail: detail, Fix: fix}
}
func withRoles(c Check, roles ...string) Check {
	c.Roles = append([]string{}, roles...)
	return c
}

// requestID hides Graph's request ids, which differ on every run.
var requestID = regexp.MustCompile(`request-id [0-9a-f-]{36}`)

// checkReport compares a report with the checks it should hold.
func checkReport(t *testing.T, got Report, fn autopilot.Function, want []Check) {
	t.Helper()
	for i := range got.Checks {
		got.Checks[i].Detail = requestID.ReplaceAllString(got.Checks[i].Detail, "request-id <id>")
		for j := range got.Checks[i].Tenants {
			for k := range got.Checks[i].Tenants[j].Checks {
				c := &got.Checks[i].Tenants[j].Checks[k]
				c.Detail = requestID.ReplaceAllString(c.Detail, "request-id <id>")
			}
		}
	}
	wantOK := !slices.ContainsFunc(want, func(c Check) bool { return !c.OK })
	if got.OK != wantOK || got.Function != fn {
		t.Errorf("report ok %v function %q, want ok %v function %q", got.OK, got.Function, wantOK, fn)
	}
	if diff := cmp.Diff(want, got.Checks); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
}
