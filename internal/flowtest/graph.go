package flowtest

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// Origin says who made a Graph call: a request to the function (Post, or an event of At), or a
// follow-up check (a queue record).
type Origin string

// The origins of Graph calls.
const (
	FromRequest Origin = "request"
	FromCheck   Origin = "check"
)

type originKey struct{}

// Call is one Graph call the function made, as the Flow's transport saw it.
type Call struct {
	Origin Origin
	// Method and Resource name the call as emulator.Counts.Graph does, ids as {id}: "POST sync",
	// "GET settings", "GET windowsAutopilotDeviceIdentities", "POST
	// importedWindowsAutopilotDeviceIdentities/import", "GET
	// importedWindowsAutopilotDeviceIdentities/{id}", …
	Method, Resource string
	// Status is the answer's status; 0 when the call failed without one.
	Status int
	At     time.Time
}

// Name is the call's method and resource: "POST sync".
func (c Call) Name() string { return c.Method + " " + c.Resource }

// graphTally is the function's transport (tenant.Options.Transport) around the emulator's: it
// records every Graph call with its origin and answer, and the trigger time of each sync Graph
// accepted, as the emulator's lastManualSyncTriggerDateTime says.
type graphTally struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
	emu   *emulator.Emulator
	clock Clock

	mu       sync.Mutex
	calls    []Call
	triggers []time.Time
}

// Do sends r and records it when it is a Graph call.
func (t *graphTally) Do(r *http.Request) (*http.Response, error) {
	resp, err := t.next.Do(r)
	path := strings.ToLower(r.URL.Path)
	if !strings.HasPrefix(path, "/beta/") {
		return resp, err // Entra and Key Vault
	}
	o, _ := r.Context().Value(originKey{}).(Origin)
	c := Call{Origin: o, Method: r.Method, Resource: resource(path), At: t.clock.Now()}
	if err == nil {
		c.Status = resp.StatusCode
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = append(t.calls, c)
	if c.Resource == "sync" && c.Status == http.StatusNoContent {
		t.triggers = append(t.triggers, t.emu.Settings(emulator.SeedTenantID).LastManualSyncTriggerDateTime)
	}
	return resp, err
}

// resource names a Graph path (lower case, under /beta/) as emulator.Counts.Graph does.
func resource(path string) string {
	rest := strings.TrimPrefix(path, "/beta/devicemanagement/")
	if rest == path {
		return strings.TrimPrefix(path, "/beta/")
	}
	segs := strings.Split(rest, "/")
	switch {
	case rest == "windowsautopilotsettings":
		return "settings"
	case len(segs) == 2 && segs[0] == "windowsautopilotsettings" && segs[1] == "sync":
		return "sync"
	}
	for i, s := range segs {
		switch {
		case i == 0 && s == "windowsautopilotdeviceidentities":
			segs[i] = "windowsAutopilotDeviceIdentities"
		case i == 0 && s == "importedwindowsautopilotdeviceidentities":
			segs[i] = "importedWindowsAutopilotDeviceIdentities"
		case i > 0 && s != "import":
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

func (t *graphTally) snapshot() ([]Call, []time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.calls), slices.SortedFunc(slices.Values(t.triggers), time.Time.Compare)
}
