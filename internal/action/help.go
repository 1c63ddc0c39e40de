package action

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// chatHelp answers `help`, anything not understood, Slack's SSL check, and `sync` at the status
// function (which holds read rights only) with a pointer to the sync command.
func chatHelp(a *Actions, _ context.Context, req *Request) Result {
	switch {
	case req.SSLCheck:
		return Help{sslCheck: true}
	case req.Chat.Word == "sync" && a.fn == autopilot.FunctionStatus:
		return Help{syncNotHere: true}
	}
	return Help{}
}

// Help is the chat help text: every command of the action table, in table order.
type Help struct {
	// syncNotHere points to the sync command instead; sslCheck answers Slack's check of the
	// command's URL with an empty 200.
	syncNotHere, sslCheck bool
}

// HTTP is an empty 200 (help is chat's; an HTTP caller never gets it but as Slack's SSL check).
func (h Help) HTTP() Answer { return Answer{Status: http.StatusOK} }

// Lambda is not reached (help is chat's).
func (h Help) Lambda() (json.RawMessage, error) { return lambdaResult(nil) }

// Log writes code ok.
func (h Help) Log(l *Line) { l.Code = "ok" }

// Words list the commands (none for Slack's SSL check: the answer is empty).
func (h Help) Words(st chat.Style, _ time.Time) chat.Words {
	switch {
	case h.sslCheck:
		return chat.Words{}
	case h.syncNotHere:
		return words("This command only reads status. Use the sync command (e.g. " + st.SyncExample() + ") to start a sync.")
	}
	lines := []string{"Commands:"}
	var seen, tenants []string
	for _, r := range Table {
		for _, t := range r.On {
			for _, l := range t.Help {
				if slices.Contains(seen, l.Command) {
					continue
				}
				seen = append(seen, l.Command)
				lines = append(lines, "• "+st.Code(l.Command)+": "+l.Does)
				if l.Tenant != "" {
					tenants = append(tenants, st.Code(l.Tenant))
				}
			}
		}
	}
	if len(tenants) > 0 {
		lines = append(lines, "Add a tenant name to choose a tenant: "+strings.Join(tenants, ", ")+".")
	}
	return chat.Words{Paragraphs: lines}
}

// options answers OPTIONS with the function's methods.
func options(a *Actions, _ context.Context, _ *Request) Result { return Options{allow: a.allow} }

// Options is the answer to OPTIONS: 204 with Allow.
type Options struct{ allow string }

// HTTP is 204 with Allow.
func (o Options) HTTP() Answer { return Answer{Status: http.StatusNoContent, Allow: o.allow} }

// Lambda is not reached (OPTIONS is HTTP's).
func (o Options) Lambda() (json.RawMessage, error) { return lambdaResult(nil) }

// Log writes code ok.
func (o Options) Log(l *Line) { l.Code = "ok" }

// Words name the methods.
func (o Options) Words(chat.Style, time.Time) chat.Words { return words("Methods: " + o.allow + ".") }

// MethodNotAllowed is the 405 of a method fn does not serve, with its Allow header.
func MethodNotAllowed(fn autopilot.Function, method string) Result {
	allow := Allow(fn)
	return Failure{P: problem.New(problem.MethodNotAllowed, method+" is not supported here; use "+allow+"."), allow: allow}
}

// dropMessage answers a queue record of no queue this function reads, or a fleet message that is
// not {"tenant":"<name>"}: logged and dropped, never retried.
func dropMessage(_ *Actions, _ context.Context, req *Request) Result {
	p := problem.New(problem.BadRequest, "An SQS message is not {\"tenant\":\"<name>\"} from the fleet queue, nor a follow-up message from the follow-up queue.")
	p.Err = &messageError{id: req.MessageID}
	return failed(p)
}

type messageError struct{ id string }

func (e *messageError) Error() string {
	return "message " + e.id + " dropped: its queue is not one this function reads, or its body is not {\"tenant\":\"<name>\"}"
}
