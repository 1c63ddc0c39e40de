package notify

import (
	"strings"
	"testing"
)

func TestParseCallbackTargets(t *testing.T) {
	t.Parallel()
	spec := `[{"urlPrefix":"https://contoso.service-now.com/api/x_autopilot/","headers":{"Authorization":"Basic s3cr3t"}},` +
		`{"urlPrefix":"https://api-private.atlassian.com/automation/webhooks/jira/a/","headers":{"X-Automation-Webhook-Token":"s3cr3t"}},` +
		`{"urlPrefix":"https://10.1.2.3/hooks/"}]`
	prefixes, err := ParseCallbackTargets([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(prefixes), 3; got != want {
		t.Fatalf("%d prefixes, want %d", got, want)
	}
	if got := prefixes[1].headers["X-Automation-Webhook-Token"]; got != "s3cr3t" {
		t.Errorf("Jira header = %q", got)
	}
	if !prefixes[2].LiteralIP() || prefixes[0].LiteralIP() {
		t.Error("LiteralIP wrong")
	}
}

func TestParseCallbackTargetsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, secret string
		want         []string
	}{
		{"not JSON", `s3cr3t`, []string{"not a JSON array"}},
		{"an object", `{"urlPrefix":"https://x.example/s3cr3t/"}`, []string{"not a JSON array"}},
		{"empty", `[]`, []string{"empty"}},
		{"null", `null`, []string{"empty"}},
		{"entry not an object", `["https://x.example/s3cr3t/"]`, []string{"entry 1", "not an object"}},
		{"unknown field", `[{"urlPrefix":"https://x.example/s3cr3t/","header":{}}]`, []string{"entry 1", `unknown field "header"`}},
		{"no urlPrefix", `[{"headers":{"A":"s3cr3t"}}]`, []string{"entry 1", "urlPrefix is missing"}},
		{"http prefix", `[{"urlPrefix":"https://ok.example/"},{"urlPrefix":"http://x.example/s3cr3t/"}]`, []string{"entry 2", "must use https"}},
		{"no trailing slash", `[{"urlPrefix":"https://x.example/s3cr3t"}]`, []string{"entry 1", `ends with "/"`}},
		{"reserved header", `[{"urlPrefix":"https://x.example/s3cr3t/","headers":{"Host":"s3cr3t"}}]`, []string{"entry 1 (x.example)", `header "Host"`}},
		{"signature header", `[{"urlPrefix":"https://x.example/s3cr3t/","headers":{"Webhook-Signature":"s3cr3t"}}]`, []string{"entry 1 (x.example)", `"Webhook-Signature"`}},
		{"header injection", `[{"urlPrefix":"https://x.example/s3cr3t/","headers":{"Authorization":"Basic s3cr3t\r\nX-Evil: 1"}}]`, []string{"entry 1 (x.example)", `header "Authorization"`, "line break"}},
		{"header name", `[{"urlPrefix":"https://x.example/s3cr3t/","headers":{"Bad Name":"s3cr3t"}}]`, []string{"entry 1", "not a valid header name"}},
		{"header twice", `[{"urlPrefix":"https://x.example/s3cr3t/","headers":{"X-A":"s3cr3t","x-a":"s3cr3t"}}]`, []string{"entry 1", "twice"}},
		{"header value not a string", `[{"urlPrefix":"https://x.example/s3cr3t/","headers":{"X-A":12345}}]`, []string{"entry 1", "must be strings"}},
		{"repeated prefix", `[{"urlPrefix":"https://x.example/s3cr3t/"},{"urlPrefix":"https://X.EXAMPLE:443/s3cr3t/"}]`, []string{"entry 2 (x.example) repeats the urlPrefix of entry 1"}},
		{"every problem at once", `[{"urlPrefix":"http://a.example/"},{"headers":{}}]`, []string{"entry 1", "entry 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			prefixes, err := ParseCallbackTargets([]byte(tt.secret))
			if err == nil {
				t.Fatalf("no error; prefixes %v", prefixes)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestParseTeamsURL(t *testing.T) {
	t.Parallel()
	if _, err := ParseTeamsURL(" " + testTeamsURL + "\n"); err != nil {
		t.Errorf("the Workflows URL is refused: %v", err)
	}
	for _, raw := range []string{"", "http://prod-01.example/workflows/s3cr3t", "prod-01.example/s3cr3t", "https://u:s3cr3t@prod-01.example/"} {
		_, err := ParseTeamsURL(raw)
		if err == nil {
			t.Errorf("ParseTeamsURL(%q) accepted", raw)
			continue
		}
		assertSafe(t, err)
	}
}
