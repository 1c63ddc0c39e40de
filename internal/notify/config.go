package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// DefaultSlackPrefixes is the default of SLACK_RESPONSE_URL_PREFIXES: Slack's and GovSlack's
// hosts.
const DefaultSlackPrefixes = "https://hooks.slack.com/,https://hooks.slack-gov.com/"

const (
	maxCallbackTargets = 100
	maxHeaders         = 20
	maxHeaderBytes     = 8 << 10
)

// reservedHeaders may not be configured: the client sets them, or they would break the
// request framing or the signature.
var reservedHeaders = map[string]bool{
	"host": true, "content-length": true, "content-type": true, "transfer-encoding": true,
	"connection": true, "keep-alive": true, "upgrade": true, "te": true, "trailer": true,
	"proxy-authorization": true, "proxy-connection": true,
	"webhook-id": true, "webhook-timestamp": true, "webhook-signature": true,
}

// ParseSlackPrefixes reads SLACK_RESPONSE_URL_PREFIXES: comma-separated https URL prefixes
// whose paths end with "/"; "" means DefaultSlackPrefixes. Errors name the variable and the
// entry (these prefixes are not secrets).
func ParseSlackPrefixes(value string) ([]Prefix, error) {
	if strings.TrimSpace(value) == "" {
		value = DefaultSlackPrefixes
	}
	var prefixes []Prefix
	var errs []error
	for i, raw := range strings.Split(value, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		p, err := ParsePrefix("entry", raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("SLACK_RESPONSE_URL_PREFIXES: entry %d (%q): %w", i+1, clip(raw), err))
			continue
		}
		prefixes = append(prefixes, p)
	}
	if len(prefixes) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("SLACK_RESPONSE_URL_PREFIXES: no prefix given"))
	}
	return prefixes, errors.Join(errs...)
}

// ParseCallbackTargets reads the JSON of the secret CALLBACK_TARGETS_SECRET_NAME:
// [{"urlPrefix":"https://…/","headers":{"Authorization":"Basic …"}}]. Errors name the entry
// by its number and host, and a header by its name; never a header value or a whole prefix
// (a path can be a credential, as Jira's incoming webhook URLs are).
func ParseCallbackTargets(secret []byte) ([]Prefix, error) {
	var entries []json.RawMessage
	if err := json.Unmarshal(secret, &entries); err != nil {
		return nil, errors.New(`callback targets: not a JSON array such as [{"urlPrefix":"https://…/","headers":{…}}]`)
	}
	switch {
	case len(entries) == 0:
		return nil, errors.New("callback targets: the list is empty")
	case len(entries) > maxCallbackTargets:
		return nil, fmt.Errorf("callback targets: %d entries, more than %d", len(entries), maxCallbackTargets)
	}
	var prefixes []Prefix
	var errs []error
	for i, raw := range entries {
		p, err := parseCallbackTarget(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("callback targets: entry %d%s: %w", i+1, hostOf(p), err))
			continue
		}
		for j, q := range prefixes {
			if q.parts == p.parts {
				errs = append(errs, fmt.Errorf("callback targets: entry %d (%s) repeats the urlPrefix of entry %d", i+1, p.parts.host, j+1))
			}
		}
		prefixes = append(prefixes, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return prefixes, nil
}

// parseCallbackTarget reads one entry; on error, the Prefix returned still has the host when
// the urlPrefix was readable.
func parseCallbackTarget(raw json.RawMessage) (Prefix, error) {
	var entry struct {
		URLPrefix *string           `json:"urlPrefix"`
		Headers   map[string]string `json:"headers"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entry); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return Prefix{}, fmt.Errorf("unknown field %s (only urlPrefix and headers)", clip(name))
		}
		return Prefix{}, errors.New(`not an object {"urlPrefix":"https://…/","headers":{"Name":"value"}} (header values must be strings)`)
	}
	if entry.URLPrefix == nil {
		return Prefix{}, errors.New("urlPrefix is missing")
	}
	p, err := ParsePrefix("urlPrefix", *entry.URLPrefix)
	if err != nil {
		return Prefix{}, err
	}
	if len(entry.Headers) > maxHeaders {
		return p, fmt.Errorf("%d headers, more than %d", len(entry.Headers), maxHeaders)
	}
	size := 0
	seen := map[string]bool{}
	for name, value := range entry.Headers {
		lower := strings.ToLower(name)
		switch {
		case seen[lower]:
			return p, fmt.Errorf("header %q is given twice (names ignore case)", clip(name))
		case !httpguts.ValidHeaderFieldName(name):
			return p, fmt.Errorf("header %q is not a valid header name", clip(name))
		case reservedHeaders[lower]:
			return p, fmt.Errorf("header %q is set by autopilot-sync itself and may not be configured", name)
		case !httpguts.ValidHeaderFieldValue(value):
			return p, fmt.Errorf("header %q has a value with a line break or control character", name)
		}
		seen[lower] = true
		size += len(name) + len(value)
	}
	if size > maxHeaderBytes {
		return p, fmt.Errorf("headers of %d bytes, more than %d", size, maxHeaderBytes)
	}
	p.headers = entry.Headers
	return p, nil
}

// ParseTeamsURL reads the value of the secret TEAMS_NOTIFY_URL_SECRET_NAME: the https URL of a
// Teams Workflows flow "When a Teams webhook request is received". It returns it as a Prefix
// that covers exactly that URL. Errors never quote it (its sig= parameter is the credential).
func ParseTeamsURL(raw string) (Prefix, error) {
	raw = strings.TrimSpace(raw)
	p, err := analyse("Teams notify URL", raw, false)
	if err != nil {
		return Prefix{}, err
	}
	return Prefix{url: raw, parts: p}, nil
}

func hostOf(p Prefix) string {
	if p.parts.host == "" {
		return ""
	}
	return " (" + p.parts.host + ")"
}

// clip shortens configuration text quoted in an error.
func clip(s string) string {
	const limit = 80
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
