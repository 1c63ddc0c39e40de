package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/docs"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// docSession runs the blocks of one example session in order: the servers and receivers its
// commands start live until the session ends, and its clock moves only when told.
type docSession struct {
	opts  sessionOptions
	clock *emulator.ManualClock // nil on the real clock
	// addrs maps each address a page shows ("127.0.0.1:8080") to the one the session listens on.
	addrs map[string]string
	stops []func()
	// server and receiver are the output of the last server and receiver started.
	serverOut, serverErr, receiver *lockedBuffer
	receiverShown                  int
	// speed is the highest -speed of the servers started (0 before the first).
	speed int
}

func newDocSession(t *testing.T, opts sessionOptions) *docSession {
	s := &docSession{opts: opts, addrs: map[string]string{}}
	if !opts.realClock {
		s.clock = emulator.NewManualClock(docEpoch)
	}
	return s
}

func (s *docSession) close() {
	for _, stop := range slices.Backward(s.stops) {
		stop()
	}
}

// run runs one block and returns what the product printed, in the block's shape.
func (s *docSession) run(t *testing.T, b docs.Block) string {
	t.Helper()
	got := s.output(t, b)
	if s.speed > 1 {
		got = secondsNear(b.Text, got)
	}
	return got
}

// secondsMember is a member of an answer, a callback or a log line that counts seconds.
var secondsMember = regexp.MustCompile(`("[A-Za-z]*Seconds":)(\d+)`)

// secondsNear returns got with each count of seconds (secondsMember) that is within a second of
// the page's count at the same place replaced by the page's. At -speed N every real millisecond
// is N/1000 emulated seconds, so a duration measured across a Graph call (the syncDurationSeconds
// of a sync that a follow-up check triggered counts from before the call) may be a second longer
// from one run to the next.
func secondsNear(page, got string) string {
	want := secondsMember.FindAllStringSubmatch(page, -1)
	i := 0
	return secondsMember.ReplaceAllStringFunc(got, func(m string) string {
		defer func() { i++ }()
		g := secondsMember.FindStringSubmatch(m)
		if i >= len(want) || g[1] != want[i][1] {
			return m
		}
		gn, _ := strconv.Atoi(g[2])
		wn, _ := strconv.Atoi(want[i][2])
		if gn-wn >= -1 && gn-wn <= 1 {
			return want[i][0]
		}
		return m
	})
}

// output runs one block and returns what the product printed, in the block's shape.
func (s *docSession) output(t *testing.T, b docs.Block) string {
	t.Helper()
	switch shows := b.Shows(); {
	case shows == "":
		steps := docs.ParseTranscript(b.Text)
		for i, step := range steps {
			if step.Command == "" {
				t.Fatalf("%s: output before the first command; a transcript starts with a line \"$ command\"", b.Where())
			}
			steps[i].Output = docs.KeepElided(step.Output, s.exec(t, b, step.Command))
		}
		return docs.FormatTranscript(steps)
	case shows == "receiver":
		if s.receiver == nil {
			t.Fatalf("%s: no receiver runs in this session (go run ./cmd/local -receive ADDR)", b.Where())
		}
		if strings.TrimSpace(b.Text) == "" && !*updateDocs {
			t.Fatalf("%s: an empty block; -update fills it", b.Where())
		}
		// The block shows the requests printed since the last one, as many as it shows (one
		// when empty): requests that come together are shown by the blocks that follow.
		want := max(len(requestEnds(b.Text)), 1)
		var got string
		s.receiver.waitFor(t, "the receiver's output of "+b.Where(), func(out string) bool {
			rest := out[s.receiverShown:]
			if strings.TrimSpace(b.Text) != "" && docs.Matches(b.Text, rest) {
				got = rest
				return true
			}
			if ends := requestEnds(rest); len(ends) >= want {
				got = rest[:ends[want-1]]
				return true
			}
			return false
		})
		s.receiverShown += len(got)
		return s.toPage(got)
	case strings.HasPrefix(shows, "log "):
		if s.serverErr == nil {
			t.Fatalf("%s: no server runs in this session", b.Where())
		}
		action := strings.TrimSpace(strings.TrimPrefix(shows, "log "))
		var line string
		s.serverErr.waitFor(t, "the log line of action "+action, func(out string) bool {
			line = logLine(out, action)
			return line != ""
		})
		return s.toPage(line + "\n")
	default:
		t.Fatalf("%s: unknown example kind %q (want a transcript, \"receiver\" or \"log ACTION\")", b.Where(), shows)
		return ""
	}
}

// requestEnds returns where each whole request the receiver printed in out ends: after its body,
// an indented JSON document on the lines after "TIME METHOD PATH" (a request whose body is not
// printed yet is not whole).
func requestEnds(out string) []int {
	var (
		ends []int
		open bool // a request line came, its body not yet
		at   int
	)
	for _, line := range strings.SplitAfter(out, "\n") {
		at += len(line)
		switch fields := strings.Fields(line); {
		case !strings.HasPrefix(line, " ") && len(fields) == 3 && strings.HasPrefix(fields[2], "/"):
			open = true
		case open && strings.HasSuffix(line, "\n") && strings.HasPrefix(strings.TrimSpace(line), "{"):
			ends, open = append(ends, at), false
		}
	}
	return ends
}

// logLine is the last invocation line of action in a server's log that is no pending check.
func logLine(log, action string) string {
	lines := strings.Split(log, "\n")
	for _, l := range slices.Backward(lines) {
		var v map[string]any
		if json.Unmarshal([]byte(l), &v) != nil || v["msg"] != "invocation" || v["action"] != action || v["outcome"] == "pending" {
			continue
		}
		return l
	}
	return ""
}

// exec runs one command of a transcript and returns what it printed.
func (s *docSession) exec(t *testing.T, b docs.Block, command string) string {
	t.Helper()
	cmds, err := docs.Commands(command, nil)
	if err != nil || len(cmds) != 1 {
		t.Fatalf("%s: %q: want one simple command (%v)", b.Where(), command, err)
	}
	c := cmds[0]
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = s.toSession(a)
	}
	switch {
	case args[0] == "curl":
		return s.toPage(curl(t, b, args[1:]))
	case args[0] == "sleep" && len(args) == 2:
		d, err := time.ParseDuration(args[1] + "s")
		if err != nil || s.clock == nil {
			t.Fatalf("%s: sleep %s: want seconds, in a session on the manual clock (%v)", b.Where(), args[1], err)
		}
		s.clock.Advance(d)
		return ""
	case len(args) >= 3 && args[0] == "go" && args[1] == "run" && args[2] == "./cmd/local":
		return s.toPage(s.local(t, b, c.Env, c.Args[3:]))
	}
	t.Fatalf("%s: %q: the examples run curl, sleep N and go run ./cmd/local; add what else they need to cmd/local/docs_session_test.go", b.Where(), command)
	return ""
}

// local runs `go run ./cmd/local args` with the environment env: a diagnose to its end, a
// receiver or a server in the background for the rest of the session.
func (s *docSession) local(t *testing.T, b docs.Block, env map[string]string, args []string) string {
	t.Helper()
	pageAddr, syncDuration, speed := "127.0.0.1:8080", time.Minute, 1
	var rest []string
	for i := 0; i < len(args); i++ {
		flagValue := func() string {
			if i+1 >= len(args) {
				t.Fatalf("%s: %s needs a value", b.Where(), args[i])
			}
			i++
			return args[i]
		}
		switch args[i] {
		case "-addr":
			pageAddr = flagValue()
		case "-receive":
			return s.startReceiver(t, flagValue())
		case "-sync-duration":
			var err error
			if syncDuration, err = time.ParseDuration(flagValue()); err != nil {
				t.Fatalf("%s: -sync-duration: %v", b.Where(), err)
			}
		case "-speed":
			var err error
			if speed, err = strconv.Atoi(flagValue()); err != nil || speed < 1 || s.clock != nil {
				t.Fatalf("%s: -speed: a whole number, in a session on the real clock (%v)", b.Where(), err)
			}
		default:
			rest = append(rest, args[i])
		}
	}
	var clock emulator.Clock
	if s.clock != nil {
		clock = s.clock
	}
	queueDelay := s.queueDelay()
	var scaled *scaledClock
	s.speed = max(s.speed, speed)
	if speed > 1 {
		// As cmd/local does with its own emulator: one clock N× as fast for the emulator and the
		// functions, the queue waiting each delay ÷ N.
		scaled = newScaledClock(speed)
		clock, queueDelay = scaled, scaled.Real
	}
	emu := s.emulator(t, syncDuration, clock)
	l := local{emu: emu, timeouts: defaultTimeouts, getenv: env2getenv(env), queueDelay: queueDelay}
	switch {
	case scaled != nil:
		l.now = scaled.Now
	case s.clock != nil:
		l.now = s.clock.Now
	}
	if slices.Contains(rest, "-diagnose") {
		var out lockedBuffer
		l.stdout, l.stderr = &out, &out
		if err := l.run(context.Background(), rest); exitCode(err) != 0 {
			fmt.Fprintln(&out, "local:", err) // as main prints it
		}
		return out.String()
	}
	base, stdout, stderr, stop := startLocalWith(t, l, rest...)
	s.stops = append(s.stops, stop)
	s.addrs[pageAddr] = strings.TrimPrefix(base, "http://")
	s.serverOut, s.serverErr = stdout, stderr
	return stdout.String()
}

func (s *docSession) startReceiver(t *testing.T, pageAddr string) string {
	t.Helper()
	base, stdout, _, stop := startLocalWith(t, local{timeouts: defaultTimeouts}, "-receive", "127.0.0.1:0")
	s.stops = append(s.stops, stop)
	s.addrs[pageAddr] = strings.TrimPrefix(base, "http://")
	s.receiver = stdout
	out := stdout.String()
	s.receiverShown = len(out)
	return out
}

// emulator starts an emulator on the session's clock for one command.
func (s *docSession) emulator(t *testing.T, syncDuration time.Duration, clock emulator.Clock) *emulator.Emulator {
	t.Helper()
	o := emulator.Options{SyncDuration: syncDuration, Clock: clock}
	emu, err := emulator.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	s.stops = append(s.stops, func() { emu.Close() })
	if s.opts.setup != nil {
		s.opts.setup(emu)
	}
	return emu
}

// queueDelay is the follow-up queue's delay of the session's mode.
func (s *docSession) queueDelay() func(time.Duration) time.Duration {
	if s.opts.followUps == jumpClock && s.clock != nil {
		clock := s.clock
		return func(d time.Duration) time.Duration {
			clock.Advance(d)
			return 0
		}
	}
	return func(time.Duration) time.Duration { return 1000 * time.Hour }
}

func env2getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// toSession replaces the addresses a page shows with those the session listens on.
func (s *docSession) toSession(arg string) string {
	for page, real := range s.addrs {
		arg = strings.ReplaceAll(arg, page, real)
	}
	return arg
}

// toPage replaces the addresses the session listens on with those the page shows.
func (s *docSession) toPage(out string) string {
	for page, real := range s.addrs {
		out = strings.ReplaceAll(out, real, page)
	}
	return out
}

// curl does what curl does with the options the docs use (-i, -s, -S, -X, -H, -d,
// --data-binary, --data-urlencode) and prints what it would print: with -i the status line and
// the headers as they came, then the body.
func curl(t *testing.T, b docs.Block, args []string) string {
	t.Helper()
	var (
		method, target string
		include        bool
		headers        []string
		data           []string
	)
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func() string {
			if i+1 >= len(args) {
				t.Fatalf("%s: curl %s needs a value", b.Where(), a)
			}
			i++
			return args[i]
		}
		switch a {
		case "-i", "--include":
			include = true
		case "-s", "-S", "-sS", "--silent", "--show-error":
		case "-X", "--request":
			method = value()
		case "-H", "--header":
			headers = append(headers, value())
		case "-d", "--data", "--data-binary", "--data-raw":
			data = append(data, value())
		case "--data-urlencode":
			name, v, _ := strings.Cut(value(), "=")
			data = append(data, name+"="+curlEscape(v))
		default:
			if strings.HasPrefix(a, "-") {
				t.Fatalf("%s: curl %s: not an option the examples may use; add it to curl in cmd/local/docs_session_test.go", b.Where(), a)
			}
			target = a
		}
	}
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	body := strings.Join(data, "&")
	if method == "" {
		method = http.MethodGet
		if len(data) > 0 {
			method = http.MethodPost
		}
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: curl: %v", b.Where(), err)
	}
	req.Header.Set("User-Agent", "curl/8.5.0")
	req.Header.Set("Accept", "*/*")
	if len(data) > 0 {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range headers {
		name, v, _ := strings.Cut(h, ":")
		if name, v = strings.TrimSpace(name), strings.TrimSpace(v); strings.EqualFold(name, "Host") {
			req.Host = v // curl sends the Host it is given
			continue
		}
		req.Header.Set(name, v)
	}
	conn, err := net.DialTimeout("tcp", req.URL.Host, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: curl: %v", b.Where(), err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second)) // only ends a test that would hang
	if err := req.Write(conn); err != nil {
		t.Fatalf("%s: curl: %v", b.Where(), err)
	}
	var raw bytes.Buffer // the answer as it came, for -i
	resp, err := http.ReadResponse(bufio.NewReader(io.TeeReader(conn, &raw)), req)
	if err != nil {
		t.Fatalf("%s: curl: %v", b.Where(), err)
	}
	defer resp.Body.Close()
	content, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: curl: %v", b.Where(), err)
	}
	var out strings.Builder
	if include {
		head, _, _ := bytes.Cut(raw.Bytes(), []byte("\r\n\r\n"))
		out.WriteString(strings.ReplaceAll(string(head), "\r\n", "\n") + "\n\n")
	}
	out.Write(content)
	if !strings.HasSuffix(out.String(), "\n") {
		out.WriteString("\n")
	}
	return out.String()
}

// curlEscape percent-encodes s as curl's --data-urlencode does: every byte but letters, digits
// and -._~.
func curlEscape(s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(strconv.FormatInt(int64(c)|0x100, 16)[1:]))
	}
	return b.String()
}

// TestRequestEnds: a receiver block takes the whole requests printed, one by one, however close
// together they came.
func TestRequestEnds(t *testing.T) {
	t.Parallel()
	const (
		one     = "2026-12-07T13:00:20Z POST /done\n  Content-Type: application/json\n  Webhook-Id: a\n  {\"type\":\"x\"}\n"
		headers = "2026-12-07T13:00:21Z POST /b\n  Content-Type: application/json\n"
	)
	tests := []struct {
		name, out string
		want      []int
	}{
		{"nothing", "", nil},
		{"the receiver's first line", "receiving on http://127.0.0.1:9000: every request is printed and answered 204; Ctrl-C stops\n", nil},
		{"one", one, []int{len(one)}},
		{"two together", one + one, []int{len(one), 2 * len(one)}},
		{"the second's body not yet", one + headers, []int{len(one)}},
		{"a body not ended", one + headers + "  {\"type\"", []int{len(one)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, requestEnds(tt.out)); diff != "" {
				t.Errorf("requestEnds (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSecondsNear: at -speed N a count of seconds within one of the page's is the page's; any
// other difference stays.
func TestSecondsNear(t *testing.T) {
	t.Parallel()
	const page = `{"syncDurationSeconds":60,"waitSeconds":5}`
	tests := []struct{ name, got, want string }{
		{"equal", page, page},
		{"a second longer", `{"syncDurationSeconds":61,"waitSeconds":4}`, page},
		{"two seconds longer", `{"syncDurationSeconds":62,"waitSeconds":5}`, `{"syncDurationSeconds":62,"waitSeconds":5}`},
		{"another member", `{"otherSeconds":61,"waitSeconds":5}`, `{"otherSeconds":61,"waitSeconds":5}`},
		{"more than the page", `{"syncDurationSeconds":60,"waitSeconds":5,"moreSeconds":1}`, `{"syncDurationSeconds":60,"waitSeconds":5,"moreSeconds":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := secondsNear(page, tt.got); got != tt.want {
				t.Errorf("secondsNear = %s, want %s", got, tt.want)
			}
		})
	}
}
