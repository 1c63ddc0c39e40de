package chat

import (
	"fmt"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// IntuneHint says where to look when a sync failed.
const IntuneHint = "check Windows Autopilot devices in the Intune admin center"

// ProblemWords says what a problem means to the person who asked, at now: plain words for every
// code of SPEC §5 (never an internal error), the detail itself for the codes whose detail is
// written for the caller (badRequest, unknownTenant, …), and Graph's identifiers in small print.
func ProblemWords(st Style, p *problem.Problem, now time.Time) Words {
	return Words{Paragraphs: []string{problemText(st, p, now.UTC())}, Note: GraphNote(st, p.Graph)}
}

func problemText(st Style, p *problem.Problem, now time.Time) string {
	switch p.Code {
	case problem.SyncInProgress:
		if t := p.LastManualSyncTriggerDateTime; t != nil && !t.IsZero() {
			return fmt.Sprintf("A sync is already running (started %s). Wait for it to finish.", Past(*t, now))
		}
		return "A sync is already running. Wait for it to finish."
	case problem.SyncThrottled:
		const rule = "Intune allows one manual sync every 10 minutes."
		next := p.NextSyncAllowedAt
		if next == nil && p.RetryAfterSeconds > 0 {
			t := now.Add(time.Duration(p.RetryAfterSeconds) * time.Second)
			next = &t
		}
		if next == nil {
			return rule + " Try again in a few minutes."
		}
		return fmt.Sprintf("%s Next sync allowed in %s (%s).", rule, In(next.Sub(now)), Future(*next, now))
	case problem.GraphPermissionDenied:
		return "The Graph app lacks permission: grant " + graph.PermissionReadWrite + " (application) and admin consent."
	case problem.GraphUnavailable, problem.UpstreamTimeout:
		return "Microsoft Graph is not answering right now; try again in a few minutes."
	case problem.SecretStoreUnavailable:
		return "Azure Key Vault, which holds autopilot-sync's credentials, is not answering right now; try again in a few minutes."
	case problem.GraphError:
		return "Microsoft Graph refused the request; ask autopilot-sync's operators to check the logs."
	case problem.CredentialRejected, problem.Misconfigured:
		return "autopilot-sync is not configured correctly; ask its operators to check the logs."
	}
	// unknownTenant, badRequest and anything else: the detail is written for the caller.
	if p.Detail != "" {
		return st.Esc(p.Detail)
	}
	if p.Title != "" {
		return st.Esc(p.Title) + "."
	}
	return "Something went wrong; ask autopilot-sync's operators to check the logs."
}

// GraphNote is the small print admins quote to Microsoft support: Graph's request ids and date,
// or "" when the problem holds none.
func GraphNote(st Style, g *problem.Graph) string {
	if g == nil || (g.RequestID == "" && g.ClientRequestID == "") {
		return ""
	}
	var parts []string
	for _, f := range []struct{ name, value string }{
		{"request-id", g.RequestID},
		{"client-request-id", g.ClientRequestID},
		{"date", g.Date},
	} {
		if f.value != "" {
			parts = append(parts, f.name+": "+st.Esc(f.value))
		}
	}
	return "Microsoft Graph " + strings.Join(parts, " · ")
}
