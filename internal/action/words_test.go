package action

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// now is when the answers are rendered: 28 Nov 2026, 15:04:30 UTC.
var now = time.Date(2026, 11, 28, 15, 4, 30, 0, time.UTC)

func at(hour, minute, second int) time.Time {
	return time.Date(2026, 11, 28, hour, minute, second, 0, time.UTC)
}

func ptr[T any](v T) *T { return &v }

// encode is the answer as the caller sends it (HTML escaping off, so the tests read as Slack
// and Teams receive them; with it on the JSON is equivalent).
func encode(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// slackWant is the Slack answer with text in its section and note (when given) in a context block.
func slackWant(text string, note ...string) map[string]any {
	blocks := []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": text}}}
	for _, n := range note {
		blocks = append(blocks, map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": n}}})
	}
	return map[string]any{"response_type": "ephemeral", "text": text, "blocks": blocks}
}

func teamsWant(text string) map[string]any {
	return map[string]any{"type": "message", "text": text}
}

func withGraph(p *problem.Problem) *problem.Problem {
	p.Graph = &problem.Graph{
		Code:            "Forbidden",
		RequestID:       "5d0a8e4a-3c1b-4b8e-9f0e-1a2b3c4d5e6f",
		ClientRequestID: "0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b",
		Date:            "Sat, 28 Nov 2026 15:04:29 GMT",
	}
	return p
}

const graphNote = "Microsoft Graph request-id: 5d0a8e4a-3c1b-4b8e-9f0e-1a2b3c4d5e6f · client-request-id: 0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b · date: Sat, 28 Nov 2026 15:04:29 GMT"

func TestWords(t *testing.T) {
	t.Parallel()
	throttled := func(next *time.Time, retryAfter int) *problem.Problem {
		p := problem.New(problem.SyncThrottled, "Intune allows one manual sync every 10 minutes.")
		p.NextSyncAllowedAt, p.RetryAfterSeconds = next, retryAfter
		return p
	}
	unknownTenant := problem.New(problem.Code("unknownTenant"), `No tenant "<!channel>&co" in the registry; known: contoso, fabrikam.`)
	unknownTenant.Status, unknownTenant.Title = 404, "Unknown tenant"
	tests := []struct {
		name   string
		res    Result
		tenant string    // the tenant word the answer is about
		now    time.Time // zero: now
		slack  map[string]any
		teams  map[string]any
	}{
		{
			name:  "started",
			res:   Synced{Result: autopilot.Started, RequestedAt: at(15, 0, 0), NextSyncAllowedAt: at(15, 10, 0)},
			slack: slackWant("Sync of Windows Autopilot devices started at 15:00 UTC. Next manual sync allowed at 15:10 UTC. Use `status` to follow it."),
			teams: teamsWant("Sync of Windows Autopilot devices started at 15:00 UTC. Next manual sync allowed at 15:10 UTC. Use **status** to follow it."),
		},
		{
			name: "started for a tenant, next allowed rounded up",
			res:  Synced{Result: autopilot.Started, RequestedAt: at(15, 4, 12), NextSyncAllowedAt: at(15, 14, 12)}, tenant: "contoso",
			slack: slackWant("contoso: Sync of Windows Autopilot devices started at 15:04 UTC. Next manual sync allowed at 15:15 UTC. Use `status` to follow it."),
			teams: teamsWant("contoso: Sync of Windows Autopilot devices started at 15:04 UTC. Next manual sync allowed at 15:15 UTC. Use **status** to follow it."),
		},
		{
			name: "completed after wait",
			res: Synced{Result: autopilot.Completed, Waited: true, RequestedAt: at(15, 4, 10), NextSyncAllowedAt: at(15, 14, 10),
				Status: autopilot.Status{SyncStatus: "completed", LastSyncDateTime: at(15, 4, 25), LastManualSyncTriggerDateTime: at(15, 4, 10)}},
			slack: slackWant("Sync of Windows Autopilot devices completed at 15:04 UTC. Next manual sync allowed at 15:15 UTC."),
			teams: teamsWant("Sync of Windows Autopilot devices completed at 15:04 UTC. Next manual sync allowed at 15:15 UTC."),
		},
		{
			name:  "completed without settings",
			res:   Synced{Result: autopilot.Completed, Waited: true},
			slack: slackWant("Sync of Windows Autopilot devices completed at 15:04 UTC."),
			teams: teamsWant("Sync of Windows Autopilot devices completed at 15:04 UTC."),
		},
		{
			name: "failed after wait",
			res: Synced{Result: autopilot.Failed, Waited: true, RequestedAt: at(15, 3, 50), NextSyncAllowedAt: at(15, 13, 50),
				Status: autopilot.Status{SyncStatus: "failed", LastSyncDateTime: at(15, 4, 20)}}, tenant: "fabrikam",
			slack: slackWant("fabrikam: Sync of Windows Autopilot devices failed at 15:04 UTC: check Windows Autopilot devices in the Intune admin center. Next manual sync allowed at 15:14 UTC."),
			teams: teamsWant("fabrikam: Sync of Windows Autopilot devices failed at 15:04 UTC: check Windows Autopilot devices in the Intune admin center. Next manual sync allowed at 15:14 UTC."),
		},
		{
			name: "still running when the wait ran out",
			res: Synced{Result: autopilot.InProgress, Waited: true, RequestedAt: at(15, 4, 8), NextSyncAllowedAt: at(15, 14, 8),
				Status: autopilot.Status{SyncStatus: "inProgress"}},
			slack: slackWant("Sync of Windows Autopilot devices started at 15:04 UTC; still running after 22 s. Use `status` to follow it. Next manual sync allowed at 15:15 UTC."),
			teams: teamsWant("Sync of Windows Autopilot devices started at 15:04 UTC; still running after 22 s. Use **status** to follow it. Next manual sync allowed at 15:15 UTC."),
		},
		{
			name: "already running",
			res: Failure{P: func() *problem.Problem {
				p := withGraph(problem.New(problem.SyncInProgress, "A sync of Autopilot devices is already running."))
				p.LastManualSyncTriggerDateTime = ptr(at(14, 58, 40))
				return p
			}(), attempt: attemptSync},
			slack: slackWant("A sync is already running (started 14:58 UTC). Wait for it to finish.", graphNote),
			teams: teamsWant("A sync is already running (started 14:58 UTC). Wait for it to finish.\n\n" + graphNote),
		},
		{
			name: "already running, start unknown",
			res:  Failure{P: problem.New(problem.SyncInProgress, "A sync of Autopilot devices is already running."), attempt: attemptSync}, tenant: "contoso",
			slack: slackWant("contoso: A sync is already running. Wait for it to finish."),
			teams: teamsWant("contoso: A sync is already running. Wait for it to finish."),
		},
		{
			name:  "throttled",
			res:   Failure{P: throttled(ptr(at(15, 10, 0)), 330), attempt: attemptSync},
			slack: slackWant("Intune allows one manual sync every 10 minutes. Next sync allowed in 6 min (15:10 UTC)."),
			teams: teamsWant("Intune allows one manual sync every 10 minutes. Next sync allowed in 6 min (15:10 UTC)."),
		},
		{
			name:  "throttled for less than a minute",
			res:   Failure{P: throttled(ptr(at(15, 5, 0)), 30), attempt: attemptSync},
			slack: slackWant("Intune allows one manual sync every 10 minutes. Next sync allowed in less than a minute (15:05 UTC)."),
			teams: teamsWant("Intune allows one manual sync every 10 minutes. Next sync allowed in less than a minute (15:05 UTC)."),
		},
		{
			name:  "throttled with Retry-After only",
			res:   Failure{P: throttled(nil, 412), attempt: attemptSync},
			slack: slackWant("Intune allows one manual sync every 10 minutes. Next sync allowed in 7 min (15:12 UTC)."),
			teams: teamsWant("Intune allows one manual sync every 10 minutes. Next sync allowed in 7 min (15:12 UTC)."),
		},
		{
			name:  "throttled without a time",
			res:   Failure{P: throttled(nil, 0), attempt: attemptSync},
			slack: slackWant("Intune allows one manual sync every 10 minutes. Try again in a few minutes."),
			teams: teamsWant("Intune allows one manual sync every 10 minutes. Try again in a few minutes."),
		},
		{
			name:  "status read throttled by Graph",
			res:   Failure{P: problem.New(problem.SyncThrottled, "Microsoft Graph asked to slow down; try again later."), attempt: attemptRead},
			slack: slackWant("Microsoft Graph is throttling requests right now; try `status` again in a minute."),
			teams: teamsWant("Microsoft Graph is throttling requests right now; try **status** again in a minute."),
		},
		{
			name:  "throttled past midnight",
			res:   Failure{P: throttled(ptr(time.Date(2026, 11, 29, 0, 4, 0, 0, time.UTC)), 480), attempt: attemptSync},
			now:   time.Date(2026, 11, 28, 23, 56, 0, 0, time.UTC),
			slack: slackWant("Intune allows one manual sync every 10 minutes. Next sync allowed in 8 min (2026-11-29 00:04 UTC)."),
			teams: teamsWant("Intune allows one manual sync every 10 minutes. Next sync allowed in 8 min (2026-11-29 00:04 UTC)."),
		},
		{
			name:  "permission denied",
			res:   Failure{P: withGraph(problem.New(problem.GraphPermissionDenied, "Grant DeviceManagementServiceConfig.ReadWrite.All.")), attempt: attemptSync},
			slack: slackWant("The Graph app lacks permission: grant DeviceManagementServiceConfig.ReadWrite.All (application) and admin consent.", graphNote),
			teams: teamsWant("The Graph app lacks permission: grant DeviceManagementServiceConfig.ReadWrite.All (application) and admin consent.\n\n" + graphNote),
		},
		{
			name:  "graph unavailable",
			res:   Failure{P: problem.New(problem.GraphUnavailable, "Graph answered 503."), attempt: attemptRead},
			slack: slackWant("Microsoft Graph is not answering right now; try again in a few minutes."),
			teams: teamsWant("Microsoft Graph is not answering right now; try again in a few minutes."),
		},
		{
			name:  "key vault unavailable",
			res:   Failure{P: problem.New(problem.SecretStoreUnavailable, ""), attempt: attemptSync},
			slack: slackWant("Azure Key Vault, which holds autopilot-sync's credentials, is not answering right now; try again in a few minutes."),
			teams: teamsWant("Azure Key Vault, which holds autopilot-sync's credentials, is not answering right now; try again in a few minutes."),
		},
		{
			name: "graph error with request id only",
			res: Failure{P: func() *problem.Problem {
				p := problem.New(problem.GraphError, "")
				p.Graph = &problem.Graph{Code: "BadRequest", RequestID: "abc<def>"}
				return p
			}(), attempt: attemptSync},
			slack: slackWant("Microsoft Graph refused the request; ask autopilot-sync's operators to check the logs.", "Microsoft Graph request-id: abc&lt;def&gt;"),
			teams: teamsWant("Microsoft Graph refused the request; ask autopilot-sync's operators to check the logs.\n\nMicrosoft Graph request-id: abc&lt;def&gt;"),
		},
		{
			name: "graph identifiers without request id",
			res: Failure{P: func() *problem.Problem {
				p := problem.New(problem.GraphError, "")
				p.Graph = &problem.Graph{Code: "BadRequest", Date: "Sat, 28 Nov 2026 15:04:29 GMT"}
				return p
			}(), attempt: attemptSync},
			slack: slackWant("Microsoft Graph refused the request; ask autopilot-sync's operators to check the logs."),
			teams: teamsWant("Microsoft Graph refused the request; ask autopilot-sync's operators to check the logs."),
		},
		{
			name:  "credential rejected",
			res:   Failure{P: problem.New(problem.CredentialRejected, "AADSTS7000215"), attempt: attemptSync},
			slack: slackWant("autopilot-sync is not configured correctly; ask its operators to check the logs."),
			teams: teamsWant("autopilot-sync is not configured correctly; ask its operators to check the logs."),
		},
		{
			name:  "misconfigured",
			res:   Failure{P: problem.New(problem.Misconfigured, "AZURE_TENANT_ID is not set."), attempt: attemptRead},
			slack: slackWant("autopilot-sync is not configured correctly; ask its operators to check the logs."),
			teams: teamsWant("autopilot-sync is not configured correctly; ask its operators to check the logs."),
		},
		{
			name: "unknown tenant",
			res:  Failure{P: unknownTenant, attempt: attemptSync}, tenant: "<!channel>&co",
			slack: slackWant("&lt;!channel&gt;&amp;co: No tenant \"&lt;!channel&gt;&amp;co\" in the registry; known: contoso, fabrikam."),
			teams: teamsWant("&lt;\\!channel&gt;&amp;co: No tenant \"&lt;!channel&gt;&amp;co\" in the registry; known: contoso, fabrikam."),
		},
		{
			name:  "bad request",
			res:   Failure{P: problem.New(problem.BadRequest, "Several tenants are configured: add a tenant name, e.g. `status contoso`."), attempt: attemptRead},
			slack: slackWant("Several tenants are configured: add a tenant name, e.g. `status contoso`."),
			teams: teamsWant("Several tenants are configured: add a tenant name, e.g. `status contoso`."),
		},
		{
			name:  "other problem without detail",
			res:   Failure{P: problem.New(problem.MethodNotAllowed, ""), attempt: attemptRead},
			slack: slackWant("Method not allowed."),
			teams: teamsWant("Method not allowed."),
		},
		{
			name:  "empty problem",
			res:   Failure{P: &problem.Problem{}, attempt: attemptRead},
			slack: slackWant("Something went wrong; ask autopilot-sync's operators to check the logs."),
			teams: teamsWant("Something went wrong; ask autopilot-sync's operators to check the logs."),
		},
		{
			name:  "sync timed out",
			res:   Failure{P: problem.New(problem.UpstreamTimeout, ""), attempt: attemptSync},
			slack: slackWant("Microsoft Graph has not answered within the 3 seconds Slack allows; the sync may or may not have started. Check with `status` in a minute."),
			teams: teamsWant("Microsoft Graph has not answered within the 5 seconds Teams allows; the sync may or may not have started. Check with **status** in a minute."),
		},
		{
			name: "status timed out",
			res:  Failure{P: problem.New(problem.UpstreamTimeout, ""), attempt: attemptRead}, tenant: "contoso",
			slack: slackWant("contoso: Microsoft Graph has not answered within the 3 seconds Slack allows; try `status` again in a minute."),
			teams: teamsWant("contoso: Microsoft Graph has not answered within the 5 seconds Teams allows; try **status** again in a minute."),
		},
		{
			name: "status completed, can sync",
			res: StatusDoc(autopilot.Status{SyncStatus: "completed", LastSyncDateTime: at(14, 10, 5),
				LastManualSyncTriggerDateTime: at(14, 0, 0), NextManualSyncAllowedAt: ptr(at(14, 10, 0)), CanSyncNow: true}),
			slack: slackWant("Last sync completed at 14:10 UTC (54 min ago).\nLast manual sync requested at 14:00 UTC (1 h ago).\nYou can sync now."),
			teams: teamsWant("Last sync completed at 14:10 UTC (54 min ago).\n\nLast manual sync requested at 14:00 UTC (1 h ago).\n\nYou can sync now."),
		},
		{
			name: "status running",
			res: StatusDoc(autopilot.Status{SyncStatus: "inProgress", LastSyncDateTime: at(12, 0, 0),
				LastManualSyncTriggerDateTime: at(15, 1, 0), NextManualSyncAllowedAt: ptr(at(15, 11, 0))}), tenant: "contoso",
			slack: slackWant("contoso: A sync is running.\nLast sync: 12:00 UTC (3 h ago).\nLast manual sync requested at 15:01 UTC (3 min ago).\nNext manual sync allowed in 7 min (15:11 UTC), once the running sync has finished."),
			teams: teamsWant("contoso: A sync is running.\n\nLast sync: 12:00 UTC (3 h ago).\n\nLast manual sync requested at 15:01 UTC (3 min ago).\n\nNext manual sync allowed in 7 min (15:11 UTC), once the running sync has finished."),
		},
		{
			name: "status running long",
			res: StatusDoc(autopilot.Status{SyncStatus: "inProgress", LastSyncDateTime: at(15, 4, 0),
				LastManualSyncTriggerDateTime: at(14, 30, 0), NextManualSyncAllowedAt: ptr(at(14, 40, 0))}),
			slack: slackWant("A sync is running.\nLast sync: 15:04 UTC (less than a minute ago).\nLast manual sync requested at 14:30 UTC (34 min ago).\nYou can sync again once the running sync has finished."),
			teams: teamsWant("A sync is running.\n\nLast sync: 15:04 UTC (less than a minute ago).\n\nLast manual sync requested at 14:30 UTC (34 min ago).\n\nYou can sync again once the running sync has finished."),
		},
		{
			name:  "status failed days ago, never triggered by hand",
			res:   StatusDoc(autopilot.Status{SyncStatus: "failed", LastSyncDateTime: time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC), CanSyncNow: true}),
			slack: slackWant("Last sync failed at 2026-11-25 09:30 UTC (3 days ago): check Windows Autopilot devices in the Intune admin center.\nNo manual sync has been requested yet.\nYou can sync now."),
			teams: teamsWant("Last sync failed at 2026-11-25 09:30 UTC (3 days ago): check Windows Autopilot devices in the Intune admin center.\n\nNo manual sync has been requested yet.\n\nYou can sync now."),
		},
		{
			name:  "status failed without time, yesterday's trigger",
			res:   StatusDoc(autopilot.Status{SyncStatus: "failed", LastManualSyncTriggerDateTime: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), CanSyncNow: true}),
			slack: slackWant("Last sync failed: check Windows Autopilot devices in the Intune admin center.\nLast manual sync requested at 2026-11-27 12:00 UTC (1 day ago).\nYou can sync now."),
			teams: teamsWant("Last sync failed: check Windows Autopilot devices in the Intune admin center.\n\nLast manual sync requested at 2026-11-27 12:00 UTC (1 day ago).\n\nYou can sync now."),
		},
		{
			name:  "status completed without time",
			res:   StatusDoc(autopilot.Status{SyncStatus: "completed", CanSyncNow: true}),
			slack: slackWant("Last sync completed.\nNo manual sync has been requested yet.\nYou can sync now."),
			teams: teamsWant("Last sync completed.\n\nNo manual sync has been requested yet.\n\nYou can sync now."),
		},
		{
			name:  "status unknown, never synced",
			res:   StatusDoc(autopilot.Status{SyncStatus: "unknown", CanSyncNow: true}),
			slack: slackWant("Sync status is unknown.\nNo sync has been recorded yet.\nNo manual sync has been requested yet.\nYou can sync now."),
			teams: teamsWant("Sync status is unknown.\n\nNo sync has been recorded yet.\n\nNo manual sync has been requested yet.\n\nYou can sync now."),
		},
		{
			name: "status value Graph added later",
			res: StatusDoc(autopilot.Status{SyncStatus: "paused<b>", LastSyncDateTime: at(15, 0, 0),
				LastManualSyncTriggerDateTime: at(14, 54, 45), NextManualSyncAllowedAt: ptr(at(15, 4, 45))}),
			slack: slackWant("Sync status: paused&lt;b&gt;.\nLast sync: 15:00 UTC (4 min ago).\nLast manual sync requested at 14:54 UTC (9 min ago).\nNext manual sync allowed in less than a minute (15:05 UTC)."),
			teams: teamsWant("Sync status: paused&lt;b&gt;.\n\nLast sync: 15:00 UTC (4 min ago).\n\nLast manual sync requested at 14:54 UTC (9 min ago).\n\nNext manual sync allowed in less than a minute (15:05 UTC)."),
		},
		{
			name: "status not allowed although the time has passed",
			res: StatusDoc(autopilot.Status{SyncStatus: "completed", LastSyncDateTime: at(14, 55, 0),
				LastManualSyncTriggerDateTime: at(14, 54, 30), NextManualSyncAllowedAt: ptr(at(15, 4, 30))}),
			slack: slackWant("Last sync completed at 14:55 UTC (9 min ago).\nLast manual sync requested at 14:54 UTC (10 min ago).\nNext manual sync allowed in less than a minute."),
			teams: teamsWant("Last sync completed at 14:55 UTC (9 min ago).\n\nLast manual sync requested at 14:54 UTC (10 min ago).\n\nNext manual sync allowed in less than a minute."),
		},
		{
			name:  "sync at the status function",
			res:   Help{syncNotHere: true},
			slack: slackWant("This command only reads status. Use the sync command (e.g. `/autopilot-sync sync`) to start a sync."),
			teams: teamsWant("This command only reads status. Use the sync command (e.g. **@autopilot-sync sync**) to start a sync."),
		},
		{
			name: "help",
			res:  Help{},
			slack: slackWant("Commands:\n" +
				"• `sync`: start a sync of Windows Autopilot devices (Intune allows one manual sync every 10 minutes)\n" +
				"• `sync wait`: start a sync and wait briefly for it to finish\n" +
				"• `sync 5CG1234XYZ`: start a sync and tell you here when those devices (serial numbers) are ready\n" +
				"• `status`: show the last sync and when the next manual sync is allowed\n" +
				"• `device 5CG1234XYZ`: show whether devices (serial numbers) are registered in Windows Autopilot and have their deployment profile\n" +
				"• `help`: show this list\n" +
				"Add a tenant name to choose a tenant: `sync contoso`, `sync wait contoso`, `status contoso`, `device contoso 5CG1234XYZ`."),
			teams: teamsWant("Commands:\n\n" +
				"• **sync**: start a sync of Windows Autopilot devices (Intune allows one manual sync every 10 minutes)\n\n" +
				"• **sync wait**: start a sync and wait briefly for it to finish\n\n" +
				"• **sync 5CG1234XYZ**: start a sync and tell you here when those devices (serial numbers) are ready\n\n" +
				"• **status**: show the last sync and when the next manual sync is allowed\n\n" +
				"• **device 5CG1234XYZ**: show whether devices (serial numbers) are registered in Windows Autopilot and have their deployment profile\n\n" +
				"• **help**: show this list\n\n" +
				"Add a tenant name to choose a tenant: **sync contoso**, **sync wait contoso**, **status contoso**, **device contoso 5CG1234XYZ**."),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			when := now
			if !tt.now.IsZero() {
				when = tt.now
			}
			for _, c := range []struct {
				platform autopilot.Source
				want     map[string]any
			}{{autopilot.SourceSlack, tt.slack}, {autopilot.SourceTeams, tt.teams}} {
				reply, err := chat.Reply(c.platform, tt.res.Words(chat.StyleOf(c.platform), when), tt.tenant)
				if err != nil {
					t.Fatal(err)
				}
				var got any
				if err := json.Unmarshal(reply, &got); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(any(c.want), got); diff != "" {
					t.Errorf("%s answer (-want +got):\n%s", c.platform, diff)
				}
			}
		})
	}
}

// TestReplyJSON pins the bytes of one answer per platform: field order and shape as sent.
func TestReplyJSON(t *testing.T) {
	t.Parallel()
	p := withGraph(problem.New(problem.SyncThrottled, "Intune allows one manual sync every 10 minutes."))
	p.NextSyncAllowedAt, p.RetryAfterSeconds = ptr(at(15, 10, 0)), 330
	res := Refused{P: p, Result: autopilot.Throttled}
	slack := `{"response_type":"ephemeral","text":"contoso: Intune allows one manual sync every 10 minutes. Next sync allowed in 6 min (15:10 UTC).","blocks":[` +
		`{"type":"section","text":{"type":"mrkdwn","text":"contoso: Intune allows one manual sync every 10 minutes. Next sync allowed in 6 min (15:10 UTC)."}},` +
		`{"type":"context","elements":[{"type":"mrkdwn","text":"` + graphNote + `"}]}]}`
	tests := []struct {
		platform autopilot.Source
		want     string
	}{
		{autopilot.SourceSlack, slack},
		{autopilot.SourceTeams, `{"type":"message","text":"contoso: Intune allows one manual sync every 10 minutes. Next sync allowed in 6 min (15:10 UTC).\n\n` + graphNote + `"}`},
		// Any other platform gets Slack's shape.
		{autopilot.Source("mattermost"), slack},
	}
	for _, tt := range tests {
		t.Run(string(tt.platform), func(t *testing.T) {
			t.Parallel()
			got, err := chat.Reply(tt.platform, res.Words(chat.StyleOf(tt.platform), now.In(time.FixedZone("CET", 3600))), "contoso")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReplySlackLimit checks that a long detail still fits Slack's 3000-character section.
func TestReplySlackLimit(t *testing.T) {
	t.Parallel()
	detail := "Several tenants are configured; add one of: " + strings.Repeat("tenant-name, ", 400)
	got := chat.SlackReply(failed(problem.New(problem.BadRequest, detail)).Words(chat.Slack, now), "")
	section := []rune(got.Blocks[0].Text.Text)
	if len(section) != chat.SlackTextLimit || section[len(section)-1] != '…' {
		t.Errorf("section has %d characters ending %q, want 3000 ending with …", len(section), string(section[len(section)-1]))
	}
	if got.Text != detail {
		t.Errorf("text was cut: %d characters, want %d", len(got.Text), len(detail))
	}
}
