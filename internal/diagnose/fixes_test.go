package diagnose

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

const (
	vault    = "contoso-kv"
	tenantID = "00001111-aaaa-4bbb-8ccc-222233334444"
	graphApp = "11111111-2222-4333-8444-555555555555"
	reader   = "99999999-8888-4777-8666-555555555555"
	roleARN  = "arn:aws:iam::123456789012:role/autopilot-sync-SyncFunctionRole-AbC123"
)

func TestVaultName(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://contoso-kv.vault.azure.net/", "contoso-kv"},
		{"https://contoso-kv.vault.azure.net", "contoso-kv"},
		{"  https://Contoso-KV.vault.azure.net/  ", "Contoso-KV"},
		{"https://gov-kv.vault.usgovcloudapi.net/", "gov-kv"},
		{"https://cn-kv.vault.azure.cn/", "cn-kv"},
		{"https://contoso-kv.vault.azure.net:443/secrets/x", "contoso-kv"},
		{"https://127.0.0.1:35441/", "<vault>"},
		{"https://[::1]:8443/", "<vault>"},
		{"https://localhost:8443/", "<vault>"},
		{"", "<vault>"},
		{"not a url", "<vault>"},
		{"https://ab.vault.azure.net/", "<vault>"},                          // names have 3 to 24 characters
		{"https://a-name-that-is-far-too-long.vault.azure.net/", "<vault>"}, // 33
		{"https://x;rm -rf.vault.azure.net/", "<vault>"},
		{"%zz", "<vault>"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			if got := VaultName(tt.url); got != tt.want {
				t.Errorf("VaultName(%q) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

func TestPermissionID(t *testing.T) {
	tests := []struct {
		permission, want string
		ok               bool
	}{
		{"DeviceManagementServiceConfig.Read.All", "06a5fe6d-c49d-46a7-b082-56b1b14103c7", true},
		{"DeviceManagementServiceConfig.ReadWrite.All", "5ac13192-7ace-4fcf-b828-1a26f28068ee", true},
		{"devicemanagementserviceconfig.readwrite.all", "", false},
		{"User.Read", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.permission, func(t *testing.T) {
			got, ok := PermissionID(tt.permission)
			if got != tt.want || ok != tt.ok {
				t.Errorf("PermissionID(%q) = %q, %v; want %q, %v", tt.permission, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestFixes(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{
			"missing graph credential, as SPEC §14 shows it",
			FixMissingSecret("<vault>", "graph-credential"),
			"az keyvault secret set --vault-name <vault> --name graph-credential --value <the Graph app's client secret>",
		},
		{
			"missing graph credential",
			FixMissingSecret(vault, "contoso-graph"),
			"az keyvault secret set --vault-name contoso-kv --name contoso-graph --value <the Graph app's client secret>",
		},
		{
			"missing graph credential, nothing known",
			FixMissingSecret("", ""),
			"az keyvault secret set --vault-name <vault> --name <secret> --value <the Graph app's client secret>",
		},
		{
			"disabled secret",
			FixDisabledSecret(vault, "graph-credential"),
			"az keyvault secret set-attributes --vault-name contoso-kv --name graph-credential --enabled true",
		},
		{
			"unusable certificate",
			FixUnusableCertificate(vault, "graph-credential"),
			`az keyvault certificate import --vault-name contoso-kv --name graph-credential --file graph.pem --policy '{"secretProperties":{"contentType":"application/x-pem-file"}}' (graph.pem: the unencrypted PKCS#8 private key, then the certificate registered on the Graph app)`,
		},
		{
			"Entra refuses the Key Vault reader's secret",
			FixKeyVaultReaderRejected(tenantID, reader),
			`check that AZURE_TENANT_ID (00001111-aaaa-4bbb-8ccc-222233334444) and AZURE_CLIENT_ID (99999999-8888-4777-8666-555555555555) name the app that reads Key Vault, then give it a new secret: P=$(az ad app credential reset --id 99999999-8888-4777-8666-555555555555 --append --query password -o tsv) && sam deploy --parameter-overrides AzureClientSecret="$P"; unset P`,
		},
		{
			"Entra refuses the Key Vault reader, tenant as a domain",
			FixKeyVaultReaderRejected("contoso.onmicrosoft.com", ""),
			`check that AZURE_TENANT_ID (contoso.onmicrosoft.com) and AZURE_CLIENT_ID (<client id>) name the app that reads Key Vault, then give it a new secret: P=$(az ad app credential reset --id <client id> --append --query password -o tsv) && sam deploy --parameter-overrides AzureClientSecret="$P"; unset P`,
		},
		{
			"Entra refuses the federated Key Vault reader",
			FixFederatedReaderRejected(reader, roleARN),
			`az ad app federated-credential create --id 99999999-8888-4777-8666-555555555555 --parameters '{"name":"autopilot-sync-SyncFunctionRole-AbC123","issuer":"'"$(aws iam get-outbound-web-identity-federation-info --query IssuerIdentifier --output text)"'","subject":"arn:aws:iam::123456789012:role/autopilot-sync-SyncFunctionRole-AbC123","audiences":["api://AzureADTokenExchange"]}' (compare first: az ad app federated-credential list --id 99999999-8888-4777-8666-555555555555)`,
		},
		{
			"Entra refuses the federated Key Vault reader, role with a path, no client id",
			FixFederatedReaderRejected("", "arn:aws:iam::123456789012:role/service/status_role"),
			`az ad app federated-credential create --id <client id> --parameters '{"name":"status-role","issuer":"'"$(aws iam get-outbound-web-identity-federation-info --query IssuerIdentifier --output text)"'","subject":"arn:aws:iam::123456789012:role/service/status_role","audiences":["api://AzureADTokenExchange"]}' (compare first: az ad app federated-credential list --id <client id>)`,
		},
		{
			"Entra refuses the federated Key Vault reader, role unknown",
			FixFederatedReaderRejected(reader, ""),
			`az ad app federated-credential create --id 99999999-8888-4777-8666-555555555555 --parameters '{"name":"autopilot-sync","issuer":"'"$(aws iam get-outbound-web-identity-federation-info --query IssuerIdentifier --output text)"'","subject":"<the function's role ARN (output SyncFunctionRoleArn or StatusFunctionRoleArn)>","audiences":["api://AzureADTokenExchange"]}' (compare first: az ad app federated-credential list --id 99999999-8888-4777-8666-555555555555)`,
		},
		{
			"a quote in a role ARN stays inside the JSON and the shell word",
			FixFederatedReaderRejected(reader, `arn:aws:iam::1:role/it's"x`),
			`az ad app federated-credential create --id 99999999-8888-4777-8666-555555555555 --parameters '{"name":"it-s-x","issuer":"'"$(aws iam get-outbound-web-identity-federation-info --query IssuerIdentifier --output text)"'","subject":"arn:aws:iam::1:role/it'\''s\"x","audiences":["api://AzureADTokenExchange"]}' (compare first: az ad app federated-credential list --id 99999999-8888-4777-8666-555555555555)`,
		},
		{
			"Entra refuses the Graph app's client secret",
			FixGraphAppRejected(vault, "graph-credential", graphApp, false),
			`P=$(az ad app credential reset --id 11111111-2222-4333-8444-555555555555 --append --query password -o tsv) && az keyvault secret set --vault-name contoso-kv --name graph-credential --value "$P" --output none; unset P`,
		},
		{
			"Entra refuses the Graph app's certificate",
			FixGraphAppRejected(vault, "graph-credential", graphApp, true),
			"az ad app credential reset --id 11111111-2222-4333-8444-555555555555 --append --create-cert --keyvault contoso-kv --cert graph-credential",
		},
		{
			"Graph 403 at the sync function",
			FixGraphPermission("", graphApp, PermissionReadWrite),
			"az ad app permission add --id 11111111-2222-4333-8444-555555555555 --api 00000003-0000-0000-c000-000000000000 --api-permissions 5ac13192-7ace-4fcf-b828-1a26f28068ee=Role && az ad app permission admin-consent --id 11111111-2222-4333-8444-555555555555 (DeviceManagementServiceConfig.ReadWrite.All; a token issued before the consent lacks the role until it expires, up to about an hour)",
		},
		{
			"role missing from the status function's token",
			FixGraphPermission("", graphApp, PermissionRead),
			"az ad app permission add --id 11111111-2222-4333-8444-555555555555 --api 00000003-0000-0000-c000-000000000000 --api-permissions 06a5fe6d-c49d-46a7-b082-56b1b14103c7=Role && az ad app permission admin-consent --id 11111111-2222-4333-8444-555555555555 (DeviceManagementServiceConfig.Read.All; a token issued before the consent lacks the role until it expires, up to about an hour)",
		},
		{
			"Graph 401 in a fleet tenant",
			FixGraphPermission(tenantID, graphApp, PermissionReadWrite),
			"az ad app permission add --id 11111111-2222-4333-8444-555555555555 --api 00000003-0000-0000-c000-000000000000 --api-permissions 5ac13192-7ace-4fcf-b828-1a26f28068ee=Role && az ad app permission admin-consent --id 11111111-2222-4333-8444-555555555555; then an admin of tenant 00001111-aaaa-4bbb-8ccc-222233334444 opens https://login.microsoftonline.com/00001111-aaaa-4bbb-8ccc-222233334444/adminconsent?client_id=11111111-2222-4333-8444-555555555555 (DeviceManagementServiceConfig.ReadWrite.All; a token issued before the consent lacks the role until it expires, up to about an hour)",
		},
		{
			"Graph 403 in a fleet tenant, client id unknown",
			FixGraphPermission(tenantID, "", PermissionRead),
			"az ad app permission add --id <client id> --api 00000003-0000-0000-c000-000000000000 --api-permissions 06a5fe6d-c49d-46a7-b082-56b1b14103c7=Role && az ad app permission admin-consent --id <client id>; then an admin of tenant 00001111-aaaa-4bbb-8ccc-222233334444 opens https://login.microsoftonline.com/00001111-aaaa-4bbb-8ccc-222233334444/adminconsent?client_id=<client id> (DeviceManagementServiceConfig.Read.All; a token issued before the consent lacks the role until it expires, up to about an hour)",
		},
		{
			"a permission without a known id",
			FixGraphPermission("", graphApp, "DeviceManagementManagedDevices.Read.All"),
			"Entra admin center: App registrations › 11111111-2222-4333-8444-555555555555 › API permissions › Add a permission › Microsoft Graph › Application permissions › DeviceManagementManagedDevices.Read.All, then Grant admin consent",
		},
		{
			"the identity may not read the vault (RBAC)",
			FixVaultAccess(vault, reader),
			`az role assignment create --role "Key Vault Secrets User" --assignee 99999999-8888-4777-8666-555555555555 --scope "$(az keyvault show --name contoso-kv --query id -o tsv)" (a new role assignment takes a few minutes to apply)`,
		},
		{
			"the identity may not read the vault (access policies)",
			FixVaultAccessPolicy(vault, reader),
			"az keyvault set-policy --name contoso-kv --spn 99999999-8888-4777-8666-555555555555 --secret-permissions get",
		},
		{
			"vault unreachable",
			FixVaultUnreachable(vault),
			`az keyvault show --name contoso-kv --query "{uri:properties.vaultUri,publicNetworkAccess:properties.publicNetworkAccess,defaultAction:properties.networkAcls.defaultAction}" (KEY_VAULT_URL must be that uri; with publicNetworkAccess Disabled or defaultAction Deny the function cannot reach the vault)`,
		},
		{
			"vault unreachable, URL names no vault",
			FixVaultUnreachable(VaultName("https://127.0.0.1:1/")),
			`az keyvault show --name <vault> --query "{uri:properties.vaultUri,publicNetworkAccess:properties.publicNetworkAccess,defaultAction:properties.networkAcls.defaultAction}" (KEY_VAULT_URL must be that uri; with publicNetworkAccess Disabled or defaultAction Deny the function cannot reach the vault)`,
		},
		{
			"missing webhook token",
			FixMissingCallerSecret(vault, "webhook-token", "WEBHOOK_TOKEN_SECRET_NAME"),
			`az keyvault secret set --vault-name contoso-kv --name webhook-token --value "$(openssl rand -hex 32)"`,
		},
		{
			"missing HMAC key",
			FixMissingCallerSecret(vault, "webhook-hmac", "WEBHOOK_HMAC_SECRET_NAME"),
			`az keyvault secret set --vault-name contoso-kv --name webhook-hmac --value "$(openssl rand -hex 32)"`,
		},
		{
			"missing Slack signing secret",
			FixMissingCallerSecret(vault, "slack-signing", "SLACK_SIGNING_SECRET_NAME"),
			"az keyvault secret set --vault-name contoso-kv --name slack-signing --value <the Slack app's signing secret>",
		},
		{
			"missing Teams token",
			FixMissingCallerSecret(vault, "teams-webhook", "TEAMS_WEBHOOK_SECRET_NAME"),
			"az keyvault secret set --vault-name contoso-kv --name teams-webhook --value <the security token Teams showed when the outgoing webhook was created>",
		},
		{
			"missing Teams notify URL",
			FixMissingCallerSecret(vault, "teams-notify", "TEAMS_NOTIFY_URL_SECRET_NAME"),
			"az keyvault secret set --vault-name contoso-kv --name teams-notify --value <the Teams Workflows webhook URL>",
		},
		{
			"missing callback targets",
			FixMissingCallerSecret(vault, "callback-targets", "CALLBACK_TARGETS_SECRET_NAME"),
			`az keyvault secret set --vault-name contoso-kv --name callback-targets --value '[{"urlPrefix":"https://<host>/<path>/","headers":{}}]'`,
		},
		{
			"missing callback signing key",
			FixMissingCallerSecret(vault, "callback-signing", "CALLBACK_SIGNING_SECRET_NAME"),
			`az keyvault secret set --vault-name contoso-kv --name callback-signing --value "whsec_$(openssl rand -base64 32)"`,
		},
		{
			"missing tenant registry",
			FixMissingCallerSecret(vault, "tenant-registry", "TENANT_REGISTRY_SECRET_NAME"),
			"az keyvault secret set --vault-name contoso-kv --name tenant-registry --file tenant-registry.json",
		},
		{
			"missing secret of an unknown variable",
			FixMissingCallerSecret(vault, "other", "OTHER_SECRET_NAME"),
			"az keyvault secret set --vault-name contoso-kv --name other --value <the value for OTHER_SECRET_NAME>",
		},
		{
			"unusable callback targets",
			FixUnusableCallerSecret(vault, "callback-targets", "CALLBACK_TARGETS_SECRET_NAME"),
			`az keyvault secret show --vault-name contoso-kv --name callback-targets --query value -o tsv > callback-targets.json, correct what the detail names (the secret is a JSON array [{"urlPrefix":"https://<host>/<path>/","headers":{"<name>":"<value>"}}]), then az keyvault secret set --vault-name contoso-kv --name callback-targets --file callback-targets.json`,
		},
		{
			"unusable callback signing key",
			FixUnusableCallerSecret(vault, "callback-signing", "CALLBACK_SIGNING_SECRET_NAME"),
			`az keyvault secret set --vault-name contoso-kv --name callback-signing --value "whsec_$(openssl rand -base64 32)"`,
		},
		{
			"unusable Teams notify URL",
			FixUnusableCallerSecret(vault, "teams-notify", "TEAMS_NOTIFY_URL_SECRET_NAME"),
			"az keyvault secret set --vault-name contoso-kv --name teams-notify --value <the Teams Workflows webhook URL>",
		},
		{
			"bad registry entry",
			FixRegistryEntry(vault, "tenant-registry", 2, "tenantId"),
			"az keyvault secret show --vault-name contoso-kv --name tenant-registry --query value -o tsv > tenant-registry.json, correct tenantId of entry 2, then az keyvault secret set --vault-name contoso-kv --name tenant-registry --file tenant-registry.json",
		},
		{
			"bad registry, no entry or field",
			FixRegistryEntry(vault, "tenant-registry", 0, ""),
			"az keyvault secret show --vault-name contoso-kv --name tenant-registry --query value -o tsv > tenant-registry.json, correct the entry, then az keyvault secret set --vault-name contoso-kv --name tenant-registry --file tenant-registry.json",
		},
		{
			"STS AccessDenied",
			FixSTSAccessDenied(roleARN),
			"sam deploy --parameter-overrides AzureFederatedTokenSource=aws-sts (it allows sts:GetWebIdentityToken to arn:aws:iam::123456789012:role/autopilot-sync-SyncFunctionRole-AbC123); if the role already allows it, an SCP, RCP, permissions boundary or VPC endpoint policy denies it",
		},
		{
			"STS AccessDenied, role unknown",
			FixSTSAccessDenied(""),
			"sam deploy --parameter-overrides AzureFederatedTokenSource=aws-sts (it allows sts:GetWebIdentityToken to <the function's role>); if the role already allows it, an SCP, RCP, permissions boundary or VPC endpoint policy denies it",
		},
		{
			"outbound identity federation disabled",
			FixSTSFederationDisabled(reader, roleARN),
			`aws iam enable-outbound-web-identity-federation && az ad app federated-credential create --id 99999999-8888-4777-8666-555555555555 --parameters '{"name":"autopilot-sync-SyncFunctionRole-AbC123","issuer":"'"$(aws iam get-outbound-web-identity-federation-info --query IssuerIdentifier --output text)"'","subject":"arn:aws:iam::123456789012:role/autopilot-sync-SyncFunctionRole-AbC123","audiences":["api://AzureADTokenExchange"]}' (compare first: az ad app federated-credential list --id 99999999-8888-4777-8666-555555555555)`,
		},
		{
			"configuration: GRAPH_CLIENT_ID missing",
			FixConfiguration("GRAPH_CLIENT_ID"),
			"sam deploy --parameter-overrides GraphClientId=<value> (locally: export GRAPH_CLIENT_ID=<value>)",
		},
		{
			"configuration: a variable without a template parameter",
			FixConfiguration("AZURE_CLIENT_CERTIFICATE_PATH"),
			"set AZURE_CLIENT_CERTIFICATE_PATH in the function's environment (locally: export AZURE_CLIENT_CERTIFICATE_PATH=<value>)",
		},
		{
			"a secret name that is not a plain word is quoted",
			FixDisabledSecret(vault, "it's $(bad)"),
			`az keyvault secret set-attributes --vault-name contoso-kv --name 'it'\''s $(bad)' --enabled true`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("fix:\n got %s\nwant %s", tt.got, tt.want)
			}
		})
	}
}

// TestFixesTemplateParameters keeps FixConfiguration's table in step with template.yaml: every
// parameter it names is declared there.
func TestFixesTemplateParameters(t *testing.T) {
	template, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(template), "\nParameters:\n") {
		t.Fatal("template.yaml: no Parameters section")
	}
	for variable, parameter := range templateParameters {
		t.Run(variable, func(t *testing.T) {
			declared := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(parameter) + `:\s*$`)
			if !declared.Match(template) {
				t.Errorf("FixConfiguration(%q) names the parameter %s, which template.yaml does not declare", variable, parameter)
			}
		})
	}
}

// shellWord decodes s as one POSIX shell word made of plain characters, single-quoted parts
// and backslash escapes, and reports whether s is exactly one such word with nothing the shell
// would expand or split.
func shellWord(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", false
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '\\':
			if i+1 == len(s) {
				return "", false
			}
			b.WriteByte(s[i+1])
			i++
		case plainArg.MatchString(string(c)):
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// FuzzFixArgs: whatever a configuration holds, a value filled into a fix is one shell word that
// the shell reads back as that value, and VaultName never returns anything but a vault name or
// the placeholder.
func FuzzFixArgs(f *testing.F) {
	for _, s := range []string{"contoso-kv", "https://contoso-kv.vault.azure.net/", "it's", `a"b\c`, "$(rm -rf /)", "`x`", "a b", "\n", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s != "" {
			word := arg(s, "x")
			if got, ok := shellWord(word); !ok || got != s {
				t.Errorf("arg(%q) = %s, which the shell reads as %q (one word: %v)", s, word, got, ok)
			}
		}
		if name := VaultName(s); name != "<vault>" && !vaultLabel.MatchString(name) {
			t.Errorf("VaultName(%q) = %q", s, name)
		}
	})
}
