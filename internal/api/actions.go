package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// Action is the name of an action, as SPEC §12 spells it in the log line, on success and failure
// alike. The set is closed: the rows of routes (and "" for a request refused before any action).
type Action string

// The actions of SPEC §12.
const (
	ActionOptions       Action = "options"
	ActionSync          Action = "sync"
	ActionSyncWait      Action = "syncWait"
	ActionScheduledSync Action = "scheduledSync"
	ActionFanOut        Action = "fanOut"
	ActionSQSMessage    Action = "sqsMessage"
	ActionStatus        Action = "status"
	ActionFleetStatus   Action = "fleetStatus"
	ActionUpdate        Action = "update"
	ActionChatSync      Action = "chatSync"
	ActionChatStatus    Action = "chatStatus"
	ActionChatHelp      Action = "chatHelp"
	ActionFollowUp      Action = "followUp"
	ActionDiagnose      Action = "diagnose"
)

// runsMisconfigured reports whether the action runs even when the configuration is broken
// (Deps.Err), where every other action answers misconfigured: a queue message of no known kind
// is dropped either way, and diagnose reports the broken configuration as its first check.
func (a Action) runsMisconfigured() bool { return a == ActionSQSMessage || a == ActionDiagnose }

// route is one row of the action table: the action, every way a source selects it, and its
// handler. Adding an action is a handler in a file of its own and one row here.
type route struct {
	action Action
	on     []trigger
	run    func(f *Function, ctx context.Context, req *request) Outcome
}

// routes is the action table. A request is served by the first row with a trigger that matches
// it at this function; none matching is a 405 (HTTP), a Lambda error naming what this function
// takes (direct invocations), or a dropped message (SQS).
var routes = []route{
	{ActionOptions, on(httpAt(both, http.MethodOptions)), (*Function).options},
	{ActionSync, on(httpAt(syncFn, http.MethodPost)), (*Function).syncNow},
	{ActionSyncWait, on(httpAt(syncFn, http.MethodPost).with(paramWait)), (*Function).syncWait},
	{ActionScheduledSync, on(scheduled(syncFn), direct(syncFn, "sync"), queued(syncFn, kindFleet)), (*Function).scheduledSync},
	{ActionFanOut, on(directAll(syncFn, "sync")), (*Function).fanOut},
	{ActionFollowUp, on(queued(syncFn, kindFollowUp)), (*Function).followUp},
	{ActionSQSMessage, on(queued(syncFn, kindUnknown)), (*Function).dropMessage},
	{ActionStatus, on(httpAt(statusFn, http.MethodGet), scheduled(statusFn), direct(both, "status")), (*Function).status},
	{ActionFleetStatus, on(httpAt(statusFn, http.MethodGet).with(paramAll), directAll(both, "status")), (*Function).fleetStatus},
	{ActionUpdate, on(httpAt(statusFn, http.MethodPatch)), (*Function).update},
	{ActionChatSync, on(chatWord(syncFn, "sync")), (*Function).chatSync},
	{ActionChatStatus, on(chatWord(both, "status")), (*Function).chatStatus},
	{ActionChatHelp, on(chatWord(both, "help"), chatWord(statusFn, "sync")), (*Function).chatHelp},
	{ActionDiagnose, on(direct(both, "diagnose")), (*Function).diagnose},
}

// fnSet is the set of functions a trigger applies to.
type fnSet uint8

const (
	syncFn fnSet = 1 << iota
	statusFn
	both = syncFn | statusFn
)

func (s fnSet) has(k Kind) bool {
	return k == KindSync && s&syncFn != 0 || k == KindStatus && s&statusFn != 0
}

// via is the kind of source a trigger listens to.
type via uint8

const (
	viaHTTP via = iota + 1
	viaChat
	viaSchedule
	viaDirect
	viaQueue
)

// param is what of an HTTP query selects an action.
type param uint8

const (
	paramNone param = iota
	paramWait       // ?wait=N with N > 0
	paramAll        // ?tenant=all
)

// Queue message kinds.
const (
	kindUnknown = ""      // a body that is no message of this product
	kindFleet   = "fleet" // {"tenant":"<name>"} (SPEC §11 fan-out)
)

// selector is what selects an action; a request's is compared with each trigger's.
type selector struct {
	via    via
	method string // viaHTTP
	param  param  // viaHTTP
	word   string // viaChat: the command word
	name   string // viaDirect: the "action"; viaQueue: the message kind
	all    bool   // viaDirect: "tenants":"all"
}

// trigger is one way to select an action, at the functions in fns.
type trigger struct {
	fns fnSet
	sel selector
}

func on(ts ...trigger) []trigger { return ts }

func httpAt(fns fnSet, method string) trigger {
	return trigger{fns, selector{via: viaHTTP, method: method}}
}

func (t trigger) with(p param) trigger { t.sel.param = p; return t }

func chatWord(fns fnSet, word string) trigger {
	return trigger{fns, selector{via: viaChat, word: word}}
}

func scheduled(fns fnSet) trigger { return trigger{fns, selector{via: viaSchedule}} }

func direct(fns fnSet, action string) trigger {
	return trigger{fns, selector{via: viaDirect, name: action}}
}

func directAll(fns fnSet, action string) trigger {
	return trigger{fns, selector{via: viaDirect, name: action, all: true}}
}

func queued(fns fnSet, kind string) trigger {
	return trigger{fns, selector{via: viaQueue, name: kind}}
}

// route returns the row that serves sel at this function.
func (f *Function) route(sel selector) (route, bool) {
	for _, r := range routes {
		for _, t := range r.on {
			if t.fns.has(f.kind) && t.sel == sel {
				return r, true
			}
		}
	}
	return route{}, false
}

// triggers lists the selectors of every row that this function serves over v, in table order.
func triggers(kind Kind, v via) []selector {
	var out []selector
	for _, r := range routes {
		for _, t := range r.on {
			if t.fns.has(kind) && t.sel.via == v {
				out = append(out, t.sel)
			}
		}
	}
	return out
}

// allowOf is the Allow header of a function: its HTTP methods, OPTIONS last.
func allowOf(kind Kind) string {
	var methods []string
	for _, s := range triggers(kind, viaHTTP) {
		if s.method != http.MethodOptions && !slices.Contains(methods, s.method) {
			methods = append(methods, s.method)
		}
	}
	return strings.Join(append(methods, http.MethodOptions), ", ")
}

// shapesOf names the invocations a function takes besides HTTP, for the Lambda error of an
// invocation of another shape.
func shapesOf(kind Kind) string {
	var directs, queues []string
	for _, s := range triggers(kind, viaDirect) {
		if s.name == string(ActionDiagnose) { // it takes no tenant: it checks them all
			directs = append(directs, `{"action":"diagnose"}`)
			continue
		}
		if s.all {
			directs = append(directs, `{"action":"`+s.name+`","tenants":"all"}`)
		} else {
			directs = append(directs, `{"action":"`+s.name+`","tenant":"<name>"}`)
		}
	}
	for _, s := range triggers(kind, viaQueue) {
		if s.name == kindFleet {
			queues = append(queues, `{"tenant":"<name>"}`)
		}
	}
	out := "an API Gateway HTTP API (payload 2.0), API Gateway REST API (payload 1.0) or Lambda Function URL event"
	if len(triggers(kind, viaSchedule)) > 0 {
		out += `, an EventBridge scheduled event (detail-type "Scheduled Event", source aws.events or aws.scheduler)`
	}
	out += ", or a direct invocation " + strings.Join(directs, " or ")
	if len(queues) > 0 {
		out += ", or an SQS batch of " + strings.Join(queues, " or ") + " messages"
	}
	return out
}
