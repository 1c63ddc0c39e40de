package diagnose

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

func TestVaultScope(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://contoso-kv.vault.azure.net/", "https://vault.azure.net/.default"},
		{"https://Gov-KV.vault.usgovcloudapi.net/", "https://vault.usgovcloudapi.net/.default"},
		{"https://cn-kv.vault.azure.cn", "https://vault.azure.cn/.default"},
		{"https://127.0.0.1:8443/", "https://vault.azure.net/.default"},
		{"https://localhost:8443/", "https://vault.azure.net/.default"},
		{"https://hsm.managedhsm.azure.net/", "https://vault.azure.net/.default"},
		{"%zz", "https://vault.azure.net/.default"},
	}
	for _, tt := range tests {
		if got := vaultScope(tt.url); got != tt.want {
			t.Errorf("vaultScope(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

func jwt(t *testing.T, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(claims)) + "." + enc([]byte("signature"))
}

func TestTokenClaims(t *testing.T) {
	tests := []struct {
		name, token string
		roles       []string
		isJWT       bool
		sub         string
	}{
		{"roles", jwt(t, `{"roles":["a","b"],"sub":"arn:aws:iam::1:role/x"}`), []string{"a", "b"}, true, "arn:aws:iam::1:role/x"},
		{"a JWT without roles", jwt(t, `{"aud":"x"}`), []string{}, true, ""},
		{"opaque", "EwBwA8l6BAAUO9chh8cJscQLmU", nil, false, ""},
		{"three segments of junk", "a.b!.c", nil, false, ""},
		{"payload not JSON", "a." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".c", nil, false, ""},
		{"empty", "", nil, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roles, isJWT := tokenRoles(tt.token)
			if !slices.Equal(roles, tt.roles) || isJWT != tt.isJWT || (roles == nil) != (tt.roles == nil) {
				t.Errorf("tokenRoles = %v, %v; want %v, %v", roles, isJWT, tt.roles, tt.isJWT)
			}
			if got := tokenSubject(tt.token); got != tt.sub {
				t.Errorf("tokenSubject = %q, want %q", got, tt.sub)
			}
		})
	}
}

func TestRoleOfMessage(t *testing.T) {
	tests := []struct{ msg, want string }{
		{"User: arn:aws:sts::123456789012:assumed-role/autopilot-sync-SyncFunctionRole-AbC/autopilot-sync-SyncFunction-x is not authorized to perform: sts:GetWebIdentityToken",
			"arn:aws:iam::123456789012:role/autopilot-sync-SyncFunctionRole-AbC"},
		{"User: arn:aws-us-gov:sts::123456789012:assumed-role/r/s is not authorized", "arn:aws-us-gov:iam::123456789012:role/r"},
		{"Outbound web identity federation is disabled for this account.", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := roleOfMessage(tt.msg); got != tt.want {
			t.Errorf("roleOfMessage(%q) = %q, want %q", tt.msg, got, tt.want)
		}
	}
}

func TestConfigFault(t *testing.T) {
	err := errors.Join(errors.New("AZURE_TENANT_ID: required: the Entra tenant"),
		errors.New(`SECRET_CACHE_TTL: "soon" is not a duration such as 15m or 1h`),
		errors.New("AZURE_TENANT_ID: said twice"))
	got := configFault(err)
	want := &fault{problem.Misconfigured,
		`AZURE_TENANT_ID: required: the Entra tenant; SECRET_CACHE_TTL: "soon" is not a duration such as 15m or 1h; AZURE_TENANT_ID: said twice`,
		"sam deploy --parameter-overrides AzureTenantId=<value> (locally: export AZURE_TENANT_ID=<value>); sam deploy --parameter-overrides SecretCacheTtl=<value> (locally: export SECRET_CACHE_TTL=<value>)"}
	if *got != *want {
		t.Errorf("configFault =\n%+v\nwant\n%+v", *got, *want)
	}
	if got := configFault(errors.New("something without a variable")); got.fix != FixConfiguration("") {
		t.Errorf("fix without a variable = %q", got.fix)
	}
}

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		check Check
		want  string
	}{
		{Check{Name: "graphRead", Skipped: true, Ms: 5}, `{"name":"graphRead","ok":false,"skipped":true}`},
		{Check{Name: "configuration", OK: true}, `{"name":"configuration","ok":true,"ms":0}`},
		{Check{Name: "graphToken", OK: true, Ms: 3, Roles: []string{}}, `{"name":"graphToken","ok":true,"ms":3,"roles":[]}`},
		{Check{Name: "graphToken", OK: true, Ms: 3}, `{"name":"graphToken","ok":true,"ms":3}`},
		{Check{Name: "x", Code: problem.Misconfigured, Detail: `a "b"`, Fix: "c <d> && e"},
			`{"name":"x","ok":false,"ms":0,"code":"misconfigured","detail":"a \"b\"","fix":"c <d> && e"}`},
	}
	for _, tt := range tests {
		got, err := tt.check.MarshalJSON()
		if err != nil || string(got) != tt.want {
			t.Errorf("MarshalJSON = %s, %v; want %s", got, err, tt.want)
		}
		var back Check
		if err := json.Unmarshal(got, &back); err != nil || back.Name != tt.check.Name {
			t.Errorf("decoding %s: %+v, %v", got, back, err)
		}
	}
}

func TestFailed(t *testing.T) {
	r := Report{Checks: []Check{
		{Name: CheckConfiguration, OK: true},
		{Name: CheckCallerSecrets, Code: problem.Misconfigured},
		{Name: CheckTenants, Code: problem.GraphPermissionDenied, Tenants: []TenantReport{
			{Name: "a", OK: true, Checks: []Check{{Name: CheckGraphRead, OK: true}}},
			{Name: "b", Checks: []Check{{Name: CheckGraphCredential, OK: true}, {Name: CheckGraphToken, Code: problem.GraphPermissionDenied}, {Name: CheckGraphRead, Skipped: true}}},
		}},
	}}
	if got, want := r.Failed(), []string{"callerSecrets", "tenants/b/graphToken"}; !slices.Equal(got, want) {
		t.Errorf("Failed = %q, want %q", got, want)
	}
	if c, ok := r.FirstFailure(); !ok || c.Name != CheckCallerSecrets {
		t.Errorf("FirstFailure = %+v, %v", c, ok)
	}
	r.Checks = r.Checks[2:]
	if c, ok := r.FirstFailure(); !ok || c.Name != CheckGraphToken {
		t.Errorf("FirstFailure of the tenants = %+v, %v", c, ok)
	}
	if _, ok := (Report{Checks: []Check{{Name: "x", OK: true}}}).FirstFailure(); ok {
		t.Error("FirstFailure of a good report")
	}
}

func TestUpstreamFixes(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"try again", FixTryAgain("Microsoft Graph"),
			"run diagnose again in a few minutes: Microsoft Graph was throttling or briefly unavailable; if it keeps failing, check the service health page (Azure: https://azure.status.microsoft/status, AWS: https://health.aws.amazon.com/health/status)"},
		{"authority", FixAuthorityUnreachable("https://login.microsoftonline.com"),
			"check that AZURE_AUTHORITY_HOST (https://login.microsoftonline.com) is https://login.microsoftonline.com, or https://login.microsoftonline.us or https://login.chinacloudapi.cn for a national cloud, and that the function can reach it (a function in a VPC needs a NAT gateway for the internet)"},
		{"vault tenant", FixVaultTenant(vault, tenantID),
			"az keyvault show --name contoso-kv --query properties.tenantId -o tsv (AZURE_TENANT_ID, now 00001111-aaaa-4bbb-8ccc-222233334444, must be that tenant, and the identity that reads Key Vault an app of it)"},
		{"graph unreachable", FixGraphUnreachable(""),
			"check that GRAPH_BASE_URL (<unset>) is https://graph.microsoft.com/beta, or https://graph.microsoft.us/beta, https://dod-graph.microsoft.us/beta or https://microsoftgraph.chinacloudapi.cn/beta for a national cloud, and that the function can reach it"},
		{"graph refused", FixGraphRefused("https://graph.microsoft.com/beta", tenantID, "5a7f…"),
			"check that GRAPH_BASE_URL (https://graph.microsoft.com/beta) is https://graph.microsoft.com/beta, or https://graph.microsoft.us/beta, https://dod-graph.microsoft.us/beta or https://microsoftgraph.chinacloudapi.cn/beta for a national cloud, and that the function can reach it; check that tenant 00001111-aaaa-4bbb-8ccc-222233334444 has Intune (Microsoft Intune admin center › Tenant administration › Tenant status); if both hold, quote request-id '5a7f…' to Microsoft support"},
		{"tenants", FixTenantChecks(), "apply the fix of each failed tenant check (tenants[].checks[].fix), then run diagnose again"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
	}
}
