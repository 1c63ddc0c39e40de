package action

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/graph/graphtest"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

func TestCheckSerials(t *testing.T) {
	t.Parallel()
	twentyOne := make([]string, 21)
	for i := range twentyOne {
		twentyOne[i] = "SN" + string(rune('A'+i))
	}
	tests := []struct {
		name    string
		list    []string
		wantErr string // "" accepted
	}{
		{"one", []string{"5CG1234XYZ"}, ""},
		{"hyphen, underscore, dot, space", []string{"ABC-123_4.5 6"}, ""},
		{"twenty", twentyOne[:20], ""},
		{"64 characters", []string{strings.Repeat("a", 64)}, ""},
		{"none", nil, "names no serial number"},
		{"an empty item", []string{"5CG1234XYZ", ""}, "item 2 is not a serial number"},
		{"twenty-one", twentyOne, "names 21 serial numbers"},
		{"65 characters", []string{strings.Repeat("a", 65)}, "item 1 is not a serial number"},
		{"no letter or digit", []string{"-_. "}, "item 1 is not a serial number"},
		{"a comma's neighbour", []string{"5CG;1"}, "item 1 is not a serial number"},
		{"not ASCII", []string{"5CG1234XYZé"}, "item 1 is not a serial number"},
		{"twice, another case", []string{"5cg1234xyz", "X1", "5CG1234XYZ"}, "item 3 repeats item 1"},
	}
	for _, tt := range tests {
		got, p := checkSerials("serial", tt.list)
		switch {
		case tt.wantErr == "" && p != nil:
			t.Errorf("%s: refused: %s", tt.name, p.Detail)
		case tt.wantErr == "" && !cmp.Equal(got, tt.list):
			t.Errorf("%s: got %v", tt.name, got)
		case tt.wantErr != "" && (p == nil || p.Code != problem.BadRequest || !strings.Contains(p.Detail, tt.wantErr) || !strings.HasPrefix(p.Detail, "serial ")):
			t.Errorf("%s: problem %+v, want a badRequest naming serial with %q", tt.name, p, tt.wantErr)
		}
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	assigned := time.Date(2026, 11, 28, 14, 0, 0, 0, time.UTC)
	g := &graphtest.Devices{List: []graph.DeviceIdentity{
		{ID: "d1", SerialNumber: "5CG1234XYZ", GroupTag: "Sales", Manufacturer: "HP", Model: "EliteBook 840", DeploymentProfileAssignmentStatus: "assignedInSync", DeploymentProfileAssignedDateTime: assigned, EnrollmentState: "notContacted"},
		{ID: "d2", SerialNumber: "5CG1234XYZ9", DeploymentProfileAssignmentStatus: "assignedInSync"}, // a substring neighbour
		{ID: "d3", SerialNumber: "PF-2AB3C", DeploymentProfileAssignmentStatus: "notAssigned"},
		{ID: "d4", SerialNumber: "TPMLESS1", DeploymentProfileAssignmentStatus: "failed", DeploymentProfileAssignmentDetailedStatus: "hardwareRequirementsNotMet"},
		{ID: "d5", SerialNumber: "TWICE1", DeploymentProfileAssignmentStatus: "failed"},
		{ID: "d6", SerialNumber: "twice1", DeploymentProfileAssignmentStatus: "assignedUnkownSyncState"},
		{ID: "d7", SerialNumber: "FUTURE1", DeploymentProfileAssignmentStatus: "assignedSomeNewWay"},
		// VMware's serials share their search term, "VMware": one search serves both.
		{ID: "d8", SerialNumber: "VMware-56 4d 1a", DeploymentProfileAssignmentStatus: "assignedInSync"},
		{ID: "d9", SerialNumber: "VMware-56 4d 2b", DeploymentProfileAssignmentStatus: "notAssigned"},
		{ID: "d10", SerialNumber: "VMware-99 ff", DeploymentProfileAssignmentStatus: "assignedInSync"},
	}, Fail: map[string]*graph.Error{"BROKEN1": {StatusCode: 503, Code: "ServiceUnavailable"}}}
	a := New(autopilot.FunctionStatus, Deps{Intune: &graphtest.Tenant{Graph: g}})
	req := &Request{}
	serials.Set(req, []string{"5cg1234xyz", "PF-2AB3C", "TPMLESS1", "TWICE1", "FUTURE1", "NOPE1", "BROKEN1", "VMware-56 4d 1a", "vmware-56 4d 2b"})
	res := readDevices(a, context.Background(), req)
	d, ok := res.(Devices)
	if !ok {
		t.Fatalf("result %T %+v", res, res)
	}
	type brief struct {
		Serial, State string
		Ready         bool
		IDs           []string
		Code          problem.Code
	}
	var got []brief
	for _, r := range d.Devices {
		b := brief{Serial: r.SerialNumber, State: r.State, Ready: r.Ready, Code: r.Code}
		for _, dev := range r.Devices {
			b.IDs = append(b.IDs, dev.ID)
		}
		got = append(got, b)
	}
	want := []brief{
		{"5cg1234xyz", "assigned", true, []string{"d1"}, ""},
		{"PF-2AB3C", "registered", false, []string{"d3"}, ""},
		{"TPMLESS1", "failed", false, []string{"d4"}, ""},
		{"TWICE1", "assigned", true, []string{"d5", "d6"}, ""},
		{"FUTURE1", "assigned", true, []string{"d7"}, ""},
		{"NOPE1", "notRegistered", false, nil, ""},
		{"BROKEN1", "error", false, nil, "graphUnavailable"},
		{"VMware-56 4d 1a", "assigned", true, []string{"d8"}, ""},
		{"vmware-56 4d 2b", "registered", false, []string{"d9"}, ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readiness (-want +got):\n%s", diff)
	}
	if n := g.Searches(); n != 8 {
		t.Errorf("%d searches for 9 serials of 8 search terms, want 8", n)
	}
	var doc map[string]any
	if err := json.Unmarshal(d.HTTP().Body, &doc); err != nil {
		t.Fatal(err)
	}
	first := doc["devices"].([]any)[0].(map[string]any)["devices"].([]any)[0].(map[string]any)
	if first["deploymentProfileAssignedDateTime"] != "2026-11-28T14:00:00Z" || first["lastContactedDateTime"] != nil || first["groupTag"] != "Sales" {
		t.Errorf("device document %v", first)
	}
	var line Line
	d.Log(&line)
	if line.Code != "graphUnavailable" {
		t.Errorf("log code %q, want the failed read's", line.Code)
	}
	w := d.Words(chat.Slack, time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC))
	text := strings.Join(w.Paragraphs, "\n")
	for _, s := range []string{"4 of 9 ready.", "• `5cg1234xyz`: ready: deployment profile assigned (HP EliteBook 840, group tag Sales).",
		"• `TPMLESS1`: not ready: the deployment profile could not be assigned (hardwareRequirementsNotMet).",
		"• `PF-2AB3C`: registered in Windows Autopilot, deployment profile not assigned yet.", "• `NOPE1`: not registered in Windows Autopilot.",
		"• `BROKEN1`: could not be read: Microsoft Graph is not answering right now; try again in a few minutes."} {
		if !strings.Contains(text, s) {
			t.Errorf("words lack %q:\n%s", s, text)
		}
	}
}

// TestDeviceChatWords: `device` with a registry names the tenant first; many serials are
// shortened; the answer stays well under 2 KB.
func TestDeviceChatWords(t *testing.T) {
	t.Parallel()
	words := make([]string, 20)
	for i := range words {
		words[i] = "SERIAL-NUMBER-" + strings.Repeat("X", 30) + string(rune('A'+i))
	}
	a := New(autopilot.FunctionSync, Deps{Intune: &graphtest.Tenant{Graph: &graphtest.Devices{}}})
	req := &Request{}
	deviceWords.Set(req, words)
	res := readDevices(a, context.Background(), req)
	for _, p := range []autopilot.Source{autopilot.SourceSlack, autopilot.SourceTeams} {
		reply, err := chat.Reply(p, res.Words(chat.StyleOf(p), time.Now()), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(reply) >= 2048 || !strings.Contains(string(reply), " more.") {
			t.Errorf("%s: %d bytes: %s", p, len(reply), reply)
		}
	}
	req = &Request{}
	deviceWords.Set(req, []string{"5CG1234XYZ", "5cg1234xyz"})
	if f, ok := readDevices(a, context.Background(), req).(Failure); !ok || !strings.Contains(f.P.Detail, "device item 2 repeats item 1") {
		t.Errorf("a repeated serial in chat: %+v", f)
	}
}

// FuzzSerialParam feeds ?serial= values and direct "serials" lists to the readers: they never
// panic, refuse with a 400 that echoes no serial, and accept only lists that keep SPEC §15's
// rule (1 to 20 serials of 1 to 64 allowed characters with a letter or digit, none twice).
func FuzzSerialParam(f *testing.F) {
	for _, s := range []string{"5CG1234XYZ", "5CG-1234 XYZ,PF3ABC12", "a,A", ",", " ", "-_. ", strings.Repeat("x,", 21), "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		check := func(req *Request, p *problem.Problem, given []string) {
			t.Helper()
			if p != nil {
				if p.Code != problem.BadRequest {
					t.Fatalf("code %s, want badRequest", p.Code)
				}
				for _, s := range given {
					// The details are written in lower case: a serial with a capital in it that
					// shows in one was echoed.
					if strings.ToLower(s) != s && strings.Contains(p.Detail, s) {
						t.Fatalf("the problem echoes %q: %s", s, p.Detail)
					}
				}
				return
			}
			list, ok := serials.Get(req)
			if !ok || len(list) == 0 || len(list) > MaxSerials {
				t.Fatalf("accepted %d serials", len(list))
			}
			seen := map[string]bool{}
			for _, s := range list {
				if !validSerial(s) || seen[strings.ToLower(s)] {
					t.Fatalf("accepted %q in %q", s, list)
				}
				seen[strings.ToLower(s)] = true
			}
		}
		req := &Request{}
		check(req, paramSerial.Read([]string{v}, req), strings.Split(v, ","))
		body, err := json.Marshal(map[string]any{"action": "device", "serials": strings.Split(v, ",")})
		if err != nil {
			return
		}
		req = &Request{}
		check(req, serialsField(body, req), strings.Split(v, ","))
	})
}
