// Package config reads the functions' configuration from the environment (SPEC §3) once, at cold
// start, and validates it. It never reads secrets from anywhere but the names it is given: secret
// values live in Key Vault, and this package only knows their names.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/awsenv"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Defaults of SPEC §3.
const (
	DefaultAuthorityHost        = "https://login.microsoftonline.com"
	DefaultGraphCredentialName  = "graph-credential"
	DefaultSecretCacheTTL       = 15 * time.Minute
	FederatedTokenSourceAWSSTS  = "aws-sts"
	maxSecretCacheTTL           = 24 * time.Hour
	keyVaultSecretNameMaxLength = 127
)

// Config is the validated configuration of one function process.
type Config struct {
	// Bootstrap identity: the one that reads Key Vault (azidentity's environment conventions).
	TenantID                  string
	ClientID                  string
	ClientSecret              string
	ClientCertificatePath     string
	ClientCertificatePassword string
	FederatedTokenFile        string
	FederatedTokenSource      string
	AuthorityHost             string

	KeyVaultURL string

	// The Graph app registration and the Intune tenant it acts on.
	GraphTenantID             string
	GraphClientID             string
	GraphCredentialSecretName string
	GraphBaseURL              string

	SecretCacheTTL time.Duration

	// Key Vault secret names for caller authentication (SPEC §6); empty means the scheme is off.
	WebhookTokenSecretName string
	WebhookHMACSecretName  string
	SlackSigningSecretName string
	TeamsWebhookSecretName string

	TenantRegistrySecretName string
	FleetQueueURL            string

	// Follow-up of SPEC §13 (the sync function); the values are validated where they are used
	// (wiring), so that the status function never links what only the sync function needs.
	FollowUpQueueURL string
	// DeferWhenBusy is SYNC_WHEN_BUSY=defer (SPEC §16): a sync Graph refuses with 409 or 429 is
	// deferred to the next one; refuse (the default) answers the 409 or 429.
	DeferWhenBusy bool
	// SyncRoleID is SYNC_ROLE_ID, the unique id of the sync function's role (the template sets
	// it): the SenderId of the queue messages the function sent itself. "" checks no sender.
	SyncRoleID                string
	FollowUpFirstCheck        string // FOLLOWUP_FIRST_CHECK, e.g. "60s"
	FollowUpMaxAge            string // FOLLOWUP_MAX_AGE, e.g. "60m"
	DeviceCheckInterval       string // DEVICE_CHECK_INTERVAL, e.g. "5m" (SPEC §15)
	DeviceMaxAge              string // DEVICE_MAX_AGE, e.g. "4h"
	SlackResponseURLPrefixes  string // comma-separated; "" means Slack's and GovSlack's hosts
	TeamsNotifyURLSecretName  string
	CallbackTargetsSecretName string
	CallbackSigningSecretName string

	AllowUnauthenticated bool

	// AWS is what Lambda puts in the environment for the AWS SDK clients (STS, SQS).
	AWS awsenv.Env
	// LogFormat and LogLevel are AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL (SPEC §12).
	LogFormat, LogLevel string
}

// Load reads the configuration through getenv (os.Getenv in production): it is the only reader
// of the environment. Empty values count as unset. It returns every problem found at once, each naming its variable, joined with errors.Join.
func Load(getenv func(string) string) (Config, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	c := Config{
		TenantID:                  get("AZURE_TENANT_ID"),
		ClientID:                  get("AZURE_CLIENT_ID"),
		ClientSecret:              getenv("AZURE_CLIENT_SECRET"),
		ClientCertificatePath:     get("AZURE_CLIENT_CERTIFICATE_PATH"),
		ClientCertificatePassword: getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
		FederatedTokenFile:        get("AZURE_FEDERATED_TOKEN_FILE"),
		FederatedTokenSource:      get("AZURE_FEDERATED_TOKEN_SOURCE"),
		AuthorityHost:             strings.TrimRight(get("AZURE_AUTHORITY_HOST"), "/"),
		KeyVaultURL:               get("KEY_VAULT_URL"),
		GraphTenantID:             get("GRAPH_TENANT_ID"),
		GraphClientID:             get("GRAPH_CLIENT_ID"),
		GraphCredentialSecretName: get("GRAPH_CREDENTIAL_SECRET_NAME"),
		GraphBaseURL:              strings.TrimRight(get("GRAPH_BASE_URL"), "/"),
		WebhookTokenSecretName:    get("WEBHOOK_TOKEN_SECRET_NAME"),
		WebhookHMACSecretName:     get("WEBHOOK_HMAC_SECRET_NAME"),
		SlackSigningSecretName:    get("SLACK_SIGNING_SECRET_NAME"),
		TeamsWebhookSecretName:    get("TEAMS_WEBHOOK_SECRET_NAME"),
		TenantRegistrySecretName:  get("TENANT_REGISTRY_SECRET_NAME"),
		FleetQueueURL:             get("FLEET_QUEUE_URL"),
		FollowUpQueueURL:          get("FOLLOWUP_QUEUE_URL"),
		SyncRoleID:                get("SYNC_ROLE_ID"),
		FollowUpFirstCheck:        get("FOLLOWUP_FIRST_CHECK"),
		FollowUpMaxAge:            get("FOLLOWUP_MAX_AGE"),
		DeviceCheckInterval:       get("DEVICE_CHECK_INTERVAL"),
		DeviceMaxAge:              get("DEVICE_MAX_AGE"),
		SlackResponseURLPrefixes:  get("SLACK_RESPONSE_URL_PREFIXES"),
		TeamsNotifyURLSecretName:  get("TEAMS_NOTIFY_URL_SECRET_NAME"),
		CallbackTargetsSecretName: get("CALLBACK_TARGETS_SECRET_NAME"),
		CallbackSigningSecretName: get("CALLBACK_SIGNING_SECRET_NAME"),
		AWS:                       awsenv.Read(getenv),
		LogFormat:                 get("AWS_LAMBDA_LOG_FORMAT"),
		LogLevel:                  get("AWS_LAMBDA_LOG_LEVEL"),
	}
	if c.AuthorityHost == "" {
		c.AuthorityHost = DefaultAuthorityHost
	}
	if c.GraphTenantID == "" {
		c.GraphTenantID = c.TenantID
	}
	if c.GraphCredentialSecretName == "" {
		c.GraphCredentialSecretName = DefaultGraphCredentialName
	}
	if c.GraphBaseURL == "" {
		c.GraphBaseURL = graph.DefaultBaseURL
	}

	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}

	if c.TenantID == "" {
		bad("AZURE_TENANT_ID", "required: the Entra tenant of the identity that reads Key Vault")
	}
	if c.ClientID == "" {
		bad("AZURE_CLIENT_ID", "required: the client id of the identity that reads Key Vault")
	}
	switch c.FederatedTokenSource {
	case "", FederatedTokenSourceAWSSTS:
	default:
		bad("AZURE_FEDERATED_TOKEN_SOURCE", "must be unset or %q, not %q", FederatedTokenSourceAWSSTS, c.FederatedTokenSource)
	}
	if c.ClientSecret == "" && c.ClientCertificatePath == "" && c.FederatedTokenFile == "" && c.FederatedTokenSource == "" {
		bad("AZURE_CLIENT_SECRET", "one of AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE or AZURE_FEDERATED_TOKEN_SOURCE is required for the identity that reads Key Vault")
	}
	if err := checkHTTPSURL(c.AuthorityHost); err != nil {
		bad("AZURE_AUTHORITY_HOST", "%v", err)
	}
	if c.KeyVaultURL == "" {
		bad("KEY_VAULT_URL", "required: the vault that holds the Graph app's credential, e.g. https://my-vault.vault.azure.net/")
	} else if err := checkHTTPSURL(c.KeyVaultURL); err != nil {
		bad("KEY_VAULT_URL", "%v", err)
	}
	if c.GraphClientID == "" && c.TenantRegistrySecretName == "" {
		bad("GRAPH_CLIENT_ID", "required: the app registration that holds the Graph permissions")
	}
	if err := checkHTTPSURL(c.GraphBaseURL); err != nil {
		bad("GRAPH_BASE_URL", "%v", err)
	}
	for _, s := range c.SecretNames() {
		if s.Name != "" && !validSecretName(s.Name) {
			bad(s.Variable, "%q is not a Key Vault secret name (1-127 letters, digits and dashes)", s.Name)
		}
	}

	c.SecretCacheTTL = DefaultSecretCacheTTL
	if v := get("SECRET_CACHE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			bad("SECRET_CACHE_TTL", "%q is not a duration such as 15m or 1h", v)
		case d < 0 || d > maxSecretCacheTTL:
			bad("SECRET_CACHE_TTL", "%s is out of range 0 to %s", d, maxSecretCacheTTL)
		default:
			c.SecretCacheTTL = d
		}
	}
	switch v := strings.ToLower(get("SYNC_WHEN_BUSY")); v {
	case "", "refuse":
	case "defer":
		c.DeferWhenBusy = true
		if c.FollowUpQueueURL == "" {
			bad("SYNC_WHEN_BUSY", "defer needs FOLLOWUP_QUEUE_URL: a deferred sync waits as a message of the follow-up queue")
		}
	default:
		bad("SYNC_WHEN_BUSY", "%q is neither refuse nor defer", v)
	}
	if v := get("ALLOW_UNAUTHENTICATED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("ALLOW_UNAUTHENTICATED", "%q is not true or false", v)
		}
		c.AllowUnauthenticated = b
	}
	return c, errors.Join(errs...)
}

// SecretName is a Key Vault secret name of the configuration, with the variable that names it.
type SecretName struct {
	Variable, Name string
	// Caller marks the secrets of the caller checks (SPEC §6) and of the follow-up's targets (§13).
	Caller bool
}

// SecretNames lists every Key Vault secret name of the configuration, unset ones ("") included:
// the Graph credential, the caller checks, the tenant registry, the follow-up's targets. A secret
// the configuration gains is one line here.
func (c Config) SecretNames() []SecretName {
	return []SecretName{
		{"GRAPH_CREDENTIAL_SECRET_NAME", c.GraphCredentialSecretName, false},
		{"WEBHOOK_TOKEN_SECRET_NAME", c.WebhookTokenSecretName, true},
		{"WEBHOOK_HMAC_SECRET_NAME", c.WebhookHMACSecretName, true},
		{"SLACK_SIGNING_SECRET_NAME", c.SlackSigningSecretName, true},
		{"TEAMS_WEBHOOK_SECRET_NAME", c.TeamsWebhookSecretName, true},
		{"TENANT_REGISTRY_SECRET_NAME", c.TenantRegistrySecretName, false},
		{"TEAMS_NOTIFY_URL_SECRET_NAME", c.TeamsNotifyURLSecretName, true},
		{"CALLBACK_TARGETS_SECRET_NAME", c.CallbackTargetsSecretName, true},
		{"CALLBACK_SIGNING_SECRET_NAME", c.CallbackSigningSecretName, true},
	}
}

// AuthSchemesConfigured reports whether any caller-authentication scheme of SPEC §6 is configured.
func (c Config) AuthSchemesConfigured() bool {
	return c.WebhookTokenSecretName != "" || c.WebhookHMACSecretName != "" ||
		c.SlackSigningSecretName != "" || c.TeamsWebhookSecretName != ""
}

// IsLoopback reports whether rawURL points at a loopback host (127.0.0.0/8, ::1, localhost).
// Such hosts are never real Azure endpoints: only for them are instance discovery and
// challenge-resource verification turned off (SPEC §3).
func IsLoopback(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkHTTPSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("%q must use https", raw)
	}
	return nil
}

func validSecretName(name string) bool {
	if len(name) == 0 || len(name) > keyVaultSecretNameMaxLength {
		return false
	}
	for _, r := range name {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Error marks a problem that only a change of configuration can fix (SPEC §3: answered as
// 500 misconfigured). Load's own errors are plain; callers wrap what they build from them.
type Error struct{ Err error }

func (e *Error) Error() string { return "configuration: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Problem is misconfigured: an operator must change the configuration (problem.Classifier).
func (e *Error) Problem() *problem.Problem {
	return problem.Misconfiguration(nil)
}
