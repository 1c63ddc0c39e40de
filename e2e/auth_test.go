package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/webhook"
)

// callerSecrets stores one random secret per caller scheme in the emulator's Key Vault and
// returns them with the environment that turns the schemes on.
func callerSecrets(t *testing.T, e *env) (token, hmacKey, slack, teams string, vars map[string]string) {
	t.Helper()
	token, hmacKey, slack = rand.Text(), rand.Text(), rand.Text()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	teams = base64.StdEncoding.EncodeToString(raw)
	e.emu.SetSecret("webhook-token", token+"\n", "")
	e.emu.SetSecret("webhook-hmac", hmacKey, "")
	e.emu.SetSecret("slack-signing", slack, "")
	e.emu.SetSecret("teams-webhook", teams, "")
	return token, hmacKey, slack, teams, map[string]string{
		"ALLOW_UNAUTHENTICATED":     "false",
		"WEBHOOK_TOKEN_SECRET_NAME": "webhook-token",
		"WEBHOOK_HMAC_SECRET_NAME":  "webhook-hmac",
		"SLACK_SIGNING_SECRET_NAME": "slack-signing",
		"TEAMS_WEBHOOK_SECRET_NAME": "teams-webhook",
	}
}

func withHeaders(t *testing.T, name string, headers map[string]string, body *string) []byte {
	t.Helper()
	return httpAPIEvent(t, name, func(ev *awsevents.APIGatewayV2HTTPRequest) {
		for k, v := range headers {
			ev.Headers[k] = v
		}
		if body != nil {
			ev.Body = *body
		}
	})
}

func TestCallerChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, hmacKey, _, _, vars := callerSecrets(t, e)
	fn := e.start(t, binaries.sync, vars)
	body := `{"ticket":"INC0012345"}`

	refused := []struct {
		name    string
		headers map[string]string
	}{
		{"no credentials", nil},
		{"wrong bearer", map[string]string{"authorization": "Bearer " + token + "x"}},
		{"wrong api key", map[string]string{"x-api-key": "nope"}},
		{"basic with wrong password", map[string]string{"authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("servicenow:nope"))}},
		{"signature of another body", map[string]string{"x-hub-signature-256": webhook.SignGitHub(hmacKey, []byte(`{"ticket":"other"}`))}},
		{"pagerduty wrong", map[string]string{"x-pagerduty-signature": "v1=" + strings.Repeat("ab", 32)}},
	}
	for _, tt := range refused {
		got := decodeHTTP(t, fn.invoke(t, withHeaders(t, "httpapi-sync.json", tt.headers, &body)))
		if got.StatusCode != 401 || got.json(t)["code"] != "unauthorized" {
			t.Errorf("%s: %d %s, want 401 unauthorized", tt.name, got.StatusCode, got.Body)
		}
		if strings.Contains(got.Body, token) || strings.Contains(got.Body, hmacKey) {
			t.Errorf("%s: the answer holds a secret", tt.name)
		}
	}
	c := e.emu.Counts()
	if c.SecretReads[emulator.SeedGraphCredentialSecret] != 0 || c.Graph["POST sync"] != 0 || c.Graph["GET"] != 0 {
		t.Errorf("refused requests reached Key Vault for Graph (%d reads) or Graph (%v)", c.SecretReads[emulator.SeedGraphCredentialSecret], c.Graph)
	}

	accepted := []struct {
		name    string
		headers map[string]string
	}{
		{"bearer", map[string]string{"authorization": "Bearer " + token}},
		{"api key", map[string]string{"x-api-key": token}},
		{"servicenow basic", map[string]string{"authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("svc-autopilot:"+token))}},
		{"github", map[string]string{"x-hub-signature-256": webhook.SignGitHub(hmacKey, []byte(body))}},
		{"jira", map[string]string{"x-hub-signature": webhook.SignGitHub(hmacKey, []byte(body))}},
		{"pagerduty, second value", map[string]string{"x-pagerduty-signature": "v1=" + strings.Repeat("00", 32) + "," + webhook.SignPagerDuty(hmacKey, []byte(body))}},
	}
	for _, tt := range accepted {
		got := decodeHTTP(t, fn.invoke(t, withHeaders(t, "httpapi-sync.json", tt.headers, &body)))
		if got.StatusCode != 202 && got.StatusCode != 409 {
			t.Errorf("%s: %d %s, want the sync's answer (202 or 409)", tt.name, got.StatusCode, got.Body)
		}
	}
}

// TestSignedChat: a signed Slack "sync" while Graph answers 429 gets HTTP 200 with the wait in
// words; a signed Teams message gets a Teams answer.
func TestSignedChat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, _, slackSecret, teamsSecret, vars := callerSecrets(t, e)
	fn := e.start(t, binaries.sync, vars)
	s := e.emu.Settings(emulator.SeedTenantID)
	// A whole second, so that the time left (rounded up to the minute) is 6 min, not 7.
	s.LastManualSyncTriggerDateTime = time.Now().Add(-4 * time.Minute).Truncate(time.Second)
	e.emu.SetSettings(emulator.SeedTenantID, s)

	slackEvent := func(secret string, ts time.Time) []byte {
		var body string
		httpAPIEvent(t, "httpapi-slack-sync.json", func(ev *awsevents.APIGatewayV2HTTPRequest) { body = ev.Body })
		stamp := strconv.FormatInt(ts.Unix(), 10)
		return withHeaders(t, "httpapi-slack-sync.json", map[string]string{
			"x-slack-request-timestamp": stamp,
			"x-slack-signature":         webhook.SignSlack(secret, stamp, []byte(body)),
		}, nil)
	}
	got := decodeHTTP(t, fn.invoke(t, slackEvent(slackSecret, time.Now())))
	answer := got.json(t)
	text, _ := answer["text"].(string)
	if got.StatusCode != 200 || answer["response_type"] != "ephemeral" || !strings.Contains(text, "Next sync allowed in 6 min") {
		t.Errorf("slack sync while throttled: %d %s", got.StatusCode, got.Body)
	}
	if _, ok := answer["blocks"].([]any); !ok {
		t.Errorf("no Block Kit blocks: %s", got.Body)
	}

	for name, ev := range map[string][]byte{
		"stale timestamp": slackEvent(slackSecret, time.Now().Add(-6*time.Minute)),
		"wrong secret":    slackEvent("not-the-secret", time.Now()),
		"placeholder":     sample(t, "httpapi-slack-sync.json"),
	} {
		if got := decodeHTTP(t, fn.invoke(t, ev)); got.StatusCode != 401 {
			t.Errorf("slack %s: %d %s, want 401", name, got.StatusCode, got.Body)
		}
	}

	// A Teams activity must be stamped within 5 minutes of the function's clock (SPEC §6).
	var teamsBody string
	httpAPIEvent(t, "httpapi-teams-sync.json", func(ev *awsevents.APIGatewayV2HTTPRequest) { teamsBody = ev.Body })
	teamsBody = regexp.MustCompile(`"timestamp":"[^"]*"`).ReplaceAllString(teamsBody, `"timestamp":"`+time.Now().UTC().Format(time.RFC3339Nano)+`"`)
	sig, err := webhook.SignTeams(teamsSecret, []byte(teamsBody))
	if err != nil {
		t.Fatal(err)
	}
	got = decodeHTTP(t, fn.invoke(t, withHeaders(t, "httpapi-teams-sync.json", map[string]string{"authorization": sig}, &teamsBody)))
	answer = got.json(t)
	if text, _ := answer["text"].(string); got.StatusCode != 200 || answer["type"] != "message" || !strings.Contains(text, "Next sync allowed in") {
		t.Errorf("teams sync while throttled: %d %s", got.StatusCode, got.Body)
	}
	if got := decodeHTTP(t, fn.invokeLogged(t, sample(t, "httpapi-teams-sync.json"))); got.StatusCode != 401 {
		t.Errorf("teams placeholder signature: %d, want 401", got.StatusCode)
	}
	if !strings.Contains(fn.logs.String(), `"source":"slack"`) || !strings.Contains(fn.logs.String(), `"source":"teams"`) {
		t.Error("log lines do not name the chat source")
	}
}
