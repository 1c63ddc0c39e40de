// Package rie runs a Lambda bootstrap binary under the AWS Lambda Runtime Interface Emulator
// (aws-lambda-rie, the tool of go.mod) for the end-to-end tests and the benchmark: it builds the
// emulator, starts it with a bootstrap and an environment, invokes the function through the
// emulator's Invoke API, captures everything the emulator and the function write, and stops both.
//
// Addresses are never picked free and used later by the invoke side. The emulator listens for
// invocations on 127.0.0.1:0, and Start learns the port the kernel gave it from /proc (the
// emulator never reports it; the kernel's sock_diag does). The runtime API cannot listen on port 0: the emulator hands the
// bootstrap the address as configured, port 0 included. So its port is chosen by Start, and when
// another process takes that port first the emulator fails to bind ("address already in use") and
// Start retries with a new port, a bounded number of times. A listener only counts as ready when
// it belongs to the emulator's own process, so a port some other process holds is never mistaken
// for the emulator.
//
// It is test and benchmark support: Linux only (it reads /proc), loopback only, and never imported
// by a function binary (go list -deps ./functions/... does not list it).
package rie

import (
	"context"
	"errors"
	"fmt"
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

// Tool is the import path of aws-lambda-rie, declared as a tool in go.mod.
const Tool = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// InvokePath is the emulator's endpoint of the Lambda Invoke API.
const InvokePath = "/2015-03-31/functions/function/invocations"

const (
	// maxAttempts bounds the starts Start tries when the runtime API's port was taken.
	maxAttempts = 5
	// stopGrace is how long Stop lets the emulator shut down before it kills both process groups.
	stopGrace = 5 * time.Second
	// firstPoll and lastPoll bound the interval between two looks at the emulator's listeners:
	// short at first, so a benchmark's cold start is not rounded up by the wait.
	firstPoll, lastPoll = 100 * time.Microsecond, time.Millisecond
)

// errAddrInUse marks a start that failed because a port was taken.
var errAddrInUse = errors.New("address already in use")

// Build builds aws-lambda-rie into out with the go command, as go.mod pins it, from the module of
// the working directory. It returns the go command's output with its error.
func Build(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, Tool)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if data, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", Tool, err, data)
	}
	return nil
}

// Options configures Start.
type Options struct {
	// RIE is the path of the aws-lambda-rie binary (see Build).
	RIE string
	// Bootstrap is the path of the function's bootstrap binary. The emulator starts it lazily, on
	// the first invocation, as Lambda does.
	Bootstrap string
	// Env is the emulator's environment, which it passes on to the bootstrap with the Lambda
	// variables added (AWS_LAMBDA_FUNCTION_TIMEOUT sets the invocation deadline). As for
	// exec.Cmd, nil means this process's environment.
	Env []string
	// MaxOutput bounds the output kept, in bytes (the latest is kept); 0 keeps all of it.
	MaxOutput int
	// StartTimeout bounds the wait for the emulator to listen; 0 means 10 s.
	StartTimeout time.Duration
	// InvokeTimeout bounds one invocation, answer included; 0 means 60 s.
	InvokeTimeout time.Duration

	// pickPort chooses the runtime API's port; nil means a port that was free a moment ago.
	pickPort func() (int, error)
}

// Function is one bootstrap running under aws-lambda-rie, in a process group of its own. Its
// methods are safe for concurrent use, but the emulator serves one invocation at a time (a second
// concurrent one is answered with HTTP 400).
type Function struct {
	cmd       *exec.Cmd
	exited    chan struct{} // closed when the emulator has exited and its output is flushed
	waitErr   error         // the emulator's exit, valid once exited is closed
	started   time.Time
	url       string
	bootstrap string
	out       *Output
	client    *http.Client

	stopOnce sync.Once
	stopErr  error

	mu           sync.Mutex
	bootstrapPID int
}

// Start starts o.Bootstrap under o.RIE and returns once the emulator listens for invocations.
// When the port chosen for the runtime API is taken by the time the emulator binds it, Start
// tries again with another port, up to 5 times. It fails, with the emulator's output, when the
// emulator cannot start, exits before it listens, or does not listen within o.StartTimeout; on
// failure nothing it started is left running.
func Start(ctx context.Context, o Options) (*Function, error) {
	if o.RIE == "" || o.Bootstrap == "" {
		return nil, errors.New("rie: Options.RIE and Options.Bootstrap are required")
	}
	if o.pickPort == nil {
		o.pickPort = freePort
	}
	var err error
	for range maxAttempts {
		var f *Function
		if f, err = start(ctx, o); err == nil {
			return f, nil
		}
		if !errors.Is(err, errAddrInUse) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("rie: %d starts, each with a port taken by another process: %w", maxAttempts, err)
}

// start makes one attempt.
func start(ctx context.Context, o Options) (*Function, error) {
	runtimePort, err := o.pickPort()
	if err != nil {
		return nil, fmt.Errorf("rie: choose the runtime API's port: %w", err)
	}
	// As /proc/<pid>/exe names it, for BootstrapPID.
	bootstrap, err := filepath.Abs(o.Bootstrap)
	if err != nil {
		return nil, err
	}
	if resolved, err := filepath.EvalSymlinks(bootstrap); err == nil {
		bootstrap = resolved
	}
	cmd := exec.Command(o.RIE,
		"--runtime-interface-emulator-address", "127.0.0.1:0",
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(runtimePort),
		bootstrap)
	cmd.Env = o.Env
	out := newOutput(o.MaxOutput)
	cmd.Stdout, cmd.Stderr = out.stream(true), out.stream(false)
	// The emulator's own group: Stop signals it and whatever it started, and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A bootstrap that outlives the emulator would hold its output open: bound the wait for it.
	cmd.WaitDelay = stopGrace
	f := &Function{cmd: cmd, exited: make(chan struct{}), bootstrap: bootstrap, out: out}
	f.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("rie: start %s: %w", o.RIE, err)
	}
	go func() { f.waitErr = cmd.Wait(); close(f.exited) }()

	addr, err := f.waitListening(ctx, runtimePort, orDefault(o.StartTimeout, 10*time.Second))
	if err != nil {
		_ = f.Stop()
		return nil, err
	}
	f.url = "http://" + addr + InvokePath
	f.client = &http.Client{
		Timeout: orDefault(o.InvokeTimeout, 60*time.Second),
		// Loopback only: no proxy from the environment may stand in between.
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, DisableCompression: true},
	}
	return f, nil
}

// waitListening waits until the emulator's process listens on runtimePort and on one port of its
// own choosing, and returns the address of the latter.
func (f *Function) waitListening(ctx context.Context, runtimePort int, limit time.Duration) (string, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	poll := time.NewTimer(0)
	defer poll.Stop()
	interval := firstPoll
	for {
		select {
		case <-f.exited:
			if strings.Contains(f.out.String(), "address already in use") {
				return "", fmt.Errorf("rie: the emulator could not bind: %w", errAddrInUse)
			}
			return "", fmt.Errorf("rie: the emulator exited before it listened (%v)\n%s", f.waitErr, f.out.Tail(64<<10))
		case <-ctx.Done():
			return "", ctx.Err()
		case <-deadline.C:
			return "", fmt.Errorf("rie: the emulator did not listen within %v\n%s", limit, f.out.Tail(64<<10))
		case <-poll.C:
		}
		ports, err := listeningPorts(f.cmd.Process.Pid)
		if err == nil {
			if addr, ok := invokeAddr(ports, runtimePort); ok {
				return addr, nil
			}
		}
		poll.Reset(interval)
		interval = min(2*interval, lastPoll)
	}
}

// invokeAddr returns the invoke listener's address once the emulator listens on runtimePort and
// on exactly one other port.
func invokeAddr(ports []int, runtimePort int) (string, bool) {
	var runtimeUp bool
	var other []int
	for _, p := range ports {
		if p == runtimePort {
			runtimeUp = true
		} else {
			other = append(other, p)
		}
	}
	if !runtimeUp || len(other) != 1 {
		return "", false
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(other[0])), true
}

// URL returns the emulator's invoke URL.
func (f *Function) URL() string { return f.url }

// Started returns the time just before the emulator's process was started (a benchmark's cold
// start is measured from it).
func (f *Function) Started() time.Time { return f.started }

// PID returns the emulator's process id, which is also its process group's.
func (f *Function) PID() int { return f.cmd.Process.Pid }

// Output returns what the emulator and the function wrote so far.
func (f *Function) Output() *Output { return f.out }

// Stop ends the function: SIGTERM to the emulator's process group (the emulator then kills the
// bootstrap, which runs in a process group of its own) and, if the emulator has not exited within
// 5 s, SIGKILL to both groups. It returns once the emulator has exited and its output is
// complete. The error reports an emulator that had ended by itself before Stop; a second call
// returns the first one's result.
func (f *Function) Stop() error {
	f.stopOnce.Do(func() {
		select {
		case <-f.exited:
			f.stopErr = fmt.Errorf("rie: the emulator had exited by itself: %v", f.waitErr)
			return
		default:
		}
		bootstrap, _ := f.BootstrapPID() // known before the emulator goes, for the last resort
		pid := f.cmd.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		timer := time.NewTimer(stopGrace)
		defer timer.Stop()
		select {
		case <-f.exited:
		case <-timer.C:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			if bootstrap != 0 {
				_ = syscall.Kill(-bootstrap, syscall.SIGKILL)
			}
			<-f.exited
		}
		if f.client != nil {
			f.client.CloseIdleConnections()
		}
	})
	return f.stopErr
}

// freePort returns a loopback port that was free a moment ago: only the runtime API's port is
// chosen so, and Start retries when it was taken meanwhile.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func orDefault(d, fallback time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return fallback
}
