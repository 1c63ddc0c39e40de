package webhook

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// fakeSecrets is a Key Vault stand-in: values by name, an error knob per name, and a count of
// reads so tests can prove that a request without credentials reads nothing.
type fakeSecrets struct {
	values map[string]string
	errs   map[string]error

	mu    sync.Mutex
	reads map[string]int
}

func (f *fakeSecrets) Get(_ context.Context, name string) (keyvault.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reads == nil {
		f.reads = map[string]int{}
	}
	f.reads[name]++
	if err := f.errs[name]; err != nil {
		return keyvault.Secret{}, err
	}
	return keyvault.Secret{Name: name, Value: f.values[name], Version: "v1"}, nil
}

func (f *fakeSecrets) totalReads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.reads {
		n += c
	}
	return n
}

const (
	tokenName = "webhook-token"
	hmacName  = "webhook-hmac"
	slackName = "slack-signing"
	teamsName = "teams-webhook"

	token       = "tok-3f9c2a7d41e8b6"
	hmacSecret  = "hmac-secret-b7e1c04d"
	slackSecret = "slack-signing-0a1b2c3d"
	// teamsSecret is base64("teams-outgoing-webhook-key-32byt"), as Teams shows a security token.
	teamsSecret = "dGVhbXMtb3V0Z29pbmctd2ViaG9vay1rZXktMzJieXQ="

	// GitHub's published example (docs "Validating webhook deliveries").
	githubSecret    = "It's a Secret to Everybody"
	githubBody      = "Hello, World!"
	githubSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

	// teamsHelloSignature is base64(HMAC-SHA256(base64decode(teamsSecret), "Hello, World!")),
	// computed with openssl.
	teamsHelloSignature = "HMAC /KNjdZCQlHvM83rwzjDt7vNh9AS62bMzM5Bphja2BG4="

	// Slack's example of "Verifying requests from Slack".
	slackDocSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	slackDocTimestamp = "1531420618"
	slackDocBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	slackDocSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

var (
	allNames = Names{Token: tokenName, HMAC: hmacName, Slack: slackName, Teams: teamsName}
	testNow  = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	body     = []byte(`{"command":"sync"}`)
	tampered = []byte(`{"command":"sync "}`)
)

func defaultSecrets() map[string]string {
	return map[string]string{tokenName: token, hmacName: hmacSecret, slackName: slackSecret, teamsName: teamsSecret}
}

// hdr builds a header from name, value pairs; a repeated name repeats the header.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func basic(userPassword string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userPassword))
}

// nonCanonical encodes s in base64 with non-zero padding bits, which lenient decoders accept.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	enc := base64.StdEncoding.EncodeToString([]byte(s))
	if len(s)%3 != 2 {
		panic("nonCanonical needs one padding character")
	}
	last := strings.IndexByte(alphabet, enc[len(enc)-2])
	return enc[:len(enc)-2] + string(alphabet[last+1]) + "="
}

func unixString(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func teams(t *testing.T, secret string, b []byte) string {
	t.Helper()
	s, err := SignTeams(secret, b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheck(t *testing.T) {
	t.Parallel()
	ts := unixString(testNow)
	otherTeams := base64.StdEncoding.EncodeToString([]byte("another-teams-key-of-32-bytes!!!"))
	kvDown := errors.New("dial tcp 10.0.0.1:443: i/o timeout")
	missing := &keyvault.Error{Name: tokenName, StatusCode: http.StatusNotFound, NotFound: true}
	forbidden := &keyvault.Error{Name: hmacName, StatusCode: http.StatusForbidden}
	late := &keyvault.Error{Name: slackName, Err: context.DeadlineExceeded}
	key15 := base64.StdEncoding.EncodeToString([]byte("fifteen-bytes!!"))
	key16 := base64.StdEncoding.EncodeToString([]byte("sixteen-bytes!!!"))

	tests := []struct {
		name      string
		names     *Names            // nil means allNames
		secrets   map[string]string // nil means defaultSecrets()
		errs      map[string]error
		now       time.Time // zero means testNow
		header    http.Header
		body      []byte       // nil means body
		scheme    Scheme       // the scheme that passed, when want is ""
		want      problem.Code // "" means the check passes
		wantIs    error        // when set, the error must wrap it
		wantReads int
	}{
		// No credentials: no secret is read.
		{name: "no headers", header: hdr(), want: problem.Unauthorized},
		{name: "unrelated headers", header: hdr("Content-Type", "application/json", "User-Agent", "curl/8"), want: problem.Unauthorized},
		{name: "empty authorization", header: hdr("Authorization", ""), want: problem.Unauthorized},

		// Token scheme.
		{name: "bearer right", header: hdr("Authorization", "Bearer "+token), scheme: SchemeToken, wantReads: 1},
		{name: "bearer scheme in lower case", header: hdr("Authorization", "bearer "+token), scheme: SchemeToken, wantReads: 1},
		{name: "bearer wrong same length", header: hdr("Authorization", "Bearer "+strings.Repeat("x", len(token))), want: problem.Unauthorized, wantReads: 1},
		{name: "bearer shorter token", header: hdr("Authorization", "Bearer "+token[:len(token)-1]), want: problem.Unauthorized, wantReads: 1},
		{name: "bearer longer token", header: hdr("Authorization", "Bearer "+token+"0"), want: problem.Unauthorized, wantReads: 1},
		{name: "bearer without token", header: hdr("Authorization", "Bearer"), want: problem.Unauthorized},
		{name: "bearer with two spaces", header: hdr("Authorization", "Bearer  "+token), want: problem.Unauthorized},
		{name: "bearer with blank inside", header: hdr("Authorization", "Bearer "+token+" x"), want: problem.Unauthorized},
		{name: "token without scheme", header: hdr("Authorization", token), want: problem.Unauthorized},
		{name: "authorization repeated", header: hdr("Authorization", "Bearer "+token, "Authorization", "Bearer "+token), want: problem.Unauthorized},
		{name: "api key right", header: hdr("X-Api-Key", token), scheme: SchemeToken, wantReads: 1},
		{name: "api key wrong", header: hdr("X-Api-Key", "nope"), want: problem.Unauthorized, wantReads: 1},
		{name: "api key right, bearer wrong", header: hdr("Authorization", "Bearer nope", "X-Api-Key", token), scheme: SchemeToken, wantReads: 1},
		{name: "bearer right, api key wrong", header: hdr("Authorization", "Bearer "+token, "X-Api-Key", "nope"), scheme: SchemeToken, wantReads: 1},
		{name: "basic right", header: hdr("Authorization", basic("svc.servicenow:"+token)), scheme: SchemeToken, wantReads: 1},
		{name: "basic empty user name", header: hdr("Authorization", basic(":"+token)), scheme: SchemeToken, wantReads: 1},
		{name: "basic scheme in upper case", header: hdr("Authorization", "BASIC "+base64.StdEncoding.EncodeToString([]byte("u:"+token))), scheme: SchemeToken, wantReads: 1},
		{name: "basic wrong password", header: hdr("Authorization", basic("svc.servicenow:"+token+"x")), want: problem.Unauthorized, wantReads: 1},
		{name: "basic token as user name", header: hdr("Authorization", basic(token+":x")), want: problem.Unauthorized, wantReads: 1},
		{name: "basic ill-formed base64", header: hdr("Authorization", "Basic !!not-base64!!"), want: problem.Unauthorized},
		{name: "basic unpadded base64", header: hdr("Authorization", "Basic "+strings.TrimRight(base64.StdEncoding.EncodeToString([]byte("u:"+token)), "=")), want: problem.Unauthorized},
		{name: "basic non-canonical base64", header: hdr("Authorization", "Basic "+nonCanonical("u:"+token)), want: problem.Unauthorized},
		{name: "basic without colon", header: hdr("Authorization", basic(token)), want: problem.Unauthorized},
		{name: "basic empty password", header: hdr("Authorization", basic("svc.servicenow:")), want: problem.Unauthorized},
		// Go's base64 decoder skips \r and \n even in strict mode (FuzzBasicAuth found this one).
		{name: "basic with a carriage return in the base64", header: hdr("Authorization", "BAsiC OnRvay0z\rZjljMmE3ZDQxZThiNg=="), want: problem.Unauthorized},
		{name: "basic with a newline in the base64", header: hdr("Authorization", "Basic OnRvay0z\nZjljMmE3ZDQxZThiNg=="), want: problem.Unauthorized},
		{name: "basic with a carriage return at the end", header: hdr("Authorization", "Basic OnRvay0zZjljMmE3ZDQxZThiNg==\r"), want: problem.Unauthorized},
		{name: "basic url-safe alphabet", header: hdr("Authorization", "Basic "+base64.URLEncoding.EncodeToString([]byte("u>?:"+token))), want: problem.Unauthorized},
		{name: "token secret pasted with blanks", secrets: map[string]string{tokenName: "\n  " + token + " \r\n"}, header: hdr("Authorization", "Bearer "+token), scheme: SchemeToken, wantReads: 1},
		{name: "empty token secret is a misconfiguration", secrets: map[string]string{tokenName: " \n"}, header: hdr("Authorization", basic("u:x")), want: problem.Misconfigured, wantReads: 1},

		// HMAC scheme.
		{name: "github published vector", secrets: map[string]string{hmacName: githubSecret}, body: []byte(githubBody), header: hdr("X-Hub-Signature-256", githubSignature), scheme: SchemeHMAC, wantReads: 1},
		{name: "github hex in upper case", secrets: map[string]string{hmacName: githubSecret}, body: []byte(githubBody), header: hdr("X-Hub-Signature-256", "sha256="+strings.ToUpper(strings.TrimPrefix(githubSignature, "sha256="))), scheme: SchemeHMAC, wantReads: 1},
		{name: "github wrong secret", body: []byte(githubBody), header: hdr("X-Hub-Signature-256", githubSignature), want: problem.Unauthorized, wantReads: 1},
		{name: "github tampered body", header: hdr("X-Hub-Signature-256", SignGitHub(hmacSecret, tampered)), want: problem.Unauthorized, wantReads: 1},
		{name: "github right", header: hdr("X-Hub-Signature-256", SignGitHub(hmacSecret, body)), scheme: SchemeHMAC, wantReads: 1},
		{name: "github prefix in upper case", header: hdr("X-Hub-Signature-256", "SHA256="+strings.TrimPrefix(SignGitHub(hmacSecret, body), "sha256=")), want: problem.Unauthorized},
		{name: "github short hex", header: hdr("X-Hub-Signature-256", SignGitHub(hmacSecret, body)[:70]), want: problem.Unauthorized},
		{name: "github non-hex", header: hdr("X-Hub-Signature-256", "sha256="+strings.Repeat("zz", 32)), want: problem.Unauthorized},
		{name: "hub signature sha1 form", header: hdr("X-Hub-Signature", "sha1="+strings.Repeat("ab", 20)), want: problem.Unauthorized},
		{name: "jira right", header: hdr("X-Hub-Signature", SignGitHub(hmacSecret, body)), scheme: SchemeHMAC, wantReads: 1},
		{name: "jira wrong", header: hdr("X-Hub-Signature", SignGitHub("other", body)), want: problem.Unauthorized, wantReads: 1},
		{name: "hmac secret pasted with newline", secrets: map[string]string{hmacName: hmacSecret + "\n"}, header: hdr("X-Hub-Signature-256", SignGitHub(hmacSecret, body)), scheme: SchemeHMAC, wantReads: 1},
		{name: "empty hmac secret is a misconfiguration", secrets: map[string]string{hmacName: "\n"}, header: hdr("X-Hub-Signature-256", SignGitHub("", body)), want: problem.Misconfigured, wantReads: 1},
		{name: "pagerduty right", header: hdr("X-PagerDuty-Signature", SignPagerDuty(hmacSecret, body)), scheme: SchemeHMAC, wantReads: 1},
		{name: "pagerduty second of three matches", header: hdr("X-PagerDuty-Signature", SignPagerDuty("old", body)+","+SignPagerDuty(hmacSecret, body)+","+SignPagerDuty("new", body)), scheme: SchemeHMAC, wantReads: 1},
		{name: "pagerduty blanks after commas", header: hdr("X-PagerDuty-Signature", SignPagerDuty("old", body)+", "+SignPagerDuty(hmacSecret, body)), scheme: SchemeHMAC, wantReads: 1},
		{name: "pagerduty unknown version skipped", header: hdr("X-PagerDuty-Signature", "v2=abc,"+SignPagerDuty(hmacSecret, body)), scheme: SchemeHMAC, wantReads: 1},
		{name: "pagerduty none matches", header: hdr("X-PagerDuty-Signature", SignPagerDuty("old", body)+","+SignPagerDuty("new", body)), want: problem.Unauthorized, wantReads: 1},
		{name: "pagerduty tampered body", header: hdr("X-PagerDuty-Signature", SignPagerDuty(hmacSecret, tampered)), want: problem.Unauthorized, wantReads: 1},
		{name: "pagerduty garbage", header: hdr("X-PagerDuty-Signature", "v2=zz,,v1=,v1=12"), want: problem.Unauthorized},

		// Slack.
		{name: "slack documented example", secrets: map[string]string{slackName: slackDocSecret}, now: time.Unix(1531420618+10, 0), body: []byte(slackDocBody), header: hdr("X-Slack-Signature", slackDocSignature, "X-Slack-Request-Timestamp", slackDocTimestamp), scheme: SchemeSlack, wantReads: 1},
		{name: "slack right", header: hdr("X-Slack-Signature", SignSlack(slackSecret, ts, body), "X-Slack-Request-Timestamp", ts), scheme: SchemeSlack, wantReads: 1},
		{name: "slack hex in upper case", header: hdr("X-Slack-Signature", "v0="+strings.ToUpper(strings.TrimPrefix(SignSlack(slackSecret, ts, body), "v0=")), "X-Slack-Request-Timestamp", ts), scheme: SchemeSlack, wantReads: 1},
		{name: "slack wrong secret", header: hdr("X-Slack-Signature", SignSlack("other", ts, body), "X-Slack-Request-Timestamp", ts), want: problem.Unauthorized, wantReads: 1},
		{name: "slack tampered body", header: hdr("X-Slack-Signature", SignSlack(slackSecret, ts, tampered), "X-Slack-Request-Timestamp", ts), want: problem.Unauthorized, wantReads: 1},
		{name: "slack signed another timestamp", header: hdr("X-Slack-Signature", SignSlack(slackSecret, unixString(testNow.Add(-time.Second)), body), "X-Slack-Request-Timestamp", ts), want: problem.Unauthorized, wantReads: 1},
		{name: "slack 6 min old", header: slackAt(testNow.Add(-6 * time.Minute)), want: problem.Unauthorized},
		{name: "slack 6 min in the future", header: slackAt(testNow.Add(6 * time.Minute)), want: problem.Unauthorized},
		{name: "slack exactly 5 min old", header: slackAt(testNow.Add(-5 * time.Minute)), scheme: SchemeSlack, wantReads: 1},
		{name: "slack exactly 5 min in the future", header: slackAt(testNow.Add(5 * time.Minute)), scheme: SchemeSlack, wantReads: 1},
		{name: "slack 5 min 1 s old", header: slackAt(testNow.Add(-5*time.Minute - time.Second)), want: problem.Unauthorized},
		{name: "slack 5 min 1 s in the future", header: slackAt(testNow.Add(5*time.Minute + time.Second)), want: problem.Unauthorized},
		{name: "slack non-numeric timestamp", header: slackWith("yesterday"), want: problem.Unauthorized},
		{name: "slack signed timestamp", header: slackWith("+" + ts), want: problem.Unauthorized},
		{name: "slack negative timestamp", header: slackWith("-" + ts), want: problem.Unauthorized},
		{name: "slack fractional timestamp", header: slackWith(ts + ".5"), want: problem.Unauthorized},
		{name: "slack timestamp overflows int64", header: slackWith("99999999999999999999"), want: problem.Unauthorized},
		{name: "slack timestamp missing", header: hdr("X-Slack-Signature", SignSlack(slackSecret, ts, body)), want: problem.Unauthorized},
		{name: "slack signature missing", header: hdr("X-Slack-Request-Timestamp", ts), want: problem.Unauthorized},
		{name: "slack signature of another version", header: hdr("X-Slack-Signature", "v1="+strings.TrimPrefix(SignSlack(slackSecret, ts, body), "v0="), "X-Slack-Request-Timestamp", ts), want: problem.Unauthorized},

		// Teams.
		{name: "teams vector", body: []byte(githubBody), header: hdr("Authorization", teamsHelloSignature), scheme: SchemeTeams, wantReads: 1},
		{name: "teams right", header: hdr("Authorization", teams(t, teamsSecret, body)), scheme: SchemeTeams, wantReads: 1},
		{name: "teams scheme in lower case", header: hdr("Authorization", "hmac "+strings.TrimPrefix(teams(t, teamsSecret, body), "HMAC ")), scheme: SchemeTeams, wantReads: 1},
		{name: "teams wrong key", header: hdr("Authorization", teams(t, otherTeams, body)), want: problem.Unauthorized, wantReads: 1},
		{name: "teams tampered body", header: hdr("Authorization", teams(t, teamsSecret, tampered)), want: problem.Unauthorized, wantReads: 1},
		{name: "teams signature not base64", header: hdr("Authorization", "HMAC not*base64"), want: problem.Unauthorized},
		{name: "teams signature too short", header: hdr("Authorization", "HMAC "+base64.StdEncoding.EncodeToString(make([]byte, 16))), want: problem.Unauthorized},
		{name: "teams signature with a newline in the base64", header: hdr("Authorization", teamsSplit(t, "\n")), want: problem.Unauthorized},
		{name: "teams signature with a carriage return in the base64", header: hdr("Authorization", teamsSplit(t, "\r")), want: problem.Unauthorized},
		{name: "teams signature url-safe alphabet", header: hdr("Authorization", "HMAC "+base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xfb", 32)))), want: problem.Unauthorized},
		{name: "teams secret not base64", secrets: map[string]string{teamsName: "not base64!"}, header: hdr("Authorization", teams(t, teamsSecret, body)), want: problem.Misconfigured, wantIs: ErrWeakTeamsKey, wantReads: 1},
		{name: "teams secret with a newline inside", secrets: map[string]string{teamsName: teamsSecret[:20] + "\n" + teamsSecret[20:]}, header: hdr("Authorization", teams(t, teamsSecret, body)), want: problem.Misconfigured, wantIs: ErrWeakTeamsKey, wantReads: 1},
		{name: "teams key of 15 bytes", secrets: map[string]string{teamsName: key15}, header: hdr("Authorization", teams(t, key15, body)), want: problem.Misconfigured, wantIs: ErrWeakTeamsKey, wantReads: 1},
		{name: "teams key of 16 bytes", secrets: map[string]string{teamsName: key16}, header: hdr("Authorization", teams(t, key16, body)), scheme: SchemeTeams, wantReads: 1},
		{name: "empty teams secret", secrets: map[string]string{teamsName: "\r\n"}, header: hdr("Authorization", teams(t, teamsSecret, body)), want: problem.Misconfigured, wantReads: 1},
		{name: "teams secret pasted with newline", secrets: map[string]string{teamsName: teamsSecret + "\r\n"}, header: hdr("Authorization", teams(t, teamsSecret, body)), scheme: SchemeTeams, wantReads: 1},

		// Unconfigured schemes.
		{name: "bearer to hmac-only", names: &Names{HMAC: hmacName}, header: hdr("Authorization", "Bearer "+token), want: problem.Unauthorized},
		{name: "github to token-only", names: &Names{Token: tokenName}, header: hdr("X-Hub-Signature-256", SignGitHub(hmacSecret, body)), want: problem.Unauthorized},
		{name: "teams to slack-only", names: &Names{Slack: slackName}, header: hdr("Authorization", teams(t, teamsSecret, body)), want: problem.Unauthorized},
		{name: "slack to teams-only", names: &Names{Teams: teamsName}, header: hdr("X-Slack-Signature", SignSlack(slackSecret, ts, body), "X-Slack-Request-Timestamp", ts), want: problem.Unauthorized},
		{name: "nothing configured", names: &Names{}, header: hdr("Authorization", "Bearer "+token, "X-Api-Key", token), want: problem.Unauthorized},

		// One scheme per request: the first named of token, HMAC, Slack, Teams; no second try.
		{name: "valid hmac, junk bearer", header: hdr("Authorization", "Bearer nope", "X-Hub-Signature-256", SignGitHub(hmacSecret, body)), want: problem.Unauthorized, wantReads: 1},
		{name: "valid hmac, malformed bearer", header: hdr("Authorization", "Bearer", "X-Hub-Signature-256", SignGitHub(hmacSecret, body)), want: problem.Unauthorized},
		{name: "valid hmac, empty api key", header: hdr("X-Api-Key", "", "X-Hub-Signature-256", SignGitHub(hmacSecret, body)), want: problem.Unauthorized},
		{name: "valid bearer, junk hmac", header: hdr("Authorization", "Bearer "+token, "X-Hub-Signature-256", SignGitHub("other", body)), scheme: SchemeToken, wantReads: 1},
		{name: "valid slack, junk api key", header: http.Header{"X-Api-Key": {"nope"}, "X-Slack-Signature": {SignSlack(slackSecret, ts, body)}, "X-Slack-Request-Timestamp": {ts}}, want: problem.Unauthorized, wantReads: 1},
		{name: "valid slack, junk hub signature", header: http.Header{"X-Hub-Signature-256": {SignGitHub("other", body)}, "X-Slack-Signature": {SignSlack(slackSecret, ts, body)}, "X-Slack-Request-Timestamp": {ts}}, want: problem.Unauthorized, wantReads: 1},
		{name: "valid teams, junk slack", header: hdr("Authorization", teams(t, teamsSecret, body), "X-Slack-Signature", "v0=00", "X-Slack-Request-Timestamp", ts), want: problem.Unauthorized},
		{name: "valid slack, junk teams", header: http.Header{"Authorization": {"HMAC nope"}, "X-Slack-Signature": {SignSlack(slackSecret, ts, body)}, "X-Slack-Request-Timestamp": {ts}}, scheme: SchemeSlack, wantReads: 1},
		{name: "valid teams, junk api key", header: hdr("Authorization", teams(t, teamsSecret, body), "X-Api-Key", "nope"), want: problem.Unauthorized, wantReads: 1},
		{name: "unconfigured token does not take precedence", names: &Names{HMAC: hmacName}, header: hdr("Authorization", "Bearer nope", "X-Hub-Signature-256", SignGitHub(hmacSecret, body)), scheme: SchemeHMAC, wantReads: 1},
		{name: "other authorization schemes name nothing", header: hdr("Authorization", "Negotiate abc", "X-Hub-Signature-256", SignGitHub(hmacSecret, body)), scheme: SchemeHMAC, wantReads: 1},

		// Key Vault failures: only the named scheme's secret is read.
		{name: "key vault down", errs: map[string]error{tokenName: kvDown}, header: hdr("Authorization", "Bearer "+token), want: problem.SecretStoreUnavailable, wantIs: kvDown, wantReads: 1},
		{name: "key vault down for the named scheme, another would pass", errs: map[string]error{tokenName: kvDown}, header: hdr("Authorization", "Bearer "+token, "X-Hub-Signature-256", SignGitHub(hmacSecret, body)), want: problem.SecretStoreUnavailable, wantIs: kvDown, wantReads: 1},
		{name: "key vault down for a scheme not named", errs: map[string]error{hmacName: kvDown}, header: hdr("Authorization", "Bearer "+token), scheme: SchemeToken, wantReads: 1},
		{name: "key vault down but no credentials", errs: map[string]error{tokenName: kvDown, hmacName: kvDown}, header: hdr(), want: problem.Unauthorized},
		{name: "secret missing from key vault", errs: map[string]error{tokenName: missing}, header: hdr("X-Api-Key", token), want: problem.Misconfigured, wantIs: missing, wantReads: 1},
		{name: "secret may not be read", errs: map[string]error{hmacName: forbidden}, header: hdr("X-Hub-Signature-256", SignGitHub(hmacSecret, body)), want: problem.Misconfigured, wantIs: forbidden, wantReads: 1},
		{name: "caller's deadline while reading", errs: map[string]error{slackName: late}, header: slackAt(testNow), want: problem.UpstreamTimeout, wantIs: context.DeadlineExceeded, wantReads: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			names := allNames
			if tt.names != nil {
				names = *tt.names
			}
			values := defaultSecrets()
			for k, v := range tt.secrets {
				values[k] = v
			}
			now := testNow
			if !tt.now.IsZero() {
				now = tt.now
			}
			b := body
			if tt.body != nil {
				b = tt.body
			}
			secrets := &fakeSecrets{values: values, errs: tt.errs}
			c := New(secrets, names, func() time.Time { return now })
			r, err := http.NewRequest(http.MethodPost, "https://example.test/sync", nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Header = tt.header

			scheme, err := c.Check(context.Background(), r, b)

			var got problem.Code
			if err != nil {
				p, ok := problem.As(err)
				if !ok {
					t.Fatalf("Check() = %v, want a *problem.Problem", err)
				}
				got = p.Code
				assertNoLeak(t, err, values, tt.header)
				assertNamesNoSecret(t, p)
				switch got {
				case problem.Unauthorized:
					// The same answer, whatever failed.
					if want := "The request does not carry valid credentials."; p.Detail != want || p.Status != http.StatusUnauthorized || p.Err != nil {
						t.Errorf("unauthorized problem = %+v, want detail %q, status 401, no cause", p, want)
					}
				case problem.Misconfigured:
					var cfg *config.Error
					var kv *keyvault.Error
					if !errors.As(err, &cfg) && !errors.As(err, &kv) {
						t.Errorf("misconfigured cause = %v, want a *config.Error or a *keyvault.Error", p.Err)
					}
				}
				if scheme != "" {
					t.Errorf("Check() scheme = %q with an error, want none", scheme)
				}
			}
			if got != tt.want {
				t.Errorf("Check() code = %q (%v), want %q", got, err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Check() = %v, want it to wrap %v", err, tt.wantIs)
			}
			if err == nil && scheme != tt.scheme {
				t.Errorf("Check() scheme = %q, want %q", scheme, tt.scheme)
			}
			if got, want := secrets.totalReads(), tt.wantReads; got != want {
				t.Errorf("secret reads = %d, want %d", got, want)
			}
		})
	}
}

func slackAt(at time.Time) http.Header {
	ts := unixString(at)
	return hdr("X-Slack-Signature", SignSlack(slackSecret, ts, body), "X-Slack-Request-Timestamp", ts)
}

// slackWith signs a request with timestamp, so only the timestamp's form can make it fail.
func slackWith(timestamp string) http.Header {
	return hdr("X-Slack-Signature", SignSlack(slackSecret, timestamp, body), "X-Slack-Request-Timestamp", timestamp)
}

// teamsSplit is a valid Teams signature of body with sep inside its base64.
func teamsSplit(t *testing.T, sep string) string {
	t.Helper()
	sig := teams(t, teamsSecret, body)
	return sig[:15] + sep + sig[15:]
}

// assertNamesNoSecret fails when the answer part of p names a Key Vault secret.
func assertNamesNoSecret(t *testing.T, p *problem.Problem) {
	t.Helper()
	for _, name := range []string{tokenName, hmacName, slackName, teamsName} {
		if strings.Contains(p.Detail, name) || strings.Contains(p.Title, name) {
			t.Errorf("problem %q names the secret %q", p.Detail, name)
		}
	}
}

// assertNoLeak fails when err, its cause included, quotes a secret or a credential header value.
func assertNoLeak(t *testing.T, err error, secrets map[string]string, h http.Header) {
	t.Helper()
	text := fmt.Sprintf("%v %+v", err, err)
	if p, ok := problem.As(err); ok && p.Err != nil {
		text += " " + p.Err.Error()
	}
	var needles []string
	for _, v := range secrets {
		needles = append(needles, strings.TrimSpace(v))
	}
	for _, vs := range h {
		needles = append(needles, vs...)
	}
	for _, n := range needles {
		if len(n) >= 6 && strings.Contains(text, n) {
			t.Errorf("error %q quotes a secret or credential", text)
		}
	}
}

func TestCheckNilRequest(t *testing.T) {
	t.Parallel()
	secrets := &fakeSecrets{values: defaultSecrets()}
	scheme, err := New(secrets, allNames, nil).Check(context.Background(), nil, nil)
	if p, ok := problem.As(err); !ok || p.Code != problem.Unauthorized || scheme != "" {
		t.Errorf("Check(nil) = %q, %v; want unauthorized", scheme, err)
	}
}

// TestCheckDefaultClock checks that a nil clock is the wall clock: a Slack request signed now passes.
func TestCheckDefaultClock(t *testing.T) {
	t.Parallel()
	secrets := &fakeSecrets{values: defaultSecrets()}
	c := New(secrets, Names{Slack: slackName}, nil)
	ts := unixString(time.Now())
	r, _ := http.NewRequest(http.MethodPost, "https://example.test/sync", nil)
	r.Header = hdr("X-Slack-Signature", SignSlack(slackSecret, ts, body), "X-Slack-Request-Timestamp", ts)
	if scheme, err := c.Check(context.Background(), r, body); err != nil || scheme != SchemeSlack {
		t.Errorf("Check() = %q, %v; want slack", scheme, err)
	}
}

// TestCheckConcurrent runs checks in parallel on one Checker, for the race detector.
func TestCheckConcurrent(t *testing.T) {
	t.Parallel()
	secrets := &fakeSecrets{values: defaultSecrets()}
	c := New(secrets, allNames, func() time.Time { return testNow })
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			b := []byte(fmt.Sprintf(`{"n":%d}`, i))
			r, _ := http.NewRequest(http.MethodPost, "https://example.test/sync", nil)
			r.Header = hdr("X-Hub-Signature-256", SignGitHub(hmacSecret, b))
			_, err := c.Check(context.Background(), r, b)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Check() = %v, want nil", err)
		}
	}
}

func TestConfigured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		names Names
		want  bool
	}{
		{Names{}, false},
		{Names{Token: "a"}, true},
		{Names{HMAC: "a"}, true},
		{Names{Slack: "a"}, true},
		{Names{Teams: "a"}, true},
		{allNames, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.names), func(t *testing.T) {
			t.Parallel()
			if got := New(&fakeSecrets{}, tt.names, nil).Configured(); got != tt.want {
				t.Errorf("Configured() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"github published vector", SignGitHub(githubSecret, []byte(githubBody)), githubSignature},
		{"pagerduty is the same hmac", SignPagerDuty(githubSecret, []byte(githubBody)), "v1=" + strings.TrimPrefix(githubSignature, "sha256=")},
		{"slack documented example", SignSlack(slackDocSecret, slackDocTimestamp, []byte(slackDocBody)), slackDocSignature},
		{"teams openssl vector", teams(t, teamsSecret, []byte(githubBody)), teamsHelloSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestSignTeamsInvalidSecret(t *testing.T) {
	t.Parallel()
	const secret = "definitely*not*base64"
	got, err := SignTeams(secret, body)
	if err == nil {
		t.Fatalf("SignTeams() = %q, want an error", got)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("SignTeams() error %q quotes the secret", err)
	}
}

func TestDecodeTeamsKey(t *testing.T) {
	t.Parallel()
	key32 := []byte("teams-outgoing-webhook-key-32byt")
	tests := []struct {
		name  string
		token string
		want  []byte // nil: an ErrWeakTeamsKey error
	}{
		{"teams token", teamsSecret, key32},
		{"blanks around", " " + teamsSecret + "\r\n", key32},
		{"16 bytes", base64.StdEncoding.EncodeToString([]byte("sixteen-bytes!!!")), []byte("sixteen-bytes!!!")},
		{"15 bytes", base64.StdEncoding.EncodeToString([]byte("fifteen-bytes!!")), nil},
		{"empty", "", nil},
		{"not base64", "not base64!", nil},
		{"newline inside", teamsSecret[:20] + "\n" + teamsSecret[20:], nil},
		{"carriage return inside", teamsSecret[:20] + "\r" + teamsSecret[20:], nil},
		{"unpadded", strings.TrimRight(teamsSecret, "="), nil},
		{"url-safe alphabet", base64.URLEncoding.EncodeToString([]byte("\xfb\xff" + string(key32))), nil},
		{"non-canonical padding bits", nonCanonical(string(key32[:29])), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeTeamsKey(tt.token)
			if tt.want == nil {
				if !errors.Is(err, ErrWeakTeamsKey) {
					t.Fatalf("DecodeTeamsKey() = %x, %v; want ErrWeakTeamsKey", got, err)
				}
				if tt.token != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.token)) {
					t.Errorf("error %q quotes the token", err)
				}
				return
			}
			if err != nil || string(got) != string(tt.want) {
				t.Errorf("DecodeTeamsKey() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestSchemeNames pins the values callers log and branch on.
func TestSchemeNames(t *testing.T) {
	t.Parallel()
	for got, want := range map[Scheme]string{SchemeToken: "token", SchemeHMAC: "hmac", SchemeSlack: "slack", SchemeTeams: "teams"} {
		if string(got) != want {
			t.Errorf("scheme %q, want %q", got, want)
		}
	}
}
