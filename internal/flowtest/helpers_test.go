package flowtest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/contract"
	"github.com/autopilot-sync/autopilot-sync/internal/flowtest"
)

// postChecked sends POST /sync and checks the answer against openapi.yaml.
func postChecked(t *testing.T, f *flowtest.Flow, query, body string) flowtest.Answer {
	t.Helper()
	a := f.Post(t.Context(), query, body)
	x := contract.Exchange{Method: http.MethodPost, Path: "/sync", RawQuery: strings.TrimPrefix(query, "?"),
		Header: http.Header{"Content-Type": {"application/json"}}, Status: a.Status, RespHeader: a.Header, Body: a.Body}
	if err := contract.Check(x); err != nil {
		t.Errorf("POST /sync%s: %v", query, err)
	}
	return a
}

// devicesEvent is a callback of SPEC §15 (openapi.yaml DevicesEvent).
type devicesEvent struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      struct {
		Tenant      string                `json:"tenant"`
		RequestedAt string                `json:"requestedAt"`
		SyncResult  *string               `json:"syncResult"`
		Code        string                `json:"code"`
		Devices     []autopilot.Readiness `json:"devices"`
	} `json:"data"`
}

// outcome returns the one outcome told for a follow-up id. Delivery is at least once (SPEC §13):
// the receiver may get it more than once, always with the same webhook-id, and dedupes on it;
// so every callback of the id must tell the same outcome (type and data). Each callback must
// match openapi.yaml's webhook. It returns how many callbacks came, too.
func outcome(t *testing.T, f *flowtest.Flow, id string) (devicesEvent, int) {
	t.Helper()
	cbs := f.CallbacksOf(id)
	if len(cbs) == 0 {
		t.Fatalf("follow-up %s told nothing (callbacks of any id: %d)", id, len(f.Callbacks()))
	}
	var first devicesEvent
	var firstData json.RawMessage
	for i, c := range cbs {
		if err := contract.CheckCallback(c.Header, c.Body); err != nil {
			t.Error(err)
		}
		var ev devicesEvent
		var raw struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := c.Decode(&ev); err != nil || c.Decode(&raw) != nil {
			t.Fatalf("callback %d of %s: %v: %s", i, id, err, c.Body)
		}
		if i == 0 {
			first, firstData = ev, raw.Data
			continue
		}
		if raw.Type != first.Type || !jsonEqual(raw.Data, firstData) {
			t.Errorf("follow-up %s told two outcomes under one webhook-id:\n%s\nthen\n%s", id, cbs[0].Body, c.Body)
		}
	}
	return first, len(cbs)
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
}

// checkReport checks a report's type and its serials' states, "serial=state", in its order.
func checkReport(t *testing.T, ev devicesEvent, wantType string, wantStates []string) {
	t.Helper()
	got := make([]string, len(ev.Data.Devices))
	for i, d := range ev.Data.Devices {
		got[i] = d.SerialNumber + "=" + d.State
	}
	if diff := cmp.Diff(wantStates, got); diff != "" || ev.Type != wantType {
		t.Errorf("report %s, want %s; states (-want +got):\n%s", ev.Type, wantType, diff)
	}
}

// linesOf returns the function's followUp lines of a follow-up, their fields decoded.
func linesOf(f *flowtest.Flow, id string) []map[string]any {
	var out []map[string]any
	for _, l := range f.Lines() {
		if l.FollowUpID == id && l.Action == "followUp" {
			out = append(out, l.Fields())
		}
	}
	return out
}

// errorLines returns the function's ERROR lines.
func errorLines(f *flowtest.Flow) []string {
	var out []string
	for _, l := range f.Lines() {
		if l.Level == "ERROR" {
			out = append(out, string(l.Raw))
		}
	}
	return out
}

// refused posts a request that must be refused before any Graph call, to a Flow of its own
// (without a follow-up queue when noQueue), and returns the answer once it has checked that
// neither Graph (the Flow's count and the emulator's) nor the queue saw anything.
func refused(t *testing.T, noQueue bool, query, body string) flowtest.Answer {
	t.Helper()
	o := flowtest.Options{}
	if noQueue {
		o.Env = map[string]string{"FOLLOWUP_QUEUE_URL": "", "CALLBACK_TARGETS_SECRET_NAME": ""}
	}
	f := flowtest.Start(t, o)
	a := postChecked(t, f, query, body)
	if calls, g := f.Calls(), f.Emulator().Counts().Graph; len(calls) != 0 || len(g) != 0 {
		t.Errorf("Graph calls %v (the emulator's count %v), want none", calls, g)
	}
	if f.Queue().Len() != 0 {
		t.Errorf("%d follow-up messages sent, want none", f.Queue().Len())
	}
	return a
}
