package graph_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

// setup starts an emulator on a manual clock and returns a Graph client that authenticates as
// the seeded Graph app with the real azidentity client-secret credential.
func setup(t *testing.T) (*emulator.Emulator, *emulator.ManualClock, *graph.Client) {
	t.Helper()
	return setupWith(t, emulator.Options{})
}

// setupWith is setup with emulator options of the test's own; the clock and the sync duration
// are setup's.
func setupWith(t *testing.T, o emulator.Options) (*emulator.Emulator, *emulator.ManualClock, *graph.Client) {
	t.Helper()
	clock := emulator.NewManualClock(time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC))
	o.Clock, o.SyncDuration = clock, 90*time.Second
	e, env := emutest.Start(t, o)
	c, err := graph.NewClient(env.Getenv("GRAPH_BASE_URL"), emutest.GraphCredential(t, e), &graph.Options{Transport: e.HTTPClient(), Now: clock.Now, RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return e, clock, c
}

func TestSyncStateMachine(t *testing.T) {
	t.Parallel()
	e, clock, c := setup(t)
	ctx := context.Background()

	info, err := c.Sync(ctx)
	if err != nil {
		t.Fatalf("first sync: %v", err)
	}
	if info.StatusCode != 204 || info.RequestID == "" || info.ClientRequestID == "" {
		t.Errorf("call info = %+v", info)
	}
	s, _, err := c.Get(ctx)
	if err != nil || s.SyncStatus != graph.SyncStatusInProgress || !s.LastManualSyncTriggerDateTime.Equal(clock.Now()) {
		t.Fatalf("after sync: %+v, %v", s, err)
	}

	_, err = c.Sync(ctx)
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.StatusCode != 409 || ge.Code == "" || ge.RequestID == "" || ge.ClientRequestID == "" {
		t.Fatalf("second sync: %v (%+v)", err, ge)
	}

	clock.Advance(2 * time.Minute)
	s, _, _ = c.Get(ctx)
	if s.SyncStatus != graph.SyncStatusCompleted {
		t.Errorf("after SyncDuration: %q", s.SyncStatus)
	}
	for _, tt := range []struct {
		mode    emulator.RetryAfterMode
		want    time.Duration
		wantHas bool
	}{
		{emulator.RetryAfterNone, 0, false},
		{emulator.RetryAfterSeconds, 8 * time.Minute, true},
		{emulator.RetryAfterFractional, 8 * time.Minute, true},
		{emulator.RetryAfterDate, 8 * time.Minute, true},
	} {
		e.SetRetryAfterMode(tt.mode)
		_, err := c.Sync(ctx)
		if !errors.As(err, &ge) || ge.StatusCode != 429 || ge.Code != "TooManyRequests" {
			t.Fatalf("mode %d: %v", tt.mode, err)
		}
		if ge.HasRetryAfter != tt.wantHas || ge.RetryAfter.Round(time.Second) != tt.want {
			t.Errorf("mode %d: RetryAfter %v (has %v), want %v (has %v)", tt.mode, ge.RetryAfter, ge.HasRetryAfter, tt.want, tt.wantHas)
		}
	}
	if n := e.Counts().Graph["POST sync"]; n != 6 {
		t.Errorf("Graph saw %d sync requests, want 6: 409 and 429 are never retried", n)
	}
	clock.Advance(10 * time.Minute)
	if _, err := c.Sync(ctx); err != nil {
		t.Errorf("sync after ten minutes: %v", err)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     emulator.Fault
		call      func(context.Context, *graph.Client) error
		wantErr   int // Graph status of the final error, 0 for success
		wantTries int
		counter   string
	}{
		{"get retries 503", emulator.Fault{Service: emulator.Graph, Status: 503, Times: 2}, get, 0, 3, "GET"},
		{"get retries 429", emulator.Fault{Service: emulator.Graph, Status: 429, Header: http.Header{"Retry-After": {"0.01"}}, Times: 1}, get, 0, 2, "GET"},
		{"get gives up after 3 retries", emulator.Fault{Service: emulator.Graph, Status: 502}, get, 502, 4, "GET"},
		{"get does not retry 500", emulator.Fault{Service: emulator.Graph, Status: 500}, get, 500, 1, "GET"},
		{"get does not retry 404", emulator.Fault{Service: emulator.Graph, Status: 404}, get, 404, 1, "GET"},
		{"sync retries 504", emulator.Fault{Service: emulator.Graph, Status: 504, Times: 1}, sync, 0, 2, "POST sync"},
		{"sync never retries 429", emulator.Fault{Service: emulator.Graph, Status: 429, Header: http.Header{"Retry-After": {"0"}}}, sync, 429, 1, "POST sync"},
		{"sync never retries 409", emulator.Fault{Service: emulator.Graph, Status: 409}, sync, 409, 1, "POST sync"},
		{"sync retries a reset connection", emulator.Fault{Service: emulator.Graph, Reset: true, Times: 1}, sync, 0, 2, "POST sync"},
		{"update retries 503", emulator.Fault{Service: emulator.Graph, Status: 503, Times: 1}, update, 0, 2, "PATCH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _, c := setup(t)
			e.AddFault(tt.fault)
			err := tt.call(context.Background(), c)
			var ge *graph.Error
			switch {
			case tt.wantErr == 0 && err != nil:
				t.Errorf("err = %v, want success", err)
			case tt.wantErr != 0 && (!errors.As(err, &ge) || ge.StatusCode != tt.wantErr):
				t.Errorf("err = %v, want Graph %d", err, tt.wantErr)
			}
			if n := e.Counts().Graph[tt.counter]; n != tt.wantTries {
				t.Errorf("Graph saw %d %s requests, want %d", n, tt.counter, tt.wantTries)
			}
		})
	}
}

func get(ctx context.Context, c *graph.Client) error  { _, _, err := c.Get(ctx); return err }
func sync(ctx context.Context, c *graph.Client) error { _, err := c.Sync(ctx); return err }
func update(ctx context.Context, c *graph.Client) error {
	status := graph.SyncStatusFailed
	_, _, err := c.Update(ctx, graph.SettingsUpdate{SyncStatus: &status})
	return err
}

func TestRetryAfterBeyondDeadlineIsNotWaited(t *testing.T) {
	t.Parallel()
	e, _, c := setup(t)
	e.AddFault(emulator.Fault{Service: emulator.Graph, Status: 503, Header: http.Header{"Retry-After": {"20"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := c.Get(ctx)
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.StatusCode != 503 || ge.RetryAfter != 20*time.Second {
		t.Fatalf("err = %v, want Graph 503 with Retry-After 20s", err)
	}
	if ctx.Err() != nil {
		t.Error("the client waited into the deadline instead of answering")
	}
	if n := e.Counts().Graph["GET"]; n != 1 {
		t.Errorf("Graph saw %d requests, want 1", n)
	}
}

func TestMalformedAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault emulator.Fault
		want  error
	}{
		{"not JSON", emulator.Fault{Service: emulator.Graph, Status: 200, Body: "{not json"}, graph.ErrMalformedAnswer},
		{"wrong types", emulator.Fault{Service: emulator.Graph, Status: 200, Body: `{"id":1}`}, graph.ErrMalformedAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _, c := setup(t)
			e.AddFault(tt.fault)
			if _, _, err := c.Get(context.Background()); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("oversized", func(t *testing.T) {
		t.Parallel()
		e, _, c := setup(t)
		big := `{"id":"` + strings.Repeat("a", 2<<20) + `"}`
		e.AddFault(emulator.Fault{Service: emulator.Graph, Status: 200, Body: big})
		if _, _, err := c.Get(context.Background()); err == nil {
			t.Error("an answer over 1 MiB was accepted")
		}
	})
}

func TestUpdateAndUnknownStatus(t *testing.T) {
	t.Parallel()
	e, clock, c := setup(t)
	when := clock.Now().Add(-time.Hour).Truncate(time.Second)
	status := graph.SyncStatusFailed
	got, _, err := c.Update(context.Background(), graph.SettingsUpdate{SyncStatus: &status, LastSyncDateTime: &when})
	if err != nil {
		t.Fatal(err)
	}
	if got.SyncStatus != graph.SyncStatusFailed || !got.LastSyncDateTime.Equal(when) {
		t.Errorf("update answered %+v", got)
	}

	e.SetPatchNoContent(true)
	status = graph.SyncStatusCompleted
	got, _, err = c.Update(context.Background(), graph.SettingsUpdate{SyncStatus: &status})
	if err != nil || got.SyncStatus != graph.SyncStatusCompleted {
		t.Errorf("update answered 204, then read back %+v, %v", got, err)
	}

	s := e.Settings(emulator.SeedTenantID)
	s.SyncStatus = "someFutureValue"
	e.SetSettings(emulator.SeedTenantID, s)
	got, _, err = c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(graph.SyncStatus("someFutureValue"), got.SyncStatus); diff != "" {
		t.Errorf("unknown syncStatus did not pass through: %s", diff)
	}
}

func TestPermissionErrors(t *testing.T) {
	t.Parallel()
	e, _, c := setup(t)
	e.AddFault(emulator.Fault{Service: emulator.Graph, Status: 403, Times: 1})
	_, _, err := c.Get(context.Background())
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.StatusCode != 403 {
		t.Errorf("err = %v, want Graph 403", err)
	}
}

func TestTracingHook(t *testing.T) {
	t.Parallel()
	e, _, _ := setup(t)
	var mu gosync.Mutex
	var spans []string
	provider := tracing.NewProvider(func(name, version string) tracing.Tracer {
		return tracing.NewTracer(func(ctx context.Context, spanName string, _ *tracing.SpanOptions) (context.Context, tracing.Span) {
			mu.Lock()
			spans = append(spans, spanName)
			mu.Unlock()
			return ctx, tracing.NewSpan(tracing.SpanImpl{})
		}, nil)
	}, nil)
	c, err := graph.NewClient(e.GraphBaseURL(), emutest.GraphCredential(t, e), &graph.Options{Transport: e.HTTPClient(), TracingProvider: provider})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(spans) < 2 || spans[0] != "graph.GET windowsAutopilotSettings" {
		t.Errorf("spans = %q, want the call's span and its HTTP span", spans)
	}
}
