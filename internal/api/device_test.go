package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/graph/graphtest"
)

func newDevicesFunction(fn autopilot.Function, g *graphtest.Devices, log *bytes.Buffer) *Function {
	d := Deps{Deps: action.Deps{Intune: &graphtest.Tenant{Graph: g}, Now: func() time.Time { return now }}, AllowUnauthenticated: true}
	if log != nil {
		d.Log = slog.New(slog.NewJSONHandler(log, nil))
	}
	return New(fn, d)
}

var testDevices = []graph.DeviceIdentity{
	{ID: "d1", SerialNumber: "5CG1234XYZ", GroupTag: "Sales", Manufacturer: "HP", Model: "EliteBook 840", DeploymentProfileAssignmentStatus: "assignedInSync"},
	{ID: "d2", SerialNumber: "5CG1234XYZ0", DeploymentProfileAssignmentStatus: "assignedInSync"},
	{ID: "d3", SerialNumber: "PF-2AB3C", DeploymentProfileAssignmentStatus: "notAssigned"},
}

// TestDevicesOverHTTP: GET /status?serial= answers each serial's readiness in the order asked
// (exact matches only: a substring neighbour is not reported); the invocation line says device.
func TestDevicesOverHTTP(t *testing.T) {
	t.Parallel()
	g := &graphtest.Devices{List: testDevices}
	var log bytes.Buffer
	got := do(t, newDevicesFunction(autopilot.FunctionStatus, g, &log), http.MethodGet, "/status?serial=pf-2ab3c,5CG1234XYZ,NOPE1", "", "")
	if got.status != 200 {
		t.Fatalf("status %d %v", got.status, got.body)
	}
	var states []string
	for _, r := range got.body["devices"].([]any) {
		m := r.(map[string]any)
		states = append(states, m["serialNumber"].(string)+"="+m["state"].(string)+"/"+strings.Repeat("d", len(m["devices"].([]any))))
	}
	if got, want := strings.Join(states, " "), "pf-2ab3c=registered/d 5CG1234XYZ=assigned/d NOPE1=notRegistered/"; got != want {
		t.Errorf("devices %s, want %s", got, want)
	}
	if line := invocationLine(t, &log); line["action"] != "device" || line["code"] != "ok" || line["serials"] != 3.0 || line["ready"] != 1.0 {
		t.Errorf("invocation line %v", line)
	}
}

// TestDeviceRequestsRefused: SPEC §15's 400s, before any Graph call.
func TestDeviceRequestsRefused(t *testing.T) {
	t.Parallel()
	many := strings.Repeat("A1,", 20) + "B1"
	for _, tt := range []struct{ method, target, contentType, body, detail string }{
		{http.MethodGet, "/status?serial=A1&serial=B1", "", "", "serial must be given once"},
		{http.MethodGet, "/status?serial=A1&tenant=all", "", "", "does not go with tenant=all"},
		{http.MethodGet, "/status?serial=", "", "", "item 1 is not a serial number"},
		{http.MethodGet, "/status?serial=A1,,B1", "", "", "item 2 is not a serial number"},
		{http.MethodGet, "/status?serial=" + many, "", "", "names 21 serial numbers"},
		{http.MethodGet, "/status?serial=a1,A1", "", "", "item 2 repeats item 1"},
		{http.MethodGet, "/status?serial=A1%3Bdrop", "", "", "item 1 is not a serial number"},
		{http.MethodPatch, "/status?serial=A1", "application/json", `{"syncStatus":"completed"}`, "serial is not taken by PATCH"},
	} {
		g := &graphtest.Devices{List: testDevices}
		got := do(t, newDevicesFunction(autopilot.FunctionStatus, g, nil), tt.method, tt.target, tt.contentType, tt.body)
		if detail, _ := got.body["detail"].(string); got.status != 400 || !strings.Contains(detail, tt.detail) {
			t.Errorf("%s %s: %d %v, want 400 with %q", tt.method, tt.target, got.status, got.body, tt.detail)
		}
		if n := g.Searches(); n != 0 {
			t.Errorf("%s %s: %d Graph calls", tt.method, tt.target, n)
		}
	}
}

// TestDevicesDirectAndChat: {"action":"device","serials":[…]} returns the document at either
// function; `device <serial>…` answers in plain words, logged as chatDevice.
func TestDevicesDirectAndChat(t *testing.T) {
	t.Parallel()
	for _, fn := range []autopilot.Function{autopilot.FunctionSync, autopilot.FunctionStatus} {
		g := &graphtest.Devices{List: testDevices}
		out, err := newDevicesFunction(fn, g, nil).Invoke(context.Background(), json.RawMessage(`{"action":"device","serials":["5CG1234XYZ","PF-2AB3C"]}`))
		var doc struct {
			Devices []struct{ State string } `json:"devices"`
		}
		if err != nil || json.Unmarshal(out, &doc) != nil || len(doc.Devices) != 2 || doc.Devices[0].State != "assigned" || doc.Devices[1].State != "registered" {
			t.Errorf("%s: direct device: %s, %v", fn, out, err)
		}
		_, err = newDevicesFunction(fn, g, nil).Invoke(context.Background(), json.RawMessage(`{"action":"device","serials":["5CG1234XYZ","5cg1234xyz"]}`))
		if err == nil || !strings.Contains(err.Error(), "badRequest: serials item 2 repeats item 1") {
			t.Errorf("%s: repeated serials: %v", fn, err)
		}
		var log bytes.Buffer
		got := do(t, newDevicesFunction(fn, g, &log), http.MethodPost, "/"+string(fn), "application/x-www-form-urlencoded", slackBody("device 5CG1234XYZ NOPE1"))
		text, _ := got.body["text"].(string)
		if got.status != 200 || !strings.Contains(text, "1 of 2 ready.") || !strings.Contains(text, "`NOPE1`: not registered in Windows Autopilot.") {
			t.Errorf("%s: chat device: %d %v", fn, got.status, got.body)
		}
		if line := invocationLine(t, &log); line["action"] != "chatDevice" {
			t.Errorf("%s: chat device logged as %v", fn, line["action"])
		}
	}
}
