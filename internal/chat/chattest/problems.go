package chattest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// report fails t with the problems of a message, showing the message.
func report(t testing.TB, what string, body []byte, p []string) {
	t.Helper()
	if len(p) > 0 {
		t.Errorf("%s breaks the rules:\n- %s\nbody: %s", what, strings.Join(p, "\n- "), body)
	}
}

// problems collects what is wrong with a message, one line each.
type problems []string

func (p *problems) add(format string, args ...any) {
	*p = append(*p, fmt.Sprintf(format, args...))
}

// object decodes body as a JSON object; nil, with the problem added, when it is not one.
func (p *problems) object(body []byte) map[string]json.RawMessage {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		p.add("not a JSON object")
		return nil
	}
	return obj
}

// onlyMembers reports the members of obj not in allowed.
func (p *problems) onlyMembers(at string, obj map[string]json.RawMessage, allowed ...string) {
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(allowed, name) {
			p.add("%s: unexpected member %q (allowed: %s)", at, name, strings.Join(allowed, ", "))
		}
	}
}

// equalString reports raw unless it is the JSON string want.
func (p *problems) equalString(at string, raw json.RawMessage, want string) {
	if s, ok := jsonString(raw); !ok || s != want {
		p.add("%s: want %q, got %s", at, want, orMissing(raw))
	}
}

// jsonString decodes raw as a JSON string; ok is false for anything else (null included).
func jsonString(raw json.RawMessage) (s string, ok bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	return s, json.Unmarshal(raw, &s) == nil
}

// orMissing shows raw, or says it is missing.
func orMissing(raw json.RawMessage) string {
	if raw == nil {
		return "nothing"
	}
	return string(raw)
}
