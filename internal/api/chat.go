package api

import (
	"context"
	"net/http"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Chat platforms wait 3 s (Slack) and 5 s (Teams) for an answer; a request gets less from its
// arrival, caller check included, so the answer leaves in time even when Graph does not answer.
const (
	slackBudget = 2500 * time.Millisecond
	teamsBudget = 4500 * time.Millisecond
	// chatWaitMargin is kept free after a "sync wait" for the answer itself.
	chatWaitMargin = 300 * time.Millisecond
)

func chatBudget(p chat.Platform) time.Duration {
	if p == chat.Teams {
		return teamsBudget
	}
	return slackBudget
}

// chat serves a Slack slash command or a Teams outgoing webhook within ctx's budget (chatBudget):
// every outcome, 409 and 429 included, is an HTTP 200 answer in plain words (SPEC §7).
func (f *Function) chat(ctx context.Context, cmd chat.Command) answer {
	ctx, tr := traced(ctx)

	var inner answer
	in, _, p := f.selectTenant(ctx, cmd.Tenant)
	switch {
	case cmd.Action == chat.ActionHelp:
		inner = answer{action: "chatHelp"}
	case f.d.Err != nil:
		inner = problemAnswer(misconfigured(f.d.Err))
		inner.action = "chat" + cmd.Action
	case cmd.Action == chat.ActionSync && f.kind == KindStatus:
		inner = answer{action: "chatSyncNotHere"}
	case p != nil:
		inner = problemAnswer(p)
		inner.action = "chat" + cmd.Action
	case cmd.Action == chat.ActionSync:
		var wait time.Duration
		if deadline, ok := ctx.Deadline(); cmd.Wait && ok {
			wait = time.Until(deadline) - chatWaitMargin
		}
		inner = f.sync(ctx, in, wait)
		inner.action = "chatSync"
	default:
		inner = f.getStatus(ctx, in)
		inner.action = "chatStatus"
	}

	out := chat.Outcome{Action: cmd.Action, Tenant: cmd.Tenant}
	if inner.action == "chatSyncNotHere" {
		out.Action = chat.ActionSyncNotHere
	}
	switch body := inner.body.(type) {
	case Started:
		out.Result, out.RequestedAt, out.NextSyncAllowedAt = chat.ResultStarted, body.RequestedAt, body.NextSyncAllowedAt
	case Outcome:
		out.Result, out.RequestedAt, out.NextSyncAllowedAt = body.Result, body.RequestedAt, body.NextSyncAllowedAt
		out.Status = chatStatus(body.Status)
	case Status:
		out.Status = chatStatus(body)
	case *problem.Problem:
		out.Problem = body
		out.TimedOut = body.Code == problem.UpstreamTimeout
	}
	return answer{
		status: http.StatusOK,
		body:   chat.Render(cmd.Platform, out, f.d.Now()),
		action: inner.action,
		source: string(cmd.Platform),
		result: inner.body,
		graph:  tr.graph,
		vault:  tr.vault,
	}
}

func chatStatus(s Status) *chat.Status {
	return &chat.Status{
		SyncStatus:                    string(s.SyncStatus),
		LastSyncDateTime:              s.LastSyncDateTime,
		LastManualSyncTriggerDateTime: s.LastManualSyncTriggerDateTime,
		NextManualSyncAllowedAt:       s.NextManualSyncAllowedAt,
		CanSyncNow:                    s.CanSyncNow,
	}
}
