package action

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Name is the name of an action, as SPEC §12 spells it in the log line, on success and failure
// alike. The set is closed: the rows of Table (and "" for a request refused before any action).
type Name string

// Row is one action: its name, every way a source selects it, whether it runs when the
// configuration is broken, and its handler. Adding an action is a handler in a file of its own
// and one row in Table.
type Row struct {
	Name Name
	// ChatName, when set, is the action's name when a chat word selected it (chatStatus).
	ChatName Name
	On       []Trigger
	// RunsMisconfigured lets the action run when the configuration is broken (Deps.Err), where
	// every other action answers misconfigured.
	RunsMisconfigured bool
	// KeepsMessages keeps a queued record while the configuration is broken (SQS delivers it
	// again, then moves it to the dead-letter queue): fixing the configuration must not have
	// lost the caller's report.
	KeepsMessages bool
	Run           func(a *Actions, ctx context.Context, req *Request) Result
}

// Functions is the set of functions a trigger applies to.
type Functions uint8

// The function sets.
const (
	SyncFn Functions = 1 << iota
	StatusFn
	BothFns = SyncFn | StatusFn
)

// Has reports whether fn is in the set.
func (s Functions) Has(fn autopilot.Function) bool {
	return fn == autopilot.FunctionSync && s&SyncFn != 0 || fn == autopilot.FunctionStatus && s&StatusFn != 0
}

// Via is the kind of source a trigger listens to.
type Via uint8

// The kinds of source.
const (
	ViaHTTP Via = iota + 1
	ViaChat
	ViaSchedule
	ViaDirect
	ViaQueue
)

// Queue names the queue a record came from (its eventSourceARN).
type Queue string

// The queues the sync function consumes.
const (
	// QueueFleet is FLEET_QUEUE_URL: {"tenant":"<name>"} messages of a fan-out (SPEC §11).
	QueueFleet Queue = "fleet"
	// QueueFollowUp is FOLLOWUP_QUEUE_URL: the follow-up's own messages (SPEC §13).
	QueueFollowUp Queue = "followUp"
	// QueueOther is any other queue, or a fleet message that is not {"tenant":"<name>"}.
	QueueOther Queue = "other"
)

// Trigger is one way to select an action, at the functions in Fns.
type Trigger struct {
	Fns Functions
	Via Via
	// HTTP: the method, the query parameters the action reads, and, when set, the condition on
	// them that selects this row over a row of the same method without one (?wait=N, ?tenant=all).
	Method string
	Params []Param
	When   func(req *Request) bool
	// Chat: the command word, its arguments (usage, e.g. "[wait] [tenant]", and a reader that
	// fills the request and reports whether the words make sense), and the help text's lines.
	Word string
	Args Args
	Help []HelpLine
	// Direct: the "action" (and All for "tenants":"all"), and a reader of the invocation's other
	// fields (nil: it has none; for HTTP, of the fields of a JSON object body); Queue: the queue.
	Action string
	All    bool
	Fields func(event json.RawMessage, req *Request) *problem.Problem
	Queue  Queue
	// Example shows the event, for the Lambda error that names what a function takes.
	Example string
}

// Args are a chat word's arguments.
type Args struct {
	// Usage is how the help text shows them ("" for none).
	Usage string
	// Read fills the request from the words after the command word; false when they make no
	// sense (the answer is then the help text). nil takes no words.
	Read func(req *Request, args []string) bool
}

// HelpLine is one line of the chat help: a command as typed and what it does; Tenant, when set,
// is the command with a tenant word, for the help's line on choosing a tenant.
type HelpLine struct {
	Command, Does, Tenant string
}

// Selector is what selects a row: a request's is compared with each trigger's.
type Selector struct {
	Via Via
	// Method and Request (its query parameters read): HTTP.
	Method  string
	Request *Request
	// Word: chat. Action and All: direct. Queue: queue.
	Word   string
	Action string
	All    bool
	Queue  Queue
}

// Route returns the row that serves sel at function fn, and its trigger that matched: the first
// whose trigger matches, with the HTTP triggers that have a condition (When) tried before those
// without.
func Route(fn autopilot.Function, sel Selector) (*Row, Trigger, bool) {
	for _, conditional := range []bool{true, false} {
		for i := range Table {
			for _, t := range Table[i].On {
				if t.Fns.Has(fn) && t.matches(sel, conditional) {
					return &Table[i], t, true
				}
			}
		}
	}
	return nil, Trigger{}, false
}

// BodyFields returns the reader of the JSON body fields of fn's HTTP requests of method (its HTTP
// triggers' Fields, which a test holds equal), or nil: the edge reads them once, before Route,
// since a field may select the row (devices: the import).
func BodyFields(fn autopilot.Function, method string) func(json.RawMessage, *Request) *problem.Problem {
	for _, t := range Triggers(fn, ViaHTTP) {
		if t.Method == method && t.Fields != nil {
			return t.Fields
		}
	}
	return nil
}

// NameFor is the row's name for a trigger of kind v: ChatName for chat, when set.
func (r *Row) NameFor(v Via) Name {
	if v == ViaChat && r.ChatName != "" {
		return r.ChatName
	}
	return r.Name
}

func (t Trigger) matches(sel Selector, conditional bool) bool {
	if t.Via != sel.Via {
		return false
	}
	switch t.Via {
	case ViaHTTP:
		if t.Method != sel.Method || (t.When != nil) != conditional {
			return false
		}
		return t.When == nil || sel.Request != nil && t.When(sel.Request)
	case ViaChat:
		return conditional && t.Word == sel.Word
	case ViaSchedule:
		return conditional
	case ViaDirect:
		return conditional && t.Action == sel.Action && t.All == sel.All
	case ViaQueue:
		return conditional && t.Queue == sel.Queue
	}
	return false
}

// Triggers lists the triggers of every row that fn serves over v, in table order.
func Triggers(fn autopilot.Function, v Via) []Trigger {
	var out []Trigger
	for _, r := range Table {
		for _, t := range r.On {
			if t.Fns.Has(fn) && t.Via == v {
				out = append(out, t)
			}
		}
	}
	return out
}

// Methods returns fn's HTTP methods in table order.
func Methods(fn autopilot.Function) []string {
	var methods []string
	for _, t := range Triggers(fn, ViaHTTP) {
		if !slices.Contains(methods, t.Method) {
			methods = append(methods, t.Method)
		}
	}
	return methods
}

// Allow is fn's Allow header: its HTTP methods, OPTIONS last.
func Allow(fn autopilot.Function) string {
	var methods []string
	for _, m := range Methods(fn) {
		if m != http.MethodOptions {
			methods = append(methods, m)
		}
	}
	return strings.Join(append(methods, http.MethodOptions), ", ")
}

// Params returns the query parameters fn's triggers of method read, each once, in table order.
func Params(fn autopilot.Function, method string) []Param {
	var out []Param
	for _, t := range Triggers(fn, ViaHTTP) {
		if t.Method != method {
			continue
		}
		for _, p := range t.Params {
			if !slices.ContainsFunc(out, func(q Param) bool { return q.Name == p.Name }) {
				out = append(out, p)
			}
		}
	}
	return out
}

// Takes names the invocations fn takes besides HTTP, for the Lambda error of an invocation of
// another shape: the examples of its schedule, direct and queue triggers.
func Takes(fn autopilot.Function) string {
	var directs, queues []string
	for _, t := range Triggers(fn, ViaDirect) {
		directs = append(directs, t.Example)
	}
	for _, t := range Triggers(fn, ViaQueue) {
		if t.Example != "" {
			queues = append(queues, t.Example)
		}
	}
	out := "an API Gateway HTTP API (payload 2.0), API Gateway REST API (payload 1.0) or Lambda Function URL event"
	if len(Triggers(fn, ViaSchedule)) > 0 {
		out += `, an EventBridge scheduled event (detail-type "Scheduled Event", source aws.events or aws.scheduler)`
	}
	out += ", or a direct invocation " + strings.Join(directs, " or ")
	if len(queues) > 0 {
		out += ", or an SQS batch of " + strings.Join(queues, " or ") + " messages"
	}
	return out
}
