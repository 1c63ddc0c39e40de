package diagnose

import (
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/autopilot-sync/autopilot-sync/internal/awssts"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

// This file holds the fix texts of the diagnose report: each function takes the names and ids a
// fix needs (never a secret) and returns a command an operator can paste, with those values
// filled in. A value that is empty becomes a <placeholder> that says what to put there.

// GraphAppID is the application (client) ID of Microsoft Graph, the resource whose application
// permissions the Graph app needs (the same in the national clouds).
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// The Graph application permissions (app roles) the functions need (SPEC §1), and their ids,
// from Microsoft's permissions reference ("All permissions and IDs",
// https://learn.microsoft.com/graph/permissions-reference; source:
// microsoftgraph/microsoft-graph-docs-contrib, concepts/includes/permissions-ids.md).
const (
	PermissionRead        = graph.PermissionRead
	PermissionReadID      = graph.PermissionReadID
	PermissionReadWrite   = graph.PermissionReadWrite
	PermissionReadWriteID = graph.PermissionReadWriteID
)

// Roles a fix assigns on the vault (Azure built-in roles for vaults in RBAC mode).
const (
	RoleSecretsUser    = "Key Vault Secrets User"
	RoleSecretsOfficer = "Key Vault Secrets Officer"
)

// PermissionID returns the application permission (app role) id of a Graph permission the
// functions use, and false for any other name.
func PermissionID(permission string) (string, bool) {
	switch permission {
	case PermissionRead:
		return PermissionReadID, true
	case PermissionReadWrite:
		return PermissionReadWriteID, true
	}
	return "", false
}

var vaultLabel = regexp.MustCompile(`^[0-9A-Za-z-]{3,24}$`)

// VaultName returns the vault's name from its URL (https://<name>.vault.azure.net/, and the
// national clouds' vault.usgovcloudapi.net, vault.azure.cn), or "<vault>" when the URL names no
// vault (empty, unparsable, an IP address such as a local emulator's).
func VaultName(vaultURL string) string {
	u, err := url.Parse(strings.TrimSpace(vaultURL))
	if err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil {
		return "<vault>"
	}
	name, rest, ok := strings.Cut(u.Hostname(), ".")
	if !ok || rest == "" || !vaultLabel.MatchString(name) {
		return "<vault>"
	}
	return name
}

var plainArg = regexp.MustCompile(`^[A-Za-z0-9._:/@=+,_-]+$`)

// jsonArg renders a configured value inside a single-quoted JSON string: JSON-escaped, with any
// single quote closed and reopened, and as the placeholder when it is empty.
func jsonArg(value, placeholder string) string {
	if value == "" {
		return "<" + placeholder + ">"
	}
	value = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value)
	return strings.ReplaceAll(value, "'", `'\''`)
}

var notNameChar = regexp.MustCompile(`[^A-Za-z0-9-]+`)

// credentialName names the federated credential of a role: its role name, which differs for the
// sync and the status function, so both fit on one app.
func credentialName(roleARN string) string {
	_, name, ok := strings.Cut(roleARN, ":role/")
	name = name[strings.LastIndex(name, "/")+1:] // roles may have a path
	name = strings.Trim(notNameChar.ReplaceAllString(name, "-"), "-")
	if !ok || name == "" {
		return "autopilot-sync"
	}
	if len(name) > 120 {
		name = name[:120]
	}
	return name
}

// arg renders a configured value as one shell word: as it is when it is plain, single-quoted
// otherwise, and as the placeholder when it is empty.
func arg(value, placeholder string) string {
	switch {
	case value == "":
		return "<" + placeholder + ">"
	case plainArg.MatchString(value):
		return value
	}
	return "'" + strings.ReplaceAll(value, "'", `'\''`) + "'"
}

// vaultArg renders a vault name; VaultName already returns the placeholder.
func vaultArg(vaultName string) string {
	if vaultName == "<vault>" {
		return vaultName
	}
	return arg(vaultName, "vault")
}

// FixMissingSecret mends a Graph credential secret that Key Vault does not have: store the Graph
// app's client secret under that name (or import its certificate, FixUnusableCertificate).
func FixMissingSecret(vaultName, secretName string) string {
	return "az keyvault secret set --vault-name " + vaultArg(vaultName) + " --name " + arg(secretName, "secret") +
		" --value <the Graph app's client secret>"
}

// FixDisabledSecret mends a secret that exists but is disabled.
func FixDisabledSecret(vaultName, secretName string) string {
	return "az keyvault secret set-attributes --vault-name " + vaultArg(vaultName) + " --name " + arg(secretName, "secret") +
		" --enabled true"
}

// FixUnusableCertificate mends a Graph credential whose content is neither a usable client secret
// nor a certificate with its private key: import the certificate again, as PEM, so that the
// secret Key Vault derives from it carries the content type application/x-pem-file.
func FixUnusableCertificate(vaultName, secretName string) string {
	return "az keyvault certificate import --vault-name " + vaultArg(vaultName) + " --name " + arg(secretName, "secret") +
		` --file graph.pem --policy '{"secretProperties":{"contentType":"application/x-pem-file"}}'` +
		" (graph.pem: the unencrypted PKCS#8 private key, then the certificate registered on the Graph app)"
}

// FixKeyVaultReaderRejected mends Entra refusing the client secret of the identity that reads
// Key Vault (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET): a new secret, given to the
// stack. With aws-sts federation use FixFederatedReaderRejected instead.
func FixKeyVaultReaderRejected(tenantID, clientID string) string {
	return "check that AZURE_TENANT_ID (" + arg(tenantID, "tenant") + ") and AZURE_CLIENT_ID (" + arg(clientID, "client id") +
		") name the app that reads Key Vault, then give it a new secret: " +
		"P=$(az ad app credential reset --id " + arg(clientID, "client id") + " --append --query password -o tsv)" +
		` && sam deploy --parameter-overrides AzureClientSecret="$P"; unset P`
}

// FixFederatedReaderRejected mends Entra refusing the AWS STS token of the identity that reads
// Key Vault (AZURE_FEDERATED_TOKEN_SOURCE=aws-sts): the app needs a federated credential whose
// issuer is the account's outbound federation issuer and whose subject is the role's ARN.
func FixFederatedReaderRejected(clientID, roleARN string) string {
	return "az ad app federated-credential create --id " + arg(clientID, "client id") +
		` --parameters '{"name":"` + jsonArg(credentialName(roleARN), "name") + `",` +
		`"issuer":"'"$(aws iam get-outbound-web-identity-federation-info --query IssuerIdentifier --output text)"'",` +
		`"subject":"` + jsonArg(roleARN, "the function's role ARN (output SyncFunctionRoleArn or StatusFunctionRoleArn)") +
		`","audiences":["` + awssts.Audience + `"]}'` +
		" (compare first: az ad app federated-credential list --id " + arg(clientID, "client id") + ")"
}

// FixGraphAppRejected mends Entra refusing the Graph app's credential (an expired or deleted
// client secret, a certificate no longer registered): a new client secret, passed straight
// into Key Vault so that it is never shown (and not stored at all when the reset fails). With
// certificate true, a new certificate that az creates in Key Vault and registers on the app.
func FixGraphAppRejected(vaultName, secretName, clientID string, certificate bool) string {
	if certificate {
		return "az ad app credential reset --id " + arg(clientID, "client id") + " --append --create-cert --keyvault " +
			vaultArg(vaultName) + " --cert " + arg(secretName, "secret")
	}
	return "P=$(az ad app credential reset --id " + arg(clientID, "client id") + " --append --query password -o tsv)" +
		" && az keyvault secret set --vault-name " + vaultArg(vaultName) + " --name " + arg(secretName, "secret") +
		` --value "$P" --output none; unset P`
}

// FixGraphPermission mends a Graph 401 or 403, or a Graph token without the role the function
// needs: add the application permission by its id and grant admin consent. For a tenant of a
// fleet that is not the app's own (tenantID not empty), an admin of that tenant consents with
// the admin consent URL. An unknown permission gets the portal steps.
func FixGraphPermission(tenantID, clientID, permission string) string {
	id, ok := PermissionID(permission)
	if !ok {
		return "Entra admin center: App registrations › " + arg(clientID, "client id") +
			" › API permissions › Add a permission › Microsoft Graph › Application permissions › " +
			arg(permission, "permission") + ", then Grant admin consent"
	}
	fix := "az ad app permission add --id " + arg(clientID, "client id") + " --api " + GraphAppID +
		" --api-permissions " + id + "=Role && az ad app permission admin-consent --id " + arg(clientID, "client id")
	if tenantID != "" {
		client := "<client id>"
		if clientID != "" {
			client = url.QueryEscape(clientID)
		}
		fix += "; then an admin of tenant " + arg(tenantID, "tenant") + " opens https://login.microsoftonline.com/" +
			url.PathEscape(tenantID) + "/adminconsent?client_id=" + client
	}
	return fix + " (" + permission + "; a token issued before the consent lacks the role until it expires, up to about an hour)"
}

// FixVaultAccess mends the identity that reads Key Vault being refused by a vault in RBAC mode:
// the role Key Vault Secrets User on the vault.
func FixVaultAccess(vaultName, clientID string) string {
	return "az role assignment create --role \"" + RoleSecretsUser + "\" --assignee " + arg(clientID, "client id") +
		" --scope \"$(az keyvault show --name " + vaultArg(vaultName) + " --query id -o tsv)\"" +
		" (a new role assignment takes a few minutes to apply)"
}

// FixVaultAccessPolicy mends the same refusal by a vault that still uses access policies.
func FixVaultAccessPolicy(vaultName, clientID string) string {
	return "az keyvault set-policy --name " + vaultArg(vaultName) + " --spn " + arg(clientID, "client id") +
		" --secret-permissions get"
}

// FixVaultUnreachable mends a vault that did not answer: KEY_VAULT_URL must be the vault's own
// URI, and the vault's network rules must admit a Lambda function, which has no fixed address.
func FixVaultUnreachable(vaultName string) string {
	return "az keyvault show --name " + vaultArg(vaultName) +
		` --query "{uri:properties.vaultUri,publicNetworkAccess:properties.publicNetworkAccess,defaultAction:properties.networkAcls.defaultAction}"` +
		" (KEY_VAULT_URL must be that uri; with publicNetworkAccess Disabled or defaultAction Deny the function cannot reach the vault)"
}

// callerSecretValues says, per environment variable of SPEC §6, §11 and §13, what its secret
// holds, as the arguments of az keyvault secret set.
var callerSecretValues = map[string]string{
	"WEBHOOK_TOKEN_SECRET_NAME":    `--value "$(openssl rand -hex 32)"`,
	"WEBHOOK_HMAC_SECRET_NAME":     `--value "$(openssl rand -hex 32)"`,
	"SLACK_SIGNING_SECRET_NAME":    "--value <the Slack app's signing secret>",
	"TEAMS_WEBHOOK_SECRET_NAME":    "--value <the security token Teams showed when the outgoing webhook was created>",
	"TEAMS_NOTIFY_URL_SECRET_NAME": "--value <the Teams Workflows webhook URL>",
	"CALLBACK_TARGETS_SECRET_NAME": `--value '[{"urlPrefix":"https://<host>/<path>/","headers":{}}]'`,
	"CALLBACK_SIGNING_SECRET_NAME": `--value "whsec_$(openssl rand -base64 32)"`,
	"TENANT_REGISTRY_SECRET_NAME":  "--file tenant-registry.json",
}

// FixMissingCallerSecret mends a caller secret (SPEC §6, §13) or the tenant registry (§11) that
// is missing or empty, named by the environment variable that configures it
// (WEBHOOK_TOKEN_SECRET_NAME, …): a value of the right kind. A token or key generated this way
// must then be given to the caller too.
func FixMissingCallerSecret(vaultName, secretName, variable string) string {
	value, ok := callerSecretValues[variable]
	if !ok {
		value = "--value <the value for " + arg(variable, "variable") + ">"
	}
	return "az keyvault secret set --vault-name " + vaultArg(vaultName) + " --name " + arg(secretName, "secret") + " " + value
}

// FixUnusableCallerSecret mends a follow-up secret (SPEC §13) that exists but cannot be used as
// the function reads it, named by the variable that configures it. The callback targets are
// corrected in place, so that the entries that are right stay; the Teams Workflows URL and the
// signing secret are set anew, as when they are missing (a new signing secret must then be
// given to every callback receiver too).
func FixUnusableCallerSecret(vaultName, secretName, variable string) string {
	if variable == "CALLBACK_TARGETS_SECRET_NAME" {
		return fixInFile(vaultName, secretName, "callback-targets.json",
			`what the detail names (the secret is a JSON array [{"urlPrefix":"https://<host>/<path>/","headers":{"<name>":"<value>"}}])`)
	}
	return FixMissingCallerSecret(vaultName, secretName, variable)
}

// FixRegistryEntry mends a tenant registry (SPEC §11) whose entry (counted from 1, as the
// registry error says) has a bad field: fetch the registry, correct it, store it again.
func FixRegistryEntry(vaultName, secretName string, entry int, field string) string {
	what := "the entry"
	if entry > 0 {
		what = "entry " + strconv.Itoa(entry)
	}
	if field != "" {
		what = arg(field, "field") + " of " + what
	}
	return fixInFile(vaultName, secretName, "tenant-registry.json", what)
}

// fixInFile mends a JSON secret in place: fetch it into file, correct what, store it again.
func fixInFile(vaultName, secretName, file, what string) string {
	v, s := vaultArg(vaultName), arg(secretName, "secret")
	return "az keyvault secret show --vault-name " + v + " --name " + s + " --query value -o tsv > " + file + ", correct " +
		what + ", then az keyvault secret set --vault-name " + v + " --name " + s + " --file " + file
}

// FixSTSAccessDenied mends AWS STS refusing GetWebIdentityToken (AccessDenied): the execution
// role needs sts:GetWebIdentityToken, which template.yaml grants with AzureFederatedTokenSource
// aws-sts; if the role has it, an SCP, RCP, permissions boundary or VPC endpoint policy denies it.
func FixSTSAccessDenied(roleARN string) string {
	return "sam deploy --parameter-overrides AzureFederatedTokenSource=aws-sts (it allows " + awssts.Permission + " to " +
		arg(roleARN, "the function's role") + "); if the role already allows it, an SCP, RCP, permissions boundary or VPC endpoint policy denies it"
}

// FixSTSFederationDisabled mends an account whose outbound identity federation is off
// (OutboundWebIdentityFederationDisabledException): turn it on, then give its issuer to the
// Entra app's federated credential (FixFederatedReaderRejected).
func FixSTSFederationDisabled(clientID, roleARN string) string {
	return "aws iam enable-outbound-web-identity-federation && " + FixFederatedReaderRejected(clientID, roleARN)
}

// FixConfiguration mends a missing or malformed environment variable, through the template
// parameter that sets it where there is one.
func FixConfiguration(variable string) string {
	if p, ok := templateParameters[variable]; ok {
		return "sam deploy --parameter-overrides " + p + "=<value> (locally: export " + variable + "=<value>)"
	}
	return "set " + arg(variable, "variable") + " in the function's environment (locally: export " + arg(variable, "variable") + "=<value>)"
}

// templateParameters maps the environment of SPEC §3 to the parameters of template.yaml.
var templateParameters = map[string]string{
	"AZURE_TENANT_ID":              "AzureTenantId",
	"AZURE_CLIENT_ID":              "AzureClientId",
	"AZURE_CLIENT_SECRET":          "AzureClientSecret",
	"AZURE_FEDERATED_TOKEN_SOURCE": "AzureFederatedTokenSource",
	"AZURE_AUTHORITY_HOST":         "AzureAuthorityHost",
	"KEY_VAULT_URL":                "KeyVaultUrl",
	"SECRET_CACHE_TTL":             "SecretCacheTtl",
	"GRAPH_TENANT_ID":              "GraphTenantId",
	"GRAPH_CLIENT_ID":              "GraphClientId",
	"GRAPH_CREDENTIAL_SECRET_NAME": "GraphCredentialSecretName",
	"GRAPH_BASE_URL":               "GraphBaseUrl",
	"TENANT_REGISTRY_SECRET_NAME":  "TenantRegistrySecretName",
	"WEBHOOK_TOKEN_SECRET_NAME":    "WebhookTokenSecretName",
	"WEBHOOK_HMAC_SECRET_NAME":     "WebhookHmacSecretName",
	"SLACK_SIGNING_SECRET_NAME":    "SlackSigningSecretName",
	"TEAMS_WEBHOOK_SECRET_NAME":    "TeamsWebhookSecretName",
	"ALLOW_UNAUTHENTICATED":        "AllowUnauthenticated",
}
