package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"
)

// leaks gathers, across the whole package run, every function's log and every invocation's
// answer, and every secret and token the emulators knew; TestMain checks after m.Run that no
// secret appears anywhere (SPEC §4, §12: no secret, token or signature is ever logged or
// returned). The follow-up's targets count as secrets too (SPEC §13): every Slack response_url
// and callbackUrl an event of the suite carried (targetsOfEvent), and every header value of a
// callback-targets secret (callbackHeaderValues).
var leaks leakCollector

// secretValue is one secret and what it is (named in a failure; the value never is).
type secretValue struct {
	kind  string
	value string
}

type leakCollector struct {
	mu      sync.Mutex
	logs    []capturedLog
	answers []capturedAnswer
	secrets []ownedSecret
}

type capturedLog struct {
	where string
	buf   interface{ String() string }
}

type capturedAnswer struct {
	where string
	body  string
}

type ownedSecret struct {
	secretValue
	owner string // the test whose emulator knew it
}

func (c *leakCollector) addLog(where string, buf interface{ String() string }) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs = append(c.logs, capturedLog{where: where, buf: buf})
}

func (c *leakCollector) addAnswer(where string, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answers = append(c.answers, capturedAnswer{where: where, body: string(body)})
}

// addEvent records the follow-up targets that event, sent by the test owner, carries.
func (c *leakCollector) addEvent(owner string, event []byte) {
	if targets := targetsOfEvent(event); len(targets) > 0 {
		c.addSecrets(owner, targets)
	}
}

func (c *leakCollector) addSecrets(owner string, secrets []secretValue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range secrets {
		c.secrets = append(c.secrets, ownedSecret{secretValue: s, owner: owner})
	}
}

// leak is one secret found where it must not be.
type leak struct {
	kind, owner, where string
}

func (l leak) String() string {
	return fmt.Sprintf("%s known to the emulator of %s appears in %s", l.kind, l.owner, l.where)
}

// leakStats are the figures of one check.
type leakStats struct {
	secrets, tokens, logs, logLines, answers int
}

// scan looks for every secret in every log and answer collected so far.
func (c *leakCollector) scan() ([]leak, leakStats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var st leakStats
	seen := map[string]bool{}
	var secrets []ownedSecret
	for _, s := range c.secrets {
		// Values too short to be secrets would only find noise; the emulator's are 32+ hex digits.
		if len(s.value) < 8 || seen[s.value] {
			continue
		}
		seen[s.value] = true
		secrets = append(secrets, s)
		if s.kind == "access token" {
			st.tokens++
		} else {
			st.secrets++
		}
	}
	var found []leak
	look := func(where, text string) {
		for _, s := range secrets {
			if strings.Contains(text, s.value) {
				found = append(found, leak{kind: s.kind, owner: s.owner, where: where})
			}
		}
	}
	for _, l := range c.logs {
		text := l.buf.String()
		st.logs++
		st.logLines += strings.Count(text, "\n")
		look("the log of "+l.where, text)
	}
	for _, a := range c.answers {
		st.answers++
		look("an answer in "+a.where, a.body)
	}
	return found, st
}

// check reports the leaks found to w and whether there were none; verbose also reports the figures.
func (c *leakCollector) check(w io.Writer, verbose bool) bool {
	found, st := c.scan()
	for _, l := range found {
		fmt.Fprintf(w, "LEAK: %s\n", l)
	}
	if len(found) > 0 || verbose {
		fmt.Fprintf(w, "leak check: %d secrets and %d access tokens against %d log lines of %d function processes and %d invocation answers: %d leaks\n",
			st.secrets, st.tokens, st.logLines, st.logs, st.answers, len(found))
	}
	if st.secrets == 0 && st.logs > 0 {
		fmt.Fprintln(w, "leak check: no secret was collected; the check itself is broken")
		return false
	}
	return len(found) == 0
}

// targetsOfEvent returns the follow-up targets an HTTP event carries in its body: a Slack slash
// command's response_url, a POST /sync's callbackUrl. They are secrets for logging purposes
// (SPEC §13): whoever holds a response_url can post into the channel.
func targetsOfEvent(event []byte) []secretValue {
	var ev struct {
		Body            string `json:"body"`
		IsBase64Encoded bool   `json:"isBase64Encoded"`
	}
	if json.Unmarshal(event, &ev) != nil || ev.Body == "" {
		return nil
	}
	body := ev.Body
	if ev.IsBase64Encoded {
		raw, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return nil
		}
		body = string(raw)
	}
	var out []secretValue
	if form, err := url.ParseQuery(body); err == nil {
		for _, u := range form["response_url"] {
			out = append(out, secretValue{kind: "Slack response_url", value: u})
		}
	}
	var req struct {
		CallbackURL string `json:"callbackUrl"`
	}
	if json.Unmarshal([]byte(body), &req) == nil && req.CallbackURL != "" {
		out = append(out, secretValue{kind: "callbackUrl", value: req.CallbackURL})
	}
	return out
}

// callbackHeaderValues returns the header values of a CALLBACK_TARGETS_SECRET_NAME secret
// ([{"urlPrefix":…,"headers":{…}}]), each a credential of its target; nil for any other value.
func callbackHeaderValues(kind, value string) []secretValue {
	var targets []struct {
		URLPrefix string            `json:"urlPrefix"`
		Headers   map[string]string `json:"headers"`
	}
	if json.Unmarshal([]byte(value), &targets) != nil {
		return nil
	}
	var out []secretValue
	for _, t := range targets {
		for name, v := range t.Headers {
			out = append(out, secretValue{kind: "header " + name + " of " + kind, value: strings.TrimSpace(v)})
		}
	}
	return out
}

// TestLeakCheckFindsPlantedSecrets proves that the package-wide check can fail: a token in a log
// and a client secret in an answer are found and named by kind and place, never by value.
func TestLeakCheckFindsPlantedSecrets(t *testing.T) {
	t.Parallel()
	const (
		token  = "emu.0123456789abcdef0123456789abcdef"
		secret = "emu-graph-fedcba9876543210"
	)
	var c leakCollector
	c.addSecrets("TestX", []secretValue{{kind: "access token", value: token}, {kind: "Key Vault secret graph-credential", value: secret}, {kind: "short", value: "abc"}})
	var logs strings.Builder
	fmt.Fprintf(&logs, "{\"msg\":\"invocation\",\"authorization\":\"Bearer %s\"}\n{\"msg\":\"fine\"}\n", token)
	c.addLog("TestY (sync function)", &logs)
	c.addAnswer("TestZ", []byte(`{"detail":"abc `+secret+`"}`))
	c.addAnswer("TestZ", []byte(`{"detail":"nothing here"}`))

	found, st := c.scan()
	want := []string{
		"access token known to the emulator of TestX appears in the log of TestY (sync function)",
		"Key Vault secret graph-credential known to the emulator of TestX appears in an answer in TestZ",
	}
	var got []string
	for _, l := range found {
		got = append(got, l.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st.secrets != 1 || st.tokens != 1 || st.logLines != 2 || st.answers != 2 {
		t.Errorf("stats = %+v", st)
	}
	var report strings.Builder
	if c.check(&report, false) {
		t.Error("check passed with leaks")
	}
	if strings.Contains(report.String(), token) || strings.Contains(report.String(), secret) {
		t.Errorf("the report quotes a secret:\n%s", report.String())
	}
}

// TestLeakCheckCoversFollowUpTargets proves that the follow-up's targets are looked for: a
// response_url and a callbackUrl taken from the events, and a header value of a callback-targets
// secret, each found where it must not be.
func TestLeakCheckCoversFollowUpTargets(t *testing.T) {
	t.Parallel()
	const (
		responseURL = "https://hooks.slack.com/commands/T0EXAMPLE/42/LeakCheckResponseURL"
		callbackURL = "https://contoso.service-now.com/api/x_autopilot/leak-check/INC0042"
		token       = "leak-check-jira-token-0123456789"
	)
	slashCommand, _ := json.Marshal(awsevents.APIGatewayV2HTTPRequest{IsBase64Encoded: true,
		Body: base64.StdEncoding.EncodeToString([]byte("command=%2Fautopilot-sync&text=sync&response_url=" + url.QueryEscape(responseURL)))})
	syncRequest, _ := json.Marshal(awsevents.APIGatewayV2HTTPRequest{Body: `{"callbackUrl":"` + callbackURL + `"}`})
	targets, _ := json.Marshal([]map[string]any{{"urlPrefix": "https://api-private.atlassian.com/automation/webhooks/jira/a/",
		"headers": map[string]string{"X-Automation-Webhook-Token": token}}})

	var c leakCollector
	c.addEvent("TestSlack", slashCommand)
	c.addEvent("TestCallback", syncRequest)
	c.addEvent("TestSQS", []byte(`{"Records":[{"eventSource":"aws:sqs","body":"{}"}]}`))
	c.addSecrets("TestJira", callbackHeaderValues("Key Vault secret callback-targets", string(targets)))
	var logs strings.Builder
	fmt.Fprintf(&logs, "{\"msg\":\"invocation\",\"target\":%q}\n{\"msg\":\"x\",\"h\":%q}\n", responseURL, token)
	c.addLog("TestY (sync function)", &logs)
	c.addAnswer("TestZ", []byte(`{"detail":"`+callbackURL+`"}`))

	found, _ := c.scan()
	want := []string{
		"Slack response_url known to the emulator of TestSlack appears in the log of TestY (sync function)",
		"header X-Automation-Webhook-Token of Key Vault secret callback-targets known to the emulator of TestJira appears in the log of TestY (sync function)",
		"callbackUrl known to the emulator of TestCallback appears in an answer in TestZ",
	}
	var got []string
	for _, l := range found {
		got = append(got, l.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
