package main

// The examples of the docs, run: every block of README.md and docs/ that a comment
// <!-- example NAME --> marks is run against the product (this command's server on the embedded
// emulator, its receiver, its diagnose) and must match what the product answers, once times, ids,
// ports and lengths are normalised (internal/docs). `go test ./cmd/local -run TestDocExamples
// -update` rewrites the blocks that no longer match with what the product answers now.

import (
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/docs"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

var updateDocs = flag.Bool("update", false, "rewrite the docs' example blocks with what the product answers now")

// docSessions are the example sessions the docs may name, with what each needs besides the
// commands its blocks show. A block of a session not listed fails the test: add a row.
var docSessions = map[string]sessionOptions{
	// The README's first look: a sync and a second one.
	"readme": {},
	// The walk-through of the HTTP API: a sync, a second one, the status, the 429 after the
	// sync has ended. Follow-up checks never come due.
	"walkthrough": {},
	// The local server's refusals of requests not addressed to it or from another site.
	"local-guard": {},
	// Chat on the emulator, after one sync.
	"chat": {},
	// ?wait follows a sync of a second in real time: the product's own polling decides.
	"wait": {realClock: true},
	// A follow-up to a receiver: each delay of the follow-up queue moves the clock on at once.
	"followup": {followUps: jumpClock},
	// Devices by serial: four of the emulator's, of every state, and a substring neighbour.
	"devices": {setup: func(e *emulator.Emulator) {
		e.Seed()
		for _, d := range []emulator.Device{
			{SerialNumber: "5CG1234XYZ", GroupTag: "Sales", Manufacturer: "HP", Model: "EliteBook 840 G9", DeploymentProfileAssignmentStatus: "assignedInSync"},
			{SerialNumber: "5CG1234XYZ0", Manufacturer: "HP", Model: "EliteBook 840 G9", DeploymentProfileAssignmentStatus: "notAssigned"},
			{SerialNumber: "PF-2AB3C", Manufacturer: "Lenovo", Model: "ThinkPad T14", DeploymentProfileAssignmentStatus: "pending"},
			{SerialNumber: "TPM-LESS-1", Manufacturer: "Contoso", Model: "Kiosk", DeploymentProfileAssignmentStatus: "failed", DeploymentProfileAssignmentDetailedStatus: "hardwareRequirementsNotMet"},
		} {
			e.AddDevice(emulator.SeedTenantID, d)
		}
	}},
	// Deferred syncs on the local server at -speed 600: Intune's 10 minutes in a real second.
	"deferred": {realClock: true},
	// A seeded serial followed to ready on the local server at -speed 600 (cmd/local/seed.go).
	"devices-followed": {realClock: true},
	// An import of two seeded serials at -speed 600: one completes, one is registered to another
	// tenant.
	"import": {realClock: true},
	// Diagnose on the emulator as it starts.
	"diagnose": {},
	// Diagnose with the Graph app's permission removed.
	"diagnose-no-permission": {setup: func(e *emulator.Emulator) {
		e.Seed()
		e.SetAppRoles(emulator.SeedTenantID, emulator.SeedGraphClientID, nil)
	}},
	// Diagnose with the Graph app's secret expiring in 12 days.
	"diagnose-expiry": {setup: func(e *emulator.Emulator) {
		e.Seed()
		expireSoon(e, emulator.SeedGraphCredentialSecret, 12*24*time.Hour)
	}},
}

// sessionOptions say how a session runs besides its commands.
type sessionOptions struct {
	// realClock runs the functions and the emulator on the real clock; otherwise both share a
	// manual clock, set to docEpoch, that only `sleep` moves.
	realClock bool
	followUps followUpMode
	// setup changes the emulator of each server or diagnose the session starts.
	setup func(*emulator.Emulator)
}

// followUpMode is what becomes of the delays of the follow-up queue.
type followUpMode int

const (
	// holdFollowUps never lets a follow-up check come due within the session.
	holdFollowUps followUpMode = iota
	// jumpClock moves the manual clock on by each delay and runs the check at once, as if the
	// reader had waited that long.
	jumpClock
)

// docEpoch is the manual clock's start: a weekday afternoon.
var docEpoch = time.Date(2026, time.December, 1, 17, 5, 12, 0, time.UTC)

func TestDocExamples(t *testing.T) {
	root := filepath.Join("..", "..")
	pages, err := docs.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range pages {
		sessions := map[string][]docs.Block{}
		var order []string
		for _, b := range page.Blocks() {
			if b.Example == "" {
				continue
			}
			name := b.Session()
			if _, ok := sessions[name]; !ok {
				order = append(order, name)
			}
			sessions[name] = append(sessions[name], b)
		}
		replace := map[docs.Block]string{}
		for _, name := range order {
			t.Run(page.Path+"/"+name, func(t *testing.T) {
				opts, ok := docSessions[name]
				if !ok {
					t.Fatalf("%s: no example session %q; add it to docSessions in cmd/local/docs_test.go", sessions[name][0].Where(), name)
				}
				s := newDocSession(t, opts)
				defer s.close()
				for _, b := range sessions[name] {
					got := s.run(t, b)
					if docs.Matches(b.Text, got) {
						continue
					}
					if *updateDocs {
						replace[b] = got
						continue
					}
					t.Errorf("%s: the example no longer matches what the product answers (-doc +product, normalised; `go test ./cmd/local -run TestDocExamples -update` rewrites it):\n%s",
						b.Where(), cmp.Diff(strings.Split(docs.Normalise(b.Text), "\n"), strings.Split(docs.Normalise(got), "\n")))
				}
			})
		}
		if len(replace) > 0 {
			src, err := docs.Rewrite(page.Source, replace)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, page.Path), src, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: rewrote %d example blocks", page.Path, len(replace))
		}
	}
}

// expireSoon makes Key Vault answer the secret name with an expiry date d after docEpoch, as
// `az keyvault secret set --expires` sets it.
func expireSoon(e *emulator.Emulator, name string, d time.Duration) {
	value, contentType, _ := e.Secret(name)
	body := map[string]any{
		"value":      value,
		"id":         e.VaultURL() + "secrets/" + name + "/0123456789abcdef0123456789abcdef",
		"attributes": map[string]any{"enabled": true, "exp": docEpoch.Add(d).Unix()},
	}
	if contentType != "" {
		body["contentType"] = contentType
	}
	raw, _ := json.Marshal(body)
	e.AddFault(emulator.Fault{Service: emulator.Vault, Method: http.MethodGet, PathContains: "/secrets/" + name + "/", Status: http.StatusOK, Body: string(raw)})
}
