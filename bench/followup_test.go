package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/logs"
	"github.com/autopilot-sync/autopilot-sync/internal/outbound"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/wiring"
)

// sentQueue is the follow-up queue of the check benchmark: it counts what a check sends (a
// check that finds the end and delivers sends nothing).
type sentQueue struct{ sent atomic.Int64 }

// ARN is the queue's ARN, which the check's record carries.
func (q *sentQueue) ARN() string { return benchQueueARN }

const benchQueueARN = "arn:aws:sqs:eu-west-1:123456789012:autopilot-sync-followup"

func (q *sentQueue) Send(context.Context, []byte, time.Duration) error {
	q.sent.Add(1)
	return nil
}

// followUpCheck is one follow-up check wired as the sync function's main wires it
// (config.Load, wiring.Build, wiring.WithFollowUp), against the emulator over TLS on loopback,
// its callback going to an HTTPS receiver on loopback under a urlPrefix of
// CALLBACK_TARGETS_SECRET_NAME, with its header, signed with CALLBACK_SIGNING_SECRET_NAME.
// The one change from production is the outbound client's AllowLoopback (cmd/local's), without
// which no local receiver can be reached.
type followUpCheck struct {
	emu        *emulator.Emulator
	fn         *api.Function
	queue      *sentQueue
	event      json.RawMessage
	ctx        context.Context
	deliveries atomic.Int64
}

func newFollowUpCheck(tb testing.TB) *followUpCheck {
	tb.Helper()
	c := &followUpCheck{queue: &sentQueue{}}
	emu, err := emulator.Start(emulator.Options{SyncDuration: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { emu.Close() })
	c.emu = emu
	receiver := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c.deliveries.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	tb.Cleanup(receiver.Close)
	roots := receiver.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	emu.SetSecret("callback-signing", "whsec_"+base64.StdEncoding.EncodeToString(key), "")
	targets, _ := json.Marshal([]map[string]any{{"urlPrefix": receiver.URL + "/api/x_autopilot/",
		"headers": map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("svc:"+rand.Text()))}}})
	emu.SetSecret("callback-targets", string(targets), "")
	vars := emu.Seed()
	vars["FOLLOWUP_QUEUE_URL"] = "https://sqs.eu-west-1.amazonaws.com/123456789012/autopilot-sync-followup"
	vars["CALLBACK_TARGETS_SECRET_NAME"] = "callback-targets"
	vars["CALLBACK_SIGNING_SECRET_NAME"] = "callback-signing"
	cfg, cfgErr := config.Load(func(k string) string { return vars[k] })
	if cfgErr != nil {
		tb.Fatal(cfgErr)
	}
	log := logs.New(io.Discard, cfg.LogFormat, cfg.LogLevel)
	opts := tenant.Options{Transport: emu.HTTPClient()} // trusts the emulator without SSL_CERT_FILE
	deps, vault := wiring.Build(cfg, nil, opts, log)
	deps = wiring.WithFollowUp(deps, cfg, vault, c.queue, nil, wiring.FollowUpOptions{
		Outbound: outbound.Options{AllowLoopback: true, RootCAs: roots}, Log: log})
	c.fn = api.New(autopilot.FunctionSync, deps)

	// The sync requested five minutes ago ended a minute later.
	requestedAt := time.Now().Add(-5 * time.Minute)
	s := emu.Settings(emulator.SeedTenantID)
	s.SyncStatus, s.LastSyncDateTime = "completed", requestedAt.Add(time.Minute)
	emu.SetSettings(emulator.SeedTenantID, s)
	m := followup.New(followup.NewID(), "", requestedAt, followup.Targets{Callback: receiver.URL + "/api/x_autopilot/done/INC0012345"})
	body, err := m.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	c.event, _ = json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: string(body), EventSource: "aws:sqs", EventSourceARN: benchQueueARN}}})
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e812345678"})
	ctx, cancel := context.WithTimeout(ctx, time.Hour)
	tb.Cleanup(cancel)
	c.ctx = ctx
	return c
}

// check serves the follow-up record once and fails unless the check ended the follow-up with
// its callback delivered.
func (c *followUpCheck) check(tb testing.TB) {
	before := c.deliveries.Load()
	data, err := invokeOnce(c.ctx, c.fn, c.event)
	var resp events.SQSEventResponse
	if err != nil || json.Unmarshal(data, &resp) != nil || len(resp.BatchItemFailures) != 0 {
		tb.Fatalf("the check failed: %s (%v)", data, err)
	}
	if c.deliveries.Load() != before+1 || c.queue.sent.Load() != 0 {
		tb.Fatalf("the check delivered %d callbacks and sent %d messages, want 1 and 0", c.deliveries.Load()-before, c.queue.sent.Load())
	}
}

// costs are what checks cost the emulator, per check.
func (c *followUpCheck) costs(checks int) (graphReads, vaultReads, tokens float64) {
	n := c.emu.Counts()
	for _, v := range n.SecretReads {
		vaultReads += float64(v)
	}
	for _, v := range n.Tokens {
		tokens += float64(v)
	}
	return float64(n.Graph["GET"]) / float64(checks), vaultReads / float64(checks), tokens / float64(checks)
}

// TestFollowUpCheckCost is what BenchmarkFollowUpCheck measures, checked: a warm check reads
// the settings once and Key Vault never, asks Entra for no token and delivers one callback.
func TestFollowUpCheckCost(t *testing.T) {
	t.Parallel()
	c := newFollowUpCheck(t)
	c.check(t) // cold: Key Vault (bootstrap credential, Graph credential, callback secrets), tokens
	if graph, vault, _ := c.costs(1); graph != 1 || vault < 3 {
		t.Errorf("cold check: %v Graph reads, %v Key Vault reads; want 1 and at least 3", graph, vault)
	}
	c.emu.ResetCounts()
	const warm = 5
	for range warm {
		c.check(t)
	}
	graph, vault, tokens := c.costs(warm)
	if got := fmt.Sprint(graph, vault, tokens); got != "1 0 0" {
		t.Errorf("per warm check: Graph reads, Key Vault reads, tokens = %s, want 1 0 0", got)
	}
}

// BenchmarkFollowUpCheck measures one warm follow-up check in-process (no Lambda runtime API):
// an SQS record of a follow-up whose sync has ended, its one Graph read over TLS on loopback,
// the outcome, and its signed callback over a kept-alive TLS connection to a receiver on
// loopback. It reports the Graph reads, Key Vault reads and token requests per check, as the
// emulator counted them.
func BenchmarkFollowUpCheck(b *testing.B) {
	c := newFollowUpCheck(b)
	c.check(b)
	c.emu.ResetCounts()
	checks := 0
	b.ReportAllocs()
	for b.Loop() {
		c.check(b)
		checks++
	}
	graph, vault, tokens := c.costs(checks)
	b.ReportMetric(graph, "graphReads/op")
	b.ReportMetric(vault, "vaultReads/op")
	b.ReportMetric(tokens, "tokens/op")
}
