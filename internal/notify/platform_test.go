package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat/chattest"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// everyNotice is every notice the follow-up sends: the notices of body_test.go, an error outcome
// for each code notify gives a meaning (and one it does not), an outcome without Intune's
// times, a sync that ran for days, and the still-running notice after hours.
func everyNotice() map[string]followup.Notice {
	all := map[string]followup.Notice{}
	for name, n := range notices {
		all[name] = n
	}
	for _, code := range []problem.Code{"", problem.GraphPermissionDenied, problem.UnknownTenant, problem.GraphError,
		problem.GraphUnavailable, problem.UpstreamTimeout, problem.SecretStoreUnavailable, problem.CredentialRejected,
		problem.Misconfigured, "somethingNew"} {
		n := notices["error"]
		o := *n.Outcome
		o.Code = code
		n.Outcome = &o
		all[fmt.Sprintf("error %q", code)] = n
	}
	all["completed without Intune's times"] = followup.Notice{Target: followup.Slack, ID: "f-1", RequestedAt: t0,
		Outcome: &followup.Outcome{Result: autopilot.Completed, At: t0.Add(5 * time.Minute), SyncStatus: "completed"}}
	all["failed after days"] = followup.Notice{Target: followup.Slack, ID: "f-1", RequestedAt: t0, Outcome: &followup.Outcome{
		Result: autopilot.Failed, At: t0.Add(80 * time.Hour), SyncStatus: "failed", LastSyncDateTime: &lastRun, SyncDurationSeconds: int64p(80 * 3600)}}
	return all
}

// TestNoticesKeepToPlatformRules passes every Slack post and every Teams card the follow-up
// sends, for every outcome, with and without a tenant name (and with one made of markup), shown
// the same day and the next, through the platforms' published rules: Block Kit's for Slack, the
// Workflows envelope and the Adaptive Cards 1.4 schema for Teams. Teams is told of outcomes
// only (Sender refuses a still-running notice there), so a still-running notice has no card.
func TestNoticesKeepToPlatformRules(t *testing.T) {
	t.Parallel()
	// A registry name is 1–63 characters of [a-z0-9-]; the markup one checks the escaping, were a
	// name ever to carry it.
	tenants := []string{"", "contoso", strings.Repeat("a-", 31) + "z", "<!channel>&*_[x](y)#|~`\\{}+-!"}
	for name, n := range everyNotice() {
		at := t0.Add(29 * time.Minute)
		if n.Outcome != nil {
			at = n.Outcome.At
		}
		for _, tenant := range tenants {
			for _, now := range []time.Time{at, at.Add(24 * time.Hour)} {
				t.Run(fmt.Sprintf("%s/tenant %q/at %s", name, tenant, now.Format(time.RFC3339)), func(t *testing.T) {
					t.Parallel()
					n := withTenant(n, tenant)
					slack, err := SlackBody(n, now)
					if err != nil {
						t.Fatal(err)
					}
					chattest.CheckSlack(t, slack)
					if n.StillRunning() {
						return
					}
					card, err := TeamsBody(n, now)
					if err != nil {
						t.Fatal(err)
					}
					chattest.CheckCard(t, card)
				})
			}
		}
	}
}
