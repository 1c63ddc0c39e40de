package api

import (
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/diagnose"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

// Outcome is what an action did, typed. Each source renders it (render.go): an HTTP answer, a
// chat message, a scheduled or direct result or Lambda error, an SQS record's fate. The
// invocation record reads its code and metrics from it.
type Outcome struct {
	// Sync is set by every action that asked Graph for a sync, whatever came of it.
	Sync *SyncOutcome
	// Status is the status document (status, update, chatStatus).
	Status *autopilot.Status
	// Fleet is every tenant's status (fleetStatus).
	Fleet *FleetStatus
	// Enqueued is the answer of a fan-out.
	Enqueued *Enqueued
	// FollowUp is what a follow-up check did (followUp).
	FollowUp *FollowUpOutcome
	// Diagnose is the report of diagnose (SPEC §14): the result even when a check failed.
	Diagnose *diagnose.Report
	// Problem is the failure. With Sync set, a Problem of code syncInProgress or syncThrottled is
	// Graph's 409 or 429: an HTTP caller gets it, a schedule gets a result.
	Problem *problem.Problem
	// Allow answers OPTIONS and goes with a 405.
	Allow string
	// Help asks for the chat help text: HelpGeneral, or HelpSyncNotHere at the status function.
	Help Help
	// Tenant names the tenant the outcome is about (fleet deployments).
	Tenant string

	// Calls is what the action saw of Graph and Key Vault.
	Calls Calls
}

// Help is which help text a chat answer shows.
type Help int

// The help texts.
const (
	NoHelp Help = iota
	HelpGeneral
	// HelpSyncNotHere answers `sync` at the status function, which holds read rights only.
	HelpSyncNotHere
	// HelpSSLCheck answers Slack's SSL check of a slash command's URL: 200, empty body.
	HelpSSLCheck
)

// SyncOutcome is what came of a sync request.
type SyncOutcome struct {
	// Result is started, inProgress or throttled; after ?wait completed, failed or inProgress;
	// empty when the request failed otherwise (Outcome.Problem says how).
	Result autopilot.Result
	// RequestedAt and NextSyncAllowedAt belong to a sync that Graph accepted.
	RequestedAt, NextSyncAllowedAt time.Time
	// Waited is set when the action followed the sync (?wait); Status holds the settings last read.
	Waited bool
	Status autopilot.Status
	// FollowUp is the follow-up enqueued to report the sync's end (SPEC §13); nil when none was.
	FollowUp *FollowUpRef
	// ChatFollowUp is what a chat answer says of it.
	ChatFollowUp chat.FollowUp
}

// Calls adds up what an action's calls saw of Graph and Key Vault, for the log line.
type Calls struct {
	// Graph is the answer that identifies the action (the sync's, not the reads after it).
	Graph     graph.Response
	GraphTime time.Duration
	VaultTime time.Duration
}

// add takes in a tenant call. A primary call's Graph answer identifies the action; the reads that
// explain a 409 or 429, or follow a sync, only add their time.
func (c *Calls) add(call tenant.Call, primary bool) {
	if (primary || c.Graph == graph.Response{}) && call.Graph != (graph.Response{}) {
		c.Graph = call.Graph
	}
	c.GraphTime += call.GraphTime
	c.VaultTime += call.VaultTime
}

// merge adds other's times (a fleet status adds up its tenants).
func (c *Calls) merge(other Calls) {
	c.GraphTime += other.GraphTime
	c.VaultTime += other.VaultTime
}

// failed returns the outcome of a problem.
func failed(p *problem.Problem) Outcome { return Outcome{Problem: p} }

// code is the outcome's code for the log line: "ok" or the problem's code (for a diagnose
// report, the first failed check's).
func (o Outcome) code() string {
	if o.Problem != nil {
		return string(o.Problem.Code)
	}
	if o.Diagnose != nil {
		if c, failed := o.Diagnose.FirstFailure(); failed {
			return string(c.Code)
		}
	}
	return "ok"
}
