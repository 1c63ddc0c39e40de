package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

// SPEC §16: deferred syncs. These tests drive the sync function on fakes of our own (fakeIntune,
// memQueue, deliveries) at a fixed clock; the emulator's faithful Graph, races included, is
// driven by bench's simulation and e2e's test under the Lambda runtime emulator.

// deferFunction is followUpFunction with SYNC_WHEN_BUSY=defer when policy is set, and without
// a follow-up queue when noQueue is.
func deferFunction(in action.Intune, q *memQueue, d *deliveries, clock *time.Time, log *bytes.Buffer, policy, noQueue bool) *Function {
	deps := followUpDeps(in, q, d, clock, log, true)
	deps.DeferWhenBusy = policy
	if noQueue {
		deps.FollowUp = nil
	}
	return New(autopilot.FunctionSync, deps)
}

var (
	conflict  = &graph.Error{StatusCode: http.StatusConflict, Code: "Conflict", RequestID: "r-409"}
	throttled = &graph.Error{StatusCode: http.StatusTooManyRequests, Code: "TooManyRequests", RequestID: "r-429"}
)

// withRetryAfter is a 429 with Retry-After d.
func withRetryAfter(d time.Duration) *graph.Error {
	e := *throttled
	e.HasRetryAfter, e.RetryAfter = true, d
	return &e
}

// TestDeferredRequests: which requests defer, what they answer, and the one delayed message
// each sends (SPEC §16); what refuses stays as §5 says; bad values and a deferral with nowhere
// to wait are 400 before any Graph call.
func TestDeferredRequests(t *testing.T) {
	t.Parallel()
	lastTrigger := now.Add(-4 * time.Minute)
	running := graph.Settings{SyncStatus: graph.SyncStatusInProgress, LastManualSyncTriggerDateTime: lastTrigger}
	done := graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastManualSyncTriggerDateTime: lastTrigger, LastSyncDateTime: lastTrigger.Add(time.Minute)}
	tests := []struct {
		name             string
		policy           bool
		noQueue          bool
		queueErr         error
		target, ct, body string
		intune           *fakeIntune
		wantStatus       int
		wantText         string        // part of the answer
		wantDelay        time.Duration // of the one message; 0: none sent
		wantBefore       *time.Time    // the message's deferred.before
		wantSyncs        int
	}{
		{name: "refuse by default: 409 as before", target: "/sync", intune: &fakeIntune{syncErr: conflict, settings: running},
			wantStatus: 409, wantText: `"code":"syncInProgress"`, wantSyncs: 1},
		{name: "refuse by default: 429 as before", target: "/sync", intune: &fakeIntune{syncErr: throttled, settings: done},
			wantStatus: 429, wantText: `"code":"syncThrottled"`, wantSyncs: 1},
		{name: "SYNC_WHEN_BUSY=defer: a 409 waits 60 s", policy: true, target: "/sync", intune: &fakeIntune{syncErr: conflict, settings: running},
			wantStatus: 202, wantText: `"syncAt":"2026-11-28T15:01:00Z"`, wantDelay: time.Minute, wantBefore: &lastTrigger, wantSyncs: 1},
		{name: "defer=true: a 429 waits until 10 min after the last trigger", target: "/sync?defer=true", intune: &fakeIntune{syncErr: throttled, settings: done},
			wantStatus: 202, wantText: `"syncAt":"2026-11-28T15:06:00Z"`, wantDelay: 6 * time.Minute, wantBefore: &lastTrigger, wantSyncs: 1},
		{name: "defer=true: a 429's Retry-After", target: "/sync?defer=true", intune: &fakeIntune{syncErr: withRetryAfter(290 * time.Second), settings: done},
			wantStatus: 202, wantText: `"syncAt":"2026-11-28T15:04:50Z"`, wantDelay: 290 * time.Second, wantBefore: &lastTrigger, wantSyncs: 1},
		{name: "defer=true: with a callback, its target", target: "/sync?defer=true", ct: "application/json", body: `{"callbackUrl":"https://contoso.service-now.com/api/x_autopilot/done"}`,
			intune: &fakeIntune{syncErr: conflict, settings: running}, wantStatus: 202, wantText: `"targets":["callback"]`, wantDelay: time.Minute, wantBefore: &lastTrigger, wantSyncs: 1},
		{name: "defer=false overrides the policy", policy: true, target: "/sync?defer=false", intune: &fakeIntune{syncErr: conflict, settings: running},
			wantStatus: 409, wantSyncs: 1},
		{name: "a sync Graph accepts is not deferred", policy: true, target: "/sync", intune: &fakeIntune{},
			wantStatus: 202, wantText: `"result":"started"`, wantDelay: time.Minute, wantSyncs: 1},
		{name: "another Graph error is not deferred", policy: true, target: "/sync", intune: &fakeIntune{syncErr: &graph.Error{StatusCode: 403, Code: "Forbidden"}},
			wantStatus: 502, wantSyncs: 1},
		{name: "defer=yes: 400, no Graph call", target: "/sync?defer=yes", intune: &fakeIntune{}, wantStatus: 400, wantText: "defer must be given once"},
		{name: "defer twice: 400, no Graph call", target: "/sync?defer=true&defer=true", intune: &fakeIntune{}, wantStatus: 400, wantText: "defer must be given once"},
		{name: "defer empty: 400, no Graph call", target: "/sync?defer=", intune: &fakeIntune{}, wantStatus: 400},
		{name: "defer=true without a queue: 400, no Graph call", noQueue: true, target: "/sync?defer=true", intune: &fakeIntune{},
			wantStatus: 400, wantText: "FOLLOWUP_QUEUE_URL"},
		{name: "a deferral the queue refuses: 503", policy: true, queueErr: errors.New("sqs: AccessDenied"), target: "/sync", intune: &fakeIntune{syncErr: conflict, settings: running},
			wantStatus: 503, wantText: `"code":"queueUnavailable"`, wantSyncs: 1},
		{name: "slack, deferred: the reply says a post will come", policy: true, target: "/sync", ct: slackForm, body: slackBody("sync"),
			intune: &fakeIntune{syncErr: throttled, settings: done}, wantStatus: 200, wantText: "the next starts at 15:06 UTC and I'll tell you when it ends",
			wantDelay: 6 * time.Minute, wantBefore: &lastTrigger, wantSyncs: 1},
		{name: "teams, deferred after a 409", policy: true, target: "/sync", ct: "application/json", body: teamsBody("sync"),
			intune: &fakeIntune{syncErr: conflict, settings: running}, wantStatus: 200, wantText: "A sync is running (started 14:56 UTC)",
			wantDelay: time.Minute, wantBefore: &lastTrigger, wantSyncs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := now
			q := &memQueue{err: tt.queueErr}
			f := deferFunction(tt.intune, q, &deliveries{}, &clock, nil, tt.policy, tt.noQueue)
			got := do(t, f, http.MethodPost, tt.target, tt.ct, tt.body)
			raw, _ := json.Marshal(got.body)
			if got.status != tt.wantStatus || !strings.Contains(string(raw), tt.wantText) || tt.intune.syncs != tt.wantSyncs {
				t.Fatalf("got %d with %d syncs: %s; want %d with %d syncs containing %q", got.status, tt.intune.syncs, raw, tt.wantStatus, tt.wantSyncs, tt.wantText)
			}
			if tt.wantStatus == 503 && got.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			msgs := q.messages(t, clock)
			if tt.wantDelay == 0 {
				if len(msgs) != 0 {
					t.Fatalf("messages %+v, want none", msgs)
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("%d messages %v, want one", len(msgs), q.sent)
			}
			m := msgs[0]
			if m.Deferred != nil {
				tt.wantDelay += followup.Spread(m.ID) // a deferral's check comes a few seconds late
			}
			if len(msgs) != 1 || q.sent[0].delay != tt.wantDelay {
				t.Fatalf("%d messages %v, want one after %s", len(msgs), q.sent, tt.wantDelay)
			}
			if !m.RequestedAt.Equal(now) {
				t.Errorf("requestedAt %v", m.RequestedAt)
			}
			switch {
			case tt.wantBefore == nil && m.Deferred != nil:
				t.Errorf("a deferred message %+v for a sync that started", m.Deferred)
			case tt.wantBefore != nil && (m.Deferred == nil || m.Deferred.Before == nil || !m.Deferred.Before.Equal(*tt.wantBefore)):
				t.Errorf("deferred %+v, want before %v", m.Deferred, tt.wantBefore)
			}
			if id, _ := got.body["followUp"].(map[string]any); tt.ct == "" && (id == nil || id["id"] != m.ID) {
				t.Errorf("the answer's followUp %v is not the message's id %s", got.body["followUp"], m.ID)
			}
		})
	}
}

// TestDeferredScheduledSync: a schedule follows the policy; its deferral is a result, not an
// error, and is logged with code deferred and SyncDeferred 1.
func TestDeferredScheduledSync(t *testing.T) {
	t.Parallel()
	clock := now
	q, logs := &memQueue{}, &bytes.Buffer{}
	in := &fakeIntune{syncErr: withRetryAfter(90 * time.Second)}
	f := deferFunction(in, q, &deliveries{}, &clock, logs, true, false)
	out, err := f.Invoke(context.Background(), json.RawMessage(`{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil || res["result"] != "deferred" || res["syncAt"] != "2026-11-28T15:01:30Z" {
		t.Fatalf("result %s, want deferred until 15:01:30", out)
	}
	line := invocationLine(t, logs)
	if line["action"] != "scheduledSync" || line["code"] != "deferred" || line["SyncDeferred"] != 1.0 || line["SyncThrottled"] != 1.0 || line["status"] != 200.0 {
		t.Errorf("line %v", line)
	}
	if msgs := q.messages(t, clock); len(msgs) != 1 || msgs[0].Deferred == nil || msgs[0].Targets != (followup.Targets{}) {
		t.Errorf("messages %+v, want one deferred with no target", msgs)
	}
}

// TestDeferredChecks: each check of a deferred request reads the settings once, then merges,
// waits, syncs or ends as SPEC §16 says, and logs what it did.
func TestDeferredChecks(t *testing.T) {
	t.Parallel()
	before := now.Add(-4 * time.Minute) // the trigger the deferral saw
	requested := now
	targets := followup.Targets{Slack: "https://hooks.slack.com/commands/T1/1/x", Teams: true, Callback: "https://contoso.service-now.com/api/x_autopilot/done"}
	deferred := followup.NewDeferred("5d0c3c4e-4f52-4d8b-a7a4-0a3c9d5e6f70", "", requested, before, targets)
	body, err := deferred.Encode()
	if err != nil {
		t.Fatal(err)
	}
	seen := graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastManualSyncTriggerDateTime: before, LastSyncDateTime: before.Add(time.Minute)}
	later := now.Add(5 * time.Minute) // a trigger after the request, by someone else
	tests := []struct {
		name        string
		at          time.Duration // after the request
		intune      *fakeIntune
		wantRetry   bool
		wantOutcome string
		wantSyncs   int
		wantNotices int
		// wantNext: the next message is deferred (wait), follows a trigger at wantTriggered
		// (merged, started), or none.
		wantNext      string
		wantDelay     time.Duration
		wantTriggered time.Time
		wantMetric    map[string]float64
	}{
		{name: "a trigger after the one seen: merged, no sync", at: 6 * time.Minute,
			intune:      &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusInProgress, LastManualSyncTriggerDateTime: later, LastSyncDateTime: before.Add(time.Minute)}},
			wantOutcome: "merged", wantNext: "followed", wantDelay: time.Minute, wantTriggered: later,
			wantMetric: map[string]float64{"SyncMerged": 1, "SyncOutcomeCompleted": 0}},
		{name: "merged into a sync that has ended: its outcome, told at once", at: 8 * time.Minute,
			intune:      &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastManualSyncTriggerDateTime: later, LastSyncDateTime: later.Add(90 * time.Second)}},
			wantOutcome: "completed", wantNotices: 3, wantMetric: map[string]float64{"SyncMerged": 1, "SyncOutcomeCompleted": 1, "SyncDurationSeconds": 90}},
		{name: "the trigger seen, still running: waits 60 s", at: time.Minute,
			intune:      &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusInProgress, LastManualSyncTriggerDateTime: before}},
			wantOutcome: "deferred", wantNext: "deferred", wantDelay: time.Minute, wantMetric: map[string]float64{"SyncMerged": 0}},
		{name: "the trigger seen, ended: the check syncs", at: 6 * time.Minute, intune: &fakeIntune{settings: seen},
			wantOutcome: "started", wantSyncs: 1, wantNext: "followed", wantDelay: time.Minute, wantTriggered: now.Add(6 * time.Minute),
			wantMetric: map[string]float64{"SyncStarted": 1, "SyncMerged": 0, "SyncDeferred": 0}},
		{name: "its sync gets 409: waits 60 s", at: 6 * time.Minute, intune: &fakeIntune{settings: seen, syncErr: conflict},
			wantOutcome: "deferred", wantSyncs: 1, wantNext: "deferred", wantDelay: time.Minute, wantMetric: map[string]float64{"SyncInProgress": 1, "SyncMerged": 0}},
		{name: "its sync gets 409, the racer's trigger now visible: merged", at: 6 * time.Minute,
			intune: &fakeIntune{settings: seen, syncErr: conflict,
				afterSync: &graph.Settings{SyncStatus: graph.SyncStatusInProgress, LastManualSyncTriggerDateTime: now.Add(6 * time.Minute), LastSyncDateTime: seen.LastSyncDateTime}},
			wantOutcome: "merged", wantSyncs: 1, wantNext: "followed", wantDelay: time.Minute, wantTriggered: now.Add(6 * time.Minute),
			wantMetric: map[string]float64{"SyncInProgress": 1, "SyncMerged": 1}},
		{name: "its sync gets 429 with Retry-After: waits that long", at: 6 * time.Minute, intune: &fakeIntune{settings: seen, syncErr: withRetryAfter(200 * time.Second)},
			wantOutcome: "deferred", wantSyncs: 1, wantNext: "deferred", wantDelay: 200 * time.Second, wantMetric: map[string]float64{"SyncThrottled": 1}},
		{name: "its sync gets 429 allowing one in 2 s: waits 30 s", at: 6 * time.Minute, intune: &fakeIntune{settings: seen, syncErr: withRetryAfter(2 * time.Second)},
			wantOutcome: "deferred", wantSyncs: 1, wantNext: "deferred", wantDelay: 30 * time.Second},
		{name: "past the max age: timedOut, no sync", at: 61 * time.Minute, intune: &fakeIntune{settings: seen},
			wantOutcome: "timedOut", wantNotices: 2, wantMetric: map[string]float64{"SyncOutcomeTimedOut": 1}}, // Slack's 30 min are over
		{name: "a read that fails for now: redelivered, no sync", at: 6 * time.Minute, intune: &fakeIntune{getErr: &graph.Error{StatusCode: 503}}, wantRetry: true},
		{name: "its sync fails for now: redelivered", at: 6 * time.Minute, intune: &fakeIntune{settings: seen, syncErr: &graph.Error{StatusCode: 503}}, wantSyncs: 1, wantRetry: true},
		{name: "its sync is forbidden: error, told", at: 6 * time.Minute, intune: &fakeIntune{settings: seen, syncErr: &graph.Error{StatusCode: 403, Code: "Forbidden"}},
			wantOutcome: "error", wantSyncs: 1, wantNotices: 3, wantMetric: map[string]float64{"SyncFailed": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := requested.Add(tt.at)
			q, d, logs := &memQueue{}, &deliveries{}, &bytes.Buffer{}
			f := deferFunction(tt.intune, q, d, &clock, logs, true, false)
			resp, err := f.Invoke(context.Background(), sqsBatch(t, body))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(batchFailures(t, resp)) == 1; got != tt.wantRetry {
				t.Errorf("redelivered = %v, want %v", got, tt.wantRetry)
			}
			if tt.intune.syncs != tt.wantSyncs {
				t.Errorf("%d Graph sync calls, want %d", tt.intune.syncs, tt.wantSyncs)
			}
			line := invocationLine(t, logs)
			if line["action"] != "followUp" || (tt.wantOutcome != "" && line["outcome"] != tt.wantOutcome) {
				t.Errorf("action %v outcome %v, want followUp %s: %s", line["action"], line["outcome"], tt.wantOutcome, logs)
			}
			for k, v := range tt.wantMetric {
				if line[k] != v {
					t.Errorf("%s = %v, want %v", k, line[k], v)
				}
			}
			if len(d.got) != tt.wantNotices {
				t.Errorf("%d notices, want %d", len(d.got), tt.wantNotices)
			}
			for _, n := range d.got {
				if n.Waiting != (tt.wantOutcome == "timedOut" || tt.wantOutcome == "error") {
					t.Errorf("notice to %s: Waiting %v for outcome %s", n.Target, n.Waiting, tt.wantOutcome)
				}
			}
			msgs := q.messages(t, clock)
			if tt.wantNext == "" {
				if len(msgs) != 0 {
					t.Errorf("next messages %+v, want none", msgs)
				}
				return
			}
			if tt.wantNext == "deferred" {
				tt.wantDelay += followup.Spread(deferred.ID)
			}
			if len(msgs) != 1 || q.sent[0].delay != tt.wantDelay || msgs[0].ID != deferred.ID {
				t.Fatalf("next %+v (%v), want one after %s", msgs, q.sent, tt.wantDelay)
			}
			m := msgs[0]
			switch tt.wantNext {
			case "deferred":
				if m.Deferred == nil || !m.Deferred.Before.Equal(before) || m.TriggeredAt != nil {
					t.Errorf("next %+v, want the request still deferred after %v", m, before)
				}
			case "followed":
				if m.Deferred != nil || m.TriggeredAt == nil || !m.TriggeredAt.Equal(tt.wantTriggered) || !m.RequestedAt.Equal(requested) {
					t.Errorf("next %+v, want the follow-up of the trigger at %v", m, tt.wantTriggered)
				}
			}
		})
	}
}
