package notify

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

// FuzzMatchCallback checks that MatchCallback never panics and that whatever it allows is an
// https URL whose host is the prefix's and whose path, as a server would clean it, still lies
// under the prefix's path.
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
		clean := path.Clean(u.Path)
		if !strings.HasSuffix(clean, "/") && strings.HasSuffix(u.Path, "/") {
			clean += "/"
		}
		if !strings.HasPrefix(clean+"/", want) {
			t.Fatalf("allowed %q: its cleaned path %q leaves %q", raw, clean, want)
		}
	})
}
