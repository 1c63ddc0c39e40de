package main

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
)

// TestStopAnswersWaits: defect 9 of issue 20. Ctrl-C while a client waits on ?wait=25 answers it
// with what is known (202 inProgress: the sync did start) before the server closes, rather than
// closing its connection without a reply.
func TestStopAnswersWaits(t *testing.T) {
	t.Parallel()
	emu, _ := emutest.Start(t, emulator.Options{SyncDuration: time.Hour})
	base, _, stop := startLocal(t, emu)
	t.Cleanup(stop)

	type answer struct {
		status int
		body   map[string]any
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Post(base+"/sync?wait=25", "", nil)
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		a := answer{status: resp.StatusCode}
		data, _ := io.ReadAll(resp.Body)
		a.err = json.Unmarshal(data, &a.body)
		got <- a
	}()
	// The wait has begun once Graph has been asked for the sync and read after it.
	deadline := time.Now().Add(20 * time.Second)
	for emu.Counts().Graph["GET"] < 1 || emu.Counts().Graph["POST sync"] < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the sync with ?wait=25 never reached Graph")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	select {
	case a := <-got:
		if a.err != nil || a.status != http.StatusAccepted || a.body["result"] != "inProgress" {
			t.Fatalf("answer %d %v (%v), want 202 inProgress", a.status, a.body, a.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no answer after the stop")
	}
}
