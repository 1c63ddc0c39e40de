package followup

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

func TestLoggingShowsNoURL(t *testing.T) {
	t.Parallel()
	m := New("id-1", "contoso", t0, allOf)
	p := Decide(m, Reading{Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: at(100)}}, at(120), DefaultSchedule())
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("followUp", "message", m, "targets", m.Targets, "notice", p.Notices[0])
	printed := fmt.Sprintf("%v %+v %#v %v %+v", m, m, p.Notices[0], p.Notices, m.Targets)
	for _, out := range []string{logged.String(), printed} {
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("shows a URL: %s", out)
		}
	}
	if !strings.Contains(logged.String(), `"targets":"slack,teams,callback"`) {
		t.Errorf("log line %s does not name the targets", logged.String())
	}
}
