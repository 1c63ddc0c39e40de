package notify

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

// FuzzMatchCallback checks that MatchCallback never panics and that whatever it allows is an
// https URL whose host is the prefix's and whose path, as a server would read it, still lies
// under the prefix's path. "As a server would read it" is the most lenient reading found in
// practice: Tomcat and Spring drop each segment's ;parameters (so ..; is ..), some servers
// percent-decode twice, and then the dot segments are resolved.
func FuzzMatchCallback(f *testing.F) {
	for _, seed := range []string{
		"https://contoso.service-now.com/api/x_autopilot/done?x=1",
		"https://contoso.service-now.com/api/x_autopilot/../admin",
		"https://contoso.service-now.com/api/x_autopilot/%2e%2e/admin",
		"https://contoso.service-now.com@evil.example/api/x_autopilot/",
		"https://contoso.service-now.com:443/api/x_autopilot/a#b",
		"https://[::1]:8443/hooks/x",
		"https://10.1.2.3:8443/hooks/x",
		"HTTPS://CONTOSO.service-now.com/api/x_autopilot/%41",
		"https://contoso.service-now.com/api/x_autopilot/..;/..;/now/table/incident",
		"https://contoso.service-now.com/api/x_autopilot/%2e%2e;/now/table/incident",
		"https://contoso.service-now.com/api/x_autopilot/..%3b/now/table/incident",
		"https://contoso.service-now.com/api/x_autopilot/..%3Bx=1/now/table/incident",
		"https://contoso.service-now.com/api/x_autopilot/%252e%252e/now/table/incident",
		"https://contoso.service-now.com/api/x_autopilot/.;/done;v=1",
		"https://10.1.2.3:8443/hooks/.%2e;jsessionid=1/admin",
	} {
		f.Add(seed)
	}
	prefixes, err := ParseCallbackTargets([]byte(`[{"urlPrefix":"https://contoso.service-now.com/api/x_autopilot/"},{"urlPrefix":"https://10.1.2.3:8443/hooks/"}]`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := MatchCallback(prefixes, raw)
		if err != nil {
			if _, ok := err.(*URLError); !ok {
				t.Fatalf("err %T, want *URLError", err)
			}
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("allowed an unparsable URL: %v", err)
		}
		if u.Scheme != "https" || u.User != nil || u.Fragment != "" || !strings.EqualFold(u.Hostname(), p.Host()) {
			t.Fatalf("allowed %q under %s", raw, p)
		}
		want := p.parts.path
		read := leniently(u.EscapedPath())
		if !strings.HasPrefix(read+"/", want) {
			t.Fatalf("allowed %q: a server reads its path as %q, which leaves %q", raw, read, want)
		}
	})
}

// leniently reads an escaped path as the most lenient server would: each segment without its
// ;parameters, percent-decoded twice, then cleaned (dot segments resolved), keeping a final
// slash.
func leniently(escaped string) string {
	segments := strings.Split(escaped, "/")
	for i, s := range segments {
		for range 2 {
			if d, err := url.PathUnescape(s); err == nil {
				s = d
			}
		}
		s, _, _ = strings.Cut(s, ";")
		segments[i] = s
	}
	joined := strings.Join(segments, "/")
	clean := path.Clean(joined)
	if !strings.HasSuffix(clean, "/") && strings.HasSuffix(joined, "/") {
		clean += "/"
	}
	return clean
}
