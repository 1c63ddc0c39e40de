package followup

import (
	"log/slog"
	"strings"
)

// String names the targets present ("slack,teams,callback", or "none"), never their URLs.
func (t Targets) String() string {
	list := t.List()
	if len(list) == 0 {
		return "none"
	}
	names := make([]string, len(list))
	for i, x := range list {
		names[i] = string(x)
	}
	return strings.Join(names, ",")
}

// LogValue logs the targets by name: their URLs are secrets.
func (t Targets) LogValue() slog.Value { return slog.StringValue(t.String()) }

// LogValue logs what identifies a message, and its targets by name. (Its JSON, the queue
// message body, holds URLs that are secrets: never log it.)
func (m Message) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("followUpId", m.ID),
		slog.Time("requestedAt", m.RequestedAt),
		slog.Int("attempt", m.Attempt),
		slog.String("targets", m.Targets.String()),
	}
	if m.Tenant != "" {
		attrs = append(attrs, slog.String("tenant", m.Tenant))
	}
	if m.Outcome != nil {
		attrs = append(attrs, slog.String("outcome", string(m.Outcome.Result)))
	}
	return slog.GroupValue(attrs...)
}

// String names the notice's target and follow-up, never its URL.
func (n Notice) String() string {
	what := "stillRunning"
	if n.Outcome != nil {
		what = string(n.Outcome.Result)
	}
	return string(n.Target) + " " + what + " " + n.ID
}

// GoString is String: %#v shows no URL either.
func (n Notice) GoString() string { return n.String() }

// LogValue logs the notice as String does.
func (n Notice) LogValue() slog.Value { return slog.StringValue(n.String()) }
