package diagnose

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

const (
	seedTenant    = emulator.SeedTenantID
	seedGraphApp  = emulator.SeedGraphClientID
	seedReaderApp = emulator.SeedBootstrapClientID
	seedSecret    = emulator.SeedGraphCredentialSecret
	noVault       = "<vault>" // the emulator's vault is on an IP address: fixes name no vault
	readWrite     = PermissionReadWrite
	readOnly      = PermissionRead
)

// TestSingleTenant is the report for each fault a single-tenant configuration can cause.
func TestSingleTenant(t *testing.T) {
	t.Parallel()
	tokenOK := withRoles(passed(CheckGraphToken), readWrite)
	tests := []struct {
		name  string
		fn    autopilot.Function
		setup func(f *fixture)
		want  []Check
	}{
		{
			name: "all good", fn: FunctionSync,
			want: []Check{passed(CheckConfiguration), passed(CheckKeyVaultToken), passed(CheckGraphCredential), tokenOK, passed(CheckGraphRead)},
		},
		{
			name: "status function with Read.All", fn: FunctionStatus,
			setup: func(f *fixture) { f.e.SetAppRoles(seedTenant, seedGraphApp, []string{readOnly}) },
			want:  []Check{passed(CheckConfiguration), passed(CheckKeyVaultToken), passed(CheckGraphCredential), withRoles(passed(CheckGraphToken), readOnly), passed(CheckGraphRead)},
		},
		{
			name: "configuration broken", fn: FunctionSync,
			setup: func(f *fixture) {
				delete(f.env, "KEY_VAULT_URL")
				delete(f.env, "GRAPH_CLIENT_ID")
				f.env["WEBHOOK_TOKEN_SECRET_NAME"] = "webhook-token"
			},
			want: []Check{
				failed(CheckConfiguration, problem.Misconfigured,
					"KEY_VAULT_URL: required: the vault that holds the Graph app's credential, e.g. https://my-vault.vault.azure.net/; GRAPH_CLIENT_ID: required: the app registration that holds the Graph permissions",
					"sam deploy --parameter-overrides KeyVaultUrl=<value> (locally: export KEY_VAULT_URL=<value>); sam deploy --parameter-overrides GraphClientId=<value> (locally: export GRAPH_CLIENT_ID=<value>)"),
				skipped(CheckKeyVaultToken), skipped(CheckGraphCredential), skipped(CheckCallerSecrets), skipped(CheckGraphToken), skipped(CheckGraphRead),
			},
		},
		{
			name: "a certificate file that cannot be read", fn: FunctionSync,
			setup: func(f *fixture) {
				delete(f.env, "AZURE_CLIENT_SECRET")
				f.env["AZURE_CLIENT_CERTIFICATE_PATH"] = "/nonexistent/reader.pem"
			},
			want: []Check{
				failed(CheckConfiguration, problem.Misconfigured,
					"identity that reads Key Vault: AZURE_CLIENT_CERTIFICATE_PATH: open /nonexistent/reader.pem: no such file or directory",
					"set AZURE_CLIENT_CERTIFICATE_PATH in the function's environment (locally: export AZURE_CLIENT_CERTIFICATE_PATH=<value>)"),
				skipped(CheckKeyVaultToken), skipped(CheckGraphCredential), skipped(CheckGraphToken), skipped(CheckGraphRead),
			},
		},
		{
			name: "Entra refuses the identity that reads Key Vault", fn: FunctionSync,
			setup: func(f *fixture) {
				f.env["AZURE_CLIENT_SECRET"] = "not-the-readers-secret-0123456789"
				f.plant(f.env["AZURE_CLIENT_SECRET"])
			},
			want: []Check{
				passed(CheckConfiguration),
				failed(CheckKeyVaultToken, problem.CredentialRejected,
					"Microsoft Entra ID refused the identity that reads Key Vault (AZURE_CLIENT_ID "+seedReaderApp+", tenant "+seedTenant+"): AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+seedReaderApp+"'.",
					FixKeyVaultReaderRejected(seedTenant, seedReaderApp)),
				skipped(CheckGraphCredential), skipped(CheckGraphToken), skipped(CheckGraphRead),
			},
		},
		{
			name: "the Graph credential is missing", fn: FunctionSync,
			setup: func(f *fixture) { f.e.DeleteSecret(seedSecret) },
			want: []Check{
				passed(CheckConfiguration), passed(CheckKeyVaultToken),
				failed(CheckGraphCredential, problem.Misconfigured, `Key Vault has no enabled secret named "graph-credential".`,
					"az keyvault secret set --vault-name <vault> --name graph-credential --value <the Graph app's client secret>"),
				skipped(CheckGraphToken), skipped(CheckGraphRead),
			},
		},
		{
			name: "the Graph credential is disabled", fn: FunctionStatus,
			setup: func(f *fixture) { f.e.SetSecretEnabled(seedSecret, false) },
			want: []Check{
				passed(CheckConfiguration), passed(CheckKeyVaultToken),
				failed(CheckGraphCredential, problem.Misconfigured, `Key Vault secret "graph-credential" is disabled.`,
					"az keyvault secret set-attributes --vault-name <vault> --name graph-credential --enabled true"),
				skipped(CheckGraphToken), skipped(CheckGraphRead),
			},
		},
		{
			name: "the Graph credential is an unusable certificate", fn: FunctionSync,
			setup: func(f *fixture) {
				f.setSecret(seedSecret, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n", "application/x-pem-file")
			},
			want: []Check{
				passed(CheckConfiguration), passed(CheckKeyVaultToken),
				failed(CheckGraphCredential, problem.Misconfigured,
					`Key Vault secret "graph-credential" (application/x-pem-file) is not a usable certificate with its private key: read certificate: x509: malformed certificate.`,
					FixUnusableCertificate(noVault, seedSecret)),
				skipped(CheckGraphToken), skipped(CheckGraphRead),
			},
		},
		{
			name: "the Graph credential is an empty client secret", fn: FunctionSync,
			setup: func(f *fixture) { f.setSecret(seedSecret, "  \n", "") },
			want: []Check{
				passed(CheckConfiguration), passed(CheckKeyVaultToken),
				failed(CheckGraphCredential, problem.Misconfigured,
					`Key Vault secret "graph-credential" is empty: it must hold the Graph app's client secret, or be a certificate (application/x-pem-file or application/x-pkcs12).`,
					FixMissingSecret(noVault, seedSecret)),
				skipped(CheckGraphToken), skipped(CheckGraphRead),
			},
		},
		{
			name: "Key Vault refuses the reader the secret (RBAC)", fn: FunctionSync,
			setup: func(f *fixture) {
				f.e.AddFault(emulator.Fault{Service: emulator.Vault, PathContains: "/secrets/graph-credential", Status: http.StatusForbidden})
			},
			want: []Check{
				passed(CheckConfiguration), passed(CheckKeyVaultToken),
				failed(CheckGraphCredential, problem.Misconfigured,
					`Key Vault refused the identity that reads it (AZURE_CLIENT_ID `+seedReaderApp+`) the secret "graph-credential": Forbidden: Caller is not authorized to perform action on resource. (ForbiddenByRbac); it needs the role Key Vault Secrets User on the vault.`,
					FixVaultAccess(noVault, seedReaderApp)),
				skipped(CheckGraphToken), skipped(CheckGraphRead),
			},
		},
		{
			name: "Entra refuses the Graph app", fn: FunctionSync,
			setup: func(f *fixture) {
				f.e.SetAppSecret(seedTenant, seedGraphApp, "rotated-in-entra-but-not-in-the-vault")
				f.plant("rotated-in-entra-but-not-in-the-vault")
			},
			want: []Check{
				passed(CheckConfiguration), passed(CheckKeyVaultToken), passed(CheckGraphCredential),
				failed(CheckGraphToken, problem.CredentialRejected,
					`Microsoft Entra ID refused the Graph app (client `+seedGraphApp+`, tenant `+seedTenant+`) its credential from Key Vault secret "graph-credential": AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '`+seedGraphApp+`'.`,
					FixGraphAppRejected(noVault, seedSecret, seedGraphApp, false)),
				skipped(CheckGraphRead),
			},
		},
		{
			name: "the token lacks the sync function's role", fn: FunctionSync,
			setup: func(f *fixture) { f.e.SetAppRoles(seedTenant, seedGraphApp, []string{readOnly}) },
			want: []Check{
				passed(CheckConfiguration), passed(CheckKeyVaultToken), passed(CheckGraphCredential),
				withRoles(failed(CheckGraphToken, problem.GraphPermissionDenied,
					"The Graph app's token has the roles DeviceManagementServiceConfig.Read.All: it lacks DeviceManagementServiceConfig.ReadWrite.All, which the sync function needs.",
					FixGraphPermission("", seedGraphApp, readWrite)), readOnly),
				skipped(CheckGraphRead),
			},
		},
		{
			name: "the token has no roles at all (status function)", fn: FunctionStatus,
			setup: func(f *fixture) { f.e.SetAppRoles(seedTenant, seedGraphApp, nil) },
			want: []Check{
				passed(CheckConfiguration), passed(CheckKeyVaultToken), passed(CheckGraphCredential),
				withRoles(failed(CheckGraphToken, problem.GraphPermissionDenied,
					"The Graph app's token has no roles: it lacks DeviceManagementServiceConfig.Read.All (or DeviceManagementServiceConfig.ReadWrite.All), which the status function needs.",
					FixGraphPermission("", seedGraphApp, readOnly))),
				skipped(CheckGraphRead),
			},
		},
		{
			name: "Graph answers 401", fn: FunctionSync,
			setup: func(f *fixture) {
				f.e.AddFault(emulator.Fault{Service: emulator.Graph, Status: http.StatusUnauthorized})
			},
			want: []Check{
				passed(CheckConfiguration), passed(CheckKeyVaultToken), passed(CheckGraphCredential), tokenOK,
				failed(CheckGraphRead, problem.GraphPermissionDenied,
					"Microsoft Graph refused GET windowsAutopilotSettings (HTTP 401 InvalidAuthenticationToken, request-id <id>): Access token validation failure.",
					FixGraphPermission("", seedGraphApp, readWrite)),
			},
		},
		{
			name: "Graph answers 403", fn: FunctionStatus,
			setup: func(f *fixture) { f.e.AddFault(emulator.Fault{Service: emulator.Graph, Status: http.StatusForbidden}) },
			want: []Check{
				passed(CheckConfiguration), passed(CheckKeyVaultToken), passed(CheckGraphCredential), tokenOK,
				failed(CheckGraphRead, problem.GraphPermissionDenied,
					"Microsoft Graph refused GET windowsAutopilotSettings (HTTP 403 Forbidden, request-id <id>): Application is not authorized to perform this operation.",
					FixGraphPermission("", seedGraphApp, readOnly)),
			},
		},
		{
			name: "Graph is unavailable", fn: FunctionSync,
			setup: func(f *fixture) {
				f.e.AddFault(emulator.Fault{Service: emulator.Graph, Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"0"}}})
			},
			want: []Check{
				passed(CheckConfiguration), passed(CheckKeyVaultToken), passed(CheckGraphCredential), tokenOK,
				failed(CheckGraphRead, problem.GraphUnavailable,
					"Microsoft Graph did not answer GET windowsAutopilotSettings (HTTP 503 ServiceUnavailable, request-id <id>): The service is temporarily unavailable. Please retry.",
					FixTryAgain("Microsoft Graph")),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			checkReport(t, f.run(t, tt.fn), tt.fn, tt.want)
		})
	}
}

// TestCallerSecrets: each configured caller secret exists and is not empty; none is shown.
func TestCallerSecrets(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setSecret("webhook-token", "a-token-the-callers-send-0123456789", "")
	f.setSecret("slack-signing", "   ", "")
	f.env["WEBHOOK_TOKEN_SECRET_NAME"] = "webhook-token"
	f.env["SLACK_SIGNING_SECRET_NAME"] = "slack-signing"
	f.env["TEAMS_WEBHOOK_SECRET_NAME"] = "teams-webhook"
	checkReport(t, f.run(t, FunctionSync), FunctionSync, []Check{
		passed(CheckConfiguration), passed(CheckKeyVaultToken), passed(CheckGraphCredential),
		failed(CheckCallerSecrets, problem.Misconfigured,
			`Key Vault secret "slack-signing" (SLACK_SIGNING_SECRET_NAME) is empty. Key Vault has no enabled secret named "teams-webhook" (TEAMS_WEBHOOK_SECRET_NAME).`,
			"az keyvault secret set --vault-name <vault> --name slack-signing --value <the Slack app's signing secret>; "+
				"az keyvault secret set --vault-name <vault> --name teams-webhook --value <the security token Teams showed when the outgoing webhook was created>"),
		withRoles(passed(CheckGraphToken), readWrite), passed(CheckGraphRead),
	})

	f.setSecret("slack-signing", "slack-signing-secret-0123456789", "")
	f.setSecret("teams-webhook", "dGVhbXMtd2ViaG9vay1zZWNyZXQ=", "")
	checkReport(t, f.run(t, FunctionSync), FunctionSync, []Check{
		passed(CheckConfiguration), passed(CheckKeyVaultToken), passed(CheckGraphCredential), passed(CheckCallerSecrets),
		withRoles(passed(CheckGraphToken), readWrite), passed(CheckGraphRead),
	})
}

// TestWeakTeamsToken: a Teams outgoing webhook's token is read as the function reads it (base64
// of at least 16 bytes): one that is not fails callerSecrets without showing it.
func TestWeakTeamsToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setSecret("teams-webhook", "c2hvcnQ=", "")
	f.plant("c2hvcnQ=")
	f.env["TEAMS_WEBHOOK_SECRET_NAME"] = "teams-webhook"
	checkReport(t, f.run(t, FunctionSync), FunctionSync, []Check{
		passed(CheckConfiguration), passed(CheckKeyVaultToken), passed(CheckGraphCredential),
		failed(CheckCallerSecrets, problem.Misconfigured,
			`Key Vault secret "teams-webhook" (TEAMS_WEBHOOK_SECRET_NAME) cannot be used: the Teams security token is not base64 of at least 16 bytes: it decodes to 5 bytes.`,
			"az keyvault secret set --vault-name <vault> --name teams-webhook --value <the security token Teams showed when the outgoing webhook was created>"),
		withRoles(passed(CheckGraphToken), readWrite), passed(CheckGraphRead),
	})
}

// TestCallerSecretsUnusable: a follow-up secret (SPEC §13) that exists but that the sync
// function cannot use as it reads it fails callerSecrets, naming the secret and what is wrong
// but never its value; one it can use passes.
func TestCallerSecretsUnusable(t *testing.T) {
	t.Parallel()
	const (
		teamsURL   = "https://prod-01.westeurope.logic.azure.com:443/workflows/0a1b2c/triggers/manual/paths/invoke?api-version=2016-06-01&sig=teams-sig-s3cr3t-0123456789"
		targets    = `[{"urlPrefix":"https://contoso.service-now.com/api/x_autopilot/","headers":{"Authorization":"Basic aGVhZGVyLXMzY3IzdA=="}}]`
		signingKey = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	)
	signingFix := `az keyvault secret set --vault-name <vault> --name callback-signing --value "whsec_$(openssl rand -base64 32)"`
	targetsFix := `az keyvault secret show --vault-name <vault> --name callback-targets --query value -o tsv > callback-targets.json, correct what the detail names (the secret is a JSON array [{"urlPrefix":"https://<host>/<path>/","headers":{"<name>":"<value>"}}]), then az keyvault secret set --vault-name <vault> --name callback-targets --file callback-targets.json`
	teamsFix := "az keyvault secret set --vault-name <vault> --name teams-notify --value <the Teams Workflows webhook URL>"
	tests := []struct {
		name                  string
		teams, callbacks, key string // the secrets' values
		wantDetail, wantFix   string // "" when callerSecrets passes
	}{
		{name: "all usable", teams: teamsURL, callbacks: targets, key: signingKey},
		{
			name: "a signing secret without whsec_", teams: teamsURL, callbacks: targets,
			key:        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			wantDetail: `Key Vault secret "callback-signing" (CALLBACK_SIGNING_SECRET_NAME) cannot be used: the callback signing secret must be "whsec_" followed by the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32)).`,
			wantFix:    signingFix,
		},
		{
			name: "a signing key too short", teams: teamsURL, callbacks: targets,
			key:        "whsec_czNjcjN0LXMzY3IzdA==",
			wantDetail: `Key Vault secret "callback-signing" (CALLBACK_SIGNING_SECRET_NAME) cannot be used: the callback signing secret must be "whsec_" followed by the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32)).`,
			wantFix:    signingFix,
		},
		{
			name: "callback targets that are not JSON", teams: teamsURL, key: signingKey,
			callbacks:  `urlPrefix=https://contoso.service-now.com/api/x_autopilot/ Authorization=Basic aGVhZGVyLXMzY3IzdA==`,
			wantDetail: `Key Vault secret "callback-targets" (CALLBACK_TARGETS_SECRET_NAME) cannot be used: callback targets: not a JSON array such as [{"urlPrefix":"https://…/","headers":{…}}].`,
			wantFix:    targetsFix,
		},
		{
			name: "callback targets with two bad entries", teams: teamsURL, key: signingKey,
			callbacks:  `[{"urlPrefix":"http://contoso.service-now.com/api/x_autopilot/"},{"urlPrefix":"https://jira.example/hooks/","headers":{"Authorization":"Basic aGVhZGVyLXMzY3IzdA==\n"}}]`,
			wantDetail: `Key Vault secret "callback-targets" (CALLBACK_TARGETS_SECRET_NAME) cannot be used: callback targets: entry 1: urlPrefix must use https; callback targets: entry 2 (jira.example): header "Authorization" has a value with a line break or control character.`,
			wantFix:    targetsFix,
		},
		{
			name: "a Teams URL that is no URL", callbacks: targets, key: signingKey,
			teams:      "teams-sig-s3cr3t-0123456789",
			wantDetail: `Key Vault secret "teams-notify" (TEAMS_NOTIFY_URL_SECRET_NAME) cannot be used: Teams notify URL is not an absolute URL.`,
			wantFix:    teamsFix,
		},
		{
			name: "a Teams URL over plain http", callbacks: targets, key: signingKey,
			teams:      strings.Replace(teamsURL, "https:", "http:", 1),
			wantDetail: `Key Vault secret "teams-notify" (TEAMS_NOTIFY_URL_SECRET_NAME) cannot be used: Teams notify URL must use https.`,
			wantFix:    teamsFix,
		},
		{
			name:  "all three unusable",
			teams: "teams-sig-s3cr3t-0123456789", callbacks: "[]", key: "whsec_",
			wantDetail: `Key Vault secret "teams-notify" (TEAMS_NOTIFY_URL_SECRET_NAME) cannot be used: Teams notify URL is not an absolute URL. ` +
				`Key Vault secret "callback-targets" (CALLBACK_TARGETS_SECRET_NAME) cannot be used: callback targets: the list is empty. ` +
				`Key Vault secret "callback-signing" (CALLBACK_SIGNING_SECRET_NAME) cannot be used: the callback signing secret must be "whsec_" followed by the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32)).`,
			wantFix: teamsFix + "; " + targetsFix + "; " + signingFix,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.setSecret("teams-notify", tt.teams, "")
			f.setSecret("callback-targets", tt.callbacks, "")
			f.setSecret("callback-signing", tt.key, "")
			f.plant("teams-sig-s3cr3t-0123456789", "aGVhZGVyLXMzY3IzdA==", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
			f.env["TEAMS_NOTIFY_URL_SECRET_NAME"] = "teams-notify"
			f.env["CALLBACK_TARGETS_SECRET_NAME"] = "callback-targets"
			f.env["CALLBACK_SIGNING_SECRET_NAME"] = "callback-signing"
			secrets := passed(CheckCallerSecrets)
			if tt.wantDetail != "" {
				secrets = failed(CheckCallerSecrets, problem.Misconfigured, tt.wantDetail, tt.wantFix)
			}
			checkReport(t, f.run(t, FunctionSync), FunctionSync, []Check{
				passed(CheckConfiguration), passed(CheckKeyVaultToken), passed(CheckGraphCredential), secrets,
				withRoles(passed(CheckGraphToken), readWrite), passed(CheckGraphRead),
			})
		})
	}
}

// TestSpecExample is SPEC §14's example, exactly, but for the ms a fixed clock makes 0.
func TestSpecExample(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.e.DeleteSecret(seedSecret)
	data, err := json.Marshal(f.run(t, FunctionSync))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ok":false,"function":"sync","checks":[
 {"name":"configuration","ok":true,"ms":0},
 {"name":"keyVaultToken","ok":true,"ms":0},
 {"name":"graphCredential","ok":false,"ms":0,"code":"misconfigured",
  "detail":"Key Vault has no enabled secret named \"graph-credential\".",
  "fix":"az keyvault secret set --vault-name <vault> --name graph-credential --value <the Graph app's client secret>"},
 {"name":"graphToken","ok":false,"skipped":true},
 {"name":"graphRead","ok":false,"skipped":true}]}`
	want = strings.NewReplacer("<", `\u003c`, ">", `\u003e`).Replace(regexp.MustCompile(`\n\s*`).ReplaceAllString(want, ""))
	if got := string(data); got != want {
		t.Errorf("report\n got %s\nwant %s", got, want)
	}
}

// TestTimeouts: a service that does not answer fails its check in time, named. The bound is
// every check's, so it must leave the checks before it (a Key Vault token, a secret read, a
// Graph token, each over new TLS connections) room on a loaded machine: 300 ms did not, with
// the graphToken check timing out under -race on two busy cores.
func TestTimeouts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.e.AddFault(emulator.Fault{Service: emulator.Graph, Hang: true})
	rep := f.run(t, FunctionSync, func(o *Options) { o.CheckTimeout = 2 * time.Second })
	checkReport(t, rep, FunctionSync, []Check{
		passed(CheckConfiguration), passed(CheckKeyVaultToken), passed(CheckGraphCredential), withRoles(passed(CheckGraphToken), readWrite),
		failed(CheckGraphRead, problem.UpstreamTimeout,
			"Microsoft Graph ("+f.env["GRAPH_BASE_URL"]+") did not answer GET windowsAutopilotSettings within 2s.",
			FixGraphUnreachable(f.env["GRAPH_BASE_URL"])),
	})
}

// TestVaultUnreachable: a KEY_VAULT_URL where no vault answers.
func TestVaultUnreachable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.env["KEY_VAULT_URL"] = "https://127.0.0.1:1/"
	rep := f.run(t, FunctionSync)
	if got := rep.Checks[2]; got.Name != CheckGraphCredential || got.Code != problem.SecretStoreUnavailable ||
		!strings.HasPrefix(got.Detail, `Key Vault (https://127.0.0.1:1/) could not be reached to read secret "graph-credential": `) ||
		got.Fix != FixVaultUnreachable(noVault) {
		t.Errorf("graphCredential = %+v", got)
	}
}
