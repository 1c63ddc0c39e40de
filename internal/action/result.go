package action

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/jsonenc"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Result is what an action did, typed. It knows how each source shows it: an HTTP answer, a chat
// message's words, a scheduled, direct or queued invocation's result (or the Lambda error), and
// its invocation line. The edge (package api) only picks the rendering its source needs.
type Result interface {
	// HTTP is the answer to an HTTP caller.
	HTTP() Answer
	// Words is the answer to a chat caller, marked up in st, at now.
	Words(st chat.Style, now time.Time) chat.Words
	// Lambda is the result of a scheduled, direct or queued invocation, encoded, or the Lambda
	// error (an *InvocationError, whose Retry says whether an SQS record is delivered again).
	Lambda() (json.RawMessage, error)
	// Log writes the result's code, level, fields and metrics into its invocation line.
	Log(l *Line)
}

// Answer is an HTTP answer.
type Answer struct {
	Status int
	// ContentType and Body: no body for 204 and Slack's SSL check.
	ContentType string
	Body        []byte
	// Allow answers OPTIONS and goes with a 405; RetryAfter (seconds) with every 429 and 503.
	Allow      string
	RetryAfter int
	// Err is why the answer could not be encoded (a time past year 9999): the edge answers 500
	// misconfigured, holding nothing of the cause, and logs it.
	Err error
}

// jsonAnswer encodes v as the JSON answer of status.
func jsonAnswer(status int, v any) Answer {
	body, err := jsonenc.Marshal(v)
	if err != nil {
		return Answer{Status: http.StatusInternalServerError, Err: err}
	}
	return Answer{Status: status, ContentType: "application/json; charset=utf-8", Body: body}
}

// problemAnswer encodes p as an application/problem+json answer.
func problemAnswer(p *problem.Problem) Answer {
	body, err := jsonenc.Marshal(p)
	if err != nil {
		return Answer{Status: http.StatusInternalServerError, Err: err}
	}
	return Answer{Status: p.Status, ContentType: "application/problem+json", Body: body, RetryAfter: p.RetryAfter()}
}

// ProblemAnswer is the answer of a problem met before any action (a refused caller, a request
// cmd/local does not route).
func ProblemAnswer(p *problem.Problem) Answer { return problemAnswer(p) }

// lambdaResult encodes v as a Lambda result.
func lambdaResult(v any) (json.RawMessage, error) {
	b, err := jsonenc.Marshal(v)
	if err != nil {
		return nil, &InvocationError{Code: problem.Misconfigured, Msg: "the result cannot be encoded: " + err.Error()}
	}
	return b, nil
}

// Line is an invocation's log line as its result fills it: code, level, the result's own fields
// and its metrics. The edge adds what every line has (SPEC §12).
type Line struct {
	Code  string
	Level slog.Level
	// Status is, for a source that gets no HTTP answer, the status of the problem the result
	// met; 0 leaves it to the Lambda error (or 200). An HTTP source logs its answer's status.
	Status  int
	Attrs   []slog.Attr
	Metrics []Metric
}

// Metric is one CloudWatch Embedded Metric Format figure on the line.
type Metric struct {
	Name, Unit string
	Value      slog.Value
}

// Add appends fields.
func (l *Line) Add(attrs ...slog.Attr) { l.Attrs = append(l.Attrs, attrs...) }

// Count adds a count metric (0 or 1 for the outcome counters, so sums and averages work).
func (l *Line) Count(name string, n int) {
	l.Metrics = append(l.Metrics, Metric{Name: name, Unit: "Count", Value: slog.IntValue(n)})
}

// InvocationError is a Lambda error: an invocation of a shape a function does not serve, or a
// scheduled, direct or queued run that failed. Code is the problem code; Lambda reports the type
// as errorType.
type InvocationError struct {
	Code problem.Code
	Msg  string
	// Retry marks a queued record that SQS should deliver again (batchItemFailures).
	Retry bool
}

func (e *InvocationError) Error() string {
	if e.Code == "" {
		return e.Msg
	}
	return string(e.Code) + ": " + e.Msg
}
