package action

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// SPEC §15, read now: is this laptop registered in Windows Autopilot, and does it have a
// deployment profile? GET /status?serial=<s>[,<s>…], chat `device <s> [<s>…]`, and
// {"action":"device","serials":[…]} answer the readiness of each serial, in the order asked.

// MaxSerials is the most serials one request names.
const MaxSerials = 20

// serials are the serial numbers a device trigger read, already checked (or the words of a chat
// command, which the handler splits once it knows whether a registry names a tenant first).
var (
	serials     = NewValue[[]string]()
	deviceWords = NewValue[[]string]()
)

// paramSerial is ?serial=<s>[,<s>…].
var paramSerial = Param{Name: "serial", Read: func(v []string, req *Request) *problem.Problem {
	switch {
	case v == nil:
		return nil
	case len(v) != 1:
		return problem.New(problem.BadRequest, "serial must be given once, as serial numbers separated by commas.")
	case req.Tenant == autopilot.AllTenants:
		return problem.New(problem.BadRequest, "serial names the devices of one tenant: it does not go with tenant=all.")
	}
	list, p := checkSerials("serial", strings.Split(v[0], ","))
	if p == nil {
		serials.Set(req, list)
	}
	return p
}}

// serialsField reads a direct invocation's "serials".
func serialsField(event json.RawMessage, req *Request) *problem.Problem {
	var ev struct {
		Serials []string `json:"serials"`
	}
	if err := json.Unmarshal(event, &ev); err != nil {
		return problem.New(problem.BadRequest, `"serials" must be a list of serial numbers: {"action":"device","serials":["5CG1234XYZ"]}.`)
	}
	list, p := checkSerials("serials", ev.Serials)
	if p == nil {
		serials.Set(req, list)
	}
	return p
}

// deviceArgs keeps the chat words after `device`: serials, the first a tenant with a registry.
var deviceArgs = Args{Usage: "[tenant] <serial> [<serial>…]", Read: func(req *Request, args []string) bool {
	if len(args) == 0 {
		return false
	}
	deviceWords.Set(req, args)
	return true
}}

// checkSerials checks a list of serials (SPEC §15): 1–MaxSerials of them, each 1–64 ASCII letters,
// digits, '-', '_', '.' and spaces with at least one letter or digit, none twice (ignoring case).
// Its problem is a 400 naming field; it never echoes a serial it refuses.
func checkSerials(field string, list []string) ([]string, *problem.Problem) {
	bad := func(format string, args ...any) ([]string, *problem.Problem) {
		return nil, problem.New(problem.BadRequest, field+" "+fmt.Sprintf(format, args...))
	}
	switch {
	case len(list) == 0:
		return bad("names no serial number.")
	case len(list) > MaxSerials:
		return bad("names %d serial numbers; at most %d at a time.", len(list), MaxSerials)
	}
	for i, s := range list {
		if !validSerial(s) {
			return bad("item %d is not a serial number: 1 to 64 letters, digits, '-', '_', '.' or spaces, with a letter or a digit.", i+1)
		}
	}
	if i, j, dup := repeated(list); dup {
		return bad("item %d repeats item %d.", i+1, j+1)
	}
	return list, nil
}

// repeated finds the first serial of list that repeats an earlier one, case ignored: its index i
// and the earlier one's j.
func repeated(list []string) (i, j int, ok bool) {
	seen := make(map[string]int, len(list))
	for i, s := range list {
		if j, dup := seen[strings.ToLower(s)]; dup {
			return i, j, true
		}
		seen[strings.ToLower(s)] = i
	}
	return 0, 0, false
}

func validSerial(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	alnum := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			alnum = true
		case c == '-', c == '_', c == '.', c == ' ':
		default:
			return false
		}
	}
	return alnum
}

// hasSerials selects the device row for GET /status?serial=….
func hasSerials(req *Request) bool { _, ok := serials.Get(req); return ok }

// readDevices serves the device row: the readiness of every serial asked, read concurrently.
func readDevices(a *Actions, ctx context.Context, req *Request) Result {
	if p := a.chatSerials(req, deviceWords, "device", false); p != nil {
		return failed(p)
	}
	list, _ := serials.Get(req)
	in, p := a.selectTenant(ctx, req)
	if p != nil {
		return failed(p)
	}
	rs, problems := readSerials(ctx, in, req, list)
	return Devices{Devices: rs, problems: problems}
}

// readSerials reads the readiness of every serial of list at once, one search per search term
// (serials of one term, as VMware's "VMware-56 4d …", share it): in list order, with the problems
// of the searches that failed (for the log line). The first serial's Graph answer identifies the
// action; every search adds its time.
func readSerials(ctx context.Context, in Intune, req *Request, list []string) ([]autopilot.Readiness, []*problem.Problem) {
	var terms []string
	groups := map[string][]string{}
	for _, serial := range list {
		t := strings.ToLower(graph.SearchTerm(serial)) // Graph's contains() ignores case
		if _, ok := groups[t]; !ok {
			terms = append(terms, t)
		}
		groups[t] = append(groups[t], serial)
	}
	read := make(map[string]autopilot.Readiness, len(list))
	errs := make([]*problem.Problem, len(terms))
	var mu sync.Mutex
	atOnce(req, len(terms), func(i int, call *Request) {
		rs, p := readiness(ctx, in, call, groups[terms[i]])
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			read[r.SerialNumber] = r
		}
		errs[i] = p
	})
	out := make([]autopilot.Readiness, len(list))
	for i, serial := range list {
		out[i] = read[serial]
	}
	var problems []*problem.Problem
	for _, p := range errs {
		if p != nil {
			problems = append(problems, p)
		}
	}
	return out, problems
}

// atOnce runs n calls at once, each recording its Graph and Key Vault calls in a Request of its
// own, then adds them to req's: the first call's Graph answer identifies the action when no
// Graph call did before.
func atOnce(req *Request, n int, run func(i int, call *Request)) {
	calls := make([]Request, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { run(i, &calls[i]) })
	}
	wg.Wait()
	for i := range calls {
		if i == 0 && req.Calls.Graph == (graph.Response{}) {
			req.Calls.Graph = calls[0].Calls.Graph
		}
		req.Calls.merge(calls[i].Calls)
	}
}

// readiness reads the device identities of serials, which share a search term, in one search,
// and says how ready each is; a failed search is each serial's error.
func readiness(ctx context.Context, in Intune, req *Request, serials []string) ([]autopilot.Readiness, *problem.Problem) {
	var found map[string][]graph.DeviceIdentity
	err := call(ctx, in, req, true, func(c *graph.Client) (r *graph.Response, err error) {
		found, r, err = c.DevicesBySerials(ctx, serials)
		return r, err
	})
	out := make([]autopilot.Readiness, len(serials))
	var p *problem.Problem
	if err != nil {
		p = problem.Of(err)
	}
	for i, serial := range serials {
		if p != nil {
			out[i] = autopilot.ReadinessError(serial, p.Code)
		} else {
			out[i] = autopilot.ReadinessOf(serial, found[serial])
		}
	}
	return out, p
}

// Devices is the answer of the device row: each serial's readiness, in the order asked.
type Devices struct {
	Devices []autopilot.Readiness `json:"devices"`
	// problems are the failed reads' problems, for the log line.
	problems []*problem.Problem
}

// HTTP is 200 with every serial: a serial whose read failed says so in its own entry.
func (d Devices) HTTP() Answer { return jsonAnswer(http.StatusOK, d) }

// Lambda is the same document.
func (d Devices) Lambda() (json.RawMessage, error) { return lambdaResult(d) }

// Log writes code ok (or the first failed read's code), how many serials are ready, and the
// failed reads' causes.
func (d Devices) Log(l *Line) {
	l.Code = "ok"
	for _, p := range d.problems {
		if l.Code == "ok" {
			l.Code = string(p.Code)
		}
		if p.Err != nil {
			l.Add(slog.String("error", p.Err.Error()))
		}
	}
	l.Add(slog.Int("serials", len(d.Devices)), slog.Int("ready", autopilot.Ready(d.Devices)))
}

// Words say, per serial, whether the laptop can be handed out.
func (d Devices) Words(st chat.Style, now time.Time) chat.Words {
	return chat.Words{Paragraphs: chat.DevicesLines(st, chat.ReadyOf(d.Devices)+".", d.Devices, now)}
}
