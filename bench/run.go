package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/rie"
)

// running is one bootstrap under aws-lambda-rie (internal/rie), in its own process group.
type running struct {
	*rie.Function
	binary string
}

// live holds every RIE process group this program started, so that an interrupt stops them all.
var live = struct {
	sync.Mutex
	m map[*running]struct{}
}{m: map[*running]struct{}{}}

// startRIE starts binary under rieBin with env (and nothing else of this process's environment
// but PATH, HOME and GODEBUG) and waits until the RIE listens. The bootstrap itself starts lazily,
// on the first invocation, as Lambda's does.
func startRIE(ctx context.Context, rieBin, binary string, env []string) (*running, error) {
	// GODEBUG passes through, for experiments such as GODEBUG=http2client=0.
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GODEBUG=" + os.Getenv("GODEBUG")}
	f, err := rie.Start(ctx, rie.Options{RIE: rieBin, Bootstrap: binary, Env: append(base, env...), MaxOutput: 256 << 10})
	if err != nil {
		return nil, err
	}
	r := &running{Function: f, binary: binary}
	live.Lock()
	live.m[r] = struct{}{}
	live.Unlock()
	return r, nil
}

// invoke sends one event and returns the time it took. An answer that is not HTTP 200 from the
// RIE, a Lambda error, or an HTTP answer whose statusCode is not wantStatus is an error that
// carries the process output.
func (r *running) invoke(ctx context.Context, event []byte, wantStatus int) (time.Duration, error) {
	started := time.Now()
	body, err := r.Invoke(ctx, event)
	took := time.Since(started)
	if ctx.Err() != nil {
		return 0, errInterrupted
	}
	if err != nil {
		return 0, err
	}
	var a struct {
		StatusCode   int    `json:"statusCode"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.ErrorMessage != "" || a.StatusCode != wantStatus {
		return 0, fmt.Errorf("invoke %s: want an HTTP %d answer, got %s\n%s", r.binary, wantStatus, body, r.Output().Tail(16<<10))
	}
	return took, nil
}

// peakRSS returns the bootstrap's peak resident set size (VmHWM) in bytes.
func (r *running) peakRSS() (int64, error) {
	pid, err := r.BootstrapPID()
	if err != nil {
		return 0, err
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM of pid %d: %w", pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM for pid %d", pid)
}

// stop stops the RIE and the bootstrap it started (rie.Function.Stop) and forgets them.
func (r *running) stop() {
	_ = r.Stop()
	live.Lock()
	delete(live.m, r)
	live.Unlock()
}

// stopAll stops every process this program still runs.
func stopAll() {
	live.Lock()
	rs := make([]*running, 0, len(live.m))
	for r := range live.m {
		rs = append(rs, r)
	}
	live.Unlock()
	for _, r := range rs {
		r.stop()
	}
}

// coldLine returns the first invocation's summary line (SPEC §12) if the function wrote one:
// the handler's own duration, and the time spent on Key Vault and Graph.
func coldLine(out *rie.Output) (handler, vault, graph time.Duration, ok bool) {
	for _, line := range out.FunctionLines() {
		var l struct {
			Msg        string   `json:"msg"`
			ColdStart  bool     `json:"coldStart"`
			Latency    *float64 `json:"Latency"`
			DurationMs *float64 `json:"durationMs"`
			VaultMs    *float64 `json:"vaultMs"`
			GraphMs    *float64 `json:"graphMs"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "invocation" || !l.ColdStart {
			continue
		}
		ms := func(p *float64) time.Duration {
			if p == nil {
				return 0
			}
			return time.Duration(*p * float64(time.Millisecond))
		}
		handler = ms(l.DurationMs)
		if l.Latency != nil { // sub-millisecond figure when the function writes one
			handler = ms(l.Latency)
		}
		return handler, ms(l.VaultMs), ms(l.GraphMs), true
	}
	return 0, 0, 0, false
}

// errInterrupted reports that the run was stopped by a signal.
var errInterrupted = errors.New("interrupted")

// startEmulator starts the emulator every bootstrap runs against, on clock, and returns it with
// the environment of every bootstrap (functionEnv, which writes the CA file into work).
func startEmulator(clock *emulator.ManualClock, work string) (*emulator.Emulator, []string, error) {
	emu, err := emulator.Start(emulator.Options{Clock: clock, SyncDuration: time.Second})
	if err != nil {
		return nil, nil, err
	}
	env, err := functionEnv(emu, work)
	if err != nil {
		_ = emu.Close()
		return nil, nil, err
	}
	return emu, env, nil
}
