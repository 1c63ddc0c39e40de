package main

import (
	"flag"
	"math"
	"strings"
	"time"
)

// maxSpeed is the highest -speed: 600 runs Intune's 10 minutes in one real second.
const maxSpeed = 600

// scaledClock is -speed's clock: from its start it runs speed times as fast as real time, so at
// real time r it reads start + (r − start)·speed. It counts the real time on Go's monotonic
// clock, so it never goes back, not even when the machine's wall clock is set back; nothing in
// it changes after newScaledClock, so it is safe for concurrent use.
type scaledClock struct {
	start time.Time
	speed int64
	// since is the real time since a time (time.Since); tests replace it.
	since func(time.Time) time.Duration
}

// newScaledClock returns a clock that runs speed (≥ 1) times as fast as real time from now.
func newScaledClock(speed int) *scaledClock {
	return &scaledClock{start: time.Now(), speed: int64(speed), since: time.Since}
}

// Now returns the emulated time. It carries no monotonic reading (it is no real instant), so
// times of the clock are compared by their wall-clock reading, which only grows.
func (c *scaledClock) Now() time.Time {
	elapsed := max(c.since(c.start), 0)
	emulated := time.Duration(math.MaxInt64) // some 292 years: the clock stops there
	if elapsed <= math.MaxInt64/time.Duration(c.speed) {
		emulated = elapsed * time.Duration(c.speed)
	}
	return c.start.Add(emulated).Round(0)
}

// Real returns how long d of the clock's time takes in real time: d ÷ speed, rounded up, so that
// a timer of that length never ends before d has passed on the clock.
func (c *scaledClock) Real(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return (d + time.Duration(c.speed) - 1) / time.Duration(c.speed)
}

// checkEmulatorFlags refuses -speed outside 1 to maxSpeed, and the flags of the embedded
// emulator (-speed, -sync-duration) given with KEY_VAULT_URL set: the real services run on real
// time, and their syncs take as long as Intune takes. It prints the error and the usage, as fs
// does for a flag it does not know.
func checkEmulatorFlags(fs *flag.FlagSet, speed int, keyVaultURL string) error {
	if speed < 1 || speed > maxSpeed {
		return usageError(fs, "-speed %d: want a whole number from 1 to %d (how many times as fast as real time the embedded emulator's clock runs; 20 runs Intune's 10 minutes in 30s)", speed, maxSpeed)
	}
	if keyVaultURL == "" {
		return nil
	}
	var given []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "speed" || f.Name == "sync-duration" {
			given = append(given, "-"+f.Name)
		}
	})
	if len(given) > 0 {
		return usageError(fs, "%s: only on the embedded emulator; KEY_VAULT_URL is set, so the real services are used, on real time", strings.Join(given, ", "))
	}
	return nil
}
