package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/problem"
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
)

// logSummary writes the one line per invocation of SPEC §12, with its metrics in CloudWatch
// Embedded Metric Format on the same line: no extra call, CloudWatch extracts them from the log.
func (f *Function) logSummary(ctx context.Context, source string, a answer, started time.Time, coldStart bool) {
	took := time.Since(started)
	code := "ok"
	level := slog.LevelInfo
	attrs := make([]slog.Attr, 0, 24)
	attrs = append(attrs,
		slog.String("requestId", requestID(ctx)),
		slog.String("function", string(f.kind)),
		slog.String("source", source),
		slog.String("action", a.action),
		slog.Int("status", a.status),
		slog.Int64("durationMs", took.Milliseconds()),
		slog.Int64("vaultMs", a.vault.Milliseconds()),
		slog.Bool("coldStart", coldStart),
	)
	outcome := a.body
	if a.result != nil {
		outcome = a.result // a chat answer rendered it; the problem behind it is what counts
	}
	p, isProblem := outcome.(*problem.Problem)
	if isProblem {
		code = string(p.Code)
		if p.Status >= 500 {
			level = slog.LevelError
		}
		if p.Err != nil {
			attrs = append(attrs, slog.String("error", p.Err.Error()))
		}
	}
	attrs = append(attrs, slog.String("code", code))
	if a.graph.StatusCode != 0 {
		attrs = append(attrs,
			slog.Int("graphStatus", a.graph.StatusCode),
			slog.String("graphRequestId", a.graph.RequestID),
			slog.String("clientRequestId", a.graph.ClientRequestID),
			slog.Int64("graphMs", a.graph.Total.Milliseconds()))
	}

	metrics := []emfMetric{{MetricLatency, "Milliseconds"}, {MetricGraphLatency, "Milliseconds"}}
	attrs = append(attrs,
		slog.Float64(MetricLatency, float64(took.Microseconds())/1000),
		slog.Float64(MetricGraphLatency, float64(a.graph.Total.Microseconds())/1000))
	if counts, ok := syncCounts(a); ok {
		for _, c := range counts {
			metrics = append(metrics, emfMetric{c.name, "Count"})
			attrs = append(attrs, slog.Int(c.name, c.value))
		}
	}
	attrs = append(attrs, slog.Any("_aws", emf{
		Timestamp: started.UnixMilli(),
		CloudWatchMetrics: []emfDirective{{
			Namespace:  MetricsNamespace,
			Dimensions: [][]string{{"function"}},
			Metrics:    metrics,
		}},
	}))
	f.d.Log.LogAttrs(ctx, level, "invocation", attrs...)
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

type count struct {
	name  string
	value int
}

// syncCounts returns the sync outcome counters of a sync action (all four, so that sums and
// averages work): started, in progress (409), throttled (429), failed (any other failure, or a
// followed sync that Intune reports failed).
func syncCounts(a answer) ([]count, bool) {
	switch a.action {
	case "sync", "syncWait", "scheduledSync", "chatSync":
	default:
		return nil, false
	}
	started, inProgress, throttled, failed := 0, 0, 0, 0
	result := a.result
	if result == nil {
		result = a.body
	}
	switch body := result.(type) {
	case Started:
		started = 1
	case Outcome:
		started = 1
		if body.Result == ResultFailed {
			failed = 1
		}
	case Scheduled:
		switch body.Result {
		case ResultStarted:
			started = 1
		case ResultInProgress:
			inProgress = 1
		case ResultThrottled:
			throttled = 1
		}
	case *problem.Problem:
		switch body.Code {
		case problem.SyncInProgress:
			inProgress = 1
		case problem.SyncThrottled:
			throttled = 1
		default:
			failed = 1
		}
	}
	return []count{
		{MetricSyncStarted, started}, {MetricSyncInProgress, inProgress},
		{MetricSyncThrottled, throttled}, {MetricSyncFailed, failed},
	}, true
}
