package notify

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// MaxURLBytes bounds a callbackUrl, a response_url and a configured prefix (SPEC §13: 2 KB).
const MaxURLBytes = 2048

// Prefix is an allowed URL prefix (a urlPrefix of CALLBACK_TARGETS_SECRET_NAME or an entry of
// SLACK_RESPONSE_URL_PREFIXES) with the headers that go with every request under it. It is
// opaque: it prints and logs as its host only, and encodes to JSON as {}, since its headers
// are secrets.
type Prefix struct {
	url string
	// headers go with every request to a URL under the prefix: secrets.
	headers map[string]string
	parts   parts
}

// URL returns the prefix as configured (for the Teams URL: the URL itself, a secret).
func (p Prefix) URL() string { return p.url }

// HeaderNames returns the names of the prefix's headers, sorted, for diagnostics; the values
// never leave the package but in a request.
func (p Prefix) HeaderNames() []string {
	names := make([]string, 0, len(p.headers))
	for name := range p.headers {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// LiteralIP reports whether the prefix names its host as a literal IP address: an
// administrator's explicit choice, so outbound may dial exactly that address though it is
// private (outbound.Target.LiteralIPAllowed).
func (p Prefix) LiteralIP() bool { return p.parts.literalIP }

// Host returns the prefix's host, for logs.
func (p Prefix) Host() string { return p.parts.host }

// String returns the prefix's host, never its headers.
func (p Prefix) String() string { return "prefix on " + p.parts.host }

// GoString is String: %#v shows no header either.
func (p Prefix) GoString() string { return p.String() }

// LogValue logs the prefix as its host.
func (p Prefix) LogValue() slog.Value { return slog.StringValue(p.parts.host) }

// URLError says why a URL is not allowed, in words fit for a 400 problem's detail: it names
// the field and never quotes the URL.
type URLError struct {
	// Field is "callbackUrl", "response_url", "urlPrefix" or the variable's name.
	Field  string
	Reason string
}

func (e *URLError) Error() string { return e.Field + " " + e.Reason }

// parts is a URL reduced to what prefix matching compares.
type parts struct {
	scheme    string
	host      string // lower case; an IP address in its canonical form
	port      int    // effective port
	path      string // escaped path, "/" at least
	query     bool   // has a query
	literalIP bool
}

// analyse checks raw against the rules every URL here must follow and returns its parts:
// at most MaxURLBytes of printable ASCII (an international host name must be written in its
// xn-- form: no IDNA mapping happens here, so no two spellings can name one host), https
// (plain http too when plainOK), a host, no user info, no fragment, a port of 1-65535, no
// percent-encoding in the host, no backslash, and in the path no dot segment (also with
// ;parameters or percent-encoded), no encoded slash and no %25 (see pathFault).
func analyse(field, raw string, plainOK bool) (parts, error) {
	bad := func(reason string) (parts, error) { return parts{}, &URLError{Field: field, Reason: reason} }
	switch {
	case raw == "":
		return bad("is empty")
	case len(raw) > MaxURLBytes:
		return bad(fmt.Sprintf("is longer than %d bytes", MaxURLBytes))
	}
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c >= 0x80:
			return bad("must be ASCII: write an international host name in its xn-- form and percent-encode the path")
		case c <= 0x20 || c == 0x7f:
			return bad("must not contain spaces or control characters")
		case c == '\\':
			return bad("must not contain a backslash")
		case c == '#':
			return bad("must not have a fragment (#…)")
		}
	}
	_, authority, found := strings.Cut(raw, "://")
	if i := strings.IndexAny(authority, "/?"); i >= 0 {
		authority = authority[:i]
	}
	if found && strings.Contains(authority, "%") {
		return bad("must not percent-encode its host")
	}
	u, err := url.Parse(raw)
	if err != nil || !found || u.Opaque != "" || u.Host == "" || !strings.HasPrefix(strings.ToLower(raw), u.Scheme+"://") {
		return bad("is not an absolute URL")
	}
	switch {
	case plainOK && u.Scheme != "https" && u.Scheme != "http":
		return bad("must use http or https")
	case !plainOK && u.Scheme != "https":
		return bad("must use https")
	}
	if u.User != nil {
		return bad("must not contain user info (user@)")
	}
	p := parts{scheme: u.Scheme, path: u.EscapedPath(), query: u.RawQuery != "" || u.ForceQuery}
	if p.path == "" {
		p.path = "/"
	}
	if p.host, p.literalIP, err = canonicalHost(u.Hostname()); err != nil {
		return bad(err.Error())
	}
	if p.port, err = effectivePort(u.Scheme, u.Port(), strings.HasSuffix(authority, ":")); err != nil {
		return bad(err.Error())
	}
	if reason := pathFault(p.path); reason != "" {
		return bad(reason)
	}
	return p, nil
}

// pathFault says what is wrong with an escaped path, or "" when nothing is: an encoded slash
// or backslash, which servers split on differently; %25, an encoded percent sign, which a
// server that decodes twice reads as any other encoding (%252e%252e is ..); or a segment that
// is a dot segment once percent-decoded and stripped of its ;parameters (..;, %2e%2e;, ..%3b),
// which Tomcat- and Spring-style servers read as . or .. and resolve, leaving the prefix.
func pathFault(escaped string) string {
	lower := strings.ToLower(escaped)
	switch {
	case strings.Contains(lower, "%2f"), strings.Contains(lower, "%5c"):
		return "must not contain an encoded slash or backslash in its path"
	case strings.Contains(lower, "%25"):
		return "must not contain %25 (an encoded percent sign) in its path"
	}
	for _, segment := range strings.Split(escaped, "/") {
		decoded, err := url.PathUnescape(segment)
		if err != nil {
			return "must not contain a malformed percent-encoding in its path"
		}
		if name, _, _ := strings.Cut(decoded, ";"); name == "." || name == ".." {
			return "must not contain a . or .. segment in its path, nor one that servers read as such (..;, %2e%2e, ..%3b)"
		}
	}
	return ""
}

// canonicalHost returns host in the form prefixes are compared in.
func canonicalHost(host string) (string, bool, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return "", false, fmt.Errorf("must not name an IPv6 zone")
		}
		return ip.String(), true, nil
	}
	host = strings.ToLower(host)
	if len(host) > 253 {
		return "", false, fmt.Errorf("has a host name longer than 253 characters")
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", false, fmt.Errorf("has a malformed host name")
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", false, fmt.Errorf("has a malformed host name")
			}
		}
	}
	if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" {
		// 10.1 or 0x7f.1 style numbers read as addresses by some resolvers: never a name.
		return "", false, fmt.Errorf("has a host that is neither a name nor an IP address")
	}
	return host, false, nil
}

// effectivePort returns the port a URL reaches.
func effectivePort(scheme, port string, emptyPort bool) (int, error) {
	if port == "" {
		if emptyPort {
			return 0, fmt.Errorf("has an empty port")
		}
		if scheme == "http" {
			return 80, nil
		}
		return 443, nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("has a port outside 1-65535")
	}
	return n, nil
}

// ParsePrefix checks a configured prefix: an absolute https URL whose path ends with "/",
// without query, and otherwise under the rules of every URL here. field names it in errors.
func ParsePrefix(field, raw string) (Prefix, error) {
	p, err := analyse(field, strings.TrimSpace(raw), false)
	if err != nil {
		return Prefix{}, err
	}
	switch {
	case !strings.HasSuffix(p.path, "/"):
		return Prefix{}, &URLError{Field: field, Reason: `must have a path that ends with "/"`}
	case p.query:
		return Prefix{}, &URLError{Field: field, Reason: "must not have a query"}
	}
	return Prefix{url: strings.TrimSpace(raw), parts: p}, nil
}

// covers reports whether the URL of parts u lies under prefix p.
func (p Prefix) covers(u parts) bool {
	return u.scheme == p.parts.scheme && u.host == p.parts.host && u.port == p.parts.port &&
		strings.HasPrefix(u.path, p.parts.path)
}

// match returns the longest prefix that covers raw.
func match(field string, prefixes []Prefix, raw string, plainOK bool) (Prefix, error) {
	u, err := analyse(field, raw, plainOK)
	if err != nil {
		return Prefix{}, err
	}
	best := -1
	for i, p := range prefixes {
		if p.covers(u) && (best < 0 || len(p.parts.path) > len(prefixes[best].parts.path)) {
			best = i
		}
	}
	if best < 0 {
		return Prefix{}, &URLError{Field: field, Reason: "matches no allowed prefix"}
	}
	return prefixes[best], nil
}

// MatchCallback returns the prefix that allows callbackUrl raw (the longest when several do).
// Every error is a *URLError whose text is fit for a 400 problem's detail.
func MatchCallback(prefixes []Prefix, raw string) (Prefix, error) {
	return match("callbackUrl", prefixes, raw, false)
}

// MatchSlack returns the SLACK_RESPONSE_URL_PREFIXES entry that a slash command's
// response_url starts with. An error (a *URLError) means no follow-up goes to Slack.
func MatchSlack(prefixes []Prefix, responseURL string) (Prefix, error) {
	return match("response_url", prefixes, responseURL, false)
}

// MatchLoopback allows callbackUrl raw when it is an http or https URL on a loopback host
// (127.0.0.0/8, ::1, localhost), any port, under the other rules: cmd/local on its embedded
// emulator only (SPEC §13), with outbound.Options.AllowLoopback. It returns the prefix of the
// URL's origin, with no headers.
func MatchLoopback(raw string) (Prefix, error) {
	u, err := analyse("callbackUrl", raw, true)
	if err != nil {
		return Prefix{}, err
	}
	ip, ipErr := netip.ParseAddr(u.host)
	if u.host != "localhost" && (ipErr != nil || !ip.Unmap().IsLoopback()) {
		return Prefix{}, &URLError{Field: "callbackUrl", Reason: "must be on a loopback host here (the embedded emulator)"}
	}
	origin := parts{scheme: u.scheme, host: u.host, port: u.port, path: "/", literalIP: u.literalIP}
	return Prefix{url: u.scheme + "://" + net.JoinHostPort(u.host, strconv.Itoa(u.port)) + "/", parts: origin}, nil
}
