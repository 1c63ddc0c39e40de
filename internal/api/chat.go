package api

import (
	"context"
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

// chatSync serves `sync [wait] [tenant]` from Slack or Teams: the sync, and with "wait" its end as
// far as the platform's deadline allows. Every outcome is a chat answer (SPEC §7).
func (f *Function) chatSync(ctx context.Context, req *request) Outcome {
	if p := f.chatProblem(req); p != nil {
		return failed(p)
	}
	var wait time.Duration
	if deadline, ok := ctx.Deadline(); req.chat.Wait && ok {
		wait = time.Until(deadline) - chatWaitMargin
	}
	targets, note := f.chatTargets(req.chat)
	o := f.syncTenant(ctx, req.tenant, wait, targets)
	if s := o.Sync; s != nil && (s.FollowUp != nil || note == chat.FollowUpRefused) {
		s.ChatFollowUp = note
	}
	return o
}

// chatStatus serves `status [tenant]`.
func (f *Function) chatStatus(ctx context.Context, req *request) Outcome {
	if p := f.chatProblem(req); p != nil {
		return failed(p)
	}
	return f.status(ctx, req)
}

// chatProblem refuses a chat command before it reaches a tenant: a broken configuration, or a
// tenant word that is neither a registry name nor a GUID (never echoed: SPEC §7).
func (f *Function) chatProblem(req *request) *problem.Problem {
	switch {
	case f.d.Err != nil:
		return misconfigured(f.d.Err)
	case req.chat.BadTenant:
		return problem.New(problem.UnknownTenant, "No tenant of that name is configured; name a tenant by its registry name or its tenant id (a GUID).")
	}
	return nil
}

// chatHelp answers `help`, anything not understood, and `sync` at the status function (which
// holds read rights only) with a pointer to the sync command.
func (f *Function) chatHelp(_ context.Context, req *request) Outcome {
	if req.chat.Action == chat.ActionSync {
		return Outcome{Help: HelpSyncNotHere}
	}
	return Outcome{Help: HelpGeneral}
}
