package autopilotsync_test

import (
	"bufio"
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
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
