package main

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/graph/graphtest"
	"github.com/autopilot-sync/autopilot-sync/internal/logs"
)

// fakeIntune is an in-process Intune that answers at once: the benchmarks measure our own code
// between the raw event and the encoded answer (our Graph client and azcore's pipeline included,
// up to the transport), not Graph or the network.
type fakeIntune struct {
	settings graph.Settings
}

func (f *fakeIntune) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	graphtest.WriteJSON(w, f.settings)
}

// hotPath is one benchmarked request: a sample event into a function.
type hotPath struct {
	name       string
	kind       autopilot.Function
	eventFile  string
	wantStatus int
	logged     bool // through the production JSON logger (to io.Discard), as deployed
}

var hotPaths = []hotPath{
	{"status-get", autopilot.FunctionStatus, "httpapi-status.json", 200, true},
	{"sync-post", autopilot.FunctionSync, "httpapi-sync.json", 202, true},
	{"status-get-nolog", autopilot.FunctionStatus, "httpapi-status.json", 200, false},
	{"sync-post-nolog", autopilot.FunctionSync, "httpapi-sync.json", 202, false},
}

// setup returns the function of h, its raw event and an invocation context like the one
// aws-lambda-go builds (request id and deadline).
func (h hotPath) setup(tb testing.TB) (*api.Function, json.RawMessage, context.Context) {
	tb.Helper()
	raw, err := fs.ReadFile(autopilotsync.SampleEvents, h.eventFile)
	if err != nil {
		tb.Fatal(err)
	}
	last := time.Now().Add(-time.Hour).UTC()
	d := api.Deps{Deps: action.Deps{Intune: &graphtest.Tenant{Graph: &fakeIntune{settings: graph.Settings{
		ID: "bd7faf38-5b15-4b49-a473-f6ec8954d9cb", SyncStatus: graph.SyncStatusCompleted,
		LastSyncDateTime: last, LastManualSyncTriggerDateTime: last,
	}}}}, AllowUnauthenticated: true}
	if h.logged {
		d.Log = logs.New(io.Discard, "", "")
	}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e812345678"})
	ctx, cancel := context.WithTimeout(ctx, time.Hour)
	tb.Cleanup(cancel)
	return api.New(h.kind, d), raw, ctx
}

// invokeOnce is what the Lambda runtime does with one event: Invoke, then encode the answer.
func invokeOnce(ctx context.Context, f *api.Function, raw json.RawMessage) ([]byte, error) {
	out, err := f.Invoke(ctx, raw)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// TestHotPath checks that every benchmarked request answers as expected, so the benchmarks
// measure the path they claim to.
func TestHotPath(t *testing.T) {
	t.Parallel()
	for _, h := range hotPaths {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			f, raw, ctx := h.setup(t)
			data, err := invokeOnce(ctx, f, raw)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				StatusCode int    `json:"statusCode"`
				Body       string `json:"body"`
			}
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatalf("answer is not an HTTP API response: %v: %s", err, data)
			}
			if got.StatusCode != h.wantStatus {
				t.Fatalf("statusCode = %d, want %d: %s", got.StatusCode, h.wantStatus, data)
			}
		})
	}
}

// BenchmarkHotPath measures raw HTTP API event → api.Function.Invoke → json.Marshal of the
// answer, for status GET and sync POST, with and without the per-invocation log line.
func BenchmarkHotPath(b *testing.B) {
	for _, h := range hotPaths {
		b.Run(h.name, func(b *testing.B) {
			f, raw, ctx := h.setup(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := invokeOnce(ctx, f, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	samples := make([]time.Duration, 0, 200)
	for i := 200; i >= 1; i-- {
		samples = append(samples, time.Duration(i))
	}
	for _, tc := range []struct {
		p    int
		want time.Duration
	}{{50, 100}, {99, 198}, {100, 200}, {1, 2}} {
		if got := percentile(samples, tc.p); got != tc.want {
			t.Errorf("percentile(1..200, %d) = %d, want %d", tc.p, got, tc.want)
		}
	}
	if got, want := median([]time.Duration{3, 1, 2, 10}), time.Duration(2); got != want {
		t.Errorf("median = %d, want %d", got, want)
	}
}

func TestSymbolPackage(t *testing.T) {
	t.Parallel()
	for sym, want := range map[string]string{
		"net/http.(*Client).do": "net/http",
		"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime.(*Pipeline).Do": "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime",
		"encoding/json.Marshal":     "encoding/json",
		"slices.Sort[go.shape.int]": "slices",
		"type:*github.com/autopilot-sync/autopilot-sync/internal/graph.Client": "(type descriptors and itabs)",
		"runtime.mallocgc": "runtime",
	} {
		if got := symbolPackage(sym); got != want {
			t.Errorf("symbolPackage(%q) = %q, want %q", sym, got, want)
		}
	}
	mods := []string{"github.com/Azure/azure-sdk-for-go/sdk/azcore", "github.com/Azure/azure-sdk-for-go/sdk/azidentity"}
	if got, want := moduleOf("github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime", mods), mods[0]; got != want {
		t.Errorf("moduleOf = %q, want %q", got, want)
	}
	if got, want := moduleOf("crypto/tls", mods), "std"; got != want {
		t.Errorf("moduleOf = %q, want %q", got, want)
	}
}
