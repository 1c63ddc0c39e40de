package rie

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// bins are built once, in TestMain.
var bins struct{ rie, echo string }

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rie-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bins.rie, bins.echo = filepath.Join(dir, "aws-lambda-rie"), filepath.Join(dir, "echo")
	if err := Build(context.Background(), bins.rie); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bins.echo, "./testdata/echo")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the echo bootstrap: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// startEcho starts the echo bootstrap with MARKER=marker and stops it when the test ends.
func startEcho(t *testing.T, marker string, o Options) *Function {
	t.Helper()
	o.RIE, o.Bootstrap = bins.rie, bins.echo
	o.Env = append(os.Environ(), "MARKER="+marker)
	f, err := Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Stop(); err != nil {
			t.Error(err)
		}
	})
	return f
}

type echoAnswer struct {
	RequestID    string          `json:"requestId"`
	Marker       string          `json:"marker"`
	Event        json.RawMessage `json:"event"`
	ErrorMessage string          `json:"errorMessage"`
}

func invokeEcho(t *testing.T, f *Function, requestID, event string) echoAnswer {
	t.Helper()
	raw, err := f.InvokeWithID(t.Context(), requestID, []byte(event))
	if err != nil {
		t.Fatal(err)
	}
	var a echoAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, raw)
	}
	return a
}

func TestInvokeAndOutput(t *testing.T) {
	t.Parallel()
	f := startEcho(t, "m1", Options{})
	got := invokeEcho(t, f, "req-1", `{"fail":false,"n":1}`)
	if diff := cmp.Diff(echoAnswer{RequestID: "req-1", Marker: "m1", Event: json.RawMessage(`{"fail":false,"n":1}`)}, got); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	if got := invokeEcho(t, f, "", `{}`); got.RequestID == "" {
		t.Error("without a request id, the emulator chose none")
	}
	if got := invokeEcho(t, f, "req-3", `{"fail":true}`); got.ErrorMessage != "asked to fail" {
		t.Errorf("a handler error answers %+v, want errorMessage %q", got, "asked to fail")
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	lines := f.Output().FunctionLines()
	var kept []string
	for _, l := range lines {
		if strings.Contains(l, `"req-1"`) || strings.Contains(l, `"req-3"`) {
			kept = append(kept, l)
		}
	}
	want := []string{
		`{"msg":"stdout","requestId":"req-1"}`, `{"msg":"stderr","requestId":"req-1"}`,
		`{"msg":"stdout","requestId":"req-3"}`, `{"msg":"stderr","requestId":"req-3"}`,
	}
	if diff := cmp.Diff(want, kept); diff != "" {
		t.Errorf("function lines of req-1 and req-3 (-want +got):\n%s\nall lines:\n%s", diff, strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) && !strings.Contains(l, "asked to fail") {
			t.Errorf("a function line is neither the function's JSON nor its error: %q", l)
		}
	}
	all := f.Output().String()
	for _, want := range []string{"START RequestId: req-1", "REPORT RequestId: req-3", "(rapid)"} {
		if !strings.Contains(all, want) {
			t.Errorf("the whole output lacks %q:\n%s", want, all)
		}
	}
}

// TestParallelStarts starts functions at once: each gets an address of its own and answers
// there, with its own environment.
func TestParallelStarts(t *testing.T) {
	t.Parallel()
	const n = 6
	fns := make([]*Function, n)
	var wg sync.WaitGroup
	for i := range fns {
		wg.Go(func() {
			o := Options{RIE: bins.rie, Bootstrap: bins.echo, Env: append(os.Environ(), fmt.Sprint("MARKER=", i))}
			f, err := Start(t.Context(), o)
			if err != nil {
				t.Error(err)
				return
			}
			fns[i] = f
		})
	}
	wg.Wait()
	urls := map[string]bool{}
	for i, f := range fns {
		if f == nil {
			continue
		}
		t.Cleanup(func() { _ = f.Stop() })
		urls[f.URL()] = true
		if got := invokeEcho(t, f, "", `{}`); got.Marker != fmt.Sprint(i) {
			t.Errorf("function %d at %s answered as function %q", i, f.URL(), got.Marker)
		}
	}
	if len(urls) != n {
		t.Errorf("%d distinct invoke URLs for %d functions: %v", len(urls), n, urls)
	}
}

// takenPort holds a loopback port until the test ends.
func takenPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func TestRetriesWhenTheRuntimePortIsTaken(t *testing.T) {
	t.Parallel()
	taken := takenPort(t)
	var picks atomic.Int32
	f := startEcho(t, "retried", Options{pickPort: func() (int, error) {
		if picks.Add(1) == 1 {
			return taken, nil
		}
		return freePort()
	}})
	if got, want := picks.Load(), int32(2); got != want {
		t.Errorf("%d ports chosen, want %d", got, want)
	}
	if got := invokeEcho(t, f, "", `{}`); got.Marker != "retried" {
		t.Errorf("answer %+v", got)
	}
}

func TestGivesUpWhenEveryPortIsTaken(t *testing.T) {
	t.Parallel()
	taken := takenPort(t)
	var picks atomic.Int32
	_, err := Start(t.Context(), Options{RIE: bins.rie, Bootstrap: bins.echo, pickPort: func() (int, error) {
		picks.Add(1)
		return taken, nil
	}})
	if !errors.Is(err, errAddrInUse) {
		t.Fatalf("err = %v, want one that reports the address in use", err)
	}
	if got, want := picks.Load(), int32(maxAttempts); got != want {
		t.Errorf("%d attempts, want %d", got, want)
	}
}

func TestExitBeforeListening(t *testing.T) {
	t.Parallel()
	_, err := Start(t.Context(), Options{RIE: "/bin/false", Bootstrap: bins.echo})
	if err == nil || !strings.Contains(err.Error(), "exited before it listened") {
		t.Errorf("err = %v, want one saying the emulator exited", err)
	}
}

func TestStopEndsTheEmulatorAndTheBootstrap(t *testing.T) {
	t.Parallel()
	f := startEcho(t, "stop", Options{})
	invokeEcho(t, f, "", `{}`)
	bootstrap, err := f.BootstrapPID()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	for what, pid := range map[string]int{"emulator": f.PID(), "bootstrap": bootstrap} {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("the %s (pid %d) is still there after Stop: %v", what, pid, err)
		}
	}
	if _, err := f.Invoke(t.Context(), []byte(`{}`)); err == nil {
		t.Error("an invocation after Stop succeeded")
	}
	if _, err := f.BootstrapPID(); err == nil {
		t.Error("BootstrapPID found a bootstrap after Stop")
	}
}

// diagMessage is one netlink message of a sock_diag dump, as the kernel sends it.
func diagMessage(t *testing.T, typ uint16, body any) []byte {
	t.Helper()
	var data bytes.Buffer
	if body != nil {
		if err := binary.Write(&data, binary.NativeEndian, body); err != nil {
			t.Fatal(err)
		}
	}
	var msg bytes.Buffer
	hdr := syscall.NlMsghdr{Len: uint32(syscall.NLMSG_HDRLEN + data.Len()), Type: typ, Seq: 1}
	if err := binary.Write(&msg, binary.NativeEndian, hdr); err != nil {
		t.Fatal(err)
	}
	msg.Write(data.Bytes())
	return msg.Bytes()
}

func TestParseDiag(t *testing.T) {
	t.Parallel()
	socket := func(state uint8, port uint16, inode uint32) inetDiagMsg {
		m := inetDiagMsg{Family: syscall.AF_INET, State: state, Inode: inode}
		binary.BigEndian.PutUint16(m.ID.Sport[:], port)
		return m
	}
	listening := diagMessage(t, sockDiagByFamily, socket(tcpListen, 41234, 111))
	established := diagMessage(t, sockDiagByFamily, socket(1, 50000, 222))
	done := diagMessage(t, syscall.NLMSG_DONE, int32(0))
	refused := diagMessage(t, syscall.NLMSG_ERROR, int32(-int32(syscall.EPERM)))
	tests := []struct {
		name     string
		data     []byte
		want     map[uint32]int
		wantDone bool
		wantErr  error
	}{
		{"one part", slices.Concat(listening, established, done), map[uint32]int{111: 41234}, true, nil},
		{"more to come", listening, map[uint32]int{111: 41234}, false, nil},
		{"an error", refused, map[uint32]int{}, false, syscall.EPERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := map[uint32]int{}
			done, err := parseDiag(tt.data, got)
			if done != tt.wantDone || !errors.Is(err, tt.wantErr) {
				t.Errorf("parseDiag = %v, %v; want %v, %v", done, err, tt.wantDone, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("listeners (-want +got):\n%s", diff)
			}
		})
	}
}

// TestListeningPorts checks the whole lookup on a listener of this process.
func TestListeningPorts(t *testing.T) {
	t.Parallel()
	port := takenPort(t)
	ports, err := listeningPorts(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ports, port) {
		t.Errorf("listeningPorts = %v, lacks this process's listener on %d", ports, port)
	}
}

func TestInvokeAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ports  []int
		want   string
		wantOK bool
	}{
		{"both up", []int{9001, 41234}, "127.0.0.1:41234", true},
		{"runtime API not yet", []int{41234}, "", false},
		{"invoke listener not yet", []int{9001}, "", false},
		{"ambiguous", []int{9001, 41234, 41235}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := invokeAddr(tt.ports, 9001)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("invokeAddr = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestOutputKeepsTheLatest(t *testing.T) {
	t.Parallel()
	o := newOutput(32)
	stdout, stderr := o.stream(true), o.stream(false)
	fmt.Fprint(stdout, "START RequestId: 1 Version: $LATEST\n")
	fmt.Fprint(stderr, "01 Dec 2026 21:46:34,037 [INFO] (rapid) INIT START\n")
	fmt.Fprint(stdout, `{"a":1}`+"\n"+`{"b":2}`+"\n\nEND RequestId: 1\n"+`{"c":`)
	if diff := cmp.Diff([]string{`{"b":2}`, `{"c":`}, o.FunctionLines()); diff != "" {
		t.Errorf("function lines (-want +got):\n%s", diff)
	}
	if got := o.String(); len(got) != 32 || !strings.HasSuffix(got, `END RequestId: 1`+"\n"+`{"c":`) {
		t.Errorf("String() = %q, want the last 32 bytes", got)
	}
	all := newOutput(0)
	fmt.Fprint(all.stream(true), "x\n")
	if got, want := all.Tail(100), "--- process output (tail) ---\nx\n"; got != want {
		t.Errorf("Tail = %q, want %q", got, want)
	}
	if got, want := newOutput(0).Tail(10), "(no output)"; got != want {
		t.Errorf("Tail of nothing = %q, want %q", got, want)
	}
}
