package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
)

// Load figures (issue 6): clients send perClient requests each, the first of each all at once.
const (
	loadClients   = 64
	loadPerClient = 32 // 64 × 32 = 2,048 requests
	// maxHeapInuse bounds the heap in use after the run and a GC.
	maxHeapInuse = 64 << 20
)

// loadKind is what one request does.
type loadKind int

const (
	getStatus loadKind = iota
	patchStatus
	postSync
)

// kindOf spreads the mix over clients and rounds: mostly GET /status, one PATCH /status in
// eight, one POST /sync in eight. The first round (the thundering herd on cold caches) reaches
// both functions.
func kindOf(client, round int) loadKind {
	switch (client + round) % 8 {
	case 0:
		return postSync
	case 5:
		return patchStatus
	}
	return getStatus
}

// loadTally counts the answers by outcome.
type loadTally struct {
	get200, patch200, sync202, sync409, sync429 atomic.Int64
}

// TestLoad is issue 6's load test: 64 keep-alive clients send 2,048 requests to cmd/local's
// server over loopback, on the embedded emulator. Every answer is right for its kind; the
// emulator sees exactly one secret read, one Key Vault token and one Graph token per function
// (the first 64 requests arrive together on cold caches) and exactly the Graph requests the
// answers imply; no goroutine outlives the server and the heap stays bounded.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: skipped with -short")
	}
	// Not parallel: the goroutine and heap checks are about this test alone.
	ignoreBefore := goleak.IgnoreCurrent()
	began := time.Now()

	// Syncs last an hour: after the one 202, POST /sync answers 409 until a PATCH marks the
	// sync completed, then 429 (within ten minutes of it).
	emu, _ := emutest.Start(t, emulator.Options{SyncDuration: time.Hour})
	base, _, stopServer := startLocal(t, emu)
	stop := func() { stopServer(); _ = emu.Close() }
	t.Cleanup(stop)

	var (
		tally  loadTally
		dials  atomic.Int64
		wg     sync.WaitGroup
		herd   = make(chan struct{})
		errMu  sync.Mutex
		errs   []string
		client = make([]*http.Client, loadClients)
	)
	fail := func(format string, args ...any) {
		errMu.Lock()
		defer errMu.Unlock()
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	for c := range loadClients {
		// One connection per client, kept alive across its requests. MaxConnsPerHost: a request
		// that follows an answer read to its end can come before the transport has put the
		// connection back among the idle ones; without a bound the transport would dial another
		// (net/http), and the count below would say the server closed one.
		client[c] = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return dialer.DialContext(ctx, network, addr)
			},
		}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-herd
			for round := range loadPerClient {
				if err := loadRequest(client[c], base, kindOf(c, round), &tally); err != nil {
					fail("client %d round %d: %v", c, round, err)
				}
			}
		}()
	}
	close(herd)
	wg.Wait()
	elapsed := time.Since(began)
	for _, e := range errs {
		t.Error(e)
	}

	total := tally.get200.Load() + tally.patch200.Load() + tally.sync202.Load() + tally.sync409.Load() + tally.sync429.Load()
	if total != loadClients*loadPerClient {
		t.Errorf("%d requests answered correctly, want %d", total, loadClients*loadPerClient)
	}
	if n := tally.sync202.Load(); n != 1 {
		t.Errorf("%d syncs started, want exactly 1", n)
	}
	if n := dials.Load(); n != loadClients {
		t.Errorf("%d connections for %d keep-alive clients", n, loadClients)
	}

	c := emu.Counts()
	// Two functions, each with its own bootstrap credential, vault client and Graph client.
	checks := []struct {
		name      string
		got, want int
	}{
		{"secret reads of " + emulator.SeedGraphCredentialSecret, c.SecretReads[emulator.SeedGraphCredentialSecret], 2},
		{"Key Vault token requests (bootstrap identity)", c.Tokens[emulator.SeedBootstrapClientID], 2},
		{"Graph token requests (Graph app)", c.Tokens[emulator.SeedGraphClientID], 2},
		{"Key Vault challenges", c.VaultChallenges, 2},
		// A GET for each status read, plus one for the details of each 409 and each 429.
		{"Graph GET", c.Graph["GET"], int(tally.get200.Load() + tally.sync409.Load() + tally.sync429.Load())},
		{"Graph PATCH", c.Graph["PATCH"], int(tally.patch200.Load())},
		{"Graph POST sync", c.Graph["POST sync"], int(tally.sync202.Load() + tally.sync409.Load() + tally.sync429.Load())},
	}
	graphTotal := 0
	for _, n := range c.Graph {
		graphTotal += n
	}
	checks = append(checks, struct {
		name      string
		got, want int
	}{"Graph requests with a valid token", c.GraphTokensSeen[emulator.SeedTenantID], graphTotal})
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: %d, want %d", ch.name, ch.got, ch.want)
		}
	}

	stop()
	for _, cl := range client {
		cl.CloseIdleConnections()
	}
	goleak.VerifyNone(t, ignoreBefore)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > maxHeapInuse {
		t.Errorf("heap in use after the run: %d MiB, want below %d MiB", ms.HeapInuse>>20, maxHeapInuse>>20)
	}
	t.Logf("%d requests from %d keep-alive clients (%d connections) in %v: GET 200 ×%d, PATCH 200 ×%d, sync 202 ×%d, 409 ×%d, 429 ×%d; "+
		"emulator: %d secret reads, %d+%d tokens, Graph %v; heap in use after GC %.1f MiB (sys %.1f MiB)",
		total, loadClients, dials.Load(), elapsed.Round(time.Millisecond),
		tally.get200.Load(), tally.patch200.Load(), tally.sync202.Load(), tally.sync409.Load(), tally.sync429.Load(),
		c.SecretReads[emulator.SeedGraphCredentialSecret], c.Tokens[emulator.SeedBootstrapClientID], c.Tokens[emulator.SeedGraphClientID], c.Graph,
		float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20))
}

// loadRequest sends one request of kind and checks its answer.
func loadRequest(c *http.Client, base string, kind loadKind, tally *loadTally) error {
	var req *http.Request
	var err error
	switch kind {
	case postSync:
		req, err = http.NewRequest(http.MethodPost, base+"/sync", nil)
	case patchStatus:
		req, err = http.NewRequest(http.MethodPatch, base+"/status", strings.NewReader(`{"syncStatus":"completed"}`))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	default:
		req, err = http.NewRequest(http.MethodGet, base+"/status", nil)
	}
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		return fmt.Errorf("%s %s: %d, not JSON: %q", req.Method, req.URL.Path, resp.StatusCode, data)
	}
	ct := resp.Header.Get("Content-Type")
	switch {
	case kind != postSync && resp.StatusCode == http.StatusOK && ct == "application/json; charset=utf-8":
		for _, k := range []string{"id", "syncStatus", "lastSyncDateTime", "lastManualSyncTriggerDateTime", "nextManualSyncAllowedAt", "canSyncNow"} {
			if _, ok := body[k]; !ok {
				return fmt.Errorf("%s /status: the status document lacks %s: %s", req.Method, k, data)
			}
		}
		if kind == patchStatus {
			if body["syncStatus"] != "completed" {
				return fmt.Errorf("PATCH /status: syncStatus %v, want completed", body["syncStatus"])
			}
			tally.patch200.Add(1)
		} else {
			tally.get200.Add(1)
		}
	case kind == postSync && resp.StatusCode == http.StatusAccepted && body["result"] == "started":
		tally.sync202.Add(1)
	case kind == postSync && resp.StatusCode == http.StatusConflict && ct == "application/problem+json" && body["code"] == "syncInProgress":
		tally.sync409.Add(1)
	case kind == postSync && resp.StatusCode == http.StatusTooManyRequests && ct == "application/problem+json" && body["code"] == "syncThrottled":
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 || body["retryAfterSeconds"] != float64(n) {
			return fmt.Errorf("POST /sync: 429 with Retry-After %q, retryAfterSeconds %v", resp.Header.Get("Retry-After"), body["retryAfterSeconds"])
		}
		tally.sync429.Add(1)
	default:
		return fmt.Errorf("%s %s: unexpected %d %s: %s", req.Method, req.URL.Path, resp.StatusCode, ct, data)
	}
	return nil
}
