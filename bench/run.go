package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// invokePath is the RIE's invoke endpoint (the Lambda Invoke API).
const invokePath = "/2015-03-31/functions/function/invocations"

// running is one bootstrap under aws-lambda-rie, in its own process group.
type running struct {
	cmd     *exec.Cmd
	started time.Time // just before the RIE process was started
	url     string
	binary  string
	out     *tailBuffer
	client  *http.Client

	bootstrapPID int // found after the first invocation
}

// live holds every RIE process group this program started, so that an interrupt stops them all.
var live = struct {
	sync.Mutex
	m map[*running]struct{}
}{m: map[*running]struct{}{}}

// startRIE starts binary under rie with env (and nothing else of this process's environment but
// PATH, HOME and GODEBUG) and waits until the RIE listens. The bootstrap itself starts lazily, on the
// first invocation, as Lambda's does.
func startRIE(ctx context.Context, rie, binary string, env []string) (*running, error) {
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	runtimeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", apiAddr,
		"--runtime-api-address", runtimeAddr,
		binary)
	// GODEBUG passes through, for experiments such as GODEBUG=http2client=0.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GODEBUG=" + os.Getenv("GODEBUG")}, env...)
	out := &tailBuffer{max: 256 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r := &running{cmd: cmd, url: "http://" + apiAddr + invokePath, binary: binary, out: out,
		client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
			Proxy: nil, MaxIdleConnsPerHost: 1, DisableCompression: true}}}
	r.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", rie, err)
	}
	live.Lock()
	live.m[r] = struct{}{}
	live.Unlock()
	if err := waitListening(ctx, apiAddr, 10*time.Second); err != nil {
		r.stop()
		return nil, fmt.Errorf("%w\n%s", err, r.out)
	}
	return r, nil
}

// invoke sends one event and returns the time it took and the function's answer. An answer that
// is not HTTP 200 from the RIE, a Lambda error, or an HTTP answer whose statusCode is not
// wantStatus is an error that carries the process output.
func (r *running) invoke(event []byte, wantStatus int) (time.Duration, error) {
	started := time.Now()
	resp, err := r.client.Post(r.url, "application/json", bytes.NewReader(event))
	if err != nil {
		return 0, fmt.Errorf("invoke %s: %w\n%s", r.binary, err, r.out)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(started)
	if err != nil {
		return 0, fmt.Errorf("invoke %s: read answer: %w", r.binary, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("invoke %s: RIE answered HTTP %d: %s\n%s", r.binary, resp.StatusCode, body, r.out)
	}
	var a struct {
		StatusCode   int    `json:"statusCode"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.ErrorMessage != "" || a.StatusCode != wantStatus {
		return 0, fmt.Errorf("invoke %s: want an HTTP %d answer, got %s\n%s", r.binary, wantStatus, body, r.out)
	}
	return took, nil
}

// findBootstrap finds the bootstrap process: the RIE's child running r.binary.
func (r *running) findBootstrap() (int, error) {
	if r.bootstrapPID != 0 {
		return r.bootstrapPID, nil
	}
	want, _ := filepath.Abs(r.binary)
	rie := r.cmd.Process.Pid
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentPID(pid); !ok || ppid != rie {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == want {
			r.bootstrapPID = pid
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no process of %s under RIE pid %d", r.binary, rie)
}

// parentPID reads the parent of pid from /proc/<pid>/stat.
func parentPID(pid int) (int, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses, so cut at the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// peakRSS returns the bootstrap's peak resident set size (VmHWM) in bytes.
func (r *running) peakRSS() (int64, error) {
	pid, err := r.findBootstrap()
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

// stop kills the RIE's process group (the RIE and the bootstrap it started), waits for the RIE,
// and makes sure the bootstrap is gone even if it had left the group. Shutdown is not measured,
// so SIGKILL is fine.
func (r *running) stop() {
	pid := r.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = r.cmd.Wait()
	if r.bootstrapPID != 0 {
		if ppid, ok := parentPID(r.bootstrapPID); ok && ppid == pid {
			_ = syscall.Kill(r.bootstrapPID, syscall.SIGKILL)
		}
	}
	r.client.CloseIdleConnections()
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

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitListening polls addr every 200 µs, so the cold start is not rounded up by the poll.
func waitListening(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("aws-lambda-rie did not listen on %s within %v: %w", addr, limit, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// tailBuffer keeps the last max bytes written to it; it is safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept output, for error messages.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return "(no output)"
	}
	return "--- process output (tail) ---\n" + string(t.buf)
}

// coldLine returns the first invocation's summary line (SPEC §12) if the function wrote one:
// the handler's own duration, and the time spent on Key Vault and Graph.
func (t *tailBuffer) coldLine() (handler, vault, graph time.Duration, ok bool) {
	t.mu.Lock()
	data := append([]byte(nil), t.buf...)
	t.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Msg        string   `json:"msg"`
			ColdStart  bool     `json:"coldStart"`
			Latency    *float64 `json:"Latency"`
			DurationMs *float64 `json:"durationMs"`
			VaultMs    *float64 `json:"vaultMs"`
			GraphMs    *float64 `json:"graphMs"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Msg != "invocation" || !l.ColdStart {
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
