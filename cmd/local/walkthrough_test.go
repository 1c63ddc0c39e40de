package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/contract"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// TestWalkThrough is issue 20's defect 7: the walk-through that cmd/local prints on the embedded
// emulator works in the order printed, on a fresh emulator. The test reads the banner and does
// what each line says, in order: it runs the receiver line (on a port of its own, put in place of
// the printed one), sends each curl line's request as curl would and checks the answer against the
// line's comment ("# 202 started": the status, and a JSON string of the answer), and where the
// banner says to wait for the sync's end, moves the clock the functions and the emulator share past
// it and waits for the receiver to print the outcome. The last line says to start again from the
// first curl line: the test goes through the walk-through twice. With SYNC_WHEN_BUSY=defer the
// banner says so, and its refused syncs ask ?defer=false: they are refused as the lines say.
func TestWalkThrough(t *testing.T) {
	t.Parallel()
	for name, policy := range map[string]string{"SYNC_WHEN_BUSY unset": "", "SYNC_WHEN_BUSY=defer": "defer"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			walkThrough(t, policy)
		})
	}
}

// walkThrough is TestWalkThrough with SYNC_WHEN_BUSY=policy.
func walkThrough(t *testing.T, policy string) {
	const syncDuration = time.Minute // -sync-duration's default
	clock := emulator.NewManualClock(time.Now())
	emu := startEmulator(t, clock, syncDuration)
	base, stdout, _, stop := startLocalWith(t, local{emu: emu, timeouts: defaultTimeouts, now: clock.Now, queueDelay: shortBackoff,
		getenv: env(map[string]string{"SYNC_WHEN_BUSY": policy})})
	t.Cleanup(stop)

	banner := stdout.String()
	if got, want := strings.Contains(banner, "SYNC_WHEN_BUSY=defer: "), policy == "defer"; got != want {
		t.Errorf("the banner tells of SYNC_WHEN_BUSY=defer: %v, want %v:\n%s", got, want, banner)
	}
	steps := readWalkThrough(t, banner, "Try, in this order")
	var syncEnds, pointers int
	for _, s := range steps {
		switch {
		case strings.HasPrefix(s.prose, "Once it has ended"):
			syncEnds++
		case strings.HasPrefix(s.prose, "Deferred syncs"):
			// TestWalkThroughDeferred runs the walk-through that -speed prints.
			pointers++
			if !strings.Contains(s.prose, " go run ./cmd/local -speed 20 ") {
				t.Errorf("the pointer to the deferral walk-through does not name go run ./cmd/local -speed 20: %q", s.line)
			}
		case s.prose != "":
			t.Fatalf("a walk-through line the test does not know: %q", s.line)
		}
	}
	if syncEnds != 1 || pointers != 1 || steps[len(steps)-1].prose == "" {
		t.Fatalf("the walk-through should wait for the sync's end once and end with the pointer to -speed 20:\n%s", banner)
	}
	var (
		received *lockedBuffer           // the receiver's output
		address  = strings.NewReplacer() // the printed receiver address → the test's
	)
	for pass := 1; pass <= 2; pass++ {
		for _, s := range steps {
			switch {
			case s.receive != nil:
				if pass == 1 {
					received, address = startReceiverLine(t, s)
				}
			case strings.HasPrefix(s.prose, "Once it has ended"):
				clock.Advance(syncDuration)
				received.waitFor(t, "the sync's outcome", func(out string) bool {
					return strings.Count(out, `"type":"autopilot.sync.completed"`) >= pass
				})
			case s.curl != nil:
				checkCurl(t, base, s, address)
			}
		}
	}
}

// walkStep is one line of the walk-through: a receiver to run, a request to send, or prose (what
// to wait for, or where to go next).
type walkStep struct {
	line    string
	receive []string // the arguments of a `go run ./cmd/local` line
	curl    []string // the arguments of a curl line
	status  int      // what the curl line's comment says it answers
	word    string   // a JSON string the answer holds, as the comment says
	prose   string   // a line that is no command (not indented)
}

// readWalkThrough returns the steps of the banner's walk-through: the lines after the one that
// starts with heading, up to "Ctrl-C stops.". It checks that the first runs the receiver, once,
// and that some are requests; an indented line the test does not know how to do fails it.
func readWalkThrough(t *testing.T, banner, heading string) []walkStep {
	t.Helper()
	_, rest, ok := strings.Cut(banner, "\n"+heading)
	if !ok {
		t.Fatalf("the banner has no walk-through %q:\n%s", heading, banner)
	}
	body, _, ok := strings.Cut(rest, "\nCtrl-C stops.")
	if !ok {
		t.Fatalf("the walk-through does not end with Ctrl-C stops.:\n%s", banner)
	}
	expected := regexp.MustCompile(`^([1-5][0-9][0-9]) ([A-Za-z]+)`)
	var (
		steps            []walkStep
		receivers, curls int
	)
	for _, line := range strings.Split(body, "\n")[1:] {
		s := walkStep{line: line}
		if !strings.HasPrefix(line, "  ") {
			s.prose = line
			steps = append(steps, s)
			continue
		}
		words, comment := shellWords(t, line)
		switch {
		case len(words) > 3 && strings.Join(words[:3], " ") == "go run ./cmd/local":
			s.receive = words[3:]
			receivers++
		case len(words) > 1 && words[0] == "curl":
			m := expected.FindStringSubmatch(comment)
			if m == nil {
				t.Fatalf("a curl line without its answer (# 202 started): %q", line)
			}
			s.curl, s.word = words[1:], m[2]
			s.status, _ = strconv.Atoi(m[1])
			curls++
		default:
			t.Fatalf("a walk-through line the test does not know: %q", line)
		}
		steps = append(steps, s)
	}
	if receivers != 1 || curls < 3 || steps[0].receive == nil {
		t.Fatalf("the walk-through should start a receiver, then send requests; it has %d receivers and %d requests:\n%s", receivers, curls, body)
	}
	return steps
}

// startReceiverLine runs the receiver line s as `go run ./cmd/local` would, on a free port of the
// printed host, and returns its output and a replacer of the printed address by its own.
func startReceiverLine(t *testing.T, s walkStep) (*lockedBuffer, *strings.Replacer) {
	t.Helper()
	args := append([]string(nil), s.receive...)
	printed := ""
	for i := range len(args) - 1 {
		if args[i] == "-receive" {
			printed = args[i+1]
			host, _, err := net.SplitHostPort(printed)
			if err != nil {
				t.Fatalf("%q: %v", s.line, err)
			}
			args[i+1] = net.JoinHostPort(host, "0")
		}
	}
	if printed == "" {
		t.Fatalf("a go run line that runs no receiver: %q", s.line)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	out := &lockedBuffer{}
	go func() { done <- run(ctx, args, env(nil), out, out, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the receiver stopped with %v", err)
		}
	})
	select {
	case base := <-ready:
		return out, strings.NewReplacer(printed, strings.TrimPrefix(base, "http://"))
	case err := <-done:
		t.Fatalf("%q: %v", s.line, err)
		return nil, nil
	}
}

// checkCurl sends the request of s's curl arguments, with address's replacements (the printed
// receiver address by the test's), as curl sends it, checks the answer against s's comment and
// against openapi.yaml, and returns the answer's body.
func checkCurl(t *testing.T, base string, s walkStep, address *strings.Replacer) []byte {
	t.Helper()
	args := make([]string, len(s.curl))
	for i, a := range s.curl {
		args[i] = address.Replace(a)
	}
	req := curlRequest(t, args)
	if !strings.HasPrefix(req.URL.String(), base+"/") {
		t.Fatalf("%q: not a request to the server at %s", s.line, base)
	}
	reqHeader := req.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != s.status || !strings.Contains(string(data), `"`+s.word+`"`) {
		t.Errorf("%s\n  answered %d %s\n  want %d with %q", s.line, resp.StatusCode, data, s.status, s.word)
	}
	if err := contract.Check(contract.Exchange{Method: req.Method, Path: req.URL.Path, Header: reqHeader,
		Status: resp.StatusCode, RespHeader: resp.Header, Body: data}); err != nil {
		t.Errorf("%s: %v", s.line, err)
	}
	return data
}

// curlRequest is the request curl sends for args, of the options the banner uses: -i, -X, -H,
// -d (which makes a POST of Content-Type application/x-www-form-urlencoded unless -X and -H say
// otherwise) and the URL. curl sends no Origin and no Sec-Fetch-* header.
func curlRequest(t *testing.T, args []string) *http.Request {
	t.Helper()
	var (
		method, url string
		body        *string
		header      = http.Header{"User-Agent": {"curl/8.5.0"}, "Accept": {"*/*"}}
	)
	for i := 0; i < len(args); i++ {
		arg := args[i]
		value := func() string {
			if i+1 == len(args) {
				t.Fatalf("curl %s without its value", arg)
			}
			i++
			return args[i]
		}
		switch {
		case arg == "-i":
		case arg == "-X":
			method = value()
		case arg == "-H":
			name, v, ok := strings.Cut(value(), ":")
			if !ok {
				t.Fatalf("curl -H %q: no colon", args[i])
			}
			header.Add(name, strings.TrimSpace(v))
		case arg == "-d":
			d := value()
			body = &d
		case strings.HasPrefix(arg, "http://") && url == "":
			url = arg
		default:
			t.Fatalf("curl %q: an argument the test does not know", arg)
		}
	}
	if method == "" {
		method = http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
	}
	var r io.Reader = http.NoBody
	if body != nil {
		r = strings.NewReader(*body)
		if header.Get("Content-Type") == "" {
			header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	return req
}

// shellWords splits line as sh does, for what the banner prints: words separated by blanks,
// single-quoted strings, and a comment from a # that begins a word. Other quoting, expansions and
// operators fail the test: the banner must print nothing that this reading would get wrong.
func shellWords(t *testing.T, line string) (words []string, comment string) {
	t.Helper()
	var word strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			word.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, word.String()), false
				word.Reset()
			}
		case c == '#' && !inWord:
			return words, strings.TrimSpace(line[i+1:])
		case strings.IndexByte("\"\\$`;&|<>(){}*?[]", c) >= 0:
			t.Fatalf("%q: %q outside single quotes: the test does not read it as sh would", line, c)
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("%q: a quote that does not end", line)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, ""
}
