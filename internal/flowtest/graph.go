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
	// Method and Resource name the call as the function's graph.Client spells its paths (see
	// resource; emulator.Counts.Graph names them otherwise), ids as {id}: "POST sync",
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

// graphRoot is the path of the Graph resources the function calls, on the emulator.
const graphRoot = "/beta/deviceManagement/"

// Do sends r and records it when it is a Graph call.
func (t *graphTally) Do(r *http.Request) (*http.Response, error) {
	resp, err := t.next.Do(r)
	if !strings.HasPrefix(r.URL.Path, "/beta/") {
		return resp, err // Entra and Key Vault
	}
	o, _ := r.Context().Value(originKey{}).(Origin)
	c := Call{Origin: o, Method: r.Method, Resource: resource(r.URL.Path), At: t.clock.Now()}
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

// resource names a Graph path as the function spells it (graph.Client): "settings" and "sync"
// for windowsAutopilotSettings, else the collection with each id after it as {id}.
func resource(path string) string {
	switch rest := strings.TrimPrefix(path, graphRoot); rest {
	case "windowsAutopilotSettings":
		return "settings"
	case "windowsAutopilotSettings/sync":
		return "sync"
	default:
		segs := strings.Split(rest, "/")
		for i := 1; i < len(segs); i++ {
			if segs[i] != "import" {
				segs[i] = "{id}"
			}
		}
		return strings.Join(segs, "/")
	}
}

func (t *graphTally) snapshot() ([]Call, []time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.calls), slices.SortedFunc(slices.Values(t.triggers), time.Time.Compare)
}
