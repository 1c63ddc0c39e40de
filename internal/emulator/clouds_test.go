package emulator_test

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
)

const (
	govTenantID = "00000000-0000-4000-8000-00000000c0de"
	govClientID = "00000000-0000-4000-8000-00000000c0a0"
	govSecret   = "gov-secret"
)

// proxied starts an emulator with a usgov tenant and a CONNECT proxy to it, and returns an HTTP
// client that uses the proxy for every host and trusts the emulator's CA.
func proxied(t *testing.T) (*emulator.Emulator, *http.Client) {
	t.Helper()
	e, _ := emutest.Start(t, emulator.Options{})
	e.AddApp(emulator.App{TenantID: govTenantID, ClientID: govClientID, Secret: govSecret})
	proxyURL, stop := emulator.StartProxy(e.URL())
	t.Cleanup(stop)
	u, err := url.Parse(proxyURL)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: e.CertPool(), MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return e, &http.Client{Transport: tr}
}

// nationalCred is a client-secret credential on a real authority host, with instance discovery
// left on as in production.
func nationalCred(t *testing.T, c *http.Client, authority, tenant, client, secret string) azcore.TokenCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenant, client, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Transport: c,
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: authority + "/"},
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func getWith(t *testing.T, c *http.Client, rawURL, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestNationalCloudThroughProxy(t *testing.T) {
	t.Parallel()
	e, c := proxied(t)
	ctx := t.Context()

	tok, err := getToken(ctx, nationalCred(t, c, "https://login.microsoftonline.us", govTenantID, govClientID, govSecret), "https://graph.microsoft.us/.default")
	if err != nil {
		t.Fatalf("token from login.microsoftonline.us: %v", err)
	}
	if status, body := getWith(t, c, "https://graph.microsoft.us/beta"+settingsPath, tok); status != 200 {
		t.Fatalf("GET on graph.microsoft.us = %d %s", status, body)
	}
	if n := e.Counts().GraphTokensSeen[govTenantID]; n != 1 {
		t.Errorf("GraphTokensSeen[gov] = %d, want 1", n)
	}

	// No token crosses clouds or hosts.
	loopbackTok := seededGraphToken(t, e) // resource https://127.0.0.1, from the emulator's own authority
	tests := []struct {
		name, url, token string
	}{
		{"usgov token at the loopback Graph", e.GraphBaseURL() + settingsPath, tok},
		{"usgov token at graph.microsoft.com", "https://graph.microsoft.com/beta" + settingsPath, tok},
		{"usgov token at dod-graph.microsoft.us", "https://dod-graph.microsoft.us/beta" + settingsPath, tok},
		{"loopback token at graph.microsoft.us", "https://graph.microsoft.us/beta" + settingsPath, loopbackTok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := getWith(t, c, tt.url, tt.token); status != 401 || !strings.Contains(string(body), "Invalid audience") {
				t.Errorf("answer = %d %s, want 401 invalid audience", status, body)
			}
		})
	}
}

func TestTokenEndpointRefusesCrossCloudResources(t *testing.T) {
	t.Parallel()
	e, c := proxied(t)
	e.SetTenantCloud(govTenantID, emulator.CloudUSGovDoD)
	tests := []struct {
		name, authority, tenant, client, secret, scope string
		wantErr                                        string // "" = a token
	}{
		{"usgov tenant, usgov Graph", "https://login.microsoftonline.us", govTenantID, govClientID, govSecret, "https://graph.microsoft.us/.default", ""},
		{"usgov tenant, DoD Graph", "https://login.microsoftonline.us", govTenantID, govClientID, govSecret, "https://dod-graph.microsoft.us/.default", ""},
		{"usgov authority, global Graph", "https://login.microsoftonline.us", govTenantID, govClientID, govSecret, "https://graph.microsoft.com/.default", "AADSTS500011"},
		{"usgov authority, loopback Graph", "https://login.microsoftonline.us", govTenantID, govClientID, govSecret, "https://127.0.0.1/.default", "AADSTS500011"},
		{"usgov tenant at the global authority", "https://login.microsoftonline.com", govTenantID, govClientID, govSecret, "https://graph.microsoft.com/.default", "AADSTS90002"},
		{"usgov tenant at the loopback authority", e.AuthorityHost(), govTenantID, govClientID, govSecret, "https://127.0.0.1/.default", "AADSTS90002"},
		{"loopback authority, usgov Graph", e.AuthorityHost(), emulator.SeedTenantID, emulator.SeedGraphClientID, mustSecret(t, e), "https://graph.microsoft.us/.default", "AADSTS500011"},
		{"china authority, china Graph", "https://login.chinacloudapi.cn", emulator.SeedTenantID, emulator.SeedGraphClientID, mustSecret(t, e), "https://microsoftgraph.chinacloudapi.cn/.default", ""},
		{"china authority, usgov Graph", "https://login.chinacloudapi.cn", emulator.SeedTenantID, emulator.SeedGraphClientID, mustSecret(t, e), "https://graph.microsoft.us/.default", "AADSTS500011"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			_, err := getToken(ctx, nationalCred(t, c, tt.authority, tt.tenant, tt.client, tt.secret), tt.scope)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("GetToken: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("GetToken error = %v, want %s", err, tt.wantErr)
			}
		})
	}
}

func TestCloudDiscoveryDocuments(t *testing.T) {
	t.Parallel()
	e, c := proxied(t)
	getJSON := func(t *testing.T, rawURL string) (int, map[string]any) {
		t.Helper()
		status, body := getWith(t, c, rawURL, "")
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: %v", rawURL, err)
		}
		return status, m
	}
	t.Run("openid configuration follows the host", func(t *testing.T) {
		for _, root := range []string{"https://login.microsoftonline.us", "https://login.chinacloudapi.cn", "https://login.microsoftonline.com", e.AuthorityHost()} {
			_, m := getJSON(t, root+"/"+govTenantID+"/v2.0/.well-known/openid-configuration")
			if m["issuer"] != root+"/"+govTenantID+"/v2.0" || m["token_endpoint"] != root+"/"+govTenantID+"/oauth2/v2.0/token" {
				t.Errorf("%s: issuer %v, token_endpoint %v", root, m["issuer"], m["token_endpoint"])
			}
		}
		if _, m := getJSON(t, "https://login.microsoftonline.us/"+govTenantID+"/v2.0/.well-known/openid-configuration"); m["msgraph_host"] != "graph.microsoft.us" {
			t.Errorf("usgov msgraph_host = %v", m["msgraph_host"])
		}
	})
	t.Run("instance discovery", func(t *testing.T) {
		tests := []struct {
			authorization string
			wantStatus    int
			wantTenantDoc string
		}{
			{"https://login.microsoftonline.us/" + govTenantID + "/oauth2/v2.0/authorize", 200, "https://login.microsoftonline.us/" + govTenantID + "/v2.0/.well-known/openid-configuration"},
			{e.AuthorityHost() + "/" + govTenantID + "/oauth2/v2.0/authorize", 200, e.AuthorityHost() + "/" + govTenantID + "/v2.0/.well-known/openid-configuration"},
			{"https://login.example.org/x/oauth2/v2.0/authorize", 400, ""},
			{"", 200, e.AuthorityHost() + "/common/v2.0/.well-known/openid-configuration"},
		}
		for _, tt := range tests {
			q := url.Values{"api-version": {"1.1"}}
			if tt.authorization != "" {
				q.Set("authorization_endpoint", tt.authorization)
			}
			// Asked of login.microsoftonline.com, as MSAL does for authorities it does not know.
			status, m := getJSON(t, "https://login.microsoftonline.com/common/discovery/instance?"+q.Encode())
			if tt.authorization == "" {
				status, m = getJSON(t, e.AuthorityHost()+"/common/discovery/instance?"+q.Encode())
			}
			if status != tt.wantStatus || (tt.wantTenantDoc != "" && m["tenant_discovery_endpoint"] != tt.wantTenantDoc) {
				t.Errorf("%q: %d %v, want %d %s", tt.authorization, status, m["tenant_discovery_endpoint"], tt.wantStatus, tt.wantTenantDoc)
			}
		}
	})
	t.Run("certificate names every cloud host", func(t *testing.T) {
		for _, host := range []string{"graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn", "graph.microsoft.com",
			"login.microsoftonline.us", "login.chinacloudapi.cn", "login.microsoftonline.com"} {
			if status, _ := getWith(t, c, "https://"+host+"/beta"+settingsPath, ""); status != 401 {
				t.Errorf("%s: status %d, want 401 (reached over TLS, no token)", host, status)
			}
		}
	})
}

// TestAuthorityOnLoopbackWithDiscovery: an authority MSAL does not know, with instance discovery
// left on, asks login.microsoftonline.com; through the proxy the emulator answers, so the
// credential works instead of stalling offline.
func TestAuthorityOnLoopbackWithDiscovery(t *testing.T) {
	t.Parallel()
	e, c := proxied(t)
	ctx := t.Context()
	if _, err := getToken(ctx, nationalCred(t, c, e.AuthorityHost(), emulator.SeedTenantID, emulator.SeedGraphClientID, mustSecret(t, e)), graphScope); err != nil {
		t.Fatalf("GetToken with instance discovery on: %v", err)
	}
}

func TestProxy(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	proxyURL, stop := emulator.StartProxy(e.URL())
	t.Cleanup(stop)
	u, _ := url.Parse(proxyURL)

	resp, err := http.Get(proxyURL + "/anything")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodConnect {
		t.Errorf("plain GET to the proxy = %d Allow %q, want 405 CONNECT", resp.StatusCode, resp.Header.Get("Allow"))
	}

	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: e.CertPool(), MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	if status, _ := getWith(t, c, "https://graph.microsoft.us/beta"+settingsPath, ""); status != 401 {
		t.Fatalf("through the proxy: %d", status)
	}
	// stop ends open tunnels (the keep-alive connection above) and refuses new ones.
	stop()
	stop()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://graph.microsoft.us/beta"+settingsPath, nil)
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("after stop, a request answered %d", resp.StatusCode)
	}
}
