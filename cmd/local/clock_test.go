package main

import (
	"math"
	"sync"
	"testing"
	"time"
)

// TestScaledClockNow: at real time start+r the clock reads start + r·speed, never before start,
// and stops at the largest duration rather than wrap.
func TestScaledClockNow(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		speed   int
		elapsed time.Duration // real time since start
		want    time.Time
	}{
		{"at the start", 20, 0, start},
		{"real speed", 1, 3 * time.Second, start.Add(3 * time.Second)},
		{"30 s at 20×: Intune's 10 minutes", 20, 30 * time.Second, start.Add(10 * time.Minute)},
		{"1 s at 600×", 600, time.Second, start.Add(10 * time.Minute)},
		{"a nanosecond at 600×", 600, time.Nanosecond, start.Add(600 * time.Nanosecond)},
		{"a reading before the start", 20, -time.Second, start},
		{"past 292 years of emulated time", 600, math.MaxInt64 / 100, start.Add(math.MaxInt64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &scaledClock{start: start, speed: int64(tt.speed), since: func(time.Time) time.Duration { return tt.elapsed }}
			if got := c.Now(); !got.Equal(tt.want) {
				t.Errorf("Now() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestScaledClockReal: a delay of the clock's time is waited ÷ speed, rounded up, so that it
// never ends before the delay has passed on the clock.
func TestScaledClockReal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		speed int
		d     time.Duration
		want  time.Duration
	}{
		{20, 10 * time.Minute, 30 * time.Second},
		{600, time.Minute, 100 * time.Millisecond},
		{1, 90 * time.Second, 90 * time.Second},
		{20, 21 * time.Nanosecond, 2 * time.Nanosecond},
		{600, time.Nanosecond, time.Nanosecond},
		{20, 0, 0},
	}
	for _, tt := range tests {
		c := newScaledClock(tt.speed)
		got := c.Real(tt.d)
		if got != tt.want {
			t.Errorf("speed %d: Real(%v) = %v, want %v", tt.speed, tt.d, got, tt.want)
		}
		if got*time.Duration(tt.speed) < tt.d {
			t.Errorf("speed %d: Real(%v) = %v ends before %v has passed on the clock", tt.speed, tt.d, got, tt.d)
		}
	}
}

// TestScaledClockMonotonic: on the real clock, at 600×, readings never go back: neither one
// goroutine's in turn, nor across goroutines, each reading taken after the last one seen (under
// a lock). Readings carry no monotonic reading, so they are compared as emulated wall times.
func TestScaledClockMonotonic(t *testing.T) {
	t.Parallel()
	c := newScaledClock(600)
	var (
		mu      sync.Mutex
		lastAny time.Time
		wg      sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last time.Time
			for i := range 2000 {
				now := c.Now()
				if now.Before(last) {
					t.Errorf("the clock went back from %v to %v", last, now)
					return
				}
				last = now
				if i%10 == 0 {
					mu.Lock()
					shared := c.Now()
					if shared.Before(lastAny) {
						t.Errorf("a reading %v is before one that another goroutine took earlier, %v", shared, lastAny)
					}
					lastAny = shared
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if got := c.Now(); got != got.Round(0) {
		t.Error("a reading carries a monotonic clock reading: it would be compared with real times on the real clock")
	}
	if got := c.Now(); got.Before(c.start) {
		t.Errorf("Now() = %v, before the start %v", got, c.start)
	}
}
