package tenant_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

const (
	guidA = "11111111-2222-4333-8444-555555555555"
	guidB = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	guidC = "00000000-0000-4000-8000-00000000000c"
)

func TestParseRegistry(t *testing.T) {
	t.Parallel()
	doc := `[
	  {"name":"contoso","tenantId":"` + strings.ToUpper(guidA) + `","clientId":"` + guidB + `","credentialSecretName":"graph-contoso","cloud":"global"},
	  {"name":"fabrikam-gov","tenantId":"fabrikam.onmicrosoft.us","clientId":"` + guidB + `","credentialSecretName":"graph-contoso","cloud":"usgov"},
	  {"name":"dod","tenantId":"` + guidC + `","clientId":"` + guidC + `","credentialSecretName":"Graph-DoD-1","cloud":"usgovdod"},
	  {"name":"0-cn","tenantId":"woodgrove.partner.onmschina.cn","clientId":"` + guidC + `","credentialSecretName":"cn","cloud":"china"},
	  {"name":"nocloud","tenantId":"nocloud.example","clientId":"` + guidC + `","credentialSecretName":"x"}
	]`
	got, err := tenant.ParseRegistry([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []tenant.Entry{
		{Name: "contoso", TenantID: strings.ToUpper(guidA), ClientID: guidB, CredentialSecretName: "graph-contoso", Cloud: "global"},
		{Name: "fabrikam-gov", TenantID: "fabrikam.onmicrosoft.us", ClientID: guidB, CredentialSecretName: "graph-contoso", Cloud: "usgov"},
		{Name: "dod", TenantID: guidC, ClientID: guidC, CredentialSecretName: "Graph-DoD-1", Cloud: "usgovdod"},
		{Name: "0-cn", TenantID: "woodgrove.partner.onmschina.cn", ClientID: guidC, CredentialSecretName: "cn", Cloud: "china"},
		{Name: "nocloud", TenantID: "nocloud.example", ClientID: guidC, CredentialSecretName: "x", Cloud: "global"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseRegistry (-want +got):\n%s", diff)
	}

	for _, empty := range []string{`[]`, ` [ ] `, "[]\n"} {
		if got, err := tenant.ParseRegistry([]byte(empty)); err != nil || len(got) != 0 {
			t.Errorf("ParseRegistry(%q) = %v, %v; want no tenants", empty, got, err)
		}
	}
}

// entry returns a valid registry entry as JSON, with fields replaced or added by kv pairs
// (a value of nil removes the field).
func entry(name, tenantID string, kv ...any) string {
	m := map[string]any{"name": name, "tenantId": tenantID, "clientId": guidB, "credentialSecretName": "graph-credential", "cloud": "global"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
			continue
		}
		m[kv[i].(string)] = kv[i+1]
	}
	var parts []string
	for _, k := range []string{"name", "tenantId", "clientId", "credentialSecretName", "cloud", "extra", "secret"} {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%q:%s", k, jsonValue(v)))
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func jsonValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

func TestParseRegistryErrors(t *testing.T) {
	t.Parallel()
	ok := entry("ok", guidA)
	tests := []struct {
		name string
		doc  string
		want []string // substrings of the error, in order
	}{
		{"not JSON", `{`, []string{"not a JSON array"}},
		{"object, not array", `{"name":"x"}`, []string{"not a JSON array"}},
		{"null", `null`, []string{"not a JSON array"}},
		{"trailing data", `[] []`, []string{"unexpected data after the JSON array"}},
		{"entry not an object", `[` + ok + `, 42]`, []string{"entry 1: not a JSON object"}},
		{"null entry", `[null]`, []string{"entry 0: not a JSON object"}},
		{"unknown field", `[` + entry("a", guidA, "extra", "x") + `]`, []string{`entry 0 ("a"): extra: unknown field`}},
		{"number for a string", `[` + entry("a", guidA, "clientId", 7) + `]`, []string{`entry 0 ("a"): clientId: must be a string`}},
		{"name missing", `[` + entry("", guidA) + `]`, []string{"entry 0: name: required"}},
		{"name upper case", `[` + entry("Contoso", guidA) + `]`, []string{`entry 0 ("Contoso"): name: must be 1-63 characters`}},
		{"name with space", `[` + entry("con toso", guidA) + `]`, []string{`name: must be 1-63`}},
		{"name too long", `[` + entry(strings.Repeat("a", 64), guidA) + `]`, []string{`name: must be 1-63`}},
		{"name 63 is fine, all is reserved", `[` + entry(strings.Repeat("a", 63), guidA) + `,` + entry("all", guidB) + `]`, []string{`entry 1 ("all"): name: "all" is reserved`}},
		{"duplicate name", `[` + entry("a", guidA) + `,` + entry("a", guidB) + `]`, []string{`entry 1 ("a"): name: duplicate of entry 0`}},
		{"tenantId missing", `[` + entry("a", "") + `]`, []string{`entry 0 ("a"): tenantId: required`}},
		{"tenantId malformed", `[` + entry("a", "not a tenant") + `]`, []string{`tenantId: "not a tenant" is neither a GUID nor a domain`}},
		{"tenantId IP", `[` + entry("a", "10.0.0.1") + `]`, []string{`tenantId: "10.0.0.1" is neither`}},
		{"tenantId GUID too short", `[` + entry("a", guidA[1:]) + `]`, []string{`tenantId:`}},
		{"duplicate tenantId, other case", `[` + entry("a", guidA) + `,` + entry("b", strings.ToUpper(guidA)) + `]`, []string{`entry 1 ("b"): tenantId: duplicate of entry 0`}},
		{"clientId missing", `[` + entry("a", guidA, "clientId", nil) + `]`, []string{`clientId: required`}},
		{"clientId not a GUID", `[` + entry("a", guidA, "clientId", "contoso.com") + `]`, []string{`clientId: "contoso.com" is not a GUID`}},
		{"secret name missing", `[` + entry("a", guidA, "credentialSecretName", "") + `]`, []string{`credentialSecretName: required`}},
		{"secret name invalid", `[` + entry("a", guidA, "credentialSecretName", "graph_credential") + `]`, []string{`credentialSecretName: not a Key Vault secret name`}},
		{"secret name too long", `[` + entry("a", guidA, "credentialSecretName", strings.Repeat("s", 128)) + `]`, []string{`credentialSecretName: not a Key Vault secret name`}},
		{"cloud unknown", `[` + entry("a", guidA, "cloud", "germany") + `]`, []string{`entry 0 ("a"): cloud: "germany" is not one of global, usgov, usgovdod, china`}},
		{"cloud upper case", `[` + entry("a", guidA, "cloud", "USGov") + `]`, []string{`cloud: "USGov"`}},
		{"name equals another tenantId", `[` + entry(guidB, guidA) + `,` + entry("b", guidB) + `]`, []string{`entry 0 ("` + guidB + `"): name: equals the tenantId of entry 1`}},
		{"several problems, in order", `[` + entry("a", "") + `,` + entry("B", guidA) + `]`, []string{`entry 0 ("a"): tenantId: required`, `entry 1 ("B"): name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tenant.ParseRegistry([]byte(tt.doc))
			var re *tenant.RegistryError
			if !errors.As(err, &re) {
				t.Fatalf("ParseRegistry = %v, %v; want a *RegistryError", got, err)
			}
			if got != nil {
				t.Errorf("entries = %v, want none with an error", got)
			}
			msg, at := err.Error(), 0
			for _, w := range tt.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error %q\nlacks (in order) %q", msg, w)
				}
				at += i + len(w)
			}
			if !strings.HasPrefix(msg, "tenant registry: ") {
				t.Errorf("error %q does not say it is about the registry", msg)
			}
		})
	}
}

func TestRegistryErrorIsShort(t *testing.T) {
	t.Parallel()
	var entries []string
	for i := range 25 {
		entries = append(entries, entry(fmt.Sprintf("t%d", i), "", "secret", "s3cr3t-value-"+strings.Repeat("x", 500)))
	}
	_, err := tenant.ParseRegistry([]byte("[" + strings.Join(entries, ",") + "]"))
	var re *tenant.RegistryError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v", err)
	}
	if len(re.Problems) != 10 || !strings.HasSuffix(err.Error(), "; and 15 more") {
		t.Errorf("%d problems listed, error ends %q; want 10 and \"and 15 more\"", len(re.Problems), err.Error()[max(0, len(err.Error())-20):])
	}
	if strings.Contains(err.Error(), "s3cr3t") || len(err.Error()) > 1200 {
		t.Errorf("error quotes values or is long (%d bytes): %s", len(err.Error()), err)
	}
	// Long values are cut short when quoted.
	_, err = tenant.ParseRegistry([]byte("[" + entry("a", strings.Repeat("z", 300)) + "]"))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("error for a 300-byte tenantId: %v", err)
	}
}

func TestCloudEndpoints(t *testing.T) {
	t.Parallel()
	const emuGraph, emuLogin = "https://127.0.0.1:8443/beta", "https://127.0.0.1:8443"
	tests := []struct {
		cloud, graphOverride, authorityOverride string
		wantGraph, wantAuthority                string
		wantErr                                 bool
	}{
		{cloud: "global", wantGraph: "https://graph.microsoft.com/beta", wantAuthority: "https://login.microsoftonline.com"},
		{cloud: "", wantGraph: "https://graph.microsoft.com/beta", wantAuthority: "https://login.microsoftonline.com"},
		{cloud: "global", graphOverride: emuGraph + "/", authorityOverride: emuLogin + "/", wantGraph: emuGraph, wantAuthority: emuLogin},
		{cloud: "global", graphOverride: emuGraph, wantGraph: emuGraph, wantAuthority: "https://login.microsoftonline.com"},
		{cloud: "usgov", graphOverride: emuGraph, authorityOverride: emuLogin, wantGraph: "https://graph.microsoft.us/beta", wantAuthority: "https://login.microsoftonline.us"},
		{cloud: "usgovdod", graphOverride: emuGraph, authorityOverride: emuLogin, wantGraph: "https://dod-graph.microsoft.us/beta", wantAuthority: "https://login.microsoftonline.us"},
		{cloud: "china", wantGraph: "https://microsoftgraph.chinacloudapi.cn/beta", wantAuthority: "https://login.chinacloudapi.cn"},
		{cloud: "germany", wantErr: true},
		{cloud: "Global", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.cloud+"/"+tt.graphOverride, func(t *testing.T) {
			t.Parallel()
			g, a, err := tenant.CloudEndpoints(tt.cloud, tt.graphOverride, tt.authorityOverride)
			if (err != nil) != tt.wantErr || g != tt.wantGraph || a != tt.wantAuthority {
				t.Errorf("CloudEndpoints(%q, %q, %q) = %q, %q, %v; want %q, %q, error %v",
					tt.cloud, tt.graphOverride, tt.authorityOverride, g, a, err, tt.wantGraph, tt.wantAuthority, tt.wantErr)
			}
		})
	}
}

func FuzzParseRegistry(f *testing.F) {
	f.Add([]byte(`[` + entry("a", guidA) + `]`))
	f.Add([]byte(`[{"name":"x"}]`))
	f.Add([]byte(`[null, 1, "x", {"name":5}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := tenant.ParseRegistry(data)
		if err != nil {
			var re *tenant.RegistryError
			if !errors.As(err, &re) || len(re.Problems) == 0 || entries != nil {
				t.Fatalf("ParseRegistry error %v (%T), entries %v", err, err, entries)
			}
			return
		}
		names := map[string]bool{}
		for _, e := range entries {
			if names[e.Name] || e.Cloud == "" || e.Name == tenant.AllSelector {
				t.Fatalf("accepted %+v", entries)
			}
			names[e.Name] = true
		}
	})
}
