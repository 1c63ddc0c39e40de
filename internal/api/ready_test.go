package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/contract"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/graph/graphtest"
	"github.com/autopilot-sync/autopilot-sync/internal/notify"
)

// SPEC §15, follow to ready, on fakes of our own: which requests carry serials, and what each
// device check does. The emulator's loop (registration after a sync, assignment over time) is
// driven by cmd/local's tests and e2e's.

// TestSyncWithSerials: POST /sync's "serials" and chat `sync <serial>…` start (or defer) the
// sync and follow its devices; every bad list is a 400 before any Graph call.
func TestSyncWithSerials(t *testing.T) {
	t.Parallel()
	running := graph.Settings{SyncStatus: graph.SyncStatusInProgress, LastManualSyncTriggerDateTime: now.Add(-time.Minute)}
	tests := []struct {
		name, target, ct, body string
		noQueue                bool
		intune                 *fakeIntune
		wantStatus             int
		wantText               string
		wantSerials            []string // of the one message; nil: none sent
		wantDeferred           bool
		wantSyncs              int
	}{
		{name: "serials", target: "/sync", ct: "application/json", body: `{"serials":["5CG1234XYZ","PF-2AB3C"]}`, intune: &fakeIntune{},
			wantStatus: 202, wantText: `"result":"started"`, wantSerials: []string{"5CG1234XYZ", "PF-2AB3C"}, wantSyncs: 1},
		{name: "serials with a callback", target: "/sync", ct: "application/json", intune: &fakeIntune{},
			body:       `{"serials":["5CG1234XYZ"],"callbackUrl":"https://contoso.service-now.com/api/x_autopilot/done"}`,
			wantStatus: 202, wantText: `"targets":["callback"]`, wantSerials: []string{"5CG1234XYZ"}, wantSyncs: 1},
		{name: "serials are followed even when the wait saw the end", target: "/sync?wait=2", ct: "application/json", body: `{"serials":["5CG1234XYZ"]}`,
			intune:     &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastSyncDateTime: now.Add(time.Second)}},
			wantStatus: 200, wantText: `"result":"completed"`, wantSerials: []string{"5CG1234XYZ"}, wantSyncs: 1},
		{name: "serials always defer", target: "/sync", ct: "application/json", body: `{"serials":["5CG1234XYZ"]}`, intune: &fakeIntune{syncErr: conflict, settings: running},
			wantStatus: 202, wantText: `"result":"deferred"`, wantSerials: []string{"5CG1234XYZ"}, wantDeferred: true, wantSyncs: 1},
		{name: "defer=false with serials", target: "/sync?defer=false", ct: "application/json", body: `{"serials":["5CG1234XYZ"]}`, intune: &fakeIntune{},
			wantStatus: 400, wantText: "defer=false does not go with serials"},
		{name: "serials without a queue", noQueue: true, target: "/sync", ct: "application/json", body: `{"serials":["5CG1234XYZ"]}`, intune: &fakeIntune{},
			wantStatus: 400, wantText: "FOLLOWUP_QUEUE_URL"},
		{name: "an empty list", target: "/sync", ct: "application/json", body: `{"serials":[]}`, intune: &fakeIntune{}, wantStatus: 400, wantText: "names no serial number"},
		{name: "null", target: "/sync", ct: "application/json", body: `{"serials":null}`, intune: &fakeIntune{}, wantStatus: 400, wantText: "must be a list"},
		{name: "not a list", target: "/sync", ct: "application/json", body: `{"serials":"5CG1234XYZ"}`, intune: &fakeIntune{}, wantStatus: 400, wantText: "must be a list"},
		{name: "21 serials", target: "/sync", ct: "application/json", body: `{"serials":["A1","A2","A3","A4","A5","A6","A7","A8","A9","A10","A11","A12","A13","A14","A15","A16","A17","A18","A19","A20","A21"]}`,
			intune: &fakeIntune{}, wantStatus: 400, wantText: "at most 20"},
		{name: "twice, case ignored", target: "/sync", ct: "application/json", body: `{"serials":["5cg1234xyz","5CG1234XYZ"]}`, intune: &fakeIntune{}, wantStatus: 400, wantText: "item 2 repeats item 1"},
		{name: "a bad character", target: "/sync", ct: "application/json", body: `{"serials":["5CG<b>"]}`, intune: &fakeIntune{}, wantStatus: 400, wantText: "item 1 is not a serial number"},
		{name: "a body that is no object is acted on as before", target: "/sync", ct: "application/json", body: `["5CG1234XYZ"]`, intune: &fakeIntune{},
			wantStatus: 202, wantSyncs: 1},
		{name: "slack: sync and serials", target: "/sync", ct: slackForm, body: slackBody("sync 5CG1234XYZ PF-2AB3C"), intune: &fakeIntune{},
			wantStatus: 200, wantText: "I will post here when the 2 devices are ready, or after 4 h at the latest.", wantSerials: []string{"5CG1234XYZ", "PF-2AB3C"}, wantSyncs: 1},
		{name: "slack: sync wait and a serial", target: "/sync", ct: slackForm, body: slackBody("sync wait 5CG1234XYZ"), intune: &fakeIntune{syncErr: throttled},
			wantStatus: 200, wantText: "I will post here when the device is ready", wantSerials: []string{"5CG1234XYZ"}, wantDeferred: true, wantSyncs: 1},
		{name: "slack: a serial of a bad character", target: "/sync", ct: slackForm, body: slackBody("sync 5CG<!channel>"), intune: &fakeIntune{},
			wantStatus: 200, wantText: "item 1 is not a serial number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := now
			q := &memQueue{}
			f := deferFunction(tt.intune, q, &deliveries{}, &clock, nil, false, tt.noQueue)
			got := do(t, f, http.MethodPost, tt.target, tt.ct, tt.body)
			raw, _ := json.Marshal(got.body)
			if got.status != tt.wantStatus || !strings.Contains(string(raw), tt.wantText) || tt.intune.syncs != tt.wantSyncs {
				t.Fatalf("got %d with %d syncs: %s; want %d with %d syncs containing %q", got.status, tt.intune.syncs, raw, tt.wantStatus, tt.wantSyncs, tt.wantText)
			}
			if strings.Contains(string(raw), "<b>") || strings.Contains(string(raw), "<!channel>") {
				t.Errorf("the answer echoes a refused serial: %s", raw)
			}
			msgs := q.messages(t, clock)
			if tt.wantSerials == nil {
				if len(msgs) != 0 && len(msgs[0].Serials) != 0 {
					t.Errorf("messages %+v, want none with serials", msgs)
				}
				return
			}
			if len(msgs) != 1 || strings.Join(msgs[0].Serials, ",") != strings.Join(tt.wantSerials, ",") || (msgs[0].Deferred != nil) != tt.wantDeferred {
				t.Fatalf("messages %+v, want one with serials %q (deferred %v)", msgs, tt.wantSerials, tt.wantDeferred)
			}
		})
	}
}

// TestDeviceChecks: each device check reads the serials not final yet and reports once, with
// the callback type of SPEC §15; a transient failure is redelivered; the line counts devices.
func TestDeviceChecks(t *testing.T) {
	t.Parallel()
	requested := now
	targets := followup.Targets{Slack: "https://hooks.slack.com/commands/T1/1/x", Teams: true, Callback: "https://contoso.service-now.com/api/x_autopilot/done"}
	first := followup.New("7a3c2f9e-0d51-4c3a-9e7b-2f6a1d4c8b90", "", requested, targets)
	first.Serials = []string{"5CG1234XYZ", "PF-2AB3C"}
	devicePhase := first
	devicePhase.Devices = &followup.DeviceChecks{SyncResult: autopilot.Completed}
	assigned := []graph.DeviceIdentity{
		{ID: "d1", SerialNumber: "5CG1234XYZ", DeploymentProfileAssignmentStatus: "assignedInSync"},
		{ID: "d0", SerialNumber: "5CG1234XYZ0", DeploymentProfileAssignmentStatus: "failed"}, // a substring neighbour
		{ID: "d3", SerialNumber: "PF-2AB3C", DeploymentProfileAssignmentStatus: "assignedOutOfSync"},
	}
	pending := []graph.DeviceIdentity{assigned[0], {ID: "d3", SerialNumber: "PF-2AB3C", DeploymentProfileAssignmentStatus: "pending"}}
	failed := []graph.DeviceIdentity{assigned[0], {ID: "d3", SerialNumber: "PF-2AB3C", DeploymentProfileAssignmentStatus: "failed", DeploymentProfileAssignmentDetailedStatus: "hardwareRequirementsNotMet"}}
	tests := []struct {
		name        string
		m           followup.Message
		at          time.Duration
		intune      *fakeIntune
		wantRetry   bool
		wantOutcome string
		wantNotices int
		wantType    string // the callback's
		wantNext    bool
		wantMetric  map[string]float64
	}{
		{name: "the sync has ended: logged, told to no one, devices next", m: first, at: 2 * time.Minute,
			intune:      &fakeIntune{settings: graph.Settings{SyncStatus: graph.SyncStatusCompleted, LastSyncDateTime: requested.Add(time.Minute)}},
			wantOutcome: "completed", wantNext: true, wantMetric: map[string]float64{"SyncOutcomeCompleted": 1}},
		{name: "all assigned: ready", m: devicePhase, at: 3 * time.Minute, intune: &fakeIntune{devices: &graphtest.Devices{List: assigned}},
			wantOutcome: "devicesReady", wantNotices: 3, wantType: "autopilot.devices.ready", wantMetric: map[string]float64{"DevicesReady": 1, "DevicesNotReady": 0, "DeviceWaitSeconds": 180}},
		{name: "one pending: the next check", m: devicePhase, at: 3 * time.Minute, intune: &fakeIntune{devices: &graphtest.Devices{List: pending}},
			wantOutcome: "pending", wantNext: true, wantMetric: map[string]float64{"DevicesReady": 0, "DevicesNotReady": 0}},
		{name: "one failed: not ready", m: devicePhase, at: 3 * time.Minute, intune: &fakeIntune{devices: &graphtest.Devices{List: failed}},
			wantOutcome: "devicesNotReady", wantNotices: 3, wantType: "autopilot.devices.notReady", wantMetric: map[string]float64{"DevicesNotReady": 1}},
		{name: "DEVICE_MAX_AGE passed: not ready", m: devicePhase, at: 4 * time.Hour, intune: &fakeIntune{devices: &graphtest.Devices{List: pending}},
			wantOutcome: "devicesNotReady", wantNotices: 2, wantType: "autopilot.devices.notReady"}, // Slack's 30 min are over
		{name: "graph 503 during a readiness check: redelivered", m: devicePhase, at: 3 * time.Minute, intune: &fakeIntune{getErr: &graph.Error{StatusCode: 503}}, wantRetry: true},
		{name: "permission removed: error", m: devicePhase, at: 3 * time.Minute, intune: &fakeIntune{getErr: &graph.Error{StatusCode: 403}},
			wantOutcome: "error", wantNotices: 3, wantType: "autopilot.devices.error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, err := tt.m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			clock := requested.Add(tt.at)
			q, d, logs := &memQueue{}, &deliveries{}, &bytes.Buffer{}
			f := deferFunction(tt.intune, q, d, &clock, logs, false, false)
			resp, err := f.Invoke(context.Background(), sqsBatch(t, body))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(batchFailures(t, resp)) == 1; got != tt.wantRetry {
				t.Errorf("redelivered = %v, want %v", got, tt.wantRetry)
			}
			line := invocationLine(t, logs)
			if tt.wantOutcome != "" && line["outcome"] != tt.wantOutcome {
				t.Errorf("outcome %v, want %s: %s", line["outcome"], tt.wantOutcome, logs)
			}
			for k, v := range tt.wantMetric {
				if line[k] != v {
					t.Errorf("%s = %v, want %v", k, line[k], v)
				}
			}
			if len(d.got) != tt.wantNotices {
				t.Fatalf("%d notices, want %d", len(d.got), tt.wantNotices)
			}
			for _, n := range d.got {
				if n.Outcome == nil || len(n.Outcome.Devices) != 2 || n.Outcome.Devices[0].SerialNumber != "5CG1234XYZ" || len(n.Outcome.Devices[0].Devices) > 1 && tt.wantOutcome != "error" {
					t.Errorf("notice %+v, want both serials' readiness, exact matches only", n.Outcome)
				}
				if n.Target == followup.Callback {
					b, err := notify.CallbackBody(n, "t1")
					if err != nil {
						t.Fatal(err)
					}
					h := http.Header{"Webhook-Id": {n.ID}, "Webhook-Timestamp": {"1764342000"}, "Content-Type": {"application/json"}}
					if err := contract.CheckCallback(h, b); err != nil {
						t.Error(err)
					}
					var ev struct {
						Type string `json:"type"`
						Data struct {
							SyncResult *string           `json:"syncResult"`
							Devices    []json.RawMessage `json:"devices"`
						} `json:"data"`
					}
					if err := json.Unmarshal(b, &ev); err != nil || ev.Type != tt.wantType || ev.Data.SyncResult == nil || *ev.Data.SyncResult != "completed" || len(ev.Data.Devices) != 2 {
						t.Errorf("callback %s, want type %s with syncResult completed and 2 devices", b, tt.wantType)
					}
				}
			}
			msgs := q.messages(t, clock)
			if got := len(msgs) == 1; got != tt.wantNext {
				t.Fatalf("next messages %+v, want a next: %v", msgs, tt.wantNext)
			}
			if tt.wantNext && (msgs[0].Devices == nil || len(msgs[0].Serials) != 2) {
				t.Errorf("next %+v, want the device checks of both serials", msgs[0])
			}
		})
	}
}
