package action

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

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
	case req.Tenant == "all":
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
	seen := map[string]int{}
	for i, s := range list {
		if !validSerial(s) {
			return bad("item %d is not a serial number: 1 to 64 letters, digits, '-', '_', '.' or spaces, with a letter or a digit.", i+1)
		}
		if j, dup := seen[strings.ToLower(s)]; dup {
			return bad("item %d repeats item %d.", i+1, j+1)
		}
		seen[strings.ToLower(s)] = i
	}
	return list, nil
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
	if words, ok := deviceWords.Get(req); ok {
		if _, single := a.d.Tenants.(Single); !single {
			tenantWord(req, words[0])
			words = words[1:]
		}
		if p := badTenant(req); p != nil {
			return failed(p)
		}
		list, p := checkSerials("device", words)
		if p != nil {
			return failed(p)
		}
		serials.Set(req, list)
	}
	list, _ := serials.Get(req)
	in, p := a.selectTenant(ctx, req)
	if p != nil {
		return failed(p)
	}
	out := Devices{Devices: make([]Readiness, len(list))}
	calls := make([]Request, len(list))
	var wg sync.WaitGroup
	for i, serial := range list {
		wg.Go(func() { out.Devices[i] = readiness(ctx, in, &calls[i], serial) })
	}
	wg.Wait()
	for i := range calls {
		if i == 0 {
			req.Calls.Graph = calls[0].Calls.Graph // the first serial's read identifies the action
		}
		req.Calls.merge(calls[i].Calls)
	}
	return out
}

// readiness reads one serial's device identities and says how ready it is.
func readiness(ctx context.Context, in Intune, req *Request, serial string) Readiness {
	var found []graph.DeviceIdentity
	err := call(ctx, in, req, true, func(c *graph.Client) (r *graph.Response, err error) {
		found, r, err = c.DevicesBySerial(ctx, serial)
		return r, err
	})
	if err != nil {
		p := problem.Of(err)
		return Readiness{SerialNumber: serial, State: StateError, Code: p.Code, Devices: []Device{}, err: p}
	}
	r := Readiness{SerialNumber: serial, State: StateNotRegistered, Devices: make([]Device, len(found))}
	for i, d := range found {
		r.Devices[i] = deviceOf(d)
		status := string(d.DeploymentProfileAssignmentStatus)
		switch {
		case r.State == StateAssigned:
		case strings.HasPrefix(status, "assigned"):
			r.State, r.Ready, r.shown = StateAssigned, true, i
		case r.State == StateFailed:
		case status == string(graph.ProfileFailed):
			r.State, r.shown = StateFailed, i
		default:
			r.State = StateRegistered
		}
	}
	return r
}

// The readiness states of a serial (SPEC §15).
const (
	StateNotRegistered = "notRegistered"
	StateRegistered    = "registered"
	StateAssigned      = "assigned"
	StateFailed        = "failed"
	StateError         = "error"
)

// Readiness is how ready one serial is: its state from its exact matches, and those devices.
type Readiness struct {
	SerialNumber string       `json:"serialNumber"`
	State        string       `json:"state"`
	Ready        bool         `json:"ready"`
	Code         problem.Code `json:"code,omitempty"` // the read's problem, for state error
	Devices      []Device     `json:"devices"`
	// err is the read's problem (state error); shown the device that decided the state.
	err   *problem.Problem
	shown int
}

// Device is one Windows Autopilot device identity in a readiness document.
type Device struct {
	ID                                        string     `json:"id"`
	GroupTag                                  string     `json:"groupTag"`
	Manufacturer                              string     `json:"manufacturer"`
	Model                                     string     `json:"model"`
	DeploymentProfileAssignmentStatus         string     `json:"deploymentProfileAssignmentStatus"`
	DeploymentProfileAssignmentDetailedStatus string     `json:"deploymentProfileAssignmentDetailedStatus"`
	DeploymentProfileAssignedDateTime         *time.Time `json:"deploymentProfileAssignedDateTime"`
	EnrollmentState                           string     `json:"enrollmentState"`
	LastContactedDateTime                     *time.Time `json:"lastContactedDateTime"`
}

func deviceOf(d graph.DeviceIdentity) Device {
	return Device{ID: d.ID, GroupTag: d.GroupTag, Manufacturer: d.Manufacturer, Model: d.Model,
		DeploymentProfileAssignmentStatus:         string(d.DeploymentProfileAssignmentStatus),
		DeploymentProfileAssignmentDetailedStatus: d.DeploymentProfileAssignmentDetailedStatus,
		DeploymentProfileAssignedDateTime:         setTime(d.DeploymentProfileAssignedDateTime),
		EnrollmentState:                           d.EnrollmentState, LastContactedDateTime: setTime(d.LastContactedDateTime)}
}

// setTime is t in UTC, or nil for Graph's zero time (0001-01-01, "never").
func setTime(t time.Time) *time.Time {
	if t.Year() <= 1 {
		return nil
	}
	t = t.UTC()
	return &t
}

// Devices is the answer of the device row: each serial's readiness, in the order asked.
type Devices struct {
	Devices []Readiness `json:"devices"`
}

// HTTP is 200 with every serial: a serial whose read failed says so in its own entry.
func (d Devices) HTTP() Answer { return jsonAnswer(http.StatusOK, d) }

// Lambda is the same document.
func (d Devices) Lambda() (json.RawMessage, error) { return lambdaResult(d) }

// Log writes code ok (or the first failed read's code), how many serials are ready, and the
// failed reads' causes.
func (d Devices) Log(l *Line) {
	l.Code = "ok"
	ready := 0
	for _, r := range d.Devices {
		if r.Ready {
			ready++
		}
		if r.err != nil {
			if l.Code == "ok" {
				l.Code = string(r.err.Code)
			}
			if r.err.Err != nil {
				l.Add(slog.String("error", r.err.Err.Error()))
			}
		}
	}
	l.Add(slog.Int("serials", len(d.Devices)), slog.Int("ready", ready))
}

// chatBudget bounds the characters of a chat answer's lines: a Slack message carries its text
// twice (text and the section block), and an answer stays under 2 KB (SPEC §7).
const chatBudget = 900

// Words say, per serial, whether the laptop can be handed out.
func (d Devices) Words(st chat.Style, now time.Time) chat.Words {
	ready := 0
	for _, r := range d.Devices {
		if r.Ready {
			ready++
		}
	}
	lines := []string{fmt.Sprintf("%d of %d ready.", ready, len(d.Devices))}
	size := len(lines[0])
	for i, r := range d.Devices {
		line := "• " + st.Code(st.Echo(r.SerialNumber)) + ": " + r.words(st, now)
		if size += len(line) + 2; size > chatBudget {
			lines = append(lines, "and "+strconv.Itoa(len(d.Devices)-i)+" more.")
			break
		}
		lines = append(lines, line)
	}
	return chat.Words{Paragraphs: lines}
}

// words say one serial's state in plain words.
func (r Readiness) words(st chat.Style, now time.Time) string {
	var about string
	if len(r.Devices) > 0 {
		d := r.Devices[r.shown]
		var parts []string
		for _, s := range []string{d.Manufacturer + " " + d.Model, groupTag(d.GroupTag)} {
			if s = strings.TrimSpace(s); s != "" {
				parts = append(parts, st.Echo(s))
			}
		}
		if len(parts) > 0 {
			about = " (" + strings.Join(parts, ", ") + ")"
		}
	}
	switch r.State {
	case StateAssigned:
		return "ready: deployment profile assigned" + about + "."
	case StateFailed:
		why := ""
		if s := r.Devices[r.shown].DeploymentProfileAssignmentDetailedStatus; s != "" && s != "none" {
			why = " (" + st.Echo(s) + ")"
		}
		return "not ready: the deployment profile could not be assigned" + why + about + "."
	case StateRegistered:
		return "registered in Windows Autopilot, deployment profile not assigned yet" + about + "."
	case StateNotRegistered:
		return "not registered in Windows Autopilot."
	}
	return "could not be read: " + strings.TrimSuffix(chat.ProblemWords(st, r.err, now).Paragraphs[0], ".") + "."
}

func groupTag(t string) string {
	if t == "" {
		return ""
	}
	return "group tag " + t
}
