package autopilotsync_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/notify"
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

// expr is a CloudFormation condition or rule function as template.yaml writes it: a tag with
// arguments (!Or, !And, !Not, !Equals, !Ref) or a string literal.
type expr struct {
	tag  string // "" for a literal
	args []*expr
	lit  string
}

// eval evaluates e with the given parameter values: Fn::Equals compares strings, the others are
// boolean. It fails on any function this small evaluator does not know, so that a template change
// it cannot follow breaks the test instead of passing it.
func (e *expr) eval(t *testing.T, params map[string]string) any {
	t.Helper()
	want := func(n int) {
		if len(e.args) != n {
			t.Fatalf("%s takes %d arguments, has %d", e.tag, n, len(e.args))
		}
	}
	boolean := func(a *expr) bool {
		b, ok := a.eval(t, params).(bool)
		if !ok {
			t.Fatalf("%s: argument %v is not a condition", e.tag, a)
		}
		return b
	}
	switch e.tag {
	case "":
		return e.lit
	case "!Ref":
		want(1)
		v, ok := params[e.args[0].lit]
		if !ok {
			t.Fatalf("!Ref %s: no such parameter", e.args[0].lit)
		}
		return v
	case "!Equals":
		want(2)
		return e.args[0].eval(t, params) == e.args[1].eval(t, params)
	case "!Not":
		want(1)
		return !boolean(e.args[0])
	case "!And", "!Or":
		if len(e.args) < 2 {
			t.Fatalf("%s needs at least 2 arguments", e.tag)
		}
		and := e.tag == "!And"
		for _, a := range e.args {
			if boolean(a) != and {
				return !and
			}
		}
		return and
	}
	t.Fatalf("unknown function %s", e.tag)
	return nil
}

// parseFlow parses a flow expression such as `!Not [!Equals [!Ref GraphClientId, ""]]`.
func parseFlow(t *testing.T, s string) *expr {
	t.Helper()
	toks := regexp.MustCompile(`"[^"]*"|'[^']*'|\[|\]|,|[^\s\[\],]+`).FindAllString(s, -1)
	pos := 0
	var parse func() *expr
	list := func() []*expr {
		var out []*expr
		pos++ // "["
		for pos < len(toks) && toks[pos] != "]" {
			out = append(out, parse())
			if pos < len(toks) && toks[pos] == "," {
				pos++
			}
		}
		if pos >= len(toks) {
			t.Fatalf("unclosed [ in %q", s)
		}
		pos++ // "]"
		return out
	}
	parse = func() *expr {
		if pos >= len(toks) {
			t.Fatalf("unexpected end of %q", s)
		}
		tok := toks[pos]
		switch {
		case strings.HasPrefix(tok, "!"):
			pos++
			e := &expr{tag: tok}
			if pos < len(toks) && toks[pos] == "[" {
				e.args = list()
			} else {
				e.args = []*expr{parse()}
			}
			return e
		case tok == "[" || tok == "]" || tok == ",":
			t.Fatalf("unexpected %q in %q", tok, s)
		}
		pos++
		return &expr{lit: strings.Trim(tok, `"'`)}
	}
	e := parse()
	if pos != len(toks) {
		t.Fatalf("trailing %q in %q", toks[pos:], s)
	}
	return e
}

// parseExpr reads the expression whose text starts after the key (or "- ") on lines[i]: a flow
// expression, or a bare tag (`!Or`) whose arguments are the block sequence below it, indented
// deeper than keyCol.
func parseExpr(t *testing.T, lines []yamlLine, i int, text string, keyCol int) *expr {
	t.Helper()
	if !regexp.MustCompile(`^!\w+$`).MatchString(text) {
		return parseFlow(t, text)
	}
	e := &expr{tag: text}
	itemIndent := -1
	for j := i + 1; j < len(lines) && lines[j].indent > keyCol; j++ {
		l := lines[j]
		if itemIndent == -1 {
			itemIndent = l.indent
		}
		if l.indent != itemIndent {
			continue // inside an argument's own block
		}
		item, ok := strings.CutPrefix(l.text, "- ")
		if !ok {
			t.Fatalf("template.yaml:%d: %s: expected a sequence item, got %q", l.no, text, l.text)
		}
		e.args = append(e.args, parseExpr(t, lines, j, item, l.indent))
	}
	return e
}

// section returns the entries of a top-level mapping (Parameters, Conditions, Rules): each
// entry's index in lines, by name.
func section(t *testing.T, lines []yamlLine, name string) map[string]int {
	t.Helper()
	for i, l := range lines {
		if l.indent != 0 || l.text != name+":" {
			continue
		}
		entries := map[string]int{}
		body := block(lines, i)
		for k, b := range body {
			if b.indent == body[0].indent {
				key, _, _ := strings.Cut(b.text, ":")
				entries[key] = i + 1 + k
			}
		}
		return entries
	}
	t.Fatalf("template.yaml: no %s section", name)
	return nil
}

// rule is one Rules entry: its optional RuleCondition and its assertions.
type rule struct {
	condition  *expr
	assertions []*expr
}

func templateRules(t *testing.T, lines []yamlLine) map[string]rule {
	t.Helper()
	rules := map[string]rule{}
	for name, i := range section(t, lines, "Rules") {
		var r rule
		for k, l := range block(lines, i) {
			j := i + 1 + k
			if rest, ok := strings.CutPrefix(l.text, "RuleCondition:"); ok {
				r.condition = parseExpr(t, lines, j, strings.TrimSpace(rest), l.indent)
			}
			if rest, ok := strings.CutPrefix(l.text, "- Assert:"); ok {
				r.assertions = append(r.assertions, parseExpr(t, lines, j, strings.TrimSpace(rest), l.indent+2))
			}
		}
		if len(r.assertions) == 0 {
			t.Fatalf("template.yaml: rule %s has no Assert", name)
		}
		rules[name] = r
	}
	return rules
}

// parameterDefaults returns every parameter with its Default ("" when it has none).
func parameterDefaults(t *testing.T, lines []yamlLine) map[string]string {
	t.Helper()
	params := map[string]string{}
	for name, i := range section(t, lines, "Parameters") {
		params[name] = ""
		for _, l := range block(lines, i) {
			if v, ok := value(l, "Default"); ok && l.indent == lines[i].indent+2 {
				params[name] = v
			}
		}
	}
	return params
}

// TestTemplateRules evaluates the Rules of template.yaml (issue 16: what is required is required;
// issue 15: no public API without the JWT authorizer) for the parameter values a deployer might
// give, starting from the parameters' defaults as `sam deploy --guided` offers them.
func TestTemplateRules(t *testing.T) {
	lines := readYAMLLines(t, "template.yaml")
	rules := templateRules(t, lines)
	defaults := parameterDefaults(t, lines)
	const (
		guid   = "11111111-2222-4333-8444-555555555555"
		tenant = "99999999-8888-4777-8666-555555555555"
	)
	tests := []struct {
		name   string
		params map[string]string
		failed []string // the rules that refuse the stack, in name order
	}{
		{"defaults only: GraphClientId empty", nil, []string{"GraphClientIdRequired"}},
		{"single tenant", map[string]string{"GraphClientId": guid}, nil},
		{"fleet without GraphClientId", map[string]string{"TenantRegistrySecretName": "tenant-registry"}, nil},
		{"fleet with GraphClientId", map[string]string{"GraphClientId": guid, "TenantRegistrySecretName": "tenant-registry"}, nil},
		{"JWT authorizer on", map[string]string{"GraphClientId": guid, "JwtIssuerTenantId": tenant, "JwtAudience": guid}, nil},
		{"JWT tenant without audience", map[string]string{"GraphClientId": guid, "JwtIssuerTenantId": tenant}, []string{"JwtAuthorizerComplete"}},
		{"JWT audience without tenant", map[string]string{"GraphClientId": guid, "JwtAudience": guid}, []string{"JwtAuthorizerComplete"}},
		{"unauthenticated without JWT authorizer", map[string]string{"GraphClientId": guid, "AllowUnauthenticated": "true"}, []string{"UnauthenticatedNeedsJwtAuthorizer"}},
		{"unauthenticated with half a JWT authorizer", map[string]string{"GraphClientId": guid, "AllowUnauthenticated": "true", "JwtIssuerTenantId": tenant}, []string{"JwtAuthorizerComplete", "UnauthenticatedNeedsJwtAuthorizer"}},
		{"unauthenticated behind the JWT authorizer", map[string]string{"GraphClientId": guid, "AllowUnauthenticated": "true", "JwtIssuerTenantId": tenant, "JwtAudience": guid}, nil},
		{"everything wrong", map[string]string{"AllowUnauthenticated": "true", "JwtAudience": guid}, []string{"GraphClientIdRequired", "JwtAuthorizerComplete", "UnauthenticatedNeedsJwtAuthorizer"}},
		{"deferred syncs", map[string]string{"GraphClientId": guid, "SyncWhenBusy": "defer"}, nil},
		{"deferred syncs without a follow-up queue", map[string]string{"GraphClientId": guid, "SyncWhenBusy": "defer", "FollowUp": "Disabled"}, []string{"DeferNeedsFollowUp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := maps.Clone(defaults)
			for k, v := range tt.params {
				if _, ok := params[k]; !ok {
					t.Fatalf("no parameter %s in template.yaml", k)
				}
				params[k] = v
			}
			var failed []string
			for name, r := range rules {
				if r.condition != nil && !r.condition.eval(t, params).(bool) {
					continue
				}
				for _, a := range r.assertions {
					if ok, _ := a.eval(t, params).(bool); !ok {
						failed = append(failed, name)
						break
					}
				}
			}
			slices.Sort(failed)
			if got, want := failed, tt.failed; !slices.Equal(got, want) {
				t.Errorf("rules refusing the stack: got %q, want %q", got, want)
			}
		})
	}

	// The JWT authorizer exists exactly when the rules let both of its parameters through.
	conditions := section(t, lines, "Conditions")
	i, ok := conditions["HasJwtAuthorizer"]
	if !ok {
		t.Fatal("template.yaml: no condition HasJwtAuthorizer")
	}
	hasJwt := parseExpr(t, lines, i, strings.TrimSpace(strings.TrimPrefix(lines[i].text, "HasJwtAuthorizer:")), lines[i].indent)
	for _, tc := range []struct {
		tenant, audience string
		want             bool
	}{{"", "", false}, {tenant, guid, true}} {
		params := maps.Clone(defaults)
		params["JwtIssuerTenantId"], params["JwtAudience"] = tc.tenant, tc.audience
		if got := hasJwt.eval(t, params); got != tc.want {
			t.Errorf("HasJwtAuthorizer(%q, %q) = %v, want %v", tc.tenant, tc.audience, got, tc.want)
		}
	}
}

// TestTemplateJWTAuthorizer checks that every route the functions' HttpApi events declare is
// covered by the conditional JWT authorizer of the HttpApi's DefinitionBody (issue 15), so that a
// new route cannot silently stay public.
func TestTemplateJWTAuthorizer(t *testing.T) {
	lines := readYAMLLines(t, "template.yaml")
	secured := map[string]bool{} // "METHOD /path"
	body := -1
	for i, l := range lines {
		if l.text == "DefinitionBody:" {
			body = i
		}
	}
	if body == -1 {
		t.Fatal("template.yaml: HttpApi has no DefinitionBody")
	}
	for i, l := range block(lines, body) {
		if l.text != "paths:" {
			continue
		}
		paths := block(block(lines, body), i)
		for p, pl := range paths {
			if pl.indent != paths[0].indent {
				continue
			}
			path := strings.TrimSuffix(pl.text, ":")
			methods := block(paths, p)
			for m, ml := range methods {
				if ml.indent != methods[0].indent {
					continue
				}
				method := strings.ToUpper(strings.TrimSuffix(ml.text, ":"))
				if method == "X-AMAZON-APIGATEWAY-ANY-METHOD" {
					method = "ANY"
				}
				for _, sl := range block(methods, m) {
					v, ok := value(sl, "security")
					if !ok {
						continue
					}
					if v != "!If [HasJwtAuthorizer, [{EntraId: []}], !Ref AWS::NoValue]" {
						t.Errorf("template.yaml:%d: %s %s: security %q is not the conditional JWT authorizer", sl.no, method, path, v)
					}
					secured[method+" "+path] = true
				}
			}
		}
	}
	for name, fn := range functions(t, lines) {
		for _, route := range fn.routes {
			if !secured[route] {
				t.Errorf("template.yaml: %s route %q has no security entry for the JWT authorizer in HttpApi's DefinitionBody", name, route)
			}
		}
	}
	for _, want := range []string{
		`^issuer:\s*!Sub\s+https://login\.microsoftonline\.com/\$\{JwtIssuerTenantId\}/v2\.0$`,
		`^-\s*!Ref\s+JwtAudience$`,
		`^identitySource:\s*\$request\.header\.Authorization$`,
		`^type:\s*jwt$`,
	} {
		if !has(lines, want) {
			t.Errorf("template.yaml: JWT authorizer: missing /%s/", want)
		}
	}
}

// TestTemplateDiagnoseOutputs checks the ready-to-paste diagnose commands (issue 16, SPEC §14).
func TestTemplateDiagnoseOutputs(t *testing.T) {
	lines := readYAMLLines(t, "template.yaml")
	outputs := section(t, lines, "Outputs")
	for _, tc := range []struct{ output, function, file string }{
		{"SyncDiagnoseCommand", "SyncFunction", "sync-diagnose.json"},
		{"StatusDiagnoseCommand", "StatusFunction", "status-diagnose.json"},
	} {
		i, ok := outputs[tc.output]
		if !ok {
			t.Errorf("template.yaml: no output %s", tc.output)
			continue
		}
		var got string
		for _, l := range block(lines, i) {
			if v, ok := strings.CutPrefix(l.text, "Value: !Sub "); ok {
				got = v
			}
		}
		want := `"aws lambda invoke --function-name ${` + tc.function + `} --cli-binary-format raw-in-base64-out --payload '{\"action\":\"diagnose\"}' ` + tc.file + ` && cat ` + tc.file + `"`
		if got != want {
			t.Errorf("template.yaml: output %s:\n got %s\nwant %s", tc.output, got, want)
		}
	}
}

// --- the template as CloudFormation sees it (SAM translated) ------------------------------------

// samTranslate is a Python program that translates template.yaml with the AWS SAM translator
// (the samtranslator package that cfn-lint depends on, so it is there wherever cfn-lint is) and
// prints the CloudFormation template as JSON. CodeUri becomes an S3 URI, as `sam deploy` makes it
// after packaging. The translation keeps Conditions and Fn::If: cfnTemplate resolves them.
const samTranslate = `
import json, os, sys
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
from samtranslator.yaml_helper import yaml_parse
from samtranslator.translator.transform import transform
with open(sys.argv[1]) as f:
    t = yaml_parse(f.read())
for r in t.get("Resources", {}).values():
    if r.get("Type") == "AWS::Serverless::Function":
        r["Properties"]["CodeUri"] = "s3://bucket/key"
class NoManagedPolicies:
    def load(self):
        return {}
json.dump(transform(t, {}, NoManagedPolicies()), sys.stdout)
`

var translated struct {
	once sync.Once
	tmpl map[string]any
	err  error
}

// cfnTemplate returns template.yaml translated by the SAM translator. Outside CI a machine
// without python3 and samtranslator skips; in CI it is a failure, as cfn-lint's absence is.
func cfnTemplate(t *testing.T) map[string]any {
	t.Helper()
	translated.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, "python3", "-c", samTranslate, "template.yaml")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			translated.err = fmt.Errorf("python3 (samtranslator) could not translate template.yaml: %w\n%s", err, stderr.String())
			return
		}
		translated.err = json.Unmarshal(stdout.Bytes(), &translated.tmpl)
	})
	if err := translated.err; err != nil {
		missing := errors.Is(err, exec.ErrNotFound) || strings.Contains(err.Error(), "No module named 'samtranslator'")
		if missing && os.Getenv("CI") != "true" {
			t.Skipf("the SAM translator is not installed (pip install cfn-lint brings it): %v", err)
		}
		t.Fatal(err)
	}
	return translated.tmpl
}

// stack is the translated template deployed with some parameter values: its conditions
// evaluated, Fn::If resolved and AWS::NoValue dropped, resources and outputs whose condition is
// false left out.
type stack struct {
	params     map[string]string
	conditions map[string]bool
	resources  map[string]map[string]any // logical id → resource (Type, Properties, …)
	outputs    map[string]map[string]any
}

// deploy resolves the translated template for params (the parameters' defaults for the others).
func deploy(t *testing.T, params map[string]string) *stack {
	t.Helper()
	tmpl := cfnTemplate(t)
	s := &stack{params: map[string]string{}, conditions: map[string]bool{},
		resources: map[string]map[string]any{}, outputs: map[string]map[string]any{}}
	for name, p := range object(t, tmpl["Parameters"]) {
		s.params[name] = scalar(object(t, p)["Default"])
	}
	for k, v := range params {
		if _, ok := s.params[k]; !ok {
			t.Fatalf("no parameter %s in template.yaml", k)
		}
		s.params[k] = v
	}
	defs := object(t, tmpl["Conditions"])
	var eval func(name string, depth int) bool
	eval = func(name string, depth int) bool {
		if v, ok := s.conditions[name]; ok {
			return v
		}
		def, ok := defs[name]
		if !ok || depth > len(defs) {
			t.Fatalf("condition %s: undefined or circular", name)
		}
		v, ok := s.value(t, def, func(c string) bool { return eval(c, depth+1) }).(bool)
		if !ok {
			t.Fatalf("condition %s is not boolean", name)
		}
		s.conditions[name] = v
		return v
	}
	for name := range defs {
		eval(name, 0)
	}
	cond := func(name string) bool {
		v, ok := s.conditions[name]
		if !ok {
			t.Fatalf("no condition %s", name)
		}
		return v
	}
	for section, into := range map[string]map[string]map[string]any{"Resources": s.resources, "Outputs": s.outputs} {
		for name, r := range object(t, tmpl[section]) {
			r := object(t, r)
			if c, ok := r["Condition"].(string); ok && !cond(c) {
				continue
			}
			into[name] = object(t, s.value(t, r, cond))
		}
	}
	return s
}

// noValue marks AWS::NoValue while a value is resolved.
type noValue struct{}

// value resolves v: conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition) to booleans,
// Fn::If to its branch, Ref of a parameter to its value; AWS::NoValue disappears from objects
// and arrays. Other functions (Fn::GetAtt, Fn::Sub, Ref of a resource) stay as they are.
func (s *stack) value(t *testing.T, v any, cond func(string) bool) any {
	t.Helper()
	args := func(x any, n int) []any {
		a, ok := x.([]any)
		if !ok || n > 0 && len(a) != n {
			t.Fatalf("malformed arguments %v", x)
		}
		return a
	}
	boolean := func(x any) bool {
		b, ok := s.value(t, x, cond).(bool)
		if !ok {
			t.Fatalf("%v is not a condition", x)
		}
		return b
	}
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for fn, x := range v {
				switch fn {
				case "Ref":
					if x == "AWS::NoValue" {
						return noValue{}
					}
					if p, ok := s.params[x.(string)]; ok {
						return p
					}
				case "Condition":
					return cond(x.(string))
				case "Fn::Equals":
					a := args(x, 2)
					return fmt.Sprint(s.value(t, a[0], cond)) == fmt.Sprint(s.value(t, a[1], cond))
				case "Fn::Not":
					return !boolean(args(x, 1)[0])
				case "Fn::And", "Fn::Or":
					and := fn == "Fn::And"
					for _, c := range args(x, 0) {
						if boolean(c) != and {
							return !and
						}
					}
					return and
				case "Fn::If":
					a := args(x, 3)
					if cond(a[0].(string)) {
						return s.value(t, a[1], cond)
					}
					return s.value(t, a[2], cond)
				}
			}
		}
		out := map[string]any{}
		for k, x := range v {
			if r := s.value(t, x, cond); r != (noValue{}) {
				out[k] = r
			}
		}
		return out
	case []any:
		out := []any{}
		for _, x := range v {
			if r := s.value(t, x, cond); r != (noValue{}) {
				out = append(out, r)
			}
		}
		return out
	}
	return v
}

func object(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok && v != nil {
		t.Fatalf("%v is not an object", v)
	}
	return m
}

// scalar is a JSON string, number or boolean as text.
func scalar(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	return fmt.Sprint(v)
}

// path follows keys through nested objects; nil when one is missing.
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// jsonText is v as JSON, for comparisons and messages.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ref and getAtt are the JSON of {"Ref": name} and {"Fn::GetAtt": [name, attr]}.
func ref(name string) string { return jsonText(map[string]any{"Ref": name}) }
func getAtt(name, attr string) string {
	return jsonText(map[string]any{"Fn::GetAtt": []any{name, attr}})
}

// environment is a translated function's environment variables.
func (s *stack) environment(t *testing.T, fn string) map[string]string {
	t.Helper()
	r, ok := s.resources[fn]
	if !ok {
		t.Fatalf("no resource %s", fn)
	}
	env := map[string]string{}
	for k, v := range object(t, path(r, "Properties", "Environment", "Variables")) {
		if sv, ok := v.(string); ok {
			env[k] = sv
		} else {
			env[k] = jsonText(v)
		}
	}
	return env
}

// followUpVariables are SPEC §13's additions to §3, by the template parameter that sets them.
var followUpVariables = map[string]string{
	"FOLLOWUP_FIRST_CHECK":         "FollowUpFirstCheck",
	"FOLLOWUP_MAX_AGE":             "FollowUpMaxAge",
	"SYNC_WHEN_BUSY":               "SyncWhenBusy",
	"DEVICE_CHECK_INTERVAL":        "DeviceCheckInterval",
	"DEVICE_MAX_AGE":               "DeviceMaxAge",
	"SLACK_RESPONSE_URL_PREFIXES":  "SlackResponseUrlPrefixes",
	"TEAMS_NOTIFY_URL_SECRET_NAME": "TeamsNotifyUrlSecretName",
	"CALLBACK_TARGETS_SECRET_NAME": "CallbackTargetsSecretName",
	"CALLBACK_SIGNING_SECRET_NAME": "CallbackSigningSecretName",
}

// TestTemplateFollowUpEnvironment checks which follow-up variables the sync function gets for
// the parameters a deployer may give (SPEC §10, §13): the queue URL with FollowUp=Enabled, each
// secret name when it is set, nothing at all with FollowUp=Disabled, and never any on the
// status function, which does not follow syncs.
func TestTemplateFollowUpEnvironment(t *testing.T) {
	secrets := map[string]string{"TeamsNotifyUrlSecretName": "teams-notify-url",
		"CallbackTargetsSecretName": "callback-targets", "CallbackSigningSecretName": "callback-signing"}
	tests := []struct {
		name   string
		params map[string]string
		want   []string // the follow-up variables set, besides FOLLOWUP_QUEUE_URL
		queue  bool
	}{
		{"defaults", nil, []string{"DEVICE_CHECK_INTERVAL", "DEVICE_MAX_AGE", "FOLLOWUP_FIRST_CHECK", "FOLLOWUP_MAX_AGE", "SLACK_RESPONSE_URL_PREFIXES", "SYNC_WHEN_BUSY"}, true},
		{"every secret", secrets, []string{"CALLBACK_SIGNING_SECRET_NAME", "CALLBACK_TARGETS_SECRET_NAME",
			"DEVICE_CHECK_INTERVAL", "DEVICE_MAX_AGE", "FOLLOWUP_FIRST_CHECK", "FOLLOWUP_MAX_AGE", "SLACK_RESPONSE_URL_PREFIXES", "SYNC_WHEN_BUSY", "TEAMS_NOTIFY_URL_SECRET_NAME"}, true},
		{"callbacks unsigned", map[string]string{"CallbackTargetsSecretName": "callback-targets", "FollowUpFirstCheck": "30s", "FollowUpMaxAge": "2h"},
			[]string{"CALLBACK_TARGETS_SECRET_NAME", "DEVICE_CHECK_INTERVAL", "DEVICE_MAX_AGE", "FOLLOWUP_FIRST_CHECK", "FOLLOWUP_MAX_AGE", "SLACK_RESPONSE_URL_PREFIXES", "SYNC_WHEN_BUSY"}, true},
		{"disabled", map[string]string{"FollowUp": "Disabled"}, nil, false},
		{"disabled with every secret", with(secrets, "FollowUp", "Disabled"), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := deploy(t, tt.params)
			env := s.environment(t, "SyncFunction")
			var got []string
			for name, param := range followUpVariables {
				v, ok := env[name]
				if !ok {
					continue
				}
				got = append(got, name)
				if want := s.params[param]; v != want {
					t.Errorf("SyncFunction %s = %q, want %q (parameter %s)", name, v, want, param)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("SyncFunction follow-up variables: got %q, want %q", got, tt.want)
			}
			q, ok := env["FOLLOWUP_QUEUE_URL"]
			if ok != tt.queue || ok && q != ref("FollowUpQueue") {
				t.Errorf("SyncFunction FOLLOWUP_QUEUE_URL = %q (set %v), want %s set %v", q, ok, ref("FollowUpQueue"), tt.queue)
			}
			for name := range s.environment(t, "StatusFunction") {
				if name == "FOLLOWUP_QUEUE_URL" || followUpVariables[name] != "" {
					t.Errorf("StatusFunction has %s: it never follows a sync", name)
				}
			}
			if !tt.queue {
				// Nothing of the follow-up is left, and nothing refers to it.
				for name, r := range s.resources {
					if strings.HasPrefix(name, "FollowUp") || name == "SyncOutcomeAlarm" {
						t.Errorf("resource %s exists with FollowUp=Disabled", name)
					}
					if strings.Contains(jsonText(r), `"FollowUp`) {
						t.Errorf("resource %s refers to a follow-up resource with FollowUp=Disabled", name)
					}
				}
				for name := range s.outputs {
					if strings.HasPrefix(name, "FollowUp") {
						t.Errorf("output %s exists with FollowUp=Disabled", name)
					}
				}
			}
		})
	}
}

// with returns a copy of m with k set to v.
func with(m map[string]string, k, v string) map[string]string {
	m = maps.Clone(m)
	m[k] = v
	return m
}

// TestTemplateQueueConsumers checks every SQS event source mapping (the fleet's and the
// follow-up's) as AWS advises for Lambda consumers, and the follow-up queue as SPEC §13 needs
// it: a standard queue (FIFO queues take no per-message DelaySeconds), encrypted (its messages
// hold response_urls and callback URLs), with a dead-letter queue after 5 receives and an
// alarm on it.
func TestTemplateQueueConsumers(t *testing.T) {
	s := deploy(t, map[string]string{"TenantRegistrySecretName": "tenant-registry"})
	consumed := map[string]bool{}
	for name, r := range s.resources {
		if r["Type"] != "AWS::Lambda::EventSourceMapping" {
			continue
		}
		p := object(t, r["Properties"])
		arn, _ := path(p, "EventSourceArn", "Fn::GetAtt").([]any)
		if len(arn) != 2 || arn[1] != "Arn" {
			t.Errorf("%s: EventSourceArn %s is not a queue's Fn::GetAtt Arn", name, jsonText(p["EventSourceArn"]))
			continue
		}
		queue := arn[0].(string)
		consumed[queue] = true
		fn, _ := path(p, "FunctionName", "Ref").(string)
		timeout, _ := path(s.resources[fn], "Properties", "Timeout").(float64)
		if fn == "" || timeout <= 0 {
			t.Errorf("%s: FunctionName %s is not a function with a Timeout", name, jsonText(p["FunctionName"]))
			continue
		}
		if got := jsonText(p["FunctionResponseTypes"]); got != `["ReportBatchItemFailures"]` {
			t.Errorf("%s: FunctionResponseTypes %s, want [ReportBatchItemFailures]", name, got)
		}
		if b, _ := p["BatchSize"].(float64); b < 1 || b > 10 {
			t.Errorf("%s: BatchSize %v, want 1-10", name, p["BatchSize"])
		}
		if path(p, "ScalingConfig", "MaximumConcurrency") == nil {
			t.Errorf("%s: no ScalingConfig.MaximumConcurrency", name)
		}
		q := object(t, path(s.resources[queue], "Properties"))
		if v, _ := q["VisibilityTimeout"].(float64); v < 6*timeout {
			t.Errorf("%s: VisibilityTimeout %v, want at least 6 x %s's Timeout %v", queue, q["VisibilityTimeout"], fn, timeout)
		}
		if q["SqsManagedSseEnabled"] != true {
			t.Errorf("%s: SqsManagedSseEnabled is not true", queue)
		}
		if fifo, _ := q["FifoQueue"].(bool); fifo {
			t.Errorf("%s is FIFO: its messages cannot have their own DelaySeconds", queue)
		}
		dlq, _ := path(q, "RedrivePolicy", "deadLetterTargetArn", "Fn::GetAtt").([]any)
		if len(dlq) != 2 || path(q, "RedrivePolicy", "maxReceiveCount") != 5.0 {
			t.Errorf("%s: RedrivePolicy %s, want a dead-letter queue after maxReceiveCount 5", queue, jsonText(q["RedrivePolicy"]))
			continue
		}
		dead := object(t, path(s.resources[dlq[0].(string)], "Properties"))
		if d, r := dead["MessageRetentionPeriod"].(float64), q["MessageRetentionPeriod"].(float64); d <= r {
			t.Errorf("%s: retention %v s, want more than %s's %v s (a moved message keeps its enqueue time)", dlq[0], d, queue, r)
		}
		alarmed := false
		for _, a := range s.resources {
			alarmed = alarmed || a["Type"] == "AWS::CloudWatch::Alarm" && path(a, "Properties", "Namespace") == "AWS/SQS" &&
				jsonText(path(a, "Properties", "Dimensions")) == jsonText([]any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": []any{dlq[0], "QueueName"}}}})
		}
		if !alarmed {
			t.Errorf("%s: no alarm on its dead-letter queue %s", queue, dlq[0])
		}
	}
	for _, q := range []string{"FleetQueue", "FollowUpQueue"} {
		if !consumed[q] {
			t.Errorf("no event source mapping consumes %s", q)
		}
	}
	if got := path(s.resources["FollowUpEventSourceMapping"], "Properties", "FunctionName"); jsonText(got) != ref("SyncFunction") {
		t.Errorf("FollowUpEventSourceMapping feeds %s, want the sync function", jsonText(got))
	}
	for output, queue := range map[string]string{"FollowUpQueueUrl": "FollowUpQueue", "FollowUpDeadLetterQueueUrl": "FollowUpDeadLetterQueue"} {
		if got := jsonText(s.outputs[output]["Value"]); got != ref(queue) {
			t.Errorf("output %s = %s, want %s", output, got, ref(queue))
		}
	}
}

// TestTemplateFollowUpPermissions checks that only the sync function's role may use the
// follow-up queue: send (the checks it schedules) and what its event source mapping needs.
func TestTemplateFollowUpPermissions(t *testing.T) {
	s := deploy(t, nil)
	queue := getAtt("FollowUpQueue", "Arn")
	granted := map[string][]string{} // role → actions on the follow-up queue
	for name, r := range s.resources {
		if r["Type"] != "AWS::IAM::Role" {
			continue
		}
		for _, p := range path(r, "Properties", "Policies").([]any) {
			for _, st := range path(p, "PolicyDocument", "Statement").([]any) {
				st := object(t, st)
				var actions []string
				switch a := st["Action"].(type) {
				case string:
					actions = []string{a}
				case []any:
					for _, x := range a {
						actions = append(actions, x.(string))
					}
				}
				onQueue := jsonText(st["Resource"]) == queue
				for _, a := range actions {
					if strings.HasPrefix(a, "sqs:") && (strings.Contains(a, "*") || st["Resource"] == "*") {
						t.Errorf("%s: %s on %s: SQS permissions must name their action and queue", name, a, jsonText(st["Resource"]))
					}
					if onQueue {
						granted[name] = append(granted[name], a)
					}
				}
				if !onQueue && strings.Contains(jsonText(st), "FollowUpQueue") {
					t.Errorf("%s: a statement names the follow-up queue among others: %s", name, jsonText(st))
				}
			}
		}
	}
	for _, actions := range granted {
		slices.Sort(actions)
	}
	want := map[string][]string{"SyncFunctionRole": {"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"}}
	if !maps.EqualFunc(granted, want, slices.Equal) {
		t.Errorf("permissions on the follow-up queue: got %v, want %v", granted, want)
	}
	if strings.Contains(jsonText(s.resources["StatusFunction"]), "FollowUp") {
		t.Error("StatusFunction refers to the follow-up")
	}
}

// TestTemplateQueueSenders checks that only the sync function's role may send to the queues
// it consumes (the fleet's and the follow-up's, whose messages it acts on): each has one queue
// policy, under the queue's own condition, whose one statement denies sqs:SendMessage to every
// principal but that role and denies nothing else, so the role's event source mapping still
// receives and deletes. A policy never outlives its queue.
func TestTemplateQueueSenders(t *testing.T) {
	for _, params := range []map[string]string{
		{"TenantRegistrySecretName": "tenant-registry"},
		nil,
		{"FollowUp": "Disabled"},
	} {
		s := deploy(t, params)
		guarded := map[string]string{} // queue → its policy
		for name, r := range s.resources {
			if r["Type"] != "AWS::SQS::QueuePolicy" {
				continue
			}
			queues, _ := path(r, "Properties", "Queues").([]any)
			var queue string
			if len(queues) == 1 {
				queue, _ = path(queues[0], "Ref").(string)
			}
			if queue == "" {
				t.Errorf("%v: %s: Queues %s, want one queue's Ref", params, name, jsonText(queues))
				continue
			}
			if _, ok := s.resources[queue]; !ok {
				t.Errorf("%v: %s guards %s, which does not exist", params, name, queue)
				continue
			}
			if got, want := r["Condition"], s.resources[queue]["Condition"]; got != want {
				t.Errorf("%v: %s has condition %v, want its queue's %v", params, name, got, want)
			}
			guarded[queue] = name
			want := jsonText([]any{map[string]any{
				"Sid": "OnlyTheSyncFunctionSends", "Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage",
				"Resource":  map[string]any{"Fn::GetAtt": []any{queue, "Arn"}},
				"Condition": map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": map[string]any{"Fn::GetAtt": []any{"SyncFunctionRole", "Arn"}}}},
			}})
			if got := jsonText(path(r, "Properties", "PolicyDocument", "Statement")); got != want {
				t.Errorf("%v: %s: statements\n got %s\nwant %s", params, name, got, want)
			}
		}
		for _, queue := range []string{"FleetQueue", "FollowUpQueue"} {
			_, exists := s.resources[queue]
			if _, ok := guarded[queue]; ok != exists {
				t.Errorf("%v: %s exists %v, guarded by a queue policy %v", params, queue, exists, ok)
			}
		}
	}
}

// TestTemplateOutcomeAlarm checks the alarm of SPEC §13 (SyncOutcomeFailed + SyncOutcomeTimedOut
// ≥ 1) against the Embedded Metric Format figures the invocation line writes: the namespace and
// the dimension function = the sync function's kind, as the SyncFailed alarm reads them.
func TestTemplateOutcomeAlarm(t *testing.T) {
	s := deploy(t, map[string]string{"AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops"})
	metric := func(name string) string {
		return jsonText(map[string]any{"Namespace": api.MetricsNamespace, "MetricName": name,
			"Dimensions": []any{map[string]any{"Name": "function", "Value": string(autopilot.FunctionSync)}}})
	}
	failed := object(t, path(s.resources["SyncFailedAlarm"], "Properties"))
	if got, want := jsonText(map[string]any{"Namespace": failed["Namespace"], "MetricName": failed["MetricName"], "Dimensions": failed["Dimensions"]}), metric(action.MetricSyncFailed); got != want {
		t.Errorf("SyncFailedAlarm reads %s, want %s", got, want)
	}

	a := object(t, path(s.resources["SyncOutcomeAlarm"], "Properties"))
	if a == nil {
		t.Fatal("no SyncOutcomeAlarm")
	}
	ids := map[string]string{} // metric → its id
	var expression string
	returned := 0
	for _, m := range a["Metrics"].([]any) {
		m := object(t, m)
		if m["ReturnData"] != false {
			returned++
		}
		if e, ok := m["Expression"].(string); ok {
			expression = e
			continue
		}
		stat := object(t, m["MetricStat"])
		name, _ := path(stat, "Metric", "MetricName").(string)
		if got, want := jsonText(stat["Metric"]), metric(name); got != want {
			t.Errorf("SyncOutcomeAlarm metric %s: %s, want %s", m["Id"], got, want)
		}
		if stat["Stat"] != "Sum" {
			t.Errorf("SyncOutcomeAlarm metric %s: Stat %v, want Sum", m["Id"], stat["Stat"])
		}
		ids[name] = m["Id"].(string)
	}
	if len(ids) != 2 || ids["SyncOutcomeFailed"] == "" || ids["SyncOutcomeTimedOut"] == "" {
		t.Errorf("SyncOutcomeAlarm metrics %v, want SyncOutcomeFailed and SyncOutcomeTimedOut", ids)
	}
	wantExpr := fmt.Sprintf("FILL(%s, 0) + FILL(%s, 0)", ids["SyncOutcomeFailed"], ids["SyncOutcomeTimedOut"])
	if expression != wantExpr || returned != 1 {
		t.Errorf("SyncOutcomeAlarm expression %q (%d returned), want %q the only one returned", expression, returned, wantExpr)
	}
	if a["Threshold"] != 1.0 || a["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || a["TreatMissingData"] != "notBreaching" {
		t.Errorf("SyncOutcomeAlarm: %v %v %v, want >= 1, missing data not breaching", a["ComparisonOperator"], a["Threshold"], a["TreatMissingData"])
	}
	topic := jsonText([]any{s.params["AlarmTopicArn"]})
	if jsonText(a["AlarmActions"]) != topic || jsonText(a["OKActions"]) != topic {
		t.Errorf("SyncOutcomeAlarm actions %s / %s, want %s", jsonText(a["AlarmActions"]), jsonText(a["OKActions"]), topic)
	}
}

// TestTemplateFollowUpParameters checks the follow-up parameters against the code that reads
// their variables: the defaults are the code's, and every value a parameter's AllowedPattern
// lets through is one the code reads (the ranges beyond a pattern's reach the code reports).
func TestTemplateFollowUpParameters(t *testing.T) {
	tmpl := cfnTemplate(t)
	params := object(t, tmpl["Parameters"])
	param := func(name string) (def string, allowed *regexp.Regexp) {
		t.Helper()
		p := object(t, params[name])
		if p == nil {
			t.Fatalf("no parameter %s", name)
		}
		if pat, ok := p["AllowedPattern"].(string); ok {
			allowed = regexp.MustCompile(pat)
		}
		return scalar(p["Default"]), allowed
	}
	if def, _ := param("FollowUp"); def != "Enabled" {
		t.Errorf("FollowUp defaults to %q, want Enabled (SPEC §10: the template creates the queue)", def)
	}
	first, firstRE := param("FollowUpFirstCheck")
	maxAge, maxAgeRE := param("FollowUpMaxAge")
	if got, err := followup.ParseSchedule(followup.ScheduleValues{FirstCheck: first, MaxAge: maxAge}); err != nil || got != followup.DefaultSchedule() {
		t.Errorf("defaults %q, %q read as %+v (%v), want the code's %+v", first, maxAge, got, err, followup.DefaultSchedule())
	}
	prefixes, prefixesRE := param("SlackResponseUrlPrefixes")
	if prefixes != notify.DefaultSlackPrefixes {
		t.Errorf("SlackResponseUrlPrefixes defaults to %q, want the code's %q", prefixes, notify.DefaultSlackPrefixes)
	}
	for _, name := range []string{"TeamsNotifyUrlSecretName", "CallbackTargetsSecretName", "CallbackSigningSecretName"} {
		if def, re := param(name); def != "" || re == nil || !re.MatchString("") || !re.MatchString("callback-targets-2") || re.MatchString("a_b") {
			t.Errorf("%s: default %q, pattern %v: want empty (off) and Key Vault secret names", name, def, re)
		}
	}

	for _, tc := range []struct {
		param string
		re    *regexp.Regexp
		value string
		ok    bool
	}{
		{"FollowUpFirstCheck", firstRE, "60s", true},
		{"FollowUpFirstCheck", firstRE, "90", true},
		{"FollowUpFirstCheck", firstRE, "2m30s", true},
		{"FollowUpFirstCheck", firstRE, "15m", true},
		{"FollowUpFirstCheck", firstRE, "1.5s", false},
		{"FollowUpFirstCheck", firstRE, "1h", false},
		{"FollowUpFirstCheck", firstRE, "500ms", false},
		{"FollowUpFirstCheck", firstRE, "", false},
		{"FollowUpFirstCheck", firstRE, "-1", false},
		{"FollowUpMaxAge", maxAgeRE, "60m", true},
		{"FollowUpMaxAge", maxAgeRE, "12h", true},
		{"FollowUpMaxAge", maxAgeRE, "1h30m", true},
		{"FollowUpMaxAge", maxAgeRE, "3600", true},
		{"FollowUpMaxAge", maxAgeRE, "1d", false},
		{"FollowUpMaxAge", maxAgeRE, "60 m", false},
		{"SlackResponseUrlPrefixes", prefixesRE, "https://hooks.slack.com/", true},
		{"SlackResponseUrlPrefixes", prefixesRE, "https://hooks.slack.com/,https://hooks.slack-gov.com/", true},
		{"SlackResponseUrlPrefixes", prefixesRE, "https://hooks.slack.com", false},
		{"SlackResponseUrlPrefixes", prefixesRE, "http://hooks.slack.com/", false},
		{"SlackResponseUrlPrefixes", prefixesRE, "https://hooks.slack.com/, https://hooks.slack-gov.com/", false},
		{"SlackResponseUrlPrefixes", prefixesRE, "", false},
	} {
		t.Run(tc.param+"="+tc.value, func(t *testing.T) {
			if tc.re == nil {
				t.Fatalf("%s has no AllowedPattern", tc.param)
			}
			if got := tc.re.MatchString(tc.value); got != tc.ok {
				t.Fatalf("AllowedPattern %s matches %q: %v, want %v", tc.re, tc.value, got, tc.ok)
			}
			if !tc.ok {
				return
			}
			var err error
			switch tc.param {
			case "FollowUpFirstCheck":
				_, err = followup.ParseSchedule(followup.ScheduleValues{FirstCheck: tc.value})
			case "FollowUpMaxAge":
				_, err = followup.ParseSchedule(followup.ScheduleValues{MaxAge: tc.value})
			default:
				_, err = notify.ParseSlackPrefixes(tc.value)
			}
			if err != nil {
				t.Errorf("the pattern lets %q through, but the code refuses it: %v", tc.value, err)
			}
		})
	}
}
