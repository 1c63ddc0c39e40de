package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// rieLine matches what the runtime emulator itself prints (its own log format, START/END/REPORT
// lines); every other line is the function's and must be one JSON object.
var rieLine = regexp.MustCompile(`^(START RequestId|END RequestId|REPORT RequestId|\d\d \w{3} \d{4} \d\d:\d\d:\d\d,\d{3} \[\w+\] \(rapid\)|time="|\s*$)`)

// invocationFields are the fields of SPEC §12 every invocation line carries (the Graph ones only
// when Graph answered, checked below).
var invocationFields = []string{"time", "level", "requestId", "function", "source", "action", "code", "status", "durationMs", "coldStart", "_aws"}

// checkLogLines parses every line the functions of the end-to-end suite wrote and reports, to w,
// any that is not JSON or an invocation line that lacks a field; it returns whether all passed.
func checkLogLines(w io.Writer, verbose bool) bool {
	leaks.mu.Lock()
	logs := append([]capturedLog(nil), leaks.logs...)
	leaks.mu.Unlock()
	var problems []string
	lines, invocations := 0, 0
	for _, l := range logs {
		for _, line := range strings.Split(l.buf.String(), "\n") {
			if rieLine.MatchString(line) {
				continue
			}
			lines++
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				problems = append(problems, fmt.Sprintf("%s: a line is not JSON: %.200s", l.where, line))
				continue
			}
			if m["msg"] != "invocation" {
				continue
			}
			invocations++
			for _, f := range invocationFields {
				if _, ok := m[f]; !ok && !(m["code"] == "badEvent" && f != "requestId" && f != "source" && f != "code") {
					problems = append(problems, fmt.Sprintf("%s: an invocation line lacks %q: %.300s", l.where, f, line))
				}
			}
			if rid, _ := m["requestId"].(string); rid == "" {
				problems = append(problems, fmt.Sprintf("%s: an invocation line has no Lambda request id: %.300s", l.where, line))
			}
			if _, ok := m["graphStatus"]; ok {
				for _, f := range []string{"graphRequestId", "clientRequestId", "graphMs"} {
					if _, ok := m[f]; !ok {
						problems = append(problems, fmt.Sprintf("%s: Graph was called but the line lacks %q", l.where, f))
					}
				}
			}
		}
	}
	for _, p := range problems {
		fmt.Fprintln(w, "log check:", p)
	}
	if verbose || len(problems) > 0 {
		fmt.Fprintf(w, "log check: %d function log lines parsed as JSON, %d invocation lines checked, %d problems\n", lines, invocations, len(problems))
	}
	return len(problems) == 0
}
