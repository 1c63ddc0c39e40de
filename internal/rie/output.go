package rie

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// Output is what the emulator's process wrote: on its standard output the function's own output
// (the bootstrap's standard output and error both) between the emulator's START, END and REPORT
// lines, and on its standard error the emulator's own log. It is safe for concurrent use.
type Output struct {
	mu  sync.Mutex
	max int    // bytes kept per buffer; 0 keeps all
	all []byte // both streams, as they arrived
	std []byte // the emulator's standard output only
	// cut reports that the start of std was dropped, so its first line may be partial.
	cut bool
}

func newOutput(max int) *Output { return &Output{max: max} }

// stream is one of the process's two output streams.
type stream struct {
	o      *Output
	stdout bool
}

func (o *Output) stream(stdout bool) io.Writer { return stream{o, stdout} }

func (s stream) Write(p []byte) (int, error) {
	o := s.o
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all = o.keep(append(o.all, p...))
	if s.stdout {
		n := len(o.std) + len(p)
		o.std = o.keep(append(o.std, p...))
		o.cut = o.cut || len(o.std) < n
	}
	return len(p), nil
}

// keep drops the oldest bytes beyond max.
func (o *Output) keep(b []byte) []byte {
	if over := len(b) - o.max; o.max > 0 && over > 0 {
		return append(b[:0], b[over:]...)
	}
	return b
}

// String returns everything kept: the emulator's log and the function's output.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.all)
}

// Tail returns at most the last n bytes of String, marked as process output, or "(no output)".
func (o *Output) Tail(n int) string {
	s := o.String()
	if s == "" {
		return "(no output)"
	}
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return "--- process output (tail) ---\n" + s
}

// emulatorLines are the prefixes of the lines the emulator itself writes to its standard output.
var emulatorLines = []string{"START RequestId: ", "END RequestId: ", "REPORT RequestId: "}

// FunctionLines returns the lines the function wrote, in order: the emulator's standard output
// without its START, END and REPORT lines and without empty lines. A last line that is not yet
// complete is included.
func (o *Output) FunctionLines() []string {
	o.mu.Lock()
	std, cut := bytes.Clone(o.std), o.cut
	o.mu.Unlock()
	lines := strings.Split(string(std), "\n")
	if cut {
		lines = lines[1:]
	}
	out := lines[:0]
	for _, l := range lines {
		if strings.TrimSpace(l) == "" || hasAnyPrefix(l, emulatorLines) {
			continue
		}
		out = append(out, l)
	}
	return out
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
