package flowtest

import (
	"encoding/json"
	"io"
	"slices"
	"sync"
)

// Line is one log line of the function (JSON), with the fields tests read most.
type Line struct {
	Level, Msg string
	// Action is the invocation line's action (sync, followUp, import, …), Outcome a follow-up
	// check's outcome, Code the result's code, FollowUpID the follow-up's id.
	Action, Outcome, Code, FollowUpID string
	// Raw is the line as written, without its newline.
	Raw []byte
}

// Fields decodes every field of the line (EMF metrics included, as numbers).
func (l Line) Fields() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(l.Raw, &m)
	return m
}

// lineLog is the function's log writer: it keeps every line, and copies it to tee when set.
type lineLog struct {
	tee io.Writer

	mu    sync.Mutex
	lines []Line
}

// Write reads one log line; slog's JSON handler writes each line in one call.
func (l *lineLog) Write(p []byte) (int, error) {
	var head struct {
		Level      string `json:"level"`
		Msg        string `json:"msg"`
		Action     string `json:"action"`
		Outcome    string `json:"outcome"`
		Code       string `json:"code"`
		FollowUpID string `json:"followUpId"`
	}
	_ = json.Unmarshal(p, &head)
	raw := p
	if n := len(raw); n > 0 && raw[n-1] == '\n' {
		raw = raw[:n-1]
	}
	line := Line{Level: head.Level, Msg: head.Msg, Action: head.Action, Outcome: head.Outcome, Code: head.Code,
		FollowUpID: head.FollowUpID, Raw: append([]byte(nil), raw...)}
	l.mu.Lock()
	l.lines = append(l.lines, line)
	tee := l.tee
	l.mu.Unlock()
	if tee != nil {
		return tee.Write(p)
	}
	return len(p), nil
}

func (l *lineLog) snapshot() []Line {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}
