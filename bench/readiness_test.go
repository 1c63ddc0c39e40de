package main

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/azhttp"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/logs"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/wiring"
)

// TestReadinessReadsShareOneConnection checks the mechanism behind the bench's readiness figure
// (issue 23: a warm read of 20 serials in at most 1.5 round trips), not its timing: speed targets
// are measured by the bench, never by timed assertions in tests. A warm read of 20 serials, by
// the status function and by the sync function's device check, wired as their mains wire them
// with the production transport (azhttp, trusting the emulator's CA), has all 20 Graph requests
// in flight at once, held at the emulator until the 20th has arrived, over the connection the
// function already keeps to Graph: its forwarder accepts no new connection. Over HTTP/1.1, 20
// requests in flight at once would need 20 connections, each a new TCP and TLS handshake.
//
// The cold invocation reads one serial, so that it opens exactly one connection to Graph (the
// one Preconnect opened). Twenty reads on a cold transport may dial up to twenty: net/http dials
// for every request that finds no connection while it cannot know yet that the host speaks
// HTTP/2, hands the first HTTP/2 connection to every waiting request and closes the others once
// their handshakes end, possibly after the invocation has answered, which would be counted here.
func TestReadinessReadsShareOneConnection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fn    autopilot.Function
		event func(serials []string) ([]byte, error)
		check func(answer []byte, serials int) error
	}{
		{"status, GET /status?serial=<20 serials>", autopilot.FunctionStatus, statusSerialsEvent, checkStatusAnswer},
		{"sync, device check of 20 serials", autopilot.FunctionSync,
			func(serials []string) ([]byte, error) { return deviceCheckEvent(serials, time.Now()) },
			func(answer []byte, _ int) error { return checkSQSAnswer(answer) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu, link, fn := readinessFunction(t, tc.fn)
			ctx := lambdacontext.NewContext(t.Context(), &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e812345678"})
			invoke := func(serials int) error {
				event, err := tc.event(readinessSerials(serials))
				if err != nil {
					return err
				}
				answer, err := invokeOnce(ctx, fn, event)
				if err != nil {
					return err
				}
				return tc.check(answer, serials)
			}
			if err := invoke(1); err != nil { // cold: Key Vault, tokens, the Graph connection
				t.Fatalf("cold invocation: %v", err)
			}
			if got := link.Accepted(); got != 1 {
				t.Fatalf("the cold invocation opened %d connections to Graph, want 1", got)
			}

			link.ResetAccepted()
			emu.ResetCounts()
			var arrived atomic.Int32
			allIn, release := make(chan struct{}), make(chan struct{})
			emu.AddFault(emulator.Fault{Service: emulator.Graph, Method: "GET", PathContains: "windowsAutopilotDeviceIdentities",
				Times: followup.MaxSerials, Hold: release, Arrived: func() {
					if arrived.Add(1) == followup.MaxSerials {
						close(allIn)
					}
				}})
			done := make(chan error, 1)
			go func() { done <- invoke(followup.MaxSerials) }()
			guard := time.NewTimer(time.Minute) // a failure's bound, not a timing: 20 reads one by one never get here
			defer guard.Stop()
			select {
			case <-allIn:
				close(release)
			case err := <-done:
				t.Fatalf("the warm invocation ended with %d of %d reads at the emulator: %v", arrived.Load(), followup.MaxSerials, err)
			case <-guard.C:
				close(release)
				t.Fatalf("only %d of %d Graph reads were in flight at once", arrived.Load(), followup.MaxSerials)
			}
			if err := <-done; err != nil {
				t.Fatalf("warm invocation: %v", err)
			}
			got := [2]int{emu.Counts().Graph["GET windowsAutopilotDeviceIdentities"], link.Accepted()}
			if want := [2]int{followup.MaxSerials, 0}; got != want {
				t.Errorf("warm invocation: Graph device reads, new Graph connections = %v, want %v", got, want)
			}
		})
	}
}

// readinessFunction is fn wired as its main wires it (config.Load, wiring.Build and, for sync,
// wiring.WithFollowUp) with the production transport trusting the emulator's CA, against an
// emulator that lists every serial of readinessSerials assigned; Graph is reached through a
// Link, which counts the connections the function opens to it.
func readinessFunction(t *testing.T, fn autopilot.Function) (*emulator.Emulator, *emulator.Link, *api.Function) {
	t.Helper()
	emu, err := emulator.Start(emulator.Options{SyncDuration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	addReadinessDevices(emu)
	link, err := emulator.StartLink(emu.URL(), emulator.LinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { link.Close() })
	vars := emu.Seed()
	vars["GRAPH_BASE_URL"] = "https://" + link.Addr() + "/beta"
	vars["ALLOW_UNAUTHENTICATED"] = "true"
	vars["FOLLOWUP_QUEUE_URL"], vars["AWS_REGION"] = readinessQueueURL, readinessQueueRegion
	cfg, cfgErr := config.Load(func(k string) string { return vars[k] })
	if cfgErr != nil {
		t.Fatal(cfgErr)
	}
	transport := azhttp.New(azhttp.Options{RootCAs: emu.CertPool()})
	t.Cleanup(transport.CloseIdleConnections)
	log := logs.New(io.Discard, cfg.LogFormat, cfg.LogLevel)
	deps, vault := wiring.Build(cfg, nil, tenant.Options{Transport: transport}, log)
	if fn == autopilot.FunctionSync {
		deps = wiring.WithFollowUp(deps, cfg, vault, &sentQueue{}, nil, wiring.FollowUpOptions{Log: log})
	}
	return emu, link, api.New(fn, deps)
}

// TestLinkCarriesHTTP2: the production transport speaks HTTP/2 to the emulator through a Link
// (a TCP forwarder, so ALPN passes end to end), as it does to Graph, which supports HTTP/2: the
// bench's readiness figures are those of multiplexed requests.
func TestLinkCarriesHTTP2(t *testing.T) {
	t.Parallel()
	emu, err := emulator.Start(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	link, err := emulator.StartLink(emu.URL(), emulator.LinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { link.Close() })
	transport := azhttp.New(azhttp.Options{RootCAs: emu.CertPool()})
	t.Cleanup(transport.CloseIdleConnections)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+link.Addr()+"/common/discovery/instance", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := transport.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := resp.Proto; got != "HTTP/2.0" {
		t.Errorf("protocol through the link = %s, want HTTP/2.0", got)
	}
}
