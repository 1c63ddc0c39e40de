package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// mustPrefixes parses urlPrefix values for a test.
func mustPrefixes(t *testing.T, raws ...string) []Prefix {
	t.Helper()
	var out []Prefix
	for _, raw := range raws {
		p, err := ParsePrefix("urlPrefix", raw)
		if err != nil {
			t.Fatalf("ParsePrefix(%q): %v", raw, err)
		}
		out = append(out, p)
	}
	return out
}

// assertSafe fails when err quotes a secret (every secret in these tests holds "s3cr3t").
func assertSafe(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error quotes a secret: %v", err)
	}
}

func TestMatchCallback(t *testing.T) {
	t.Parallel()
	prefixes := mustPrefixes(t,
		"https://contoso.service-now.com/api/x_autopilot/",
		"https://api-private.atlassian.com/automation/webhooks/jira/a/",
		"https://10.1.2.3:8443/hooks/",
		"https://xn--cntoso-jua.example/hooks/",
	)
	tests := []struct {
		name       string
		url        string
		wantPrefix int    // index into prefixes, when allowed
		wantErr    string // part of the error, when refused
	}{
		{"the prefix itself", "https://contoso.service-now.com/api/x_autopilot/", 0, ""},
		{"below it", "https://contoso.service-now.com/api/x_autopilot/s3cr3t/INC001", 0, ""},
		{"with a query", "https://contoso.service-now.com/api/x_autopilot/done?sys_id=s3cr3t", 0, ""},
		{"host in capitals", "https://CONTOSO.Service-Now.com/api/x_autopilot/s3cr3t", 0, ""},
		{"explicit default port", "https://contoso.service-now.com:443/api/x_autopilot/s3cr3t", 0, ""},
		{"scheme in capitals", "HTTPS://contoso.service-now.com/api/x_autopilot/s3cr3t", 0, ""},
		{"jira", "https://api-private.atlassian.com/automation/webhooks/jira/a/b1/c2/s3cr3t", 1, ""},
		{"literal IP with its port", "https://10.1.2.3:8443/hooks/s3cr3t", 2, ""},
		{"punycode host", "https://xn--cntoso-jua.example/hooks/s3cr3t", 3, ""},
		{"punycode host in capitals", "https://XN--CNTOSO-JUA.example/hooks/s3cr3t", 3, ""},

		{"http", "http://contoso.service-now.com/api/x_autopilot/s3cr3t", 0, "must use https"},
		{"another scheme", "ftp://contoso.service-now.com/api/x_autopilot/s3cr3t", 0, "must use https"},
		{"another host", "https://fabrikam.service-now.com/api/x_autopilot/s3cr3t", 0, "matches no allowed prefix"},
		{"a host that ends like it", "https://contoso.service-now.com.evil.example/api/x_autopilot/s3cr3t", 0, "matches no allowed prefix"},
		{"the prefix in the path", "https://evil.example/https://contoso.service-now.com/api/x_autopilot/s3cr3t", 0, "matches no allowed prefix"},
		{"user info", "https://contoso.service-now.com@evil.example/api/x_autopilot/s3cr3t", 0, "user info"},
		{"user and password", "https://u:s3cr3t@contoso.service-now.com/api/x_autopilot/", 0, "user info"},
		{"fragment", "https://contoso.service-now.com/api/x_autopilot/s3cr3t#top", 0, "fragment"},
		{"empty fragment", "https://contoso.service-now.com/api/x_autopilot/s3cr3t#", 0, "fragment"},
		{"path without the slash", "https://contoso.service-now.com/api/x_autopilot", 0, "matches no allowed prefix"},
		{"a longer segment", "https://contoso.service-now.com/api/x_autopilotX/s3cr3t", 0, "matches no allowed prefix"},
		{"dot-dot", "https://contoso.service-now.com/api/x_autopilot/../../now/table/s3cr3t", 0, ". or .. segment"},
		{"dot", "https://contoso.service-now.com/api/x_autopilot/./s3cr3t", 0, ". or .. segment"},
		{"encoded dot-dot", "https://contoso.service-now.com/api/x_autopilot/%2e%2E/s3cr3t", 0, ". or .. segment"},
		{"dot-dot with a parameter", "https://contoso.service-now.com/api/x_autopilot/..;/..;/now/table/s3cr3t", 0, ". or .. segment"},
		{"dot-dot with a named parameter", "https://contoso.service-now.com/api/x_autopilot/..;jsessionid=s3cr3t/now", 0, ". or .. segment"},
		{"dot with a parameter", "https://contoso.service-now.com/api/x_autopilot/.;x=1/s3cr3t", 0, ". or .. segment"},
		{"encoded dot-dot with a parameter", "https://contoso.service-now.com/api/x_autopilot/%2e%2e;/now/s3cr3t", 0, ". or .. segment"},
		{"dot-dot with an encoded semicolon", "https://contoso.service-now.com/api/x_autopilot/..%3b/now/s3cr3t", 0, ". or .. segment"},
		{"dot-dot with an encoded semicolon in capitals", "https://contoso.service-now.com/api/x_autopilot/..%3B/now/s3cr3t", 0, ". or .. segment"},
		{"half-encoded dot-dot", "https://contoso.service-now.com/api/x_autopilot/.%2E/now/s3cr3t", 0, ". or .. segment"},
		{"double-encoded dot-dot", "https://contoso.service-now.com/api/x_autopilot/%252e%252e/now/s3cr3t", 0, "%25"},
		{"double-encoded slash", "https://contoso.service-now.com/api/x_autopilot/..%252fnow/s3cr3t", 0, "%25"},
		{"an encoded percent sign", "https://contoso.service-now.com/api/x_autopilot/100%25/s3cr3t", 0, "%25"},
		{"a parameter on a plain segment", "https://contoso.service-now.com/api/x_autopilot/done;v=1/s3cr3t", 0, ""},
		{"dots in a name", "https://contoso.service-now.com/api/x_autopilot/.../a..b/.x/s3cr3t", 0, ""},
		{"an encoded percent sign in the query", "https://contoso.service-now.com/api/x_autopilot/done?q=100%25s3cr3t", 0, ""},
		{"encoded slash", "https://contoso.service-now.com/api/x_autopilot/..%2Fs3cr3t", 0, "encoded slash"},
		{"encoded backslash", "https://contoso.service-now.com/api/x_autopilot/..%5cs3cr3t", 0, "encoded slash"},
		{"backslash", `https://contoso.service-now.com/api/x_autopilot/..\s3cr3t`, 0, "backslash"},
		{"another port", "https://contoso.service-now.com:8443/api/x_autopilot/s3cr3t", 0, "matches no allowed prefix"},
		{"literal IP on the default port", "https://10.1.2.3/hooks/s3cr3t", 0, "matches no allowed prefix"},
		{"port 0", "https://contoso.service-now.com:0/api/x_autopilot/s3cr3t", 0, "port outside"},
		{"port 65536", "https://contoso.service-now.com:65536/api/x_autopilot/s3cr3t", 0, "port outside"},
		{"empty port", "https://contoso.service-now.com:/api/x_autopilot/s3cr3t", 0, "empty port"},
		{"port not a number", "https://contoso.service-now.com:44x/api/x_autopilot/s3cr3t", 0, "not an absolute URL"},
		{"percent-encoded host", "https://%63ontoso.service-now.com/api/x_autopilot/s3cr3t", 0, "percent-encode its host"},
		{"unicode host", "https://cöntoso.example/hooks/s3cr3t", 0, "xn-- form"},
		{"unicode path", "https://contoso.service-now.com/api/x_autopilot/ß/s3cr3t", 0, "must be ASCII"},
		{"space", "https://contoso.service-now.com/api/x_autopilot/a b/s3cr3t", 0, "spaces or control"},
		{"newline", "https://contoso.service-now.com/api/x_autopilot/\ns3cr3t", 0, "spaces or control"},
		{"trailing dot", "https://contoso.service-now.com./api/x_autopilot/s3cr3t", 0, "malformed host name"},
		{"a number as host", "https://2130706433/api/x_autopilot/s3cr3t", 0, "neither a name nor an IP"},
		{"a number-ish host", "https://0x7f.1/api/x_autopilot/s3cr3t", 0, "neither a name nor an IP"},
		{"underscore host", "https://con_toso.example/api/x_autopilot/s3cr3t", 0, "malformed host name"},
		{"IPv6 zone", "https://[fe80::1%25eth0]/hooks/s3cr3t", 0, "percent-encode its host"},
		{"relative", "/api/x_autopilot/s3cr3t", 0, "not an absolute URL"},
		{"no slashes", "https:contoso.service-now.com/api/x_autopilot/s3cr3t", 0, "not an absolute URL"},
		{"empty", "", 0, "is empty"},
		{"2 KB and more", "https://contoso.service-now.com/api/x_autopilot/" + strings.Repeat("s3cr3t", 400), 0, "longer than 2048"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := MatchCallback(prefixes, tt.url)
			assertSafe(t, err)
			if tt.wantErr != "" {
				var ue *URLError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a *URLError with %q", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "callbackUrl ") {
					t.Errorf("err = %q, want it to name callbackUrl", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := p.URL(), prefixes[tt.wantPrefix].URL(); got != want {
				t.Errorf("prefix = %s, want %s", got, want)
			}
			if got, want := p.LiteralIP(), tt.wantPrefix == 2; got != want {
				t.Errorf("LiteralIP = %v, want %v", got, want)
			}
		})
	}
}

func TestMatchCallbackLongestPrefixWins(t *testing.T) {
	t.Parallel()
	prefixes, err := ParseCallbackTargets([]byte(`[
		{"urlPrefix":"https://x.example/api/","headers":{"X-Token":"general"}},
		{"urlPrefix":"https://x.example/api/v2/","headers":{"X-Token":"specific"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	for url, want := range map[string]string{
		"https://x.example/api/v2/hook": "specific",
		"https://x.example/api/v1/hook": "general",
		"https://x.example/api/v2":      "general",
	} {
		p, err := MatchCallback(prefixes, url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		if got := p.headers["X-Token"]; got != want {
			t.Errorf("%s: headers of %q, want %q", url, got, want)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	t.Parallel()
	for raw, wantErr := range map[string]string{
		"https://contoso.service-now.com/api/x_autopilot/": "",
		"https://hooks.slack.com/":                         "",
		"https://[2001:db8::1]:8443/":                      "",
		"https://contoso.service-now.com/api/x_autopilot":  `must have a path that ends with "/"`,
		"https://contoso.service-now.com":                  "",
		"https://contoso.service-now.com/api/?x=1":         "must not have a query",
		"http://contoso.service-now.com/":                  "must use https",
		"https://user@contoso.service-now.com/":            "user info",
		"contoso.service-now.com/":                         "not an absolute URL",
	} {
		_, err := ParsePrefix("urlPrefix", raw)
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("ParsePrefix(%q): %v", raw, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("ParsePrefix(%q) = %v, want an error with %q", raw, err, wantErr)
		}
	}
}

func TestMatchSlack(t *testing.T) {
	t.Parallel()
	prefixes, err := ParseSlackPrefixes("")
	if err != nil {
		t.Fatal(err)
	}
	for url, want := range map[string]bool{
		"https://hooks.slack.com/commands/T0001/1234/s3cr3t":     true,
		"https://hooks.slack-gov.com/commands/T0001/1234/s3cr3t": true,
		"https://hooks.slack.com.evil.example/commands/s3cr3t":   false,
		"https://evil.example/hooks.slack.com/commands/s3cr3t":   false,
		"http://hooks.slack.com/commands/T0001/1234/s3cr3t":      false,
		"https://slack.com/commands/s3cr3t":                      false,
	} {
		_, err := MatchSlack(prefixes, url)
		assertSafe(t, err)
		if got := err == nil; got != want {
			t.Errorf("MatchSlack(%q) allowed = %v (%v), want %v", url, got, err, want)
		}
	}
}

func TestParseSlackPrefixes(t *testing.T) {
	t.Parallel()
	ps, err := ParseSlackPrefixes(" https://hooks.slack.com/ , https://chat.example/slack/ ,")
	if err != nil || len(ps) != 2 {
		t.Fatalf("ParseSlackPrefixes = %v, %v; want 2 prefixes", ps, err)
	}
	for value, want := range map[string]string{
		"https://hooks.slack.com/,http://x.example/": "SLACK_RESPONSE_URL_PREFIXES: entry 2",
		"https://hooks.slack.com/commands":           `ends with "/"`,
		",":                                          "no prefix given",
	} {
		if _, err := ParseSlackPrefixes(value); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSlackPrefixes(%q) = %v, want an error with %q", value, err, want)
		}
	}
}

// TestMatchLoopback: what cmd/local allows on its embedded emulator, and for what it refuses,
// the rule that refused it (a /../ is refused for its dot segment, not as "not on a loopback
// host").
func TestMatchLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		want    string // the prefix, when allowed
		wantErr string // part of the error, when refused
	}{
		{"http://127.0.0.1:9000/done", "http://127.0.0.1:9000/", ""},
		{"https://127.0.0.1:9443/x/y?z=1", "https://127.0.0.1:9443/", ""},
		{"http://localhost:9000/done", "http://localhost:9000/", ""},
		{"http://[::1]:9000/done", "http://[::1]:9000/", ""},
		{"http://127.0.0.1/done", "http://127.0.0.1:80/", ""},
		{"http://example.com:9000/done", "", "must be on a loopback host"},
		{"https://10.0.0.1/done", "", "must be on a loopback host"},
		{"http://localhost.evil.example/ok", "", "must be on a loopback host"},
		{"http://127.0.0.1:9000/done#x", "", "fragment"},
		{"http://u@127.0.0.1:9000/done", "", "user info"},
		{"http://127.0.0.1:9000/a/../b", "", ". or .. segment"},
		{"http://127.0.0.1:9000/a/..;/b", "", ". or .. segment"},
		{"http://127.0.0.1:9000/a/%2e%2e/b", "", ". or .. segment"},
		{"http://127.0.0.1:9000/a/%252e%252e/b", "", "%25"},
		{"ftp://127.0.0.1:9000/done", "", "must use http or https"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			p, err := MatchLoopback(tt.url)
			if tt.wantErr != "" {
				var ue *URLError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("MatchLoopback(%q) = %v, want a *URLError with %q", tt.url, err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "callbackUrl ") || strings.Contains(err.Error(), "127.0.0.1") {
					t.Errorf("err = %q, want it to name callbackUrl and quote no URL", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("MatchLoopback(%q): %v", tt.url, err)
			}
			if got := p.URL(); got != tt.want {
				t.Errorf("MatchLoopback(%q) = %s, want %s", tt.url, got, tt.want)
			}
		})
	}
}

func TestPrefixNeverPrintsHeaders(t *testing.T) {
	t.Parallel()
	ps, err := ParseCallbackTargets([]byte(`[{"urlPrefix":"https://x.example/s3cr3t-path/","headers":{"Authorization":"Basic s3cr3t"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("m", "prefix", ps[0], "prefixes", ps)
	encoded, err := json.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	printed := fmt.Sprintf("%v %+v %#v %s", ps[0], ps[0], ps[0], ps)
	for _, out := range []string{printed, logged.String(), string(encoded)} {
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("printed: %s", out)
		}
	}
	for _, out := range []string{printed, logged.String()} {
		if !strings.Contains(out, "x.example") {
			t.Errorf("printed %s, want the host", out)
		}
	}
	if got, want := ps[0].HeaderNames(), []string{"Authorization"}; !slices.Equal(got, want) {
		t.Errorf("HeaderNames = %v, want %v", got, want)
	}
}
