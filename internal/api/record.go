package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// MetricsNamespace is the CloudWatch namespace of the Embedded Metric Format figures.
const MetricsNamespace = "autopilot-sync"

// Metric names every invocation line carries.
const (
	MetricLatency      = "Latency"
	MetricGraphLatency = "GraphLatency"
)

// invocation is one invocation being served: an HTTP request, a scheduled or direct event, or
// one SQS record. Its end writes the one log line of SPEC §12, for every source alike.
type invocation struct {
	f         *Function
	started   time.Time
	coldStart bool
	source    autopilot.Source
}

func (f *Function) begin(source autopilot.Source) *invocation {
	return &invocation{f: f, started: time.Now(), coldStart: f.coldStart(), source: source}
}

// end writes the invocation line: the action, what the request's calls saw, the status the
// source answered with, the result's code, fields and metrics, and renderErr when the answer
// could not be encoded.
func (inv *invocation) end(ctx context.Context, name action.Name, res action.Result, req *action.Request, status int, renderErr error) {
	took := time.Since(inv.started)
	var line action.Line
	res.Log(&line)
	if line.Status != 0 && inv.source.NoHTTPAnswer() {
		status = line.Status
	}
	if renderErr != nil {
		line.Level, line.Code = slog.LevelError, string(problem.Misconfigured)
		line.Add(slog.String("error", "encode answer: "+renderErr.Error()))
	}
	calls := req.Calls
	attrs := make([]slog.Attr, 0, 16+len(line.Attrs)+len(line.Metrics))
	attrs = append(attrs,
		slog.String("requestId", requestID(ctx)),
		slog.String("function", string(inv.f.fn)),
		slog.String("source", string(inv.source)),
		slog.String("action", string(name)),
		slog.Int("status", status),
		slog.Int64("durationMs", took.Milliseconds()),
		slog.Int64("vaultMs", calls.VaultTime.Milliseconds()),
		slog.Bool("coldStart", inv.coldStart),
	)
	if req.TenantName != "" {
		attrs = append(attrs, slog.String("tenant", req.TenantName))
	}
	attrs = append(attrs, line.Attrs...)
	attrs = append(attrs, slog.String("code", line.Code))
	if g := calls.Graph; g.StatusCode != 0 {
		attrs = append(attrs,
			slog.Int("graphStatus", g.StatusCode),
			slog.String("graphRequestId", g.RequestID),
			slog.String("clientRequestId", g.ClientRequestID),
			slog.Int64("graphMs", calls.GraphTime.Milliseconds()))
	}
	metrics := []emfMetric{{MetricLatency, "Milliseconds"}, {MetricGraphLatency, "Milliseconds"}}
	attrs = append(attrs,
		slog.Float64(MetricLatency, float64(took.Microseconds())/1000),
		slog.Float64(MetricGraphLatency, float64(calls.GraphTime.Microseconds())/1000))
	for _, m := range line.Metrics {
		metrics = append(metrics, emfMetric{m.Name, m.Unit})
		attrs = append(attrs, slog.Attr{Key: m.Name, Value: m.Value})
	}
	attrs = append(attrs, slog.Any("_aws", emf{
		Timestamp: inv.started.UnixMilli(),
		CloudWatchMetrics: []emfDirective{{
			Namespace:  MetricsNamespace,
			Dimensions: [][]string{{"function"}},
			Metrics:    metrics,
		}},
	}))
	inv.f.d.Log.LogAttrs(ctx, line.Level, "invocation", attrs...)
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
