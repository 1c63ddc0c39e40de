package logs

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format, level string
		wantJSON      bool
		debugShown    bool
		infoShown     bool
	}{
		{"", "", true, false, true},
		{"JSON", "DEBUG", true, true, true},
		{"Text", "WARN", false, false, false},
		{"text", "TRACE", false, true, true},
		{"", "ERROR", true, false, false},
		{"", "nonsense", true, false, true},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		log := New(&buf, tt.format, tt.level)
		log.Debug("d")
		log.Info("i", "k", "v")
		out := buf.String()
		if got := strings.Contains(out, `"msg":"d"`) || strings.Contains(out, "msg=d"); got != tt.debugShown {
			t.Errorf("%s/%s: debug shown = %v", tt.format, tt.level, got)
		}
		if got := strings.Contains(out, `"msg":"i"`) || strings.Contains(out, "msg=i"); got != tt.infoShown {
			t.Errorf("%s/%s: info shown = %v", tt.format, tt.level, got)
		}
		if tt.wantJSON && out != "" {
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !json.Valid([]byte(line)) {
					t.Errorf("%s/%s: not JSON: %s", tt.format, tt.level, line)
				}
			}
		}
	}
	if Level("fatal") != slog.LevelError {
		t.Error("FATAL is not ERROR")
	}
}
