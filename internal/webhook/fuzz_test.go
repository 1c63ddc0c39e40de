package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Each fuzz target feeds one parser random header values, through Check with a fixed secret, and
// compares the verdict with an oracle written independently of the parser: random input must
// never be accepted, and the real samples it is seeded with must be.

// fuzzCheck runs one Check with the fixed test secrets and reports whether it accepted; an
// accepted request must have passed as want.
func fuzzCheck(t *testing.T, names Names, now time.Time, h http.Header, b []byte, want Scheme) bool {
	t.Helper()
	c := New(&fakeSecrets{values: defaultSecrets()}, names, func() time.Time { return now })
	r := &http.Request{Method: http.MethodPost, Header: h}
	return accepted(t, c, r, b, want)
}

func accepted(t *testing.T, c *Checker, r *http.Request, b []byte, want Scheme) bool {
	t.Helper()
	scheme, err := c.Check(context.Background(), r, b)
	if err == nil && scheme != want {
		t.Fatalf("Check() passed as %q, want %q", scheme, want)
	}
	return err == nil
}

func mac(key, b []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return m.Sum(nil)
}

func FuzzBasicAuth(f *testing.F) {
	f.Add(basic("svc.servicenow:" + token)) // ServiceNow REST Message with Basic auth
	f.Add(basic(":" + token))
	f.Add(basic("svc.servicenow:wrong"))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("admin")))
	f.Add("Basic !!!")
	f.Add("Basic")
	f.Add("basic   dTp0")
	f.Add("Bearer " + token)
	f.Add("BAsiC OnRvay0z\rZjljMmE3ZDQxZThiNg==") // Go's base64 decoder skips \r and \n
	f.Add("Basic OnRvay0zZjljMmE3ZDQxZThiNg==\n")
	f.Fuzz(func(t *testing.T, authorization string) {
		if p, ok := parseBasicPassword(authorization); ok && p == "" {
			t.Fatalf("parseBasicPassword(%q) accepted an empty password", authorization)
		}
		got := fuzzCheck(t, Names{Token: tokenName}, testNow, http.Header{"Authorization": {authorization}}, nil, SchemeToken)

		// The oracle: net/http's own Basic parser, and the Bearer form.
		trimmed := strings.Trim(authorization, " \t")
		req := &http.Request{Header: http.Header{"Authorization": {trimmed}}}
		user, password, isBasic := req.BasicAuth()
		canonicalBasic := isBasic && password == token && trimmed[len("Basic "):] == base64.StdEncoding.EncodeToString([]byte(user+":"+password))
		bearer := len(trimmed) > len("Bearer ") && strings.EqualFold(trimmed[:len("Bearer ")], "Bearer ") && trimmed[len("Bearer "):] == token
		if want := canonicalBasic || bearer; got != want {
			t.Fatalf("Check(Authorization: %q) accepted = %v, want %v", authorization, got, want)
		}
	})
}

func FuzzHubSignature(f *testing.F) {
	f.Add(SignGitHub(hmacSecret, body), body)
	f.Add(githubSignature, []byte(githubBody)) // GitHub's vector, but the secret here is another
	f.Add(strings.ToUpper(SignGitHub(hmacSecret, body)), body)
	f.Add("sha1="+strings.Repeat("0", 40), body)
	f.Add("sha256=", []byte(nil))
	f.Add("sha256="+strings.Repeat("g", 64), body)
	f.Fuzz(func(t *testing.T, signature string, b []byte) {
		parseHubSignature(signature)
		want := "sha256=" + hex.EncodeToString(mac([]byte(hmacSecret), b))
		trimmed := strings.Trim(signature, " \t")
		valid := len(trimmed) == len(want) && trimmed[:7] == want[:7] && strings.EqualFold(trimmed, want)
		for _, name := range []string{"X-Hub-Signature-256", "X-Hub-Signature"} {
			if got := fuzzCheck(t, Names{HMAC: hmacName}, testNow, http.Header{name: {signature}}, b, SchemeHMAC); got != valid {
				t.Fatalf("Check(%s: %q) accepted = %v, want %v", name, signature, got, valid)
			}
		}
	})
}

func FuzzPagerDutySignature(f *testing.F) {
	f.Add(SignPagerDuty(hmacSecret, body), body)
	f.Add(SignPagerDuty("old", body)+","+SignPagerDuty(hmacSecret, body), body)
	f.Add(SignPagerDuty("old", body)+", "+SignPagerDuty("new", body), body)
	f.Add("v1=,v1=,,", []byte(nil))
	f.Add("v2=abcd", body)
	f.Fuzz(func(t *testing.T, signature string, b []byte) {
		for _, sig := range parsePagerDutySignature(signature) {
			if len(sig) != sha256.Size {
				t.Fatalf("parsePagerDutySignature(%q) returned a %d-byte digest", signature, len(sig))
			}
		}
		want := hex.EncodeToString(mac([]byte(hmacSecret), b))
		valid := false
		for _, entry := range strings.Split(signature, ",") {
			entry = strings.Trim(entry, " \t")
			valid = valid || strings.HasPrefix(entry, "v1=") && strings.EqualFold(entry[3:], want)
		}
		if got := fuzzCheck(t, Names{HMAC: hmacName}, testNow, http.Header{"X-Pagerduty-Signature": {signature}}, b, SchemeHMAC); got != valid {
			t.Fatalf("Check(X-PagerDuty-Signature: %q) accepted = %v, want %v", signature, got, valid)
		}
	})
}

func FuzzSlackHeaders(f *testing.F) {
	docNow := time.Unix(1531420618+60, 0)
	f.Add(slackDocSignature, slackDocTimestamp, []byte(slackDocBody))
	f.Add(SignSlack(slackSecret, "1531420318", body), "1531420318", body) // 5 min before docNow
	f.Add(slackDocSignature, "1531420619", []byte(slackDocBody))
	f.Add("v0=", "", []byte(nil))
	f.Add("v0="+strings.Repeat("0", 64), "+1531420618", body)
	f.Add("v0="+strings.Repeat("0", 64), "99999999999999999999", body)
	f.Fuzz(func(t *testing.T, signature, timestamp string, b []byte) {
		parseSlack(signature, timestamp, docNow)
		secrets := defaultSecrets()
		secrets[slackName] = slackDocSecret
		c := New(&fakeSecrets{values: secrets}, Names{Slack: slackName}, func() time.Time { return docNow })
		r := &http.Request{Header: http.Header{"X-Slack-Signature": {signature}, "X-Slack-Request-Timestamp": {timestamp}}}
		got := accepted(t, c, r, b, SchemeSlack)

		sig, ts := strings.Trim(signature, " \t"), strings.Trim(timestamp, " \t")
		seconds, err := strconv.ParseUint(ts, 10, 63)
		inWindow := err == nil && seconds+300 >= uint64(docNow.Unix()) && seconds <= uint64(docNow.Unix())+300
		want := "v0=" + hex.EncodeToString(mac([]byte(slackDocSecret), []byte("v0:"+ts+":"+string(b))))
		valid := inWindow && len(sig) == len(want) && sig[:3] == "v0=" && strings.EqualFold(sig, want)
		if got != valid {
			t.Fatalf("Check(X-Slack-Signature: %q, X-Slack-Request-Timestamp: %q) accepted = %v, want %v", signature, timestamp, got, valid)
		}
	})
}

func FuzzTeamsAuthorization(f *testing.F) {
	f.Add(teamsHelloSignature, []byte(githubBody))
	f.Add("HMAC "+base64.StdEncoding.EncodeToString(mac([]byte("x"), body)), body)
	f.Add("HMAC "+base64.StdEncoding.EncodeToString(make([]byte, 16)), body)
	f.Add("HMAC", []byte(nil))
	f.Add("hmac  ====", body)
	f.Add(teamsHelloSignature[:15]+"\r\n"+teamsHelloSignature[15:], []byte(githubBody)) // skipped by Go's decoder
	f.Fuzz(func(t *testing.T, authorization string, b []byte) {
		if sig, ok := parseTeamsAuthorization(authorization); ok && len(sig) != sha256.Size {
			t.Fatalf("parseTeamsAuthorization(%q) returned a %d-byte digest", authorization, len(sig))
		}
		key, _ := base64.StdEncoding.DecodeString(teamsSecret)
		want := base64.StdEncoding.EncodeToString(mac(key, b))
		trimmed := strings.Trim(authorization, " \t")
		valid := len(trimmed) == len("HMAC ")+len(want) && strings.EqualFold(trimmed[:5], "HMAC ") && trimmed[5:] == want
		if got := fuzzCheck(t, Names{Teams: teamsName}, testNow, http.Header{"Authorization": {authorization}}, b, SchemeTeams); got != valid {
			t.Fatalf("Check(Authorization: %q) accepted = %v, want %v", authorization, got, valid)
		}
	})
}
