package autopilotsync_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
)

// What only a deployment knows, as the dashboard tests deploy the template in their heads.
const (
	testRegion    = "eu-central-2"
	testStackName = "autopilot-sync-test"
	testAccountID = "123456789012"
)

// dashboardMetric is an Embedded Metric Format figure of the invocation lines (SPEC §12) that the
// dashboard may show.
type dashboardMetric struct {
	name      string
	unit      string               // Count, Seconds or Milliseconds
	functions []autopilot.Function // the functions whose lines carry it
	coming    string               // the issue that brings it, while the Go code does not write it yet
}

var (
	syncOnly      = []autopilot.Function{autopilot.FunctionSync}
	bothFunctions = []autopilot.Function{autopilot.FunctionSync, autopilot.FunctionStatus}
)

// dashboardMetrics are the names the dashboard may show, as SPEC §12–§17 and issues 22–24 spell
// them. A Count is 0 or 1 on its line (DevicesImported, DeviceImportFailed, DeliveryFailures and
// DeliveriesGivenUp count devices or deliveries of the line), so its Sum counts events.
var dashboardMetrics = []dashboardMetric{
	{"Latency", "Milliseconds", bothFunctions, ""},
	{"GraphLatency", "Milliseconds", bothFunctions, ""},
	{"SyncStarted", "Count", syncOnly, ""},
	{"SyncInProgress", "Count", syncOnly, ""},
	{"SyncThrottled", "Count", syncOnly, ""},
	{"SyncFailed", "Count", syncOnly, ""},
	{"SyncOutcomeCompleted", "Count", syncOnly, ""},
	{"SyncOutcomeFailed", "Count", syncOnly, ""},
	{"SyncOutcomeTimedOut", "Count", syncOnly, ""},
	{"SyncDurationSeconds", "Seconds", syncOnly, ""},
	{"DeliveryFailures", "Count", syncOnly, ""},
	{"DeliveriesGivenUp", "Count", syncOnly, ""},
	{"SyncDeferred", "Count", syncOnly, ""},
	{"SyncMerged", "Count", syncOnly, ""},
	{"DevicesReady", "Count", syncOnly, ""},
	{"DevicesNotReady", "Count", syncOnly, ""},
	{"DeviceWaitSeconds", "Seconds", syncOnly, ""},
	{"DevicesImported", "Count", syncOnly, ""},
	{"DeviceImportFailed", "Count", syncOnly, ""},
}

// TestTemplateDashboard reads the dashboard's body as CloudWatch would, for the stacks a deployer
// may make: valid JSON once Fn::Sub is resolved; widgets on the 24-column grid that do not
// overlap; every metric one of dashboardMetrics, with the function dimension of a function that
// writes it and a statistic that fits it; every alarm and queue it names a resource of that
// stack; and all of them shown: each metric of each function, each alarm, and the depth of each
// queue no event source consumes (the dead-letter queues and the failure destination).
func TestTemplateDashboard(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params map[string]string
	}{
		{"defaults", nil},
		{"fleet", map[string]string{"TenantRegistrySecretName": "tenant-registry"}},
		{"no follow-up", map[string]string{"FollowUp": "Disabled"}},
		{"fleet without follow-up", map[string]string{"TenantRegistrySecretName": "tenant-registry", "FollowUp": "Disabled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := deploy(t, tc.params)
			r := newSubst(t, s, testStackName)
			d := dashboardOf(t, s, r)
			checkLayout(t, d)
			shown, alarms, queues := dashboardContents(t, d, r)

			for _, m := range dashboardMetrics {
				for _, fn := range m.functions {
					if !shown[m.name+" "+string(fn)] {
						t.Errorf("the dashboard does not show %s of the %s function", m.name, fn)
					}
				}
			}
			for _, name := range resourcesOfType(s, "AWS::CloudWatch::Alarm") {
				if !alarms[name] {
					t.Errorf("alarm %s is on no alarm widget", name)
				}
			}
			consumed := map[string]bool{}
			for _, name := range resourcesOfType(s, "AWS::Lambda::EventSourceMapping") {
				if arn, ok := path(s.resources[name], "Properties", "EventSourceArn", "Fn::GetAtt").([]any); ok && len(arn) == 2 {
					consumed[fmt.Sprint(arn[0])] = true
				}
			}
			for _, name := range resourcesOfType(s, "AWS::SQS::Queue") {
				if !consumed[name] && !queues[name] {
					t.Errorf("dead-letter queue %s: its depth is not on the dashboard", name)
				}
			}
		})
	}
}

// TestTemplateDashboardMetricNames holds dashboardMetrics against the Go code: every metric the
// list says the functions already write is the value of a Metric constant that internal/action or
// internal/api uses, and every such constant is in the list, so a metric added under another name
// than the one the dashboard shows fails here.
func TestTemplateDashboardMetricNames(t *testing.T) {
	written := goMetricNames(t)
	listed := map[string]bool{}
	for _, m := range dashboardMetrics {
		if listed[m.name] {
			t.Errorf("%s is listed twice", m.name)
		}
		listed[m.name] = true
		if m.coming == "" && !written[m.name] {
			t.Errorf("%s: no Metric constant of internal/action or internal/api with this value is used, yet the list says the code writes it", m.name)
		}
	}
	for name := range written {
		if !listed[name] {
			t.Errorf("the code writes %s: add it to dashboardMetrics and to the dashboard in template.yaml", name)
		}
	}
}

// TestTemplateDashboardOutput checks the dashboard's name (stack name and region: dashboard names
// are unique per account, across regions, and CloudWatch allows [A-Za-z0-9_-] up to 255
// characters, which the longest stack name leaves room for) and the Dashboard output's console
// URL, and that Dashboard=Disabled leaves both out.
func TestTemplateDashboardOutput(t *testing.T) {
	longestStackName := "a" + strings.Repeat("-b", 63) + "c" // CloudFormation allows 128 characters
	nameRE := regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	for _, tc := range []struct {
		name      string
		params    map[string]string
		stackName string
		want      string // the dashboard's name; "" for none
	}{
		{"enabled by default", nil, testStackName, testStackName + "-" + testRegion},
		{"longest stack name", map[string]string{"Dashboard": "Enabled"}, longestStackName, longestStackName + "-" + testRegion},
		{"disabled", map[string]string{"Dashboard": "Disabled"}, testStackName, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := deploy(t, tc.params)
			dashboards := resourcesOfType(s, "AWS::CloudWatch::Dashboard")
			output, hasOutput := s.outputs["Dashboard"]
			if tc.want == "" {
				if len(dashboards) != 0 || hasOutput {
					t.Errorf("dashboards %q, output Dashboard %v; want none", dashboards, hasOutput)
				}
				return
			}
			if len(dashboards) != 1 || !hasOutput {
				t.Fatalf("dashboards %q, output Dashboard %v; want one of each", dashboards, hasOutput)
			}
			r := newSubst(t, s, tc.stackName)
			name := r.resolve(path(s.resources[dashboards[0]], "Properties", "DashboardName"))
			if name != tc.want || !nameRE.MatchString(name) {
				t.Errorf("dashboard name %q, want %q within /%s/", name, tc.want, nameRE)
			}
			got := r.resolve(output["Value"])
			want := fmt.Sprintf("https://%[1]s.console.aws.amazon.com/cloudwatch/home?region=%[1]s#dashboards:name=%[2]s", testRegion, tc.want)
			if got != want {
				t.Errorf("output Dashboard\n got %s\nwant %s", got, want)
			}
		})
	}
}

// dashboardContents walks the widgets of d: it returns the metrics shown ("<metric> <function>")
// and the logical ids of the alarms and queues named, and reports whatever is not one of
// dashboardMetrics, with a function that writes it and a statistic that fits it, or a resource
// of the stack.
func dashboardContents(t *testing.T, d dashboard, r *subst) (shown, alarms, queues map[string]bool) {
	t.Helper()
	metrics := map[string]dashboardMetric{}
	for _, m := range dashboardMetrics {
		metrics[m.name] = m
	}
	shown, alarms, queues = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, w := range d.Widgets {
		switch w.Type {
		case "text":
		case "alarm":
			for _, a := range w.Properties.Alarms {
				name, err := r.standsFor(a, "Arn", "AWS::CloudWatch::Alarm")
				if err != nil {
					t.Errorf("widget %q: alarm %v", w.Properties.Title, err)
				}
				alarms[name] = true
			}
		case "metric":
			if w.Properties.Region != testRegion {
				t.Errorf("widget %q: region %q, want the stack's (${AWS::Region})", w.Properties.Title, w.Properties.Region)
			}
			for _, entry := range w.Properties.Metrics {
				m, err := parseMetricEntry(entry, w.Properties.Stat)
				if err != nil {
					t.Errorf("widget %q: %v", w.Properties.Title, err)
					continue
				}
				switch m.namespace {
				case api.MetricsNamespace:
					known, ok := metrics[m.name]
					if !ok {
						t.Errorf("widget %q shows %s, which is not among the metrics the functions write (dashboardMetrics)", w.Properties.Title, m.name)
						continue
					}
					var fn autopilot.Function
					if len(m.dims) == 2 && m.dims[0] == "function" {
						fn = autopilot.Function(m.dims[1])
					}
					if !slices.Contains(known.functions, fn) {
						t.Errorf("widget %q: %s with dimensions %q, want function = one of %q", w.Properties.Title, m.name, m.dims, known.functions)
					}
					if !statFits(known.unit, m.stat) {
						t.Errorf("widget %q: %s (%s) shown as %s", w.Properties.Title, m.name, known.unit, m.stat)
					}
					shown[m.name+" "+string(fn)] = true
				case "AWS/SQS":
					if m.name != "ApproximateNumberOfMessagesVisible" || len(m.dims) != 2 || m.dims[0] != "QueueName" {
						t.Errorf("widget %q: AWS/SQS %s %q, want a queue's ApproximateNumberOfMessagesVisible", w.Properties.Title, m.name, m.dims)
						continue
					}
					name, err := r.standsFor(m.dims[1], "QueueName", "AWS::SQS::Queue")
					if err != nil {
						t.Errorf("widget %q: queue %v", w.Properties.Title, err)
					}
					queues[name] = true
				default:
					t.Errorf("widget %q: metric of namespace %q; the dashboard shows %s and AWS/SQS only", w.Properties.Title, m.namespace, api.MetricsNamespace)
				}
			}
		default:
			t.Errorf("widget of type %q; the dashboard has text, alarm and metric widgets", w.Type)
		}
	}
	return shown, alarms, queues
}

// dashboard is what the tests read of a DashboardBody.
type dashboard struct {
	Widgets []dashboardWidget `json:"widgets"`
}

type dashboardWidget struct {
	Type       string `json:"type"`
	X          int    `json:"x"`
	Y          int    `json:"y"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Properties struct {
		Title   string   `json:"title"`
		Region  string   `json:"region"`
		Stat    string   `json:"stat"`
		Metrics [][]any  `json:"metrics"`
		Alarms  []string `json:"alarms"`
	} `json:"properties"`
}

// resourcesOfType returns the logical ids of the resources of s of type typ.
func resourcesOfType(s *stack, typ string) []string {
	var names []string
	for name, res := range s.resources {
		if res["Type"] == typ {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// dashboardOf returns the one dashboard of s, its body resolved by r and decoded.
func dashboardOf(t *testing.T, s *stack, r *subst) dashboard {
	t.Helper()
	found := resourcesOfType(s, "AWS::CloudWatch::Dashboard")
	if len(found) != 1 {
		t.Fatalf("dashboards %q, want one", found)
	}
	body := r.resolve(path(s.resources[found[0]], "Properties", "DashboardBody"))
	var d dashboard
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		if syntax := (*json.SyntaxError)(nil); errors.As(err, &syntax) {
			from, to := max(0, int(syntax.Offset)-120), min(len(body), int(syntax.Offset)+20)
			t.Fatalf("%s: the body is not JSON once resolved: %v, near\n%s", found[0], err, body[from:to])
		}
		t.Fatalf("%s: the body does not decode as a dashboard: %v", found[0], err)
	}
	if len(d.Widgets) == 0 || len(d.Widgets) > 500 {
		t.Fatalf("%s: %d widgets, want 1 to 500", found[0], len(d.Widgets))
	}
	return d
}

// checkLayout checks that every widget stands on the 24-column grid and no two overlap.
func checkLayout(t *testing.T, d dashboard) {
	t.Helper()
	for i, w := range d.Widgets {
		if w.X < 0 || w.Y < 0 || w.Width < 1 || w.Height < 1 || w.X+w.Width > 24 {
			t.Errorf("widget %d %q at x %d y %d, %d x %d: off the 24-column grid", i, w.Properties.Title, w.X, w.Y, w.Width, w.Height)
		}
		for j, v := range d.Widgets[:i] {
			if w.X < v.X+v.Width && v.X < w.X+w.Width && w.Y < v.Y+v.Height && v.Y < w.Y+w.Height {
				t.Errorf("widgets %d %q and %d %q overlap", j, v.Properties.Title, i, w.Properties.Title)
			}
		}
	}
}

// metricEntry is one entry of a metric widget's metrics array:
// [namespace, name, dimension, value, …, {options}].
type metricEntry struct {
	namespace, name string
	dims            []string
	stat            string
}

// parseMetricEntry reads an entry; stat is the widget's, which an entry's own options override
// (CloudWatch's default is Average). Math expressions and the "." shorthand are errors: the test
// would not see the metrics they name.
func parseMetricEntry(entry []any, stat string) (metricEntry, error) {
	var words []string
	for i, x := range entry {
		switch x := x.(type) {
		case string:
			if x == "." {
				return metricEntry{}, fmt.Errorf("metric %v uses the \".\" shorthand: write each metric in full", entry)
			}
			words = append(words, x)
		case map[string]any:
			if i != len(entry)-1 || i < 2 {
				return metricEntry{}, fmt.Errorf("metric %v: options only after namespace, name and dimensions (an expression is not read by this test)", entry)
			}
			if s, ok := x["stat"].(string); ok {
				stat = s
			}
		default:
			return metricEntry{}, fmt.Errorf("metric %v: %v is neither text nor options", entry, x)
		}
	}
	if len(words) < 2 || len(words)%2 != 0 {
		return metricEntry{}, fmt.Errorf("metric %v: want namespace, name and dimension pairs", entry)
	}
	if stat == "" {
		stat = "Average"
	}
	return metricEntry{namespace: words[0], name: words[1], dims: words[2:], stat: stat}, nil
}

var percentileRE = regexp.MustCompile(`^p\d{1,2}(\.\d+)?$`)

// statFits says whether stat reads a metric of unit: a 0-or-1 count sums or averages (a rate);
// a duration takes percentiles and extremes, never a sum.
func statFits(unit, stat string) bool {
	if unit == "Count" {
		return stat == "Sum" || stat == "Average"
	}
	return stat == "Average" || stat == "Maximum" || stat == "Minimum" || percentileRE.MatchString(stat)
}

// subst resolves Fn::Sub, Fn::GetAtt and Ref as CloudFormation would in one region and stack,
// with placeholders for what only a deployment knows, and remembers what each placeholder
// stands for. A reference to a resource the stack does not have is an error.
type subst struct {
	t         *testing.T
	s         *stack
	stackName string
	stands    map[string][2]string // placeholder → logical id, attribute
}

func newSubst(t *testing.T, s *stack, stackName string) *subst {
	return &subst{t: t, s: s, stackName: stackName, stands: map[string][2]string{}}
}

var subVariableRE = regexp.MustCompile(`\$\{([^}]*)\}`)

// resolve returns v as text: a string as it is, Fn::Sub with its variables, Fn::GetAtt, Ref.
func (r *subst) resolve(v any) string {
	r.t.Helper()
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if x, ok := v["Fn::Sub"]; ok && len(v) == 1 {
			return r.sub(x)
		}
		if x, ok := v["Fn::GetAtt"].([]any); ok && len(v) == 1 && len(x) == 2 {
			return r.getAtt(fmt.Sprint(x[0]), fmt.Sprint(x[1]))
		}
		if x, ok := v["Ref"].(string); ok && len(v) == 1 {
			return r.ref(x)
		}
	}
	r.t.Fatalf("cannot resolve %s", jsonText(v))
	return ""
}

func (r *subst) sub(x any) string {
	r.t.Helper()
	text, isText := x.(string)
	vars := map[string]any{}
	if list, ok := x.([]any); ok && len(list) == 2 {
		text, isText = list[0].(string)
		vars = object(r.t, list[1])
	}
	if !isText {
		r.t.Fatalf("Fn::Sub of %s", jsonText(x))
	}
	return subVariableRE.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		if literal, ok := strings.CutPrefix(name, "!"); ok {
			return "${" + literal + "}"
		}
		if v, ok := vars[name]; ok {
			return r.resolve(v)
		}
		if res, attr, ok := strings.Cut(name, "."); ok {
			return r.getAtt(res, attr)
		}
		return r.ref(name)
	})
}

func (r *subst) ref(name string) string {
	r.t.Helper()
	switch name {
	case "AWS::Region":
		return testRegion
	case "AWS::StackName":
		return r.stackName
	case "AWS::AccountId":
		return testAccountID
	case "AWS::Partition":
		return "aws"
	case "AWS::URLSuffix":
		return "amazonaws.com"
	}
	if p, ok := r.s.params[name]; ok {
		return p
	}
	res, ok := r.s.resources[name]
	if !ok {
		r.t.Errorf("Ref %s: no such parameter, and no such resource in this stack (%v)", name, r.s.params)
		return "<no " + name + ">"
	}
	if res["Type"] == "AWS::CloudWatch::Dashboard" { // its Ref is its name
		return r.resolve(path(res, "Properties", "DashboardName"))
	}
	return r.placeholder(name, "Ref")
}

func (r *subst) getAtt(name, attr string) string {
	r.t.Helper()
	if _, ok := r.s.resources[name]; !ok {
		r.t.Errorf("%s.%s: no resource %s in this stack", name, attr, name)
		return "<no " + name + ">"
	}
	return r.placeholder(name, attr)
}

func (r *subst) placeholder(name, attr string) string {
	p := r.stackName + "-" + name + "-" + attr
	r.stands[p] = [2]string{name, attr}
	return p
}

// standsFor returns the logical id of the resource that placeholder stands for, which must be
// attr of a resource of typ.
func (r *subst) standsFor(placeholder, attr, typ string) (string, error) {
	ref, ok := r.stands[placeholder]
	if !ok || ref[1] != attr || r.s.resources[ref[0]]["Type"] != typ {
		return "", fmt.Errorf("%q is not the %s of a resource of type %s", placeholder, attr, typ)
	}
	return ref[0], nil
}

// goMetricNames returns the values of the Metric constants (not MetricsNamespace) that
// internal/action and internal/api declare and use beyond their declaration.
func goMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	values := map[string]string{} // constant → value
	uses := map[string]int{}      // identifier → occurrences, the declaration included
	for _, dir := range []string{"internal/action", "internal/api"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.Ident:
					uses[n.Name]++
				case *ast.ValueSpec:
					for i, id := range n.Names {
						if !strings.HasPrefix(id.Name, "Metric") || id.Name == "MetricsNamespace" || i >= len(n.Values) {
							continue
						}
						if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							if v, err := strconv.Unquote(lit.Value); err == nil {
								values[id.Name] = v
							}
						}
					}
				}
				return true
			})
		}
	}
	names := map[string]bool{}
	for id, v := range values {
		if uses[id] > 1 {
			names[v] = true
		}
	}
	if len(names) == 0 {
		t.Fatal("no Metric constants in internal/action or internal/api: has the code moved?")
	}
	return names
}
