package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

// fakeFleet is a hand-written fake of our own Tenants interface: tenants by name, in order.
type fakeFleet struct {
	names   []string
	tenants map[string]action.Intune
}

func (f *fakeFleet) Select(_ context.Context, selector string) (action.Intune, string, error) {
	if selector == "" {
		return nil, "", autopilot.ErrNoTenantSelected
	}
	in, ok := f.tenants[selector]
	if !ok {
		return nil, "", fmt.Errorf("%q: %w", selector, autopilot.ErrUnknownTenant)
	}
	return in, selector, nil
}

func (f *fakeFleet) Names(context.Context) ([]string, error) { return f.names, nil }

// fakeQueue records what a fan-out enqueued.
type fakeQueue struct {
	mu  sync.Mutex
	got []string
	err error
}

// SendBatchNamed records the tenant of each message, read back from its body as the SQS consumer
// reads it, and checks the labels name the same tenants.
func (q *fakeQueue) SendBatchNamed(_ context.Context, bodies [][]byte, labels []string) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, b := range bodies {
		tenant, ok := action.FleetTenant(b)
		if !ok || labels[i] != tenant {
			return 0, fmt.Errorf("message %s labelled %q is no fleet message of that tenant", b, labels[i])
		}
		q.got = append(q.got, tenant)
	}
	return len(bodies), q.err
}

func newFleet() *fakeFleet {
	return &fakeFleet{
		names: []string{"contoso", "fabrikam", "tailspin", "northwind", "adatum"},
		tenants: map[string]action.Intune{
			"contoso":   &fakeIntune{settings: graph.Settings{ID: "c", SyncStatus: graph.SyncStatusCompleted}},
			"fabrikam":  &fakeIntune{syncErr: &graph.Error{StatusCode: 409}, settings: graph.Settings{ID: "f", SyncStatus: graph.SyncStatusInProgress}},
			"tailspin":  &fakeIntune{syncErr: &graph.Error{StatusCode: 429}, getErr: &graph.Error{StatusCode: 503}},
			"northwind": &fakeIntune{syncErr: &graph.Error{StatusCode: 503}, getErr: &graph.Error{StatusCode: 503}},
			"adatum":    &fakeIntune{syncErr: &graph.Error{StatusCode: 403}, getErr: &graph.Error{StatusCode: 403}},
		},
	}
}

// testFleetARN is the fleet queue's ARN in these tests: their records carry it.
const testFleetARN = "arn:aws:sqs:eu-west-1:123456789012:fleet"

func newFleetFunction(kind autopilot.Function, q action.Enqueuer) *Function {
	return New(kind, Deps{Deps: action.Deps{Tenants: newFleet(), Fleet: q, FleetARN: testFleetARN, Now: func() time.Time { return now }}, AllowUnauthenticated: true})
}

func TestFleetSelection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		kind       autopilot.Function
		method     string
		target     string
		wantStatus int
		wantCode   string
	}{
		{"no tenant selected", autopilot.FunctionSync, http.MethodPost, "/sync", 400, "badRequest"},
		{"unknown tenant", autopilot.FunctionSync, http.MethodPost, "/sync?tenant=wingtip", 404, "unknownTenant"},
		{"tenant given twice", autopilot.FunctionStatus, http.MethodGet, "/status?tenant=contoso&tenant=fabrikam", 400, "badRequest"},
		{"selected by name", autopilot.FunctionSync, http.MethodPost, "/sync?tenant=contoso", 202, ""},
		{"selected, upper case", autopilot.FunctionStatus, http.MethodGet, "/status?tenant=CONTOSO", 200, ""},
		{"selected tenant throttled", autopilot.FunctionSync, http.MethodPost, "/sync?tenant=tailspin", 429, "syncThrottled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := do(t, newFleetFunction(tt.kind, nil), tt.method, tt.target, "", "")
			if got.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %v", got.status, tt.wantStatus, got.body)
			}
			if code, _ := got.body["code"].(string); code != tt.wantCode {
				t.Errorf("code = %q, want %q", code, tt.wantCode)
			}
			if tt.wantCode == "syncThrottled" && got.body["tenant"] != "tailspin" {
				t.Errorf("the problem does not name the tenant: %v", got.body)
			}
		})
	}
}

func TestFleetStatus(t *testing.T) {
	t.Parallel()
	got := do(t, newFleetFunction(autopilot.FunctionStatus, nil), http.MethodGet, "/status?tenant=all", "", "")
	if got.status != 200 {
		t.Fatalf("status = %d: %v", got.status, got.body)
	}
	var results []string
	for _, e := range got.body["tenants"].([]any) {
		m := e.(map[string]any)
		results = append(results, m["name"].(string)+"="+m["result"].(string))
	}
	want := []string{"contoso=ok", "fabrikam=ok", "tailspin=graphUnavailable", "northwind=graphUnavailable", "adatum=graphPermissionDenied"}
	if diff := cmp.Diff(want, results); diff != "" {
		t.Errorf("fleet status (-want +got):\n%s", diff)
	}
	first := got.body["tenants"].([]any)[0].(map[string]any)
	if first["syncStatus"] != "completed" || first["id"] != "c" {
		t.Errorf("an ok entry lacks the status fields: %v", first)
	}
}

func invoke(t *testing.T, f *Function, event string) (map[string]any, error) {
	t.Helper()
	out, err := f.Invoke(context.Background(), json.RawMessage(event))
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(out)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m, nil
}

func TestDirectInvocations(t *testing.T) {
	t.Parallel()
	q := &fakeQueue{}
	f := newFleetFunction(autopilot.FunctionSync, q)
	got, err := invoke(t, f, `{"action":"sync","tenants":"all"}`)
	if err != nil || got["enqueued"] != 5.0 {
		t.Fatalf("fan-out: %v, %v", got, err)
	}
	if diff := cmp.Diff(newFleet().names, q.got); diff != "" {
		t.Errorf("enqueued (-want +got):\n%s", diff)
	}
	tests := []struct {
		event      string
		wantResult string
		wantErr    string
	}{
		{`{"action":"sync","tenant":"contoso"}`, "started", ""},
		{`{"action":"sync","tenant":"fabrikam"}`, "inProgress", ""},
		{`{"action":"sync","tenant":"tailspin"}`, "throttled", ""},
		{`{"action":"sync","tenant":"northwind"}`, "", `graphUnavailable: tenant "northwind"`},
		{`{"action":"sync","tenant":"adatum"}`, "", "graphPermissionDenied"},
		{`{"action":"sync","tenant":"wingtip"}`, "", "unknownTenant"},
		{`{"action":"sync"}`, "", "badRequest"},
		{`{"action":"status","tenant":"contoso"}`, "", ""},
		{`{"action":"delete","tenant":"contoso"}`, "", "unsupported action"},
		{`{"action":"sync","tenants":"some"}`, "", `"tenants" takes only "all"`},
		{`{"action":"sync","tenants":"all","tenant":"contoso"}`, "", "not both"},
		{`{"version":"0","detail-type":"Scheduled Event","source":"aws.scheduler","detail":{}}`, "", "badRequest"},
		{`{"version":"0","detail-type":"Scheduled Event","source":"aws.scheduler","tenant":"contoso","detail":{}}`, "started", ""},
	}
	for _, tt := range tests {
		got, err := invoke(t, f, tt.event)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: err = %v, want %q", tt.event, err, tt.wantErr)
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: err = %v", tt.event, err)
		case tt.wantResult != "" && got["result"] != tt.wantResult:
			t.Errorf("%s: result = %v, want %s", tt.event, got["result"], tt.wantResult)
		}
	}
	q.err = errors.New("sqs: AccessDenied on queue https://sqs.example/q: grant sqs:SendMessage")
	if _, err := invoke(t, f, `{"action":"sync","tenants":"all"}`); err == nil || !strings.Contains(err.Error(), "sqs:SendMessage") {
		t.Errorf("failed fan-out: err = %v", err)
	}
	if _, err := invoke(t, newFleetFunction(autopilot.FunctionSync, nil), `{"action":"sync","tenants":"all"}`); err == nil || !strings.Contains(err.Error(), "FLEET_QUEUE_URL") {
		t.Errorf("fan-out without a queue: err = %v", err)
	}
}

func TestSQSBatch(t *testing.T) {
	t.Parallel()
	f := newFleetFunction(autopilot.FunctionSync, nil)
	records := []string{}
	for i, body := range []string{
		`{"tenant":"contoso"}`, `{"tenant":"fabrikam"}`, `{"tenant":"tailspin"}`, `{"tenant":"northwind"}`,
		`{"tenant":"adatum"}`, `{"tenant":"wingtip"}`, `not json`, `{"tenant":"NORTHWIND"}`,
	} {
		b, _ := json.Marshal(body)
		records = append(records, fmt.Sprintf(`{"messageId":"m%d","receiptHandle":"r","body":%s,"eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:eu-west-1:123456789012:fleet","awsRegion":"eu-west-1"}`, i, b))
	}
	got, err := invoke(t, f, `{"Records":[`+strings.Join(records, ",")+`]}`)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, e := range got["batchItemFailures"].([]any) {
		failed = append(failed, e.(map[string]any)["itemIdentifier"].(string))
	}
	slices.Sort(failed)
	if diff := cmp.Diff([]string{"m3", "m7"}, failed); diff != "" {
		t.Errorf("batchItemFailures: only the transient failures (northwind's 503) (-want +got):\n%s", diff)
	}
	if _, err := newFleetFunction(autopilot.FunctionStatus, nil).Invoke(context.Background(), json.RawMessage(`{"Records":[{"eventSource":"aws:sqs","body":"{}"}]}`)); err == nil {
		t.Error("the status function accepted an SQS batch")
	}
}

func TestChatTenant(t *testing.T) {
	t.Parallel()
	f := newFleetFunction(autopilot.FunctionSync, nil)
	got := do(t, f, http.MethodPost, "/sync", slackForm, slackBody("sync contoso"))
	if text, _ := got.body["text"].(string); got.status != 200 || !strings.Contains(text, "contoso: Sync of Windows Autopilot devices started") {
		t.Errorf("sync contoso: %d %v", got.status, got.body)
	}
	got = do(t, f, http.MethodPost, "/sync", slackForm, slackBody("status wingtip"))
	if text, _ := got.body["text"].(string); got.status != 200 || !strings.Contains(text, "wingtip") {
		t.Errorf("status wingtip: %d %v", got.status, got.body)
	}
}

// TestSampleInvocations serves the events/ samples of direct invocations and of a fleet SQS batch.
func TestSampleInvocations(t *testing.T) {
	t.Parallel()
	q := &fakeQueue{}
	f := newFleetFunction(autopilot.FunctionSync, q)
	for _, tt := range []struct{ file, want string }{
		{"direct-sync.json", `"result":"started"`},
		{"direct-fanout.json", `"enqueued":5`},
		{"sqs-fleet.json", `"batchItemFailures":[]`},
	} {
		raw, err := fs.ReadFile(autopilotsync.SampleEvents, tt.file)
		if err != nil {
			t.Fatal(err)
		}
		out, err := f.Invoke(context.Background(), raw)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		data, _ := json.Marshal(out)
		if !strings.Contains(string(data), tt.want) {
			t.Errorf("%s: %s, want %s", tt.file, data, tt.want)
		}
	}
}
