package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// syncTally is the function's transport (tenant.Options.Transport) around the emulator's: it
// counts Graph's answers to POST …/sync by the origin of the call, and records the trigger time
// of each sync Graph accepted, as the emulator's lastManualSyncTriggerDateTime says.
type syncTally struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
	emu *emulator.Emulator

	mu       sync.Mutex
	answers  map[origin]map[int]int
	triggers []time.Time
}

// Do sends r and counts its answer when it is a sync call.
func (t *syncTally) Do(r *http.Request) (*http.Response, error) {
	resp, err := t.next.Do(r)
	if err != nil || r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/windowsAutopilotSettings/sync") {
		return resp, err
	}
	o, _ := r.Context().Value(originKey{}).(origin)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.answers[o] == nil {
		t.answers[o] = map[int]int{}
	}
	t.answers[o][resp.StatusCode]++
	if resp.StatusCode == http.StatusNoContent {
		t.triggers = append(t.triggers, t.emu.Settings(emulator.SeedTenantID).LastManualSyncTriggerDateTime)
	}
	return resp, nil
}

// counts returns the answers to sync calls by origin and status, and the accepted syncs'
// trigger times in order.
func (t *syncTally) counts() (map[origin]map[int]int, []time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	answers := map[origin]map[int]int{}
	for o, m := range t.answers {
		answers[o] = maps.Clone(m)
	}
	return answers, slices.SortedFunc(slices.Values(t.triggers), time.Time.Compare)
}

// callback is one outcome a request's callback URL received.
type callback struct {
	Type        string
	RequestedAt string
	LastSync    string
	Result      string
}

// callbackLog is the callback receiver: it answers 204 and keeps each outcome by its webhook-id
// (the follow-up's id).
type callbackLog struct {
	mu      sync.Mutex
	byID    map[string][]callback
	invalid []string
}

func (c *callbackLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Type string `json:"type"`
		Data struct {
			Result           string `json:"result"`
			RequestedAt      string `json:"requestedAt"`
			LastSyncDateTime string `json:"lastSyncDateTime"`
		} `json:"data"`
	}
	err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body)
	id := r.Header.Get("webhook-id")
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || id == "" {
		c.invalid = append(c.invalid, fmt.Sprintf("%s: webhook-id %q, %v", r.URL.Path, id, err))
	} else {
		c.byID[id] = append(c.byID[id], callback{Type: body.Type, RequestedAt: body.Data.RequestedAt, LastSync: body.Data.LastSyncDateTime, Result: body.Data.Result})
	}
	w.WriteHeader(http.StatusNoContent)
}

// of returns the outcomes delivered for a follow-up id.
func (c *callbackLog) of(id string) []callback {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.byID[id])
}

// err reports callbacks the receiver could not read.
func (c *callbackLog) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.invalid) > 0 {
		return fmt.Errorf("%d callbacks could not be read, the first: %s", len(c.invalid), c.invalid[0])
	}
	return nil
}

// checkTally is the function's log (JSON lines): it counts the outcomes of the follow-up checks'
// lines (action followUp), and keeps the first error lines.
type checkTally struct {
	mu       sync.Mutex
	outcomes map[string]int
	errors   []string
}

// Write reads one log line; slog's JSON handler writes each line in one call.
func (c *checkTally) Write(p []byte) (int, error) {
	var line struct {
		Level   string `json:"level"`
		Action  string `json:"action"`
		Outcome string `json:"outcome"`
	}
	_ = json.Unmarshal(p, &line)
	c.mu.Lock()
	defer c.mu.Unlock()
	if line.Action == "followUp" {
		c.outcomes[line.Outcome]++
	}
	if line.Level == "ERROR" && len(c.errors) < 5 {
		c.errors = append(c.errors, string(p))
	}
	return len(p), nil
}
