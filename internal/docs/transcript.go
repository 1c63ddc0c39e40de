package docs

import (
	"regexp"
	"strings"
)

// Step is one command of a transcript block and what it printed. A transcript is the text of a
// terminal: a line "$ command" (continued on the next line after a trailing backslash), then the
// command's output up to the next "$ " line.
type Step struct {
	// Command is the command without its "$ " (continuation lines joined as written, with their
	// newlines); empty for output before the first command.
	Command string
	// Output is what follows the command, each line ending in a newline.
	Output string
}

// ParseTranscript splits a transcript block into its steps.
func ParseTranscript(text string) []Step {
	var (
		steps []Step
		cur   *Step
		cont  bool
	)
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		switch {
		case cont:
			cur.Command += line
		case strings.HasPrefix(line, "$ ") && strings.TrimSpace(line[2:]) != "": // a bare prompt is output
			steps = append(steps, Step{Command: strings.TrimPrefix(line, "$ ")})
			cur = &steps[len(steps)-1]
		default:
			if cur == nil {
				steps = append(steps, Step{})
				cur = &steps[len(steps)-1]
			}
			cur.Output += line
			continue
		}
		cont = strings.HasSuffix(strings.TrimRight(line, "\n"), `\`)
		if !cont {
			cur.Command = strings.TrimSuffix(cur.Command, "\n")
		}
	}
	if cont {
		cur.Command = strings.TrimSuffix(cur.Command, "\n")
	}
	return steps
}

// FormatTranscript writes steps back as a transcript; ParseTranscript(FormatTranscript(s)) is s.
func FormatTranscript(steps []Step) string {
	var b strings.Builder
	for _, s := range steps {
		if s.Command != "" {
			b.WriteString("$ " + s.Command + "\n")
		}
		out := s.Output
		if out != "" && !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		b.WriteString(out)
	}
	return b.String()
}

// Elision is a line of an example that stands for any number of lines of the output, so a page
// may show the start of a long output.
const Elision = "…"

// normalisers replace what changes from run to run, or from machine to machine, with a
// placeholder: times, dates, ids, ports, lengths and durations. What the clock of an example
// session decides (a Retry-After, "in 10 min") is kept as it is.
var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "<time>"},
	{regexp.MustCompile(`(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT`), "<date>"},
	{regexp.MustCompile(`\b\d\d:\d\d UTC\b`), "<hh:mm> UTC"},
	{regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), "<id>"},
	{regexp.MustCompile(`\b[0-9a-f]{32}\b`), "<hex>"},
	{regexp.MustCompile(`(127\.0\.0\.1|localhost|\[::1\]):\d+`), "$1:<port>"},
	{regexp.MustCompile(`(?i)(Content-Length: )\d+`), "${1}<n>"},
	{regexp.MustCompile(`(?i)(Webhook-Timestamp: )\d+`), "${1}<n>"},
	{regexp.MustCompile(`("[A-Za-z]*(Ms|ms|Latency|Timestamp)":)\d+(\.\d+)?`), "${1}<n>"},
	{regexp.MustCompile(`(?m)^(\S+\s+(?:ok|FAIL)\s+)\d+`), "${1}<n>"},
	{regexp.MustCompile(`[ \t]+\n`), "\n"},
}

// Normalise returns s with what changes between runs replaced by placeholders, line ends as
// "\n" and no trailing blanks on a line.
func Normalise(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, n := range normalisers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

// Matches reports whether got, as a run printed it, matches want, as a page shows it: equal once
// both are normalised, where a line of want that is only Elision stands for any lines of got
// (none included).
func Matches(want, got string) bool {
	w := splitLines(Normalise(want))
	g := splitLines(Normalise(got))
	return matchLines(w, g)
}

func matchLines(w, g []string) bool {
	for len(w) > 0 {
		if strings.TrimSpace(w[0]) == Elision {
			for i := 0; i <= len(g); i++ {
				if matchLines(w[1:], g[i:]) {
					return true
				}
			}
			return false
		}
		if len(g) == 0 || w[0] != g[0] {
			return false
		}
		w, g = w[1:], g[1:]
	}
	return len(g) == 0
}

func splitLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// KeepElided returns got shortened as want shows it: where want elides lines, so does the result,
// keeping the lines before and after the elision as got has them. It is what an update writes, so
// a page that shows the start of an output keeps showing only the start.
func KeepElided(want, got string) string {
	w := splitLines(Normalise(want))
	raw := splitLines(strings.ReplaceAll(got, "\r\n", "\n"))
	idx := slicesIndex(w, Elision)
	if idx < 0 {
		return got
	}
	tail := len(w) - idx - 1
	if idx+tail > len(raw) {
		return got
	}
	out := append([]string{}, raw[:idx]...)
	out = append(out, Elision)
	out = append(out, raw[len(raw)-tail:]...)
	return strings.Join(out, "\n") + "\n"
}

func slicesIndex(lines []string, s string) int {
	for i, l := range lines {
		if strings.TrimSpace(l) == s {
			return i
		}
	}
	return -1
}
