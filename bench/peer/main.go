// Command peer is the benchmark's yardstick for autopilot-sync's status function: the same status
// read (GET {graph}/deviceManagement/windowsAutopilotSettings, with a token for a Graph app whose
// client secret is read from Azure Key Vault) done the way Microsoft documents it, through the
// official Microsoft Graph Go SDK (msgraph-sdk-go, its Kiota request adapter and azidentity
// authentication provider) and azsecrets.
//
// The v1.0 SDK has no typed builder for the beta resource windowsAutopilotSettings and the beta
// SDK is not served by this machine's module proxy, so the read is a raw Kiota request to the same
// path through the GraphServiceClient's own request adapter, decoded by a Kiota Parsable as the
// generated beta model would be. Errors are mapped with the SDK's ODataError.
//
// It lives in its own module so that autopilot-sync's go.mod never depends on the Graph SDK. It is
// an API Gateway HTTP API (payload 2.0) Lambda answering the status JSON of SPEC §5; it is built
// and run only by the benchmark (go run ./bench) and is not a product.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// syncInterval is how often Intune allows a manual sync.
const syncInterval = 10 * time.Minute

// settingsTemplate is the Kiota URL template of the beta resource.
const settingsTemplate = "{+baseurl}/deviceManagement/windowsAutopilotSettings"

// config is the subset of autopilot-sync's environment (SPEC §3) the peer needs.
type config struct {
	tenantID, clientID, clientSecret string // bootstrap identity, reads Key Vault
	vaultURL                         string
	graphTenantID, graphClientID     string
	graphSecretName                  string
	graphBaseURL                     string
	loopback                         bool // emulator: no instance discovery or challenge verification
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		tenantID:        getenv("AZURE_TENANT_ID"),
		clientID:        getenv("AZURE_CLIENT_ID"),
		clientSecret:    getenv("AZURE_CLIENT_SECRET"),
		vaultURL:        getenv("KEY_VAULT_URL"),
		graphTenantID:   getenv("GRAPH_TENANT_ID"),
		graphClientID:   getenv("GRAPH_CLIENT_ID"),
		graphSecretName: getenv("GRAPH_CREDENTIAL_SECRET_NAME"),
		graphBaseURL:    strings.TrimSuffix(getenv("GRAPH_BASE_URL"), "/"),
	}
	if c.graphTenantID == "" {
		c.graphTenantID = c.tenantID
	}
	if c.graphSecretName == "" {
		c.graphSecretName = "graph-credential"
	}
	if c.graphBaseURL == "" {
		c.graphBaseURL = "https://graph.microsoft.com/beta"
	}
	for name, v := range map[string]string{"AZURE_TENANT_ID": c.tenantID, "AZURE_CLIENT_ID": c.clientID,
		"AZURE_CLIENT_SECRET": c.clientSecret, "KEY_VAULT_URL": c.vaultURL, "GRAPH_CLIENT_ID": c.graphClientID} {
		if v == "" {
			return c, fmt.Errorf("%s is required", name)
		}
	}
	u, err := url.Parse(c.graphBaseURL)
	if err != nil || u.Hostname() == "" {
		return c, fmt.Errorf("GRAPH_BASE_URL %q is not a URL", c.graphBaseURL)
	}
	switch u.Hostname() {
	case "127.0.0.1", "::1", "localhost":
		c.loopback = true
	}
	return c, nil
}

// peer holds the Key Vault client for the life of the process and the Graph client once the
// secret has been read (lazily, on the first invocation, as autopilot-sync does).
type peer struct {
	cfg   config
	vault *azsecrets.Client

	mu    sync.Mutex
	graph *msgraphsdk.GraphServiceClient
}

func newPeer(cfg config) (*peer, error) {
	cred, err := azidentity.NewClientSecretCredential(cfg.tenantID, cfg.clientID, cfg.clientSecret,
		&azidentity.ClientSecretCredentialOptions{DisableInstanceDiscovery: cfg.loopback})
	if err != nil {
		return nil, fmt.Errorf("bootstrap credential: %w", err)
	}
	vault, err := azsecrets.NewClient(cfg.vaultURL, cred,
		&azsecrets.ClientOptions{DisableChallengeResourceVerification: cfg.loopback})
	if err != nil {
		return nil, fmt.Errorf("key vault client: %w", err)
	}
	return &peer{cfg: cfg, vault: vault}, nil
}

// graphClient returns the Graph client, reading the Graph app's secret from Key Vault the first
// time. A failed read is retried on the next invocation.
func (p *peer) graphClient(ctx context.Context) (*msgraphsdk.GraphServiceClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.graph != nil {
		return p.graph, nil
	}
	secret, err := p.vault.GetSecret(ctx, p.cfg.graphSecretName, "", nil)
	if err != nil {
		return nil, fmt.Errorf("read secret %q: %w", p.cfg.graphSecretName, err)
	}
	if secret.Value == nil {
		return nil, fmt.Errorf("secret %q has no value", p.cfg.graphSecretName)
	}
	cred, err := azidentity.NewClientSecretCredential(p.cfg.graphTenantID, p.cfg.graphClientID, *secret.Value,
		&azidentity.ClientSecretCredentialOptions{DisableInstanceDiscovery: p.cfg.loopback})
	if err != nil {
		return nil, fmt.Errorf("graph credential: %w", err)
	}
	u, _ := url.Parse(p.cfg.graphBaseURL) // checked by loadConfig
	client, err := msgraphsdk.NewGraphServiceClientWithCredentialsAndHosts(cred,
		[]string{"https://" + u.Hostname() + "/.default"}, []string{u.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("graph client: %w", err)
	}
	client.GetAdapter().SetBaseUrl(p.cfg.graphBaseURL)
	p.graph = client
	return client, nil
}

// settings reads windowsAutopilotSettings through the SDK's request adapter.
func (p *peer) settings(ctx context.Context) (*autopilotSettings, error) {
	client, err := p.graphClient(ctx)
	if err != nil {
		return nil, err
	}
	ri := abstractions.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(
		abstractions.GET, settingsTemplate, map[string]string{})
	ri.Headers.TryAdd("Accept", "application/json")
	res, err := client.GetAdapter().Send(ctx, ri, createAutopilotSettings,
		abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue})
	if err != nil {
		return nil, fmt.Errorf("get windowsAutopilotSettings: %w", err)
	}
	s, ok := res.(*autopilotSettings)
	if !ok || s == nil {
		return nil, errors.New("get windowsAutopilotSettings: empty answer")
	}
	return s, nil
}

// statusDoc is the status function's answer (SPEC §5).
type statusDoc struct {
	ID                            string     `json:"id"`
	SyncStatus                    string     `json:"syncStatus"`
	LastSyncDateTime              *time.Time `json:"lastSyncDateTime"`
	LastManualSyncTriggerDateTime *time.Time `json:"lastManualSyncTriggerDateTime"`
	NextManualSyncAllowedAt       *time.Time `json:"nextManualSyncAllowedAt"`
	CanSyncNow                    bool       `json:"canSyncNow"`
}

// handle answers GET with the status document and anything else with 405.
func (p *peer) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if req.RequestContext.HTTP.Method != "GET" {
		return jsonAnswer(405, map[string]string{"code": "methodNotAllowed"}), nil
	}
	s, err := p.settings(ctx)
	if err != nil {
		log.Printf("status: %v", err)
		return jsonAnswer(502, map[string]string{"code": "graphError"}), nil
	}
	doc := statusDoc{SyncStatus: deref(s.syncStatus), ID: deref(s.id),
		LastSyncDateTime: s.lastSync, LastManualSyncTriggerDateTime: s.lastManualSync}
	doc.CanSyncNow = doc.SyncStatus != "inProgress"
	if s.lastManualSync != nil && !s.lastManualSync.IsZero() {
		next := s.lastManualSync.Add(syncInterval)
		doc.NextManualSyncAllowedAt = &next
		doc.CanSyncNow = doc.CanSyncNow && !time.Now().Before(next)
	}
	return jsonAnswer(200, doc), nil
}

func jsonAnswer(status int, v any) events.APIGatewayV2HTTPResponse {
	body, _ := json.Marshal(v) // only the types above
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json; charset=utf-8"},
		Body:       string(body),
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// autopilotSettings is the Kiota model of windowsAutopilotSettings, written as the beta SDK
// generates it.
type autopilotSettings struct {
	id, syncStatus           *string
	lastSync, lastManualSync *time.Time
}

func createAutopilotSettings(absser.ParseNode) (absser.Parsable, error) {
	return &autopilotSettings{}, nil
}

// GetFieldDeserializers returns the deserializers of the resource's properties.
func (s *autopilotSettings) GetFieldDeserializers() map[string]func(absser.ParseNode) error {
	return map[string]func(absser.ParseNode) error{
		"id":         func(n absser.ParseNode) (err error) { s.id, err = n.GetStringValue(); return },
		"syncStatus": func(n absser.ParseNode) (err error) { s.syncStatus, err = n.GetStringValue(); return },
		"lastSyncDateTime": func(n absser.ParseNode) (err error) {
			s.lastSync, err = n.GetTimeValue()
			return
		},
		"lastManualSyncTriggerDateTime": func(n absser.ParseNode) (err error) {
			s.lastManualSync, err = n.GetTimeValue()
			return
		},
	}
}

// Serialize writes the resource's properties.
func (s *autopilotSettings) Serialize(w absser.SerializationWriter) error {
	if err := w.WriteStringValue("id", s.id); err != nil {
		return err
	}
	if err := w.WriteStringValue("syncStatus", s.syncStatus); err != nil {
		return err
	}
	if err := w.WriteTimeValue("lastSyncDateTime", s.lastSync); err != nil {
		return err
	}
	return w.WriteTimeValue("lastManualSyncTriggerDateTime", s.lastManualSync)
}

func main() {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		log.Fatalf("peer: %v", err)
	}
	p, err := newPeer(cfg)
	if err != nil {
		log.Fatalf("peer: %v", err)
	}
	lambda.Start(p.handle)
}
