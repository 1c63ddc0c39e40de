package flowtest_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/flowtest"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
)

// started is the part of a 202 that tests read.
type started struct {
	Result   string `json:"result"`
	FollowUp struct {
		ID      string   `json:"id"`
		Targets []string `json:"targets"`
	} `json:"followUp"`
}

// post sends POST /sync and decodes a 202; it ends the test when the answer is another.
func post(t *testing.T, f *flowtest.Flow, query, body string) started {
	t.Helper()
	a := f.Post(t.Context(), query, body)
	var s started
	if err := a.Decode(&s); err != nil || a.Status != http.StatusAccepted || s.FollowUp.ID == "" {
		t.Fatalf("POST /sync%s %s: %d %s, want 202 with a followUp", query, body, a.Status, a.Body)
	}
	return s
}

// TestFlowFollowsASync: a sync started with a callbackUrl is followed to its end by the Flow's
// queue, on its clock, and told once to the receiver; Graph calls are counted by origin, log
// lines kept, and RunUntil stops at its instant.
func TestFlowFollowsASync(t *testing.T) {
	t.Parallel()
	f := flowtest.Start(t, flowtest.Options{SignCallbacks: true})
	start := f.Now()
	s := post(t, f, "", fmt.Sprintf(`{"callbackUrl":%q}`, f.CallbackURL("done")))
	if s.Result != "started" {
		t.Fatalf("result %q, want started", s.Result)
	}
	// The first check comes after FOLLOWUP_FIRST_CHECK (60 s): the sync (90 s) still runs.
	if err := f.RunUntil(t.Context(), start.Add(80*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := f.Now(); !got.Equal(start.Add(80 * time.Second)) {
		t.Errorf("RunUntil left the clock at %s, want start + 80s", got)
	}
	if n := len(f.Callbacks()); n != 0 {
		t.Fatalf("%d callbacks while the sync runs", n)
	}
	if err := f.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	cbs := f.CallbacksOf(s.FollowUp.ID)
	if len(cbs) != 1 || cbs[0].Type != "autopilot.sync.completed" || cbs[0].Path != "/api/x_autopilot/done" || cbs[0].Header.Get("webhook-signature") == "" {
		t.Fatalf("callbacks of %s: %+v, want one signed autopilot.sync.completed", s.FollowUp.ID, cbs)
	}
	got := map[string]int{
		"POST sync by a request":  f.CountCalls(flowtest.FromRequest, "POST sync", http.StatusNoContent),
		"POST sync by a check":    f.CountCalls(flowtest.FromCheck, "POST sync", 0),
		"GET settings by a check": f.CountCalls(flowtest.FromCheck, "GET settings", http.StatusOK),
		"triggers":                len(f.Triggers()),
		"queue left":              f.Queue().Len(),
	}
	want := map[string]int{"POST sync by a request": 1, "POST sync by a check": 0, "GET settings by a check": 2, "triggers": 1, "queue left": 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	outcomes := map[string]int{}
	for _, l := range f.Lines() {
		if l.Action == "followUp" && l.FollowUpID == s.FollowUp.ID {
			outcomes[l.Outcome]++
		}
	}
	if diff := cmp.Diff(map[string]int{"pending": 1, "completed": 1}, outcomes); diff != "" {
		t.Errorf("followUp lines (-want +got):\n%s", diff)
	}
}

// TestFlowRedeliversAndDeadLetters: a record that fails comes back after the visibility timeout,
// one receive later, and after MaxReceives it goes to the dead-letter queue; HandTwice hands a
// record a second time without putting the copy back.
func TestFlowRedeliversAndDeadLetters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		faults     int // settings reads answered 503 (Retry-After beyond the invocation's deadline: not retried)
		twice      bool
		want       flowtest.Counts
		wantResult string
	}{
		{name: "one failed read", faults: 1, want: flowtest.Counts{Requests: 1, Deliveries: 2, Redelivered: 1}, wantResult: "autopilot.sync.completed"},
		{name: "every read fails", faults: 100, want: flowtest.Counts{Requests: 1, Deliveries: 5, Redelivered: 4, DeadLetters: 1}},
		{name: "the first check twice", twice: true, want: flowtest.Counts{Requests: 1, Deliveries: 4, Duplicates: 1}, wantResult: "autopilot.sync.completed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := flowtest.Start(t, flowtest.Options{})
			s := post(t, f, "", fmt.Sprintf(`{"callbackUrl":%q}`, f.CallbackURL("done")))
			if tt.faults > 0 {
				f.Emulator().AddFault(emulator.Fault{Service: emulator.Graph, Method: http.MethodGet, PathContains: "windowsAutopilotSettings",
					Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"3600"}}, Times: tt.faults})
			}
			if tt.twice {
				first := true
				f.HandTwice(func(flowtest.Record, followup.Message) bool { ok := first; first = false; return ok }, true)
			}
			if err := f.Run(t.Context()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, f.Counts()); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			var types []string
			for _, c := range f.CallbacksOf(s.FollowUp.ID) {
				types = append(types, c.Type)
			}
			if tt.wantResult == "" && len(types) > 0 || tt.wantResult != "" && (len(types) == 0 || types[0] != tt.wantResult) {
				t.Errorf("callbacks %v, want %q", types, tt.wantResult)
			}
		})
	}
}

// TestFlowAt: events run at their instant, together with the records due then, in clock order;
// an event's error stops Run.
func TestFlowAt(t *testing.T) {
	t.Parallel()
	f := flowtest.Start(t, flowtest.Options{})
	start := f.Now()
	var seen []time.Duration
	for _, d := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
		f.At(start.Add(d), func(context.Context) error { seen = append(seen, f.Now().Sub(start)); return nil })
	}
	if err := f.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second, 3 * time.Second}, seen); diff != "" {
		t.Errorf("instants (-want +got):\n%s", diff)
	}
	f.At(start.Add(time.Hour), func(context.Context) error { return fmt.Errorf("refused") })
	if err := f.Run(t.Context()); err == nil || err.Error() != "refused" {
		t.Errorf("Run = %v, want the event's error", err)
	}
}
