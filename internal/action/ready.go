package action

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// SPEC §15, follow to ready: POST /sync with "serials" and chat `sync <serial>…` start (or
// defer) the sync, and its follow-up goes on after the sync has ended, reading the serials'
// readiness until every one is assigned or failed or DEVICE_MAX_AGE has passed; then it tells
// every target once (followup.DecideDevices, checkDevices).

// syncWords are the words of a chat `sync` after "wait": a tenant first with a registry, then
// serials; the handler splits them once it knows.
var syncWords = NewValue[[]string]()

// syncFields reads the "serials" (SPEC §15) and "devices" (§17, import.go) of a POST /sync JSON
// body. A body that is not a JSON object is acted on as before; "serials" that is not a list of
// strings, or breaks §15's rules, is a 400, and so are both in one body. Their names match as
// callbackUrl's do (encoding/json's rule: "Devices" is "devices"), so that no spelling of them
// is a plain sync.
func syncFields(body json.RawMessage, req *Request) *problem.Problem {
	var fields struct {
		Serials json.RawMessage `json:"serials"`
		Devices json.RawMessage `json:"devices"`
	}
	if json.Unmarshal(body, &fields) != nil { // not JSON, or not an object
		return nil
	}
	raw, ok := fields.Serials, fields.Serials != nil
	rawDevices, hasDevices := fields.Devices, fields.Devices != nil
	switch {
	case ok && hasDevices:
		return problem.New(problem.BadRequest, "serials and devices do not go together: the devices imported are followed to ready by their own serials.")
	case hasDevices:
		devices, p := readImportDevices(rawDevices)
		if p == nil {
			importDevices.Set(req, devices)
		}
		return p
	case !ok:
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil || list == nil {
		return problem.New(problem.BadRequest, `serials must be a list of serial numbers: {"serials":["5CG1234XYZ"]}.`)
	}
	list, p := checkSerials("serials", list)
	if p == nil {
		serials.Set(req, list)
	}
	return p
}

// syncArgsWords reads "sync [wait] [tenant] [serial…]": "wait" as the first or second word, the
// other words kept for the handler.
func syncArgsWords(req *Request, args []string) bool {
	var rest []string
	for i, w := range args {
		if strings.EqualFold(w, "wait") && !req.ChatWait && i < 2 {
			req.ChatWait = true
			continue
		}
		rest = append(rest, w)
	}
	if len(rest) > 0 {
		syncWords.Set(req, rest)
	}
	return true
}

// chatSyncWords splits the words of a chat `sync` (chatSerials): serials are optional.
func (a *Actions) chatSyncWords(req *Request) *problem.Problem {
	return a.chatSerials(req, syncWords, "sync", true)
}

// chatSerials splits the chat words v holds: with a registry the first names the tenant
// and the rest are serials; without one every word is a serial (SPEC §15), checked under field's
// name. With optional, a command without serials asks for none; else it is refused.
func (a *Actions) chatSerials(req *Request, v Value[[]string], field string, optional bool) *problem.Problem {
	words, ok := v.Get(req)
	if !ok {
		return nil
	}
	if _, single := a.d.Tenants.(Single); !single {
		tenantWord(req, words[0])
		words = words[1:]
	}
	if p := badTenant(req); p != nil || optional && len(words) == 0 {
		return p
	}
	list, p := checkSerials(field, words)
	if p == nil {
		serials.Set(req, list)
	}
	return p
}

// readyProblem refuses, before any Graph call, a request with serials that cannot be followed:
// no follow-up queue, or ?defer=false (a request with serials always defers).
func (a *Actions) readyProblem(req *Request) *problem.Problem {
	if _, ok := serials.Get(req); !ok {
		return nil
	}
	switch {
	case a.d.FollowUp == nil:
		return problem.New(problem.BadRequest, "serials are not accepted here: their devices are followed through the follow-up queue, and this deployment has none (FOLLOWUP_QUEUE_URL).")
	case req.Query.Defer != nil && !*req.Query.Defer:
		return problem.New(problem.BadRequest, "defer=false does not go with serials: a request with serials waits for the next sync when Intune refuses one.")
	}
	return nil
}

// readyNote is what a chat answer says of a request with serials: how many devices are followed
// and for how long at most.
type readyNote struct {
	devices int
	maxAge  time.Duration
}

// note is the request's readyNote, or nil without serials.
func (a *Actions) readyNote(req *Request) *readyNote {
	list, ok := serials.Get(req)
	if !ok || a.d.FollowUp == nil {
		return nil
	}
	return &readyNote{devices: len(list), maxAge: a.d.FollowUp.Schedule.DeviceMaxAge}
}

// words say when the caller hears of the devices.
func (n *readyNote) words() string {
	what := "the device is ready"
	if n.devices > 1 {
		what = "the " + plural(n.devices, "device") + " are ready"
	}
	return " I will post here when " + what + ", or after " + chat.Took(n.maxAge) + " at the latest."
}

// withSerials is m following the request's serials, if any.
func withSerials(m followup.Message, req *Request) followup.Message {
	if list, ok := serials.Get(req); ok {
		m.Serials = list
	}
	return m
}

// checkDevices serves one device check (SPEC §15): the readiness of the serials not final yet,
// read at once, decided, reported when every serial is final or the time ran out.
func (a *Actions) checkDevices(ctx context.Context, req *Request, m followup.Message, now time.Time) Result {
	var reading followup.DeviceReading
	var readProblem *problem.Problem
	in, p := a.selectTenant(ctx, req)
	if p != nil {
		reading.Code, readProblem = p.Code, p
	} else {
		var problems []*problem.Problem
		reading.Readiness, problems = readSerials(ctx, in, req, m.Pending())
		if len(problems) > 0 {
			readProblem = problems[0]
		}
	}
	plan := followup.DecideDevices(m, reading, now, a.d.FollowUp.Schedule)
	res := FollowUpResult{ID: m.ID, Result: autopilot.Pending, DeviceCheck: true}
	if readProblem != nil && (plan.Retry || plan.Outcome != nil && plan.Outcome.Result == autopilot.Error) {
		res.Problem = readProblem
	}
	return a.carryOut(ctx, plan, res)
}
