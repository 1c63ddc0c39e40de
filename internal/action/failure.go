package action

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Failure is the result of an action that failed: its problem (SPEC §5), shown as the problem
// document to HTTP callers, in plain words to chat, as the Lambda error elsewhere.
type Failure struct {
	P *problem.Problem
	// allow goes with a 405.
	allow string
	// what the action attempted, for the chat words of a timeout and the sync metrics.
	attempt attempt
	// redeliver keeps a queued record (SQS delivers it again) whatever the code: a follow-up
	// whose configuration is broken must not lose the caller's report.
	redeliver bool
}

// attempt is what a failed action was doing.
type attempt int

const (
	attemptOther attempt = iota
	// attemptRead: reading the settings (status); a throttled read is Graph's, not Intune's rule.
	attemptRead
	// attemptSync: asking Graph for a sync; counts in the sync metrics as failed.
	attemptSync
)

// failed is the result of problem p.
func failed(p *problem.Problem) Failure { return Failure{P: p} }

// Fail is the result of a problem met before any action or around one (a refused caller, an
// event the function does not take).
func Fail(p *problem.Problem) Result { return failed(p) }

// HTTP is the problem document, with Retry-After for a 429 or 503 and Allow for a 405.
func (f Failure) HTTP() Answer {
	a := problemAnswer(f.P)
	a.Allow = f.allow
	return a
}

// Words says what the problem means, in plain words.
func (f Failure) Words(st chat.Style, now time.Time) chat.Words {
	switch {
	case f.P.Code == problem.UpstreamTimeout && f.attempt == attemptSync:
		return words("Microsoft Graph has not answered within " + st.Deadline() + "; the sync may or may not have started. Check with " + st.Code("status") + " in a minute.")
	case f.P.Code == problem.UpstreamTimeout:
		return words("Microsoft Graph has not answered within " + st.Deadline() + "; try " + st.Code("status") + " again in a minute.")
	case f.P.Code == problem.SyncThrottled && f.attempt == attemptRead:
		// Graph throttled a read: the 10-minute rule of manual syncs has nothing to do with it.
		return chat.Words{Paragraphs: []string{"Microsoft Graph is throttling requests right now; try " + st.Code("status") + " again in a minute."}, Note: chat.GraphNote(st, f.P.Graph)}
	}
	return chat.ProblemWords(st, f.P, now)
}

// Lambda is the error whose message says what to fix: Lambda's asynchronous retry and
// destinations then apply, and a queued record is delivered again when trying later may help.
func (f Failure) Lambda() (json.RawMessage, error) {
	p := f.P
	msg := p.Detail
	if (p.Code == problem.Misconfigured || p.Code == problem.CredentialRejected || p.Code == problem.QueueUnavailable) && p.Err != nil {
		// A Lambda error reaches only operators (IAM protects direct invocations): it names what
		// to fix (the variable, the secret, STS's advice, the queue's permission), never a
		// secret value.
		msg += " Cause: " + p.Err.Error()
	}
	if p.Tenant != "" {
		msg = "tenant " + Quote(p.Tenant) + ": " + msg
	}
	return nil, &InvocationError{Code: p.Code, Msg: msg, Retry: f.redeliver || p.Code.Transient()}
}

// Log writes the problem's code and cause; a 5xx is an error.
func (f Failure) Log(l *Line) {
	l.Code, l.Status = string(f.P.Code), f.P.Status
	if f.P.Status >= http.StatusInternalServerError {
		l.Level = slog.LevelError
	}
	if f.P.Err != nil {
		l.Add(slog.String("error", f.P.Err.Error()))
	}
	if f.attempt == attemptSync {
		syncCounts(l, 0, 0, 0, 1, 0)
	}
}

// words is one paragraph of plain words.
func words(paragraphs ...string) chat.Words { return chat.Words{Paragraphs: paragraphs} }
