package graph_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

// seedDevices returns emulator options holding devices of the given serials in the seeded tenant.
func seedDevices(serials ...string) map[string][]emulator.Device {
	ds := make([]emulator.Device, 0, len(serials))
	for _, s := range serials {
		ds = append(ds, emulator.Device{SerialNumber: s, GroupTag: "tag-" + s})
	}
	return map[string][]emulator.Device{emulator.SeedTenantID: ds}
}

// lists returns how many pages of device identities the seeded tenant was served.
func lists(e *emulator.Emulator) int {
	return e.Counts().Devices[strings.ToLower(emulator.SeedTenantID)].Lists
}

func serialsOf(ds []graph.DeviceIdentity) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.SerialNumber)
	}
	return out
}

// devicesOf is one serial's devices, read alone.
func devicesOf(c *graph.Client, ctx context.Context, serial string) ([]graph.DeviceIdentity, *graph.Response, error) {
	found, resp, err := c.DevicesBySerials(ctx, []string{serial})
	return found[serial], resp, err
}

func TestDevicesBySerial(t *testing.T) {
	t.Parallel()
	_, _, c := setupWith(t, emulator.Options{Devices: seedDevices(
		"5CG1234XYZ", "5CG1234XYZ2", "X5CG1234XYZ", "5cg1234xyz",
		"ec2a1bbf-7e9f-45f0-f404-bec2e9da6f35", "VMware-12 3e 45 e9", "PF1.GH_X3",
	)})
	tests := []struct {
		name, serial string
		want         []string
	}{
		{"exact matches in any case, neighbours left out", "5CG1234XYZ", []string{"5CG1234XYZ", "5cg1234xyz"}},
		{"a substring neighbour is not its prefix's match", "5CG1234XYZ2", []string{"5CG1234XYZ2"}},
		{"a hyphenated serial", "EC2A1BBF-7E9F-45F0-F404-BEC2E9DA6F35", []string{"ec2a1bbf-7e9f-45f0-f404-bec2e9da6f35"}},
		{"a serial with spaces", "VMware-12 3e 45 e9", []string{"VMware-12 3e 45 e9"}},
		{"dots and underscores", "pf1.gh_x3", []string{"PF1.GH_X3"}},
		{"not registered", "5CG9999ABC", []string{}},
		{"a neighbour's substring is not registered", "1234XYZ", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, resp, err := devicesOf(c, context.Background(), tc.serial)
			if err != nil {
				t.Fatalf("DevicesBySerial(%q): %v", tc.serial, err)
			}
			if diff := cmp.Diff(tc.want, serialsOf(got)); diff != "" {
				t.Errorf("serials (-want +got):\n%s", diff)
			}
			if resp.StatusCode != 200 || resp.RequestID == "" || resp.ClientRequestID == "" || resp.Duration <= 0 {
				t.Errorf("Response = %+v", resp)
			}
		})
	}
}

func TestDeviceIdentityFields(t *testing.T) {
	t.Parallel()
	e, clock, c := setupWith(t, emulator.Options{})
	assigned := clock.Now().Add(-time.Hour)
	want := e.AddDevice(emulator.SeedTenantID, emulator.Device{
		SerialNumber: "5CG1234XYZ", GroupTag: "Sales", Manufacturer: "HP", Model: "EliteBook 840",
		DeploymentProfileAssignmentStatus: "assignedUnkownSyncState", DeploymentProfileAssignedDateTime: assigned,
		EnrollmentState: "someFutureState", DeploymentProfileAssignmentDetailedStatus: "someFutureDetail",
	})
	got, _, err := devicesOf(c, context.Background(), "5CG1234XYZ")
	if err != nil {
		t.Fatal(err)
	}
	wantDevices := []graph.DeviceIdentity{{
		ID: want.ID, SerialNumber: "5CG1234XYZ", GroupTag: "Sales", Manufacturer: "HP", Model: "EliteBook 840",
		DeploymentProfileAssignmentStatus:         graph.ProfileAssignedUnknownSyncState,
		DeploymentProfileAssignmentDetailedStatus: "someFutureDetail",
		DeploymentProfileAssignedDateTime:         assigned,
		EnrollmentState:                           "someFutureState",
	}}
	if diff := cmp.Diff(wantDevices, got); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
	if !got[0].LastContactedDateTime.IsZero() || !got[0].DeploymentProfileAssignmentStatus.Known() {
		t.Errorf("device %+v", got[0])
	}
}

func TestDevicesBySerialPaging(t *testing.T) {
	t.Parallel()
	// matching returns n devices that all hold the search term "SN42": the target and neighbours.
	matching := func(n int) []string {
		s := []string{"SN42"}
		for i := 1; i < n; i++ {
			s = append(s, fmt.Sprintf("SN42-%02d", i))
		}
		return s
	}
	tests := []struct {
		name      string
		pageSize  int
		serials   []string
		wantPages int
		wantErr   error
	}{
		{"one page", 0, matching(5), 1, nil},
		{"three pages", 2, matching(5), 3, nil},
		{"ten full pages are the most", 1, matching(10), 10, nil},
		{"an eleventh page is refused", 1, matching(11), 10, graph.ErrTooManyPages},
		{"the cap counts pages, not matches", 2, append(matching(1), matching(25)[5:]...), 10, graph.ErrTooManyPages},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _, c := setupWith(t, emulator.Options{DevicePageSize: tc.pageSize, Devices: seedDevices(tc.serials...)})
			got, _, err := devicesOf(c, context.Background(), "sn42")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if n := lists(e); n != tc.wantPages {
				t.Errorf("Graph served %d pages, want %d", n, tc.wantPages)
			}
			if tc.wantErr == nil && !cmp.Equal(serialsOf(got), []string{"SN42"}) {
				t.Errorf("found %q, want only SN42", serialsOf(got))
			}
			if tc.wantErr != nil && got != nil {
				t.Errorf("found %q beside an error", serialsOf(got))
			}
		})
	}
}

func TestDevicesBySerialFailures(t *testing.T) {
	t.Parallel()
	foreign := func(link string) emulator.Fault {
		return emulator.Fault{Service: emulator.Graph, PathContains: "windowsAutopilotDeviceIdentities", Status: 200, Times: 1,
			Body: `{"value":[{"id":"1","serialNumber":"SN42"}],"@odata.nextLink":"` + link + `"}`}
	}
	tests := []struct {
		name      string
		fault     emulator.Fault
		wantErr   error
		wantGraph int // status of a *graph.Error
		wantLists int // pages the emulator served itself (faults are not counted there)
	}{
		{"forbidden", emulator.Fault{Service: emulator.Graph, Status: 403}, nil, 403, 0},
		{"503 is retried", emulator.Fault{Service: emulator.Graph, Status: 503, Times: 2}, nil, 0, 1},
		{"not JSON", emulator.Fault{Service: emulator.Graph, Status: 200, Body: "<html>"}, graph.ErrMalformedAnswer, 0, 0},
		{"a nextLink to another host", foreign("https://example.invalid/beta/deviceManagement/windowsAutopilotDeviceIdentities?$skiptoken=x"), graph.ErrMalformedAnswer, 0, 0},
		{"a nextLink over plain HTTP", foreign("http://127.0.0.1/beta/deviceManagement/windowsAutopilotDeviceIdentities"), graph.ErrMalformedAnswer, 0, 0},
		{"a nextLink with credentials", foreign("https://user:pw@127.0.0.1/beta/x"), graph.ErrMalformedAnswer, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _, c := setupWith(t, emulator.Options{Devices: seedDevices("SN42")})
			e.AddFault(tc.fault)
			got, _, err := devicesOf(c, context.Background(), "SN42")
			var ge *graph.Error
			switch {
			case tc.wantGraph != 0 && (!errors.As(err, &ge) || ge.StatusCode != tc.wantGraph):
				t.Errorf("err = %v, want Graph %d", err, tc.wantGraph)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			case tc.wantErr == nil && tc.wantGraph == 0 && (err != nil || len(got) != 1):
				t.Errorf("= %v, %v; want the device", got, err)
			}
			if n := lists(e); n != tc.wantLists {
				t.Errorf("Graph served %d pages, want %d", n, tc.wantLists)
			}
		})
	}
	t.Run("unsearchable serial", func(t *testing.T) {
		t.Parallel()
		e, _, c := setupWith(t, emulator.Options{})
		if _, _, err := devicesOf(c, context.Background(), "-_. "); !errors.Is(err, graph.ErrUnsearchableSerial) {
			t.Errorf("err = %v, want ErrUnsearchableSerial", err)
		}
		if n := e.Counts().Requests[emulator.Graph]; n != 0 {
			t.Errorf("Graph saw %d requests, want none", n)
		}
	})
}

// recorder is an HTTP transport that remembers the requests it sends, for what the pipeline adds.
type recorder struct {
	next *http.Client
	mu   gosync.Mutex
	sent []*http.Request
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.sent = append(r.sent, req.Clone(context.Background()))
	r.mu.Unlock()
	return r.next.Do(req)
}

func TestDevicePagesAreSeparateRequests(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{DevicePageSize: 1, Devices: seedDevices("SN42", "SN42B", "SN42C")})
	rec := &recorder{next: e.HTTPClient()}
	c, err := graph.NewClient(e.GraphBaseURL(), emutest.GraphCredential(t, e), &graph.Options{Transport: rec})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := devicesOf(c, context.Background(), "SN42"); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ids := map[string]bool{}
	for _, r := range rec.sent {
		if !strings.Contains(r.URL.Path, "windowsAutopilotDeviceIdentities") {
			continue // the credential's own requests
		}
		ids[r.Header.Get("client-request-id")] = true
		if r.Header.Get("Authorization") == "" {
			t.Errorf("%s went without a token", r.URL)
		}
	}
	if len(ids) != 3 || ids[""] {
		t.Errorf("client-request-ids of 3 pages: %v, want 3 distinct", ids)
	}
	if got, want := rec.sent[len(rec.sent)-3].URL.RawQuery, "$filter=contains%28serialNumber%2C%27SN42%27%29"; got != want {
		t.Errorf("first page query %q, want %q", got, want)
	}
}

// TestDevicesBySerialsShareOneSearch: serials of one search term (any case) are read in one
// search, each with its own exact matches; serials of several terms are refused unsent.
func TestDevicesBySerialsShareOneSearch(t *testing.T) {
	t.Parallel()
	e, _, c := setupWith(t, emulator.Options{Devices: seedDevices("VMware-56 4d 1a", "VMware-56 4d 2b", "VMware-99 ff", "5CG1234XYZ")})
	found, _, err := c.DevicesBySerials(context.Background(), []string{"VMware-56 4d 1a", "vmware-56 4d 2b", "VMWARE-00 00"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for serial, ds := range found {
		got[serial] = serialsOf(ds)
	}
	want := map[string][]string{"VMware-56 4d 1a": {"VMware-56 4d 1a"}, "vmware-56 4d 2b": {"VMware-56 4d 2b"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("devices by serial (-want +got):\n%s", diff)
	}
	if n := lists(e); n != 1 {
		t.Errorf("Graph served %d pages, want 1 search of one page", n)
	}
	if _, _, err := c.DevicesBySerials(context.Background(), []string{"VMware-56 4d 1a", "5CG1234XYZ"}); !errors.Is(err, graph.ErrUnsearchableSerial) {
		t.Errorf("serials of two terms: err = %v, want ErrUnsearchableSerial", err)
	}
	if n := lists(e); n != 1 {
		t.Errorf("Graph served %d pages, want none more for serials of two terms", n)
	}
}
