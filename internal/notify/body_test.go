package notify

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
)

var (
	t0      = time.Date(2026, 11, 28, 17, 5, 0, 0, time.UTC)
	lastRun = t0.Add(4*time.Minute + 30*time.Second)
)

func int64p(v int64) *int64 { return &v }

// notices are one of each kind, for a follow-up requested at t0.
var notices = map[string]followup.Notice{
	"completed": {Target: followup.Slack, ID: "f-1", RequestedAt: t0, Outcome: &followup.Outcome{
		Result: autopilot.Completed, At: t0.Add(5 * time.Minute), SyncStatus: "completed", LastSyncDateTime: &lastRun, SyncDurationSeconds: int64p(270)}},
	"failed": {Target: followup.Slack, ID: "f-1", RequestedAt: t0, Outcome: &followup.Outcome{
		Result: autopilot.Failed, At: t0.Add(5 * time.Minute), SyncStatus: "failed", LastSyncDateTime: &lastRun, SyncDurationSeconds: int64p(270)}},
	"quick": {Target: followup.Slack, ID: "f-1", RequestedAt: t0, Outcome: &followup.Outcome{
		Result: autopilot.Completed, At: t0.Add(time.Minute), SyncStatus: "completed", LastSyncDateTime: &t0, SyncDurationSeconds: int64p(0)}},
	"timedOut": {Target: followup.Slack, ID: "f-1", RequestedAt: t0, Outcome: &followup.Outcome{
		Result: autopilot.TimedOut, At: t0.Add(time.Hour), SyncStatus: "inProgress"}},
	"error": {Target: followup.Slack, ID: "f-1", RequestedAt: t0, Outcome: &followup.Outcome{
		Result: autopilot.Error, At: t0.Add(time.Minute), Code: "graphPermissionDenied"}},
	"stillRunning": {Target: followup.Slack, ID: "f-1", RequestedAt: t0},
	// A deferred request that no sync served (SPEC §16).
	"stillWaiting": {Target: followup.Slack, ID: "f-1", RequestedAt: t0, Waiting: true},
	"neverStarted": {Target: followup.Slack, ID: "f-1", RequestedAt: t0, Waiting: true, Outcome: &followup.Outcome{
		Result: autopilot.TimedOut, At: t0.Add(time.Hour), SyncStatus: "inProgress"}},
	"notStarted": {Target: followup.Slack, ID: "f-1", RequestedAt: t0, Waiting: true, Outcome: &followup.Outcome{
		Result: autopilot.Error, At: t0.Add(time.Minute), Code: "unknownTenant"}},
}

func withTenant(n followup.Notice, tenant string) followup.Notice {
	n.Tenant = tenant
	return n
}

func TestSlackBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		notice followup.Notice
		now    time.Time
		want   string
	}{
		{notices["completed"], t0.Add(5 * time.Minute), "Sync completed at 17:09 UTC, 4 min after it was requested."},
		{notices["failed"], t0.Add(5 * time.Minute), "Sync failed at 17:09 UTC, 4 min after it was requested: check Windows Autopilot devices in the Intune admin center."},
		{notices["quick"], t0.Add(time.Minute), "Sync completed at 17:05 UTC, less than a minute after it was requested."},
		{notices["timedOut"], t0.Add(time.Hour), "The sync requested at 17:05 UTC has not finished after 1 h; check later with `status`."},
		{notices["error"], t0.Add(time.Minute), "The outcome of the sync requested at 17:05 UTC is unknown: the Graph app may no longer read Windows Autopilot settings (grant DeviceManagementServiceConfig.Read.All)."},
		{notices["stillRunning"], t0.Add(29 * time.Minute), "Still running after 29 min; check later with `status`."},
		{notices["stillWaiting"], t0.Add(29 * time.Minute), "No sync has started yet after 29 min: Intune allowed none; I will keep trying, check later with `status`."},
		{notices["neverStarted"], t0.Add(time.Hour), "The sync requested at 17:05 UTC could not start within 1 h: Intune allowed none (a sync kept running, or one ran every 10 minutes); ask again later."},
		{notices["notStarted"], t0.Add(time.Minute), "The sync requested at 17:05 UTC did not start: the tenant is no longer in autopilot-sync's tenant registry."},
		{withTenant(notices["stillRunning"], "contoso"), t0.Add(29*time.Minute + 30*time.Second), "contoso: Still running after 29 min; check later with `status contoso`."},
		{withTenant(notices["completed"], "contoso"), t0.Add(24 * time.Hour), "contoso: Sync completed at 2026-11-28 17:09 UTC, 4 min after it was requested."},
		{withTenant(notices["completed"], "<!channel>&<https://x|y>"), t0.Add(5 * time.Minute), "&lt;!channel&gt;&amp;&lt;https://x|y&gt;: Sync completed at 17:09 UTC, 4 min after it was requested."},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			b, err := SlackBody(tt.notice, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"response_type":    "ephemeral",
				"replace_original": false,
				"text":             tt.want,
				"blocks":           []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": tt.want}}},
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBodiesAreShort(t *testing.T) {
	t.Parallel()
	tenant := strings.Repeat("<&>", 21) // the longest tenant name, all of it escaped
	for name, n := range notices {
		n := withTenant(n, tenant)
		slack, err := SlackBody(n, t0.Add(30*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if len(slack) >= 2048 {
			t.Errorf("%s: Slack body of %d bytes, want under 2 KB", name, len(slack))
		}
		if n.Outcome == nil {
			continue
		}
		teams, err := TeamsBody(n, t0.Add(30*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if len(teams) >= 28<<10 {
			t.Errorf("%s: Teams body of %d bytes, over the Workflows limit", name, len(teams))
		}
	}
}

func TestTeamsBody(t *testing.T) {
	t.Parallel()
	n := withTenant(notices["failed"], "a*b_[c](d)")
	n.Target = followup.Teams
	b, err := TeamsBody(n, t0.Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,` +
		`"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[` +
		`{"type":"TextBlock","text":"Windows Autopilot sync failed","wrap":true,"weight":"bolder","color":"attention"},` +
		`{"type":"TextBlock","text":"a\\*b\\_\\[c\\]\\(d\\): Sync failed at 17:09 UTC, 4 min after it was requested: check Windows Autopilot devices in the Intune admin center.","wrap":true}]}}]}`
	if got := string(b); got != want {
		t.Errorf("body:\n got %s\nwant %s", got, want)
	}
	n = notices["timedOut"]
	if b, err = TeamsBody(n, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("check later with **status**.")) || !bytes.Contains(b, []byte(`"color":"warning"`)) {
		t.Errorf("timedOut body %s lacks the status hint or the warning colour", b)
	}
}

func TestCallbackBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		notice followup.Notice
		want   string
	}{
		{"completed", withTenant(notices["completed"], "contoso"),
			`{"type":"autopilot.sync.completed","timestamp":"2026-11-28T17:10:00Z","data":{"tenant":"contoso","result":"completed","requestedAt":"2026-11-28T17:05:00Z","lastSyncDateTime":"2026-11-28T17:09:30Z","syncStatus":"completed","syncDurationSeconds":270}}`},
		{"failed, no registry: the tenant id", notices["failed"],
			`{"type":"autopilot.sync.failed","timestamp":"2026-11-28T17:10:00Z","data":{"tenant":"00000000-0000-0000-0000-000000000001","result":"failed","requestedAt":"2026-11-28T17:05:00Z","lastSyncDateTime":"2026-11-28T17:09:30Z","syncStatus":"failed","syncDurationSeconds":270}}`},
		{"timedOut", withTenant(notices["timedOut"], "contoso"),
			`{"type":"autopilot.sync.timedOut","timestamp":"2026-11-28T18:05:00Z","data":{"tenant":"contoso","result":"timedOut","requestedAt":"2026-11-28T17:05:00Z","lastSyncDateTime":null,"syncStatus":"inProgress","syncDurationSeconds":null}}`},
		{"error", withTenant(notices["error"], "contoso"),
			`{"type":"autopilot.sync.error","timestamp":"2026-11-28T17:06:00Z","data":{"tenant":"contoso","result":"error","requestedAt":"2026-11-28T17:05:00Z","lastSyncDateTime":null,"syncStatus":null,"syncDurationSeconds":null,"code":"graphPermissionDenied"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := CallbackBody(tt.notice, "00000000-0000-0000-0000-000000000001")
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != tt.want {
				t.Errorf("body:\n got %s\nwant %s", got, tt.want)
			}
			again, _ := CallbackBody(tt.notice, "00000000-0000-0000-0000-000000000001")
			if !bytes.Equal(b, again) {
				t.Error("a retry gets another body")
			}
		})
	}
	if _, err := CallbackBody(notices["stillRunning"], ""); err == nil {
		t.Error("CallbackBody of a still-running notice: no error")
	}
}
