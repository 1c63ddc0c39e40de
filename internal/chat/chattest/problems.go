package chattest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// problems collects what is wrong with a message, one line each.
type problems []string

func (p *problems) add(format string, args ...any) {
	*p = append(*p, fmt.Sprintf(format, args...))
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
