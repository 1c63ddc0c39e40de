package autopilotsync_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTemplateLint runs cfn-lint (SPEC §10). Outside CI a machine without
// cfn-lint skips; in CI (CI=true) a missing cfn-lint is a failure.
func TestTemplateLint(t *testing.T) {
	path, err := exec.LookPath("cfn-lint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cfn-lint is required in CI but not on PATH (pip install cfn-lint): %v", err)
		}
		t.Skip("cfn-lint not on PATH; install it (pip install cfn-lint) to lint template.yaml")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "template.yaml")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("cfn-lint template.yaml: %v\n%s", err, out.String())
	}
	if s := strings.TrimSpace(out.String()); s != "" {
		t.Logf("cfn-lint output:\n%s", s)
	}
}

// yamlLine is one meaningful line of template.yaml: its indentation and its
// text without comments.
type yamlLine struct {
	no     int
	indent int
	text   string
}

var commentRE = regexp.MustCompile(`\s+#.*$`)

func readYAMLLines(t *testing.T, name string) []yamlLine {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []yamlLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for no := 1; sc.Scan(); no++ {
		raw := sc.Text()
		trimmed := strings.TrimLeft(raw, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		text := strings.TrimSpace(commentRE.ReplaceAllString(trimmed, ""))
		lines = append(lines, yamlLine{no: no, indent: len(raw) - len(trimmed), text: text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// value returns the scalar after "key:" on a line, unquoted, and whether the
// line has that key.
func value(l yamlLine, key string) (string, bool) {
	rest, ok := strings.CutPrefix(l.text, key+":")
	if !ok {
		return "", false
	}
	return strings.Trim(strings.TrimSpace(rest), `"'`), true
}

// block returns the lines that belong to the mapping entry at lines[i]: every
// following line indented deeper than it.
func block(lines []yamlLine, i int) []yamlLine {
	j := i + 1
	for j < len(lines) && lines[j].indent > lines[i].indent {
		j++
	}
	return lines[i+1 : j]
}

type function struct {
	name   string
	lines  []yamlLine
	routes []string // "METHOD /path" of its HttpApi events
	events map[string]int
}

// functions finds the AWS::Serverless::Function resources under Resources and
// their events, with a small indentation-based reading of the YAML.
func functions(t *testing.T, lines []yamlLine) map[string]*function {
	t.Helper()
	fns := map[string]*function{}
	for i, l := range lines {
		if l.indent != 0 || l.text != "Resources:" {
			continue
		}
		res := block(lines, i)
		for k, r := range res {
			if r.indent != res[0].indent || !strings.HasSuffix(r.text, ":") {
				continue
			}
			body := block(res, k)
			isFn := false
			for _, b := range body {
				if v, ok := value(b, "Type"); ok && b.indent == body[0].indent && v == "AWS::Serverless::Function" {
					isFn = true
				}
			}
			if !isFn {
				continue
			}
			fn := &function{name: strings.TrimSuffix(r.text, ":"), lines: body, events: map[string]int{}}
			for e, b := range body {
				if b.text != "Events:" {
					continue
				}
				evs := block(body, e)
				for x, ev := range evs {
					if ev.indent != evs[0].indent {
						continue
					}
					var typ, method, path string
					for _, p := range block(evs, x) {
						if v, ok := value(p, "Type"); ok && typ == "" {
							typ = v
						}
						if v, ok := value(p, "Method"); ok {
							method = strings.ToUpper(v)
						}
						if v, ok := value(p, "Path"); ok {
							path = v
						}
					}
					fn.events[typ]++
					if typ == "HttpApi" {
						fn.routes = append(fn.routes, method+" "+path)
					}
				}
			}
			fns[fn.name] = fn
		}
	}
	if len(fns) == 0 {
		t.Fatal("template.yaml: no AWS::Serverless::Function under Resources")
	}
	return fns
}

func has(lines []yamlLine, re string) bool {
	rx := regexp.MustCompile(re)
	for _, l := range lines {
		if rx.MatchString(l.text) {
			return true
		}
	}
	return false
}

// TestTemplateShape checks the parts of template.yaml that SPEC §2 and §10
// fix, without a YAML dependency.
func TestTemplateShape(t *testing.T) {
	lines := readYAMLLines(t, "template.yaml")

	for _, want := range []struct{ what, re string }{
		{"SAM transform", `^Transform:\s*AWS::Serverless-2016-10-31$`},
		{"runtime provided.al2023", `^Runtime:\s*provided\.al2023$`},
		{"architecture arm64", `^Architectures:\s*\[\s*arm64\s*\]$|^-\s*arm64$`},
		{"handler bootstrap", `^Handler:\s*bootstrap$`},
		{"an HttpApi", `^Type:\s*AWS::Serverless::HttpApi$`},
		{"JSON logs", `^LogFormat:\s*JSON$`},
		{"log retention", `^RetentionInDays:`},
		{"API URL output", `^Value:\s*!Sub\s+"?https://\$\{HttpApi\}\.execute-api\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}"?$`},
	} {
		if !has(lines, want.re) {
			t.Errorf("template.yaml: missing %s (/%s/)", want.what, want.re)
		}
	}
	if has(lines, `^Runtime:\s*(go1\.x|provided\.al2)$`) {
		t.Error("template.yaml: deprecated runtime; use provided.al2023")
	}

	fns := functions(t, lines)
	wantRoutes := map[string]string{
		"POST /sync":    "SyncFunction",
		"GET /status":   "StatusFunction",
		"PATCH /status": "StatusFunction",
	}
	for route, fnName := range wantRoutes {
		fn, ok := fns[fnName]
		if !ok {
			t.Errorf("template.yaml: function %s missing", fnName)
			continue
		}
		found := false
		for _, r := range fn.routes {
			found = found || r == route
		}
		if !found {
			t.Errorf("template.yaml: %s has no HttpApi event %q (has %q)", fnName, route, fn.routes)
		}
	}
	if sync, ok := fns["SyncFunction"]; ok && sync.events["ScheduleV2"] != 1 {
		t.Errorf("template.yaml: SyncFunction has %d ScheduleV2 events, want 1", sync.events["ScheduleV2"])
	}
	if !has(lines, `^State:\s*!Ref\s+ScheduleState$`) || !has(lines, `^Default:\s*DISABLED$`) {
		t.Error("template.yaml: the schedule must be disabled by default (State: !Ref ScheduleState, default DISABLED)")
	}

	// Every makefile-built function needs its build-<LogicalId> target.
	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for name, fn := range fns {
		if !has(fn.lines, `^BuildMethod:\s*makefile$`) {
			t.Errorf("template.yaml: %s is not built with BuildMethod: makefile", name)
			continue
		}
		target := regexp.MustCompile(`(?m)^build-` + regexp.QuoteMeta(name) + `\s*:`)
		if !target.Match(makefile) {
			t.Errorf("Makefile: no build-%s target for sam build", name)
		}
	}
}
