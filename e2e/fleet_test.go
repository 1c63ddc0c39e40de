package e2e

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// fleetTenant is one tenant of the test registry.
type fleetTenant struct {
	name, tenantID, clientID, secretName, cloud string
}

var fleet = []fleetTenant{
	{"contoso", "11111111-1111-4111-8111-111111111111", "11111111-aaaa-4aaa-8aaa-111111111111", "contoso-graph", "global"},
	{"fabrikam", "22222222-2222-4222-8222-222222222222", "22222222-aaaa-4aaa-8aaa-222222222222", "fabrikam-graph", "global"},
	{"gov", "33333333-3333-4333-8333-333333333333", "33333333-aaaa-4aaa-8aaa-333333333333", "gov-graph", "usgov"},
	// Its credential secret is missing from Key Vault: it fails, and must not hide the others.
	{"broken", "44444444-4444-4444-8444-444444444444", "44444444-aaaa-4aaa-8aaa-444444444444", "broken-graph", "global"},
	// Key Vault answers 503 for its credential: a transient failure.
	{"flaky", "55555555-5555-4555-8555-555555555555", "55555555-aaaa-4aaa-8aaa-555555555555", "flaky-graph", "global"},
}

// newFleetEnv registers the fleet in one emulator (the usgov tenant reached through a proxy
// that sends graph.microsoft.us and login.microsoftonline.us to it) and returns the functions'
// environment.
// fleetQueueURL is the fleet queue of the fleet's sync function.
const fleetQueueURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/autopilot-sync-fleet"

func newFleetEnv(t *testing.T) (*env, map[string]string) {
	t.Helper()
	e := newEnv(t)
	var registry []map[string]string
	for _, ft := range fleet {
		secret := rand.Text()
		e.plant("client secret of "+ft.name, secret)
		e.emu.AddApp(emulator.App{TenantID: ft.tenantID, ClientID: ft.clientID, Secret: secret})
		if ft.cloud != "global" {
			e.emu.SetTenantCloud(ft.tenantID, ft.cloud)
		}
		if ft.name != "broken" {
			e.emu.SetSecret(ft.secretName, secret, "")
		}
		registry = append(registry, map[string]string{"name": ft.name, "tenantId": ft.tenantID, "clientId": ft.clientID,
			"credentialSecretName": ft.secretName, "cloud": ft.cloud})
	}
	data, _ := json.Marshal(registry)
	e.emu.SetSecret("tenant-registry", string(data), "application/json")
	e.emu.AddFault(emulator.Fault{Service: emulator.Vault, PathContains: "flaky-graph", Status: 503})
	proxy, stop := emulator.StartProxy(e.emu.URL())
	t.Cleanup(stop)
	return e, map[string]string{
		"TENANT_REGISTRY_SECRET_NAME": "tenant-registry",
		// Not reached: TestFleetSQSBatch's records name this queue as SQS would.
		"FLEET_QUEUE_URL": fleetQueueURL,
		"HTTPS_PROXY":     proxy,
		"NO_PROXY":        "",
	}
}

func TestFleetStatusAndIsolation(t *testing.T) {
	t.Parallel()
	e, vars := newFleetEnv(t)
	fn := e.start(t, binaries.status, vars)
	all := httpAPIEvent(t, "httpapi-status.json", func(ev *awsevents.APIGatewayV2HTTPRequest) {
		ev.RawQueryString = "tenant=all"
		ev.QueryStringParameters = map[string]string{"tenant": "all"}
	})
	got := decodeHTTP(t, fn.invoke(t, all))
	if got.StatusCode != 200 {
		t.Fatalf("fleet status: %d %s", got.StatusCode, got.Body)
	}
	var results []string
	for _, entry := range got.json(t)["tenants"].([]any) {
		m := entry.(map[string]any)
		results = append(results, m["name"].(string)+"="+m["result"].(string))
	}
	want := []string{"contoso=ok", "fabrikam=ok", "gov=ok", "broken=misconfigured", "flaky=secretStoreUnavailable"}
	if diff := cmp.Diff(want, results); diff != "" {
		t.Errorf("fleet status (-want +got):\n%s", diff)
	}

	// Each tenant selected on its own: by name, by tenant id, and unknown.
	for _, sel := range []string{"contoso", fleet[1].tenantID, "gov", "gov"} {
		ev := httpAPIEvent(t, "httpapi-status.json", func(ev *awsevents.APIGatewayV2HTTPRequest) {
			ev.RawQueryString = "tenant=" + sel
		})
		if got := decodeHTTP(t, fn.invoke(t, ev)); got.StatusCode != 200 {
			t.Errorf("tenant=%s: %d %s", sel, got.StatusCode, got.Body)
		}
	}
	unknown := httpAPIEvent(t, "httpapi-status.json", func(ev *awsevents.APIGatewayV2HTTPRequest) { ev.RawQueryString = "tenant=wingtip" })
	if got := decodeHTTP(t, fn.invoke(t, unknown)); got.StatusCode != 404 || got.json(t)["code"] != "unknownTenant" {
		t.Errorf("unknown tenant: %d %s", got.StatusCode, got.Body)
	}
	if got := decodeHTTP(t, fn.invoke(t, sample(t, "httpapi-status.json"))); got.StatusCode != 400 || !strings.Contains(got.Body, "?tenant=") {
		t.Errorf("no tenant selected: %d %s", got.StatusCode, got.Body)
	}

	// The emulator saw each tenant's Graph requests carry that tenant's own token, and only as
	// many as were made for it: no token crossed tenants or clouds.
	seen := e.emu.Counts().GraphTokensSeen
	wantSeen := map[string]int{fleet[0].tenantID: 2, fleet[1].tenantID: 2, fleet[2].tenantID: 3}
	for id, n := range wantSeen {
		if seen[id] != n {
			t.Errorf("Graph saw %d requests with tenant %s's token, want %d (all: %v)", seen[id], id, n, seen)
		}
	}
	if seen[fleet[3].tenantID] != 0 || seen[fleet[4].tenantID] != 0 {
		t.Errorf("tenants without a credential reached Graph: %v", seen)
	}
}

func TestFleetSQSBatch(t *testing.T) {
	t.Parallel()
	e, vars := newFleetEnv(t)
	fn := e.start(t, binaries.sync, vars)
	bodies := []string{`{"tenant":"contoso"}`, `{"tenant":"contoso"}`, `{"tenant":"gov"}`, `{"tenant":"broken"}`,
		`{"tenant":"flaky"}`, `{"tenant":"wingtip"}`, `garbage`, `{"tenant":"fabrikam"}`}
	var event awsevents.SQSEvent
	for i, b := range bodies {
		event.Records = append(event.Records, awsevents.SQSMessage{
			MessageId: fmt.Sprintf("msg-%d", i), ReceiptHandle: "rh", Body: b, EventSource: "aws:sqs",
			EventSourceARN: queueARN(t, fleetQueueURL, ""), AWSRegion: "eu-west-1",
		})
	}
	raw, _ := json.Marshal(event)
	var resp awsevents.SQSEventResponse
	if err := json.Unmarshal(fn.invokeLogged(t, raw), &resp); err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	slices.Sort(failed)
	// Only flaky's Key Vault 503 is transient: contoso's second message (409), the unknown tenant,
	// the missing credential and the garbage message are done (the last three logged as errors).
	if diff := cmp.Diff([]string{"msg-4"}, failed); diff != "" {
		t.Errorf("batchItemFailures (-want +got):\n%s", diff)
	}
	c := e.emu.Counts()
	if c.Graph["POST sync"] != 4 {
		t.Errorf("Graph saw %d sync requests, want 4 (contoso twice, gov, fabrikam)", c.Graph["POST sync"])
	}
	for _, ft := range fleet[:3] {
		if s := e.emu.Settings(ft.tenantID); s.SyncStatus != "inProgress" {
			t.Errorf("%s: syncStatus %q, want inProgress", ft.name, s.SyncStatus)
		}
	}
	logs := fn.logs.String()
	for _, want := range []string{`"source":"sqs"`, `"code":"unknownTenant"`, `"code":"misconfigured"`, "dropped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s", want)
		}
	}
}
