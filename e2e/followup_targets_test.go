package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/webhook"
)

// connCounter is a TLS receiver on loopback that counts the connections it accepts.
type connCounter struct {
	srv   *httptest.Server
	conns atomic.Int32
}

func startConnCounter(t *testing.T) *connCounter {
	t.Helper()
	c := &connCounter{}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	c.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.conns.Add(1)
		}
	}
	c.srv.StartTLS()
	t.Cleanup(c.srv.Close)
	return c
}

func (c *connCounter) port() int { return c.srv.Listener.Addr().(*net.TCPAddr).Port }

// syncWithBody is the HTTP API POST /sync sample with a JSON body and a bearer token.
func syncWithBody(t *testing.T, token, body string) []byte {
	t.Helper()
	return httpAPIEvent(t, "httpapi-sync.json", func(ev *awsevents.APIGatewayV2HTTPRequest) {
		ev.Body = body
		ev.Headers["content-type"] = "application/json"
		ev.Headers["content-length"] = strconv.Itoa(len(body))
		ev.Headers["authorization"] = "Bearer " + token
	})
}

// slashCommand is the Slack sample "/autopilot-sync sync" with responseURL, signed with secret.
func slashCommand(t *testing.T, secret, responseURL string) []byte {
	t.Helper()
	return httpAPIEvent(t, "httpapi-slack-sync.json", func(ev *awsevents.APIGatewayV2HTTPRequest) {
		form, err := url.ParseQuery(ev.Body)
		if err != nil {
			t.Fatal(err)
		}
		form.Set("response_url", responseURL)
		ev.Body = form.Encode()
		stamp := strconv.FormatInt(time.Now().Unix(), 10)
		ev.Headers["x-slack-request-timestamp"] = stamp
		ev.Headers["x-slack-signature"] = webhook.SignSlack(secret, stamp, []byte(ev.Body))
	})
}

// teamsMessage is the Teams sample "sync", stamped now and signed with secret.
func teamsMessage(t *testing.T, secret string) []byte {
	t.Helper()
	return httpAPIEvent(t, "httpapi-teams-sync.json", func(ev *awsevents.APIGatewayV2HTTPRequest) {
		ev.Body = regexp.MustCompile(`"timestamp":"[^"]*"`).ReplaceAllString(ev.Body, `"timestamp":"`+time.Now().UTC().Format(time.RFC3339Nano)+`"`)
		sig, err := webhook.SignTeams(secret, []byte(ev.Body))
		if err != nil {
			t.Fatal(err)
		}
		ev.Headers["authorization"] = sig
	})
}

// TestFollowUpTargetsNeverReachLoopback is SPEC §13's network safety, end to end in the
// production binary: each target (a Slack response_url under a literal-IP prefix, the Teams
// Workflows URL, a callback under a literal-IP urlPrefix, a callback under a host name that
// resolves to loopback) is accepted when its sync starts, and when the outcome is known every
// delivery ends blocked, with its verdict on the log line, no retry, and not one connection to
// the receiver that listens there: on Lambda the Runtime API listens on loopback. Callback URLs
// that break the rules are a 400 before any sync.
func TestFollowUpTargetsNeverReachLoopback(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	q := s.newQueue(t)
	e := newEnv(t)
	receiver := startConnCounter(t)
	port := receiver.port()

	token, _, slackSecret, teamsSecret, vars := callerSecrets(t, e)
	e.emu.SetSecret("teams-notify-url", fmt.Sprintf("https://127.0.0.1:%d/workflows/%s/triggers/manual/paths/invoke?api-version=1&sig=%s", port, rand.Text(), rand.Text()), "")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("svc-autopilot:"+rand.Text()))
	targets, _ := json.Marshal([]map[string]any{
		{"urlPrefix": fmt.Sprintf("https://127.0.0.1:%d/api/x_autopilot/", port), "headers": map[string]string{"Authorization": basic}},
		{"urlPrefix": fmt.Sprintf("https://localhost:%d/automation/webhooks/jira/a/", port), "headers": map[string]string{"X-Automation-Webhook-Token": rand.Text()}},
	})
	e.emu.SetSecret("callback-targets", string(targets), "")
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	e.emu.SetSecret("callback-signing", "whsec_"+base64.StdEncoding.EncodeToString(key), "")
	maps.Copy(vars, s.vars(e, q))
	vars["SLACK_RESPONSE_URL_PREFIXES"] = fmt.Sprintf("https://127.0.0.1:%d/commands/", port)
	vars["TEAMS_NOTIFY_URL_SECRET_NAME"] = "teams-notify-url"
	vars["CALLBACK_TARGETS_SECRET_NAME"] = "callback-targets"
	vars["CALLBACK_SIGNING_SECRET_NAME"] = "callback-signing"
	fn := e.start(t, binaries.sync, vars)

	serviceNow := fmt.Sprintf("https://127.0.0.1:%d/api/x_autopilot/done/INC0012345-%s", port, rand.Text())
	jira := fmt.Sprintf("https://localhost:%d/automation/webhooks/jira/a/%s/%s", port, rand.Text(), rand.Text())
	responseURL := fmt.Sprintf("https://127.0.0.1:%d/commands/T0EXAMPLE/%d/%s", port, time.Now().UnixNano(), rand.Text())

	refused := map[string]string{
		"no prefix":    "https://contoso.example/api/x_autopilot/done",
		"plain http":   fmt.Sprintf("http://127.0.0.1:%d/api/x_autopilot/done", port),
		"user info":    fmt.Sprintf("https://svc:pw@127.0.0.1:%d/api/x_autopilot/done", port),
		"a fragment":   fmt.Sprintf("https://127.0.0.1:%d/api/x_autopilot/done#top", port),
		"another port": fmt.Sprintf("https://127.0.0.1:%d/api/x_autopilot/done", port+1),
		"2 KB":         fmt.Sprintf("https://127.0.0.1:%d/api/x_autopilot/%s", port, strings.Repeat("a", 2100)),
		"an IDN host":  "https://bücher.example/api/x_autopilot/done",
		"dot segments": fmt.Sprintf("https://127.0.0.1:%d/api/x_autopilot/../../admin", port),
		// What Tomcat and Spring read as "..": with parameters, encoded, encoded twice.
		"..; segments":    fmt.Sprintf("https://127.0.0.1:%d/api/x_autopilot/..;/..;/admin", port),
		"%2e%2e; segment": fmt.Sprintf("https://127.0.0.1:%d/api/x_autopilot/%%2e%%2e;/admin", port),
		"..%3b segment":   fmt.Sprintf("https://127.0.0.1:%d/api/x_autopilot/..%%3b/admin", port),
		"%25":             fmt.Sprintf("https://127.0.0.1:%d/api/x_autopilot/%%252e%%252e/admin", port),
		"empty":           "",
	}
	for name, u := range refused {
		body, _ := json.Marshal(map[string]string{"callbackUrl": u})
		got := decodeHTTP(t, fn.invoke(t, syncWithBody(t, token, string(body))))
		if got.StatusCode != 400 || got.json(t)["code"] != "badRequest" {
			t.Errorf("callbackUrl with %s: %d %s, want 400 badRequest", name, got.StatusCode, got.Body)
		}
	}
	if n := e.emu.Counts().Graph["POST sync"]; n != 0 {
		t.Errorf("refused callbackUrls started %d syncs", n)
	}

	// Each accepted request starts a sync: the emulator's clock moves past Graph's ten minutes
	// between them.
	nextSync := func() { e.clock.Advance(11 * time.Minute) }
	type started struct {
		name    string
		targets string // the answer's followUp.targets, or what the chat reply promised
	}
	var starts []started
	for _, cb := range []struct{ name, url string }{{"ServiceNow", serviceNow}, {"Jira", jira}} {
		body, _ := json.Marshal(map[string]string{"callbackUrl": cb.url})
		got := decodeHTTP(t, fn.invoke(t, syncWithBody(t, token, string(body))))
		ref, _ := got.json(t)["followUp"].(map[string]any)
		if got.StatusCode != 202 || fmt.Sprint(ref["targets"]) != "[callback]" {
			t.Fatalf("POST /sync with a %s callbackUrl: %d %s", cb.name, got.StatusCode, got.Body)
		}
		starts = append(starts, started{cb.name, "callback"})
		nextSync()
	}
	chats := []struct {
		name, wantText, targets string
		event                   []byte
	}{
		{"Slack", "I will post here when it has finished.", "slack", slashCommand(t, slackSecret, responseURL)},
		{"Slack, a response_url under no prefix", "No follow-up will come", "none",
			slashCommand(t, slackSecret, "https://hooks.slack.com/commands/T0EXAMPLE/1/"+rand.Text())},
		{"Teams", "I will post here when it has finished.", "teams", teamsMessage(t, teamsSecret)},
	}
	for _, c := range chats {
		got := decodeHTTP(t, fn.invoke(t, c.event))
		if text, _ := got.json(t)["text"].(string); got.StatusCode != 200 || !strings.Contains(text, c.wantText) {
			t.Fatalf("%s: %d %s, want a reply saying %q", c.name, got.StatusCode, got.Body, c.wantText)
		}
		starts = append(starts, started{c.name, c.targets})
		nextSync()
	}

	sent := s.sentTo(q)
	if len(sent) != len(starts) {
		t.Fatalf("%d follow-up messages for %d syncs", len(sent), len(starts))
	}
	// One more, with every target at once, as no single source starts it.
	all := followup.New(followup.NewID(), "", time.Now().Add(-time.Minute), followup.Targets{Slack: responseURL, Teams: true, Callback: serviceNow})
	var records []awsevents.SQSMessage
	wantTargets := map[string]string{all.ID: "slack,teams,callback"}
	for i, m := range sent {
		msg := decodeMessage(t, m.MessageBody)
		if got := msg.Targets.String(); got != starts[i].targets {
			t.Errorf("%s: the message names the targets %s, want %s", starts[i].name, got, starts[i].targets)
		}
		wantTargets[msg.ID] = starts[i].targets
		records = append(records, sqsRecord(fmt.Sprint("m", i), []byte(m.MessageBody)))
	}
	records = append(records, sqsRecord("all", encode(t, all)))

	e.setSettings("completed", time.Now().Add(time.Minute))
	if failed := fn.consume(t, records...); len(failed) != 0 {
		t.Errorf("batchItemFailures %v: a blocked delivery is final", failed)
	}
	for id, want := range wantTargets {
		line := lineOf(t, fn, id)
		if line["outcome"] != "completed" {
			t.Errorf("%s: outcome %v", want, line["outcome"])
		}
		ds, _ := line["deliveries"].([]any)
		var got []string
		for _, d := range ds {
			d := d.(map[string]any)
			msg, _ := d["error"].(string)
			if d["verdict"] != "blocked" || !strings.Contains(msg, "loopback") || d["status"] != nil {
				t.Errorf("%s: delivery %v, want blocked for a loopback address, without a status", want, d)
			}
			got = append(got, d["target"].(string))
		}
		if want == "none" {
			want = ""
		}
		if strings.Join(got, ",") != want {
			t.Errorf("deliveries to %q, want %q: %v", got, want, line)
		}
	}
	if n := len(s.sentTo(q)); n != len(sent) {
		t.Errorf("%d messages after the outcomes, want none: blocked deliveries are never retried", n-len(sent))
	}
	if n := receiver.conns.Load(); n != 0 {
		t.Errorf("the receiver on loopback accepted %d connections, want none", n)
	}
}
