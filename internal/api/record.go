package api

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Source names where an invocation came from, as the log line spells it (SPEC §12).
type Source string

// The sources of SPEC §12. The HTTP ones are lambdahttp's.
const (
	SourceLocal    Source = "local"
	SourceSlack    Source = "slack"
	SourceTeams    Source = "teams"
	SourceSchedule Source = "schedule"
	SourceDirect   Source = "direct"
	SourceSQS      Source = "sqs"
)

// MetricsNamespace is the CloudWatch namespace of the Embedded Metric Format figures.
const MetricsNamespace = "autopilot-sync"

// Metric names on the invocation line (CloudWatch Embedded Metric Format).
const (
	MetricLatency        = "Latency"
	MetricGraphLatency   = "GraphLatency"
	MetricSyncStarted    = "SyncStarted"
	MetricSyncInProgress = "SyncInProgress"
	MetricSyncThrottled  = "SyncThrottled"
	MetricSyncFailed     = "SyncFailed"
	// The outcomes of followed syncs (SPEC §13): 0 or 1 on each check's line.
	MetricSyncOutcomeCompleted = "SyncOutcomeCompleted"
	MetricSyncOutcomeFailed    = "SyncOutcomeFailed"
	MetricSyncOutcomeTimedOut  = "SyncOutcomeTimedOut"
	MetricSyncDurationSeconds  = "SyncDurationSeconds"
)

// invocation is one invocation being served: an HTTP request, a scheduled or direct event, or
// one SQS record. Its end writes the one log line of SPEC §12, for every source alike.
type invocation struct {
	f         *Function
	started   time.Time
	coldStart bool
	source    Source
}

func (f *Function) begin(source Source) *invocation {
	return &invocation{f: f, started: time.Now(), coldStart: f.coldStart(), source: source}
}

// end writes the invocation line: the action, the outcome's code and metrics, the status the
// source answered with, and renderErr when the answer could not be encoded.
func (inv *invocation) end(ctx context.Context, action Action, o Outcome, status int, renderErr error) {
	took := time.Since(inv.started)
	level := slog.LevelInfo
	code := o.code()
	attrs := make([]slog.Attr, 0, 28)
	attrs = append(attrs,
		slog.String("requestId", requestID(ctx)),
		slog.String("function", string(inv.f.kind)),
		slog.String("source", string(inv.source)),
		slog.String("action", string(action)),
		slog.Int("status", status),
		slog.Int64("durationMs", took.Milliseconds()),
		slog.Int64("vaultMs", o.Calls.VaultTime.Milliseconds()),
		slog.Bool("coldStart", inv.coldStart),
	)
	if o.Tenant != "" {
		attrs = append(attrs, slog.String("tenant", o.Tenant))
	}
	if p := o.Problem; p != nil {
		if p.Status >= 500 {
			level = slog.LevelError
		}
		if p.Err != nil {
			attrs = append(attrs, slog.String("error", p.Err.Error()))
		}
	}
	if d := o.Diagnose; d != nil && !d.OK {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("failedChecks", strings.Join(d.Failed(), ",")))
	}
	if renderErr != nil {
		level, code = slog.LevelError, string(problem.Misconfigured)
		attrs = append(attrs, slog.String("error", "encode answer: "+renderErr.Error()))
	}
	attrs = append(attrs, slog.String("code", code))
	if g := o.Calls.Graph; g.StatusCode != 0 {
		attrs = append(attrs,
			slog.Int("graphStatus", g.StatusCode),
			slog.String("graphRequestId", g.RequestID),
			slog.String("clientRequestId", g.ClientRequestID),
			slog.Int64("graphMs", o.Calls.GraphTime.Milliseconds()))
	}

	metrics := []emfMetric{{MetricLatency, "Milliseconds"}, {MetricGraphLatency, "Milliseconds"}}
	attrs = append(attrs,
		slog.Float64(MetricLatency, float64(took.Microseconds())/1000),
		slog.Float64(MetricGraphLatency, float64(o.Calls.GraphTime.Microseconds())/1000))
	for _, c := range syncCounts(o) {
		metrics = append(metrics, emfMetric{c.name, "Count"})
		attrs = append(attrs, slog.Int(c.name, c.value))
	}
	if fo := o.FollowUp; fo != nil {
		attrs = append(attrs, followUpAttrs(fo)...)
		if fo.Checked {
			for _, c := range outcomeCounts(fo) {
				metrics = append(metrics, emfMetric{c.name, "Count"})
				attrs = append(attrs, slog.Int(c.name, c.value))
			}
			if fo.SyncDurationSeconds != nil {
				metrics = append(metrics, emfMetric{MetricSyncDurationSeconds, "Seconds"})
			}
		}
	}
	attrs = append(attrs, slog.Any("_aws", emf{
		Timestamp: inv.started.UnixMilli(),
		CloudWatchMetrics: []emfDirective{{
			Namespace:  MetricsNamespace,
			Dimensions: [][]string{{"function"}},
			Metrics:    metrics,
		}},
	}))
	inv.f.d.Log.LogAttrs(ctx, level, "invocation", attrs...)
}

func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

type emf struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// followUpAttrs are a follow-up's fields on its invocation line: outcome, followUpId,
// syncDurationSeconds, and how each delivery went (target names and statuses, never a URL).
func followUpAttrs(fo *FollowUpOutcome) []slog.Attr {
	attrs := []slog.Attr{slog.String("outcome", string(fo.Result)), slog.String("followUpId", fo.ID)}
	if fo.SyncDurationSeconds != nil {
		attrs = append(attrs, slog.Int64("syncDurationSeconds", *fo.SyncDurationSeconds))
		if fo.Checked { // the EMF metric counts each outcome once, not every delivery round
			attrs = append(attrs, slog.Int64(MetricSyncDurationSeconds, *fo.SyncDurationSeconds))
		}
	}
	if len(fo.Deliveries) > 0 {
		ds := make([]map[string]any, len(fo.Deliveries))
		for i, d := range fo.Deliveries {
			ds[i] = map[string]any{"target": string(d.Target), "verdict": d.Verdict.String()}
			if d.Status != 0 {
				ds[i]["status"] = d.Status
			}
			if d.Err != nil {
				ds[i]["error"] = d.Err.Error()
			}
		}
		attrs = append(attrs, slog.Any("deliveries", ds))
	}
	if len(fo.GaveUp) > 0 {
		names := make([]string, len(fo.GaveUp))
		for i, t := range fo.GaveUp {
			names[i] = string(t)
		}
		attrs = append(attrs, slog.Any("gaveUp", names))
	}
	return attrs
}

// outcomeCounts are the outcome metrics of a follow-up check: each 0 or 1 (pending is all 0).
func outcomeCounts(fo *FollowUpOutcome) []count {
	is := func(r followup.Result) int {
		if fo.Result == r {
			return 1
		}
		return 0
	}
	return []count{
		{MetricSyncOutcomeCompleted, is(followup.Completed)},
		{MetricSyncOutcomeFailed, is(followup.Failed)},
		{MetricSyncOutcomeTimedOut, is(followup.TimedOut)},
	}
}

type count struct {
	name  string
	value int
}

// syncCounts returns the sync outcome counters of an outcome that asked Graph for a sync (all
// four, so that sums and averages work), or none: started, in progress (409), throttled (429),
// failed (any other failure, or a followed sync that Intune reports failed).
func syncCounts(o Outcome) []count {
	s := o.Sync
	if s == nil {
		return nil
	}
	started, inProgress, throttled, failed := 0, 0, 0, 0
	switch {
	case s.Result == autopilot.InProgress && !s.Waited:
		inProgress = 1
	case s.Result == autopilot.Throttled:
		throttled = 1
	case s.Result == autopilot.Failed:
		started, failed = 1, 1
	case s.Result == "":
		failed = 1
	default: // started, or followed to completed or still inProgress
		started = 1
	}
	return []count{
		{MetricSyncStarted, started}, {MetricSyncInProgress, inProgress},
		{MetricSyncThrottled, throttled}, {MetricSyncFailed, failed},
	}
}
