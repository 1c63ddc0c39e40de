package diagnose

// Fix texts for services that did not answer as they should: Entra ID, Key Vault or Graph
// unreachable, throttling or failing, a vault of another tenant, a Graph refusal that is not a
// permission, and the tenants of a registry. Like fixes.go, each takes names and ids, never a
// secret.

// FixTryAgain mends a failure that may pass by itself: service (e.g. "Microsoft Graph") was
// throttling, failing with a 5xx, or briefly unreachable.
func FixTryAgain(service string) string {
	return "run diagnose again in a few minutes: " + service + " was throttling or briefly unavailable; " +
		"if it keeps failing, check the service health page (Azure: https://azure.status.microsoft/status, AWS: https://health.aws.amazon.com/health/status)"
}

// FixAuthorityUnreachable mends an Entra ID authority that did not answer: AZURE_AUTHORITY_HOST
// must be the cloud's login host, and the function must reach it.
func FixAuthorityUnreachable(authorityHost string) string {
	return "check that AZURE_AUTHORITY_HOST (" + arg(authorityHost, "unset") + ") is https://login.microsoftonline.com, " +
		"or https://login.microsoftonline.us or https://login.chinacloudapi.cn for a national cloud, and that the function can reach it " +
		"(a function in a VPC needs a NAT gateway for the internet)"
}

// FixVaultTenant mends a vault that refuses the token of the identity that reads it (AKV10032,
// an issuer of another tenant): the vault and that identity must be in the same tenant.
func FixVaultTenant(vaultName, tenantID string) string {
	return "az keyvault show --name " + vaultArg(vaultName) + " --query properties.tenantId -o tsv " +
		"(AZURE_TENANT_ID, now " + arg(tenantID, "unset") + ", must be that tenant, and the identity that reads Key Vault an app of it)"
}

// FixGraphUnreachable mends a Graph root that did not answer, or answered with something that
// is not Graph: GRAPH_BASE_URL must be the cloud's Graph beta root.
func FixGraphUnreachable(graphBaseURL string) string {
	return "check that GRAPH_BASE_URL (" + arg(graphBaseURL, "unset") + ") is https://graph.microsoft.com/beta, " +
		"or https://graph.microsoft.us/beta, https://dod-graph.microsoft.us/beta or https://microsoftgraph.chinacloudapi.cn/beta " +
		"for a national cloud, and that the function can reach it"
}

// FixGraphRefused mends a Graph refusal that is not a permission (a 4xx other than 401 and 403):
// the root must be Graph's beta endpoint, and the tenant must have Intune.
func FixGraphRefused(graphBaseURL, tenantID, requestID string) string {
	return FixGraphUnreachable(graphBaseURL) + "; check that tenant " + arg(tenantID, "tenant") +
		" has Intune (Microsoft Intune admin center › Tenant administration › Tenant status); if both hold, quote request-id " +
		arg(requestID, "request id") + " to Microsoft support"
}

// FixTenantChecks mends a registry whose tenants failed: each failed tenant check carries its
// own fix.
func FixTenantChecks() string {
	return "apply the fix of each failed tenant check (tenants[].checks[].fix), then run diagnose again"
}
