package tenant_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

// fleetStatusBound is how many tenants are read at once, as GET /status?tenant=all does.
const fleetStatusBound = 16

// readAll reads every tenant's settings, at most fleetStatusBound at once.
func readAll(ctx context.Context, f *tenant.Fleet) error {
	entries, err := f.Entries(ctx)
	if err != nil {
		return err
	}
	var g errgroup.Group
	g.SetLimit(fleetStatusBound)
	for _, en := range entries {
		g.Go(func() error {
			tn, _, err := f.Tenant(ctx, en.Name)
			if err != nil {
				return err
			}
			if _, _, err := getSettings(ctx, tn); err != nil {
				return fmt.Errorf("%s: %w", en.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// peakHeap samples the heap in use until stop is called and returns the largest value seen.
func peakHeap() (stop func() uint64) {
	var (
		mu   sync.Mutex
		peak uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapInuse)
		mu.Unlock()
	}
	wg.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		sample()
		return peak
	}
}

// BenchmarkFleetStatus500 reads the settings of 500 tenants of one emulator, 16 at once. cold
// builds a new Fleet (and Key Vault store) each time: the registry read, 500 credential secret
// reads, 500 Graph tokens and 500 Graph GETs. warm reuses one Fleet: 500 Graph GETs only. The
// emulator runs in the same process, so peak-heap-MB includes its own state (apps, tokens).
//
//	go test -run '^$' -bench FleetStatus500 -benchtime 5x ./internal/tenant/
func BenchmarkFleetStatus500(b *testing.B) {
	const n = 500
	e, _ := emutest.Start(b, emulator.Options{})
	entries := make([]tenant.Entry, n)
	for i := range entries {
		entries[i] = member(i, fmt.Sprintf("tenant-%03d", i), "")
	}
	register(e, entries...)
	setRegistry(b, e, entries)
	o := tenant.Options{Transport: e.HTTPClient()}
	ctx := context.Background()

	report := func(b *testing.B, peak uint64) {
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "wall-ms/op")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	}

	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		var peak uint64
		for range b.N {
			b.StopTimer()
			f := newFleet(b, e, o)
			runtime.GC()
			e.ResetCounts()
			stop := peakHeap()
			b.StartTimer()
			if err := readAll(ctx, f); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			peak = max(peak, stop())
			if c := e.Counts(); len(c.GraphTokensSeen) != n || c.Graph["GET"] != n {
				b.Fatalf("a cold run saw %d tenants' tokens and %d GETs, want %d", len(c.GraphTokensSeen), c.Graph["GET"], n)
			}
			b.StartTimer()
		}
		report(b, peak)
	})

	b.Run("warm", func(b *testing.B) {
		b.ReportAllocs()
		f := newFleet(b, e, o)
		if err := readAll(ctx, f); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		e.ResetCounts()
		stop := peakHeap()
		b.ResetTimer()
		for range b.N {
			if err := readAll(ctx, f); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		peak := stop()
		if c := e.Counts(); len(c.Tokens) != 0 || len(c.SecretReads) != 0 {
			b.Fatalf("warm runs requested tokens %v and read secrets %v", c.Tokens, c.SecretReads)
		}
		report(b, peak)
	})
}
