package config

import (
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func valid() map[string]string {
	return map[string]string{
		"AZURE_TENANT_ID":     "tenant",
		"AZURE_CLIENT_ID":     "client",
		"AZURE_CLIENT_SECRET": "not-a-real-secret",
		"KEY_VAULT_URL":       "https://vault.vault.azure.net/",
		"GRAPH_CLIENT_ID":     "graph-app",
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(valid()))
	if err != nil {
		t.Fatal(err)
	}
	if c.GraphTenantID != "tenant" || c.GraphBaseURL != graph.DefaultBaseURL || c.AuthorityHost != DefaultAuthorityHost ||
		c.GraphCredentialSecretName != DefaultGraphCredentialName || c.SecretCacheTTL != DefaultSecretCacheTTL || c.AllowUnauthenticated || c.DeferWhenBusy {
		t.Errorf("defaults not applied: %+v", c)
	}
	if c.AuthSchemesConfigured() {
		t.Error("no scheme is configured")
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"missing vault", map[string]string{"KEY_VAULT_URL": ""}, "KEY_VAULT_URL: required"},
		{"http vault", map[string]string{"KEY_VAULT_URL": "http://vault"}, "KEY_VAULT_URL: \"http://vault\" must use https"},
		{"missing tenant", map[string]string{"AZURE_TENANT_ID": ""}, "AZURE_TENANT_ID: required"},
		{"no credential", map[string]string{"AZURE_CLIENT_SECRET": ""}, "AZURE_CLIENT_SECRET: one of"},
		{"missing graph client", map[string]string{"GRAPH_CLIENT_ID": ""}, "GRAPH_CLIENT_ID: required"},
		{"bad ttl", map[string]string{"SECRET_CACHE_TTL": "soon"}, "SECRET_CACHE_TTL"},
		{"negative ttl", map[string]string{"SECRET_CACHE_TTL": "-1m"}, "SECRET_CACHE_TTL"},
		{"bad bool", map[string]string{"ALLOW_UNAUTHENTICATED": "yes please"}, "ALLOW_UNAUTHENTICATED"},
		{"bad secret name", map[string]string{"WEBHOOK_TOKEN_SECRET_NAME": "has spaces"}, "WEBHOOK_TOKEN_SECRET_NAME"},
		{"bad federation", map[string]string{"AZURE_FEDERATED_TOKEN_SOURCE": "gcp"}, "AZURE_FEDERATED_TOKEN_SOURCE"},
		{"bad graph url", map[string]string{"GRAPH_BASE_URL": "graph.microsoft.com"}, "GRAPH_BASE_URL"},
		{"bad authority", map[string]string{"AZURE_AUTHORITY_HOST": "http://login"}, "AZURE_AUTHORITY_HOST"},
		{"defer without a queue", map[string]string{"SYNC_WHEN_BUSY": "defer"}, "SYNC_WHEN_BUSY: defer needs FOLLOWUP_QUEUE_URL"},
		{"bad busy policy", map[string]string{"SYNC_WHEN_BUSY": "retry", "FOLLOWUP_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q"}, `SYNC_WHEN_BUSY: "retry" is neither refuse nor defer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := valid()
			for k, v := range tt.set {
				m[k] = v
			}
			_, err := Load(env(m))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "not-a-real-secret") {
				t.Error("the error quotes the client secret")
			}
		})
	}
}

func TestLoadValues(t *testing.T) {
	t.Parallel()
	m := valid()
	m["GRAPH_TENANT_ID"] = "intune-tenant"
	m["SECRET_CACHE_TTL"] = "1h"
	m["ALLOW_UNAUTHENTICATED"] = "true"
	m["GRAPH_BASE_URL"] = "https://graph.microsoft.us/beta/"
	m["SLACK_SIGNING_SECRET_NAME"] = "slack-signing"
	m["SYNC_WHEN_BUSY"] = "Defer"
	m["FOLLOWUP_QUEUE_URL"] = "https://sqs.eu-west-1.amazonaws.com/123456789012/autopilot-sync-followup"
	c, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.GraphTenantID != "intune-tenant" || c.SecretCacheTTL != time.Hour || !c.AllowUnauthenticated ||
		c.GraphBaseURL != "https://graph.microsoft.us/beta" || !c.AuthSchemesConfigured() || !c.DeferWhenBusy {
		t.Errorf("values not read: %+v", c)
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"https://127.0.0.1:8443/":           true,
		"https://127.1.2.3/":                true,
		"https://[::1]:443/":                true,
		"https://localhost:9/":              true,
		"https://login.microsoftonline.com": false,
		"https://10.0.0.1/":                 false,
		"https://localhost.example.com/":    false,
		"https://vault.vault.azure.net/":    false,
		"::not a url":                       false,
	} {
		if got := IsLoopback(in); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", in, got, want)
		}
	}
}
