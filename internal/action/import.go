package action

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// SPEC §17: POST /sync with "devices" imports their hardware hashes, then syncs (deferred and
// merged, §16) and follows the devices to ready (§15), all reported once at the end. The request
// is answered right after Graph accepted the import (202 importing); its follow-up's import
// checks (checkImports) read each imported record until its import has ended, delete it, and then
// hand the request to the deferral and the device checks.

// importDevices are the devices a POST /sync body asks to import, checked.
var importDevices = NewValue[[]graph.ImportedDevice]()

// importing selects the import row: the body named devices.
func importing(req *Request) bool { _, ok := importDevices.Get(req); return ok }

// deviceField is one device of "devices", as the body gives it.
type deviceField struct {
	SerialNumber string `json:"serialNumber"`
	HardwareHash string `json:"hardwareHash"`
	GroupTag     string `json:"groupTag"`
	AssignedUser string `json:"assignedUser"`
}

// readImportDevices checks "devices" (SPEC §17): 1-10 objects of known fields; each a serial of
// §15 (none twice), a base64 hash (padded or not) of 1 byte to 8 KiB, a groupTag of at most 128
// printable characters, an assignedUser shaped as a UPN. Each problem is a 400 naming the field;
// none echoes what it refuses.
func readImportDevices(raw json.RawMessage) ([]graph.ImportedDevice, *problem.Problem) {
	bad := func(format string, args ...any) ([]graph.ImportedDevice, *problem.Problem) {
		return nil, problem.New(problem.BadRequest, "devices"+fmt.Sprintf(format, args...))
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil || items == nil {
		return bad(` must be a list of devices: {"devices":[{"serialNumber":"5CG1234XYZ","hardwareHash":"<base64>"}]}.`)
	}
	if len(items) == 0 || len(items) > followup.MaxImports {
		return bad(" must name 1 to %d devices; it names %d.", followup.MaxImports, len(items))
	}
	out := make([]graph.ImportedDevice, len(items))
	serials := make([]string, len(items))
	for i, item := range items {
		var f deviceField
		dec := json.NewDecoder(bytes.NewReader(item))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return bad("[%d] must be an object of serialNumber, hardwareHash, groupTag and assignedUser, each a string.", i)
		}
		hash, ok := decodeHash(f.HardwareHash)
		switch {
		case !validSerial(f.SerialNumber):
			return bad("[%d].serialNumber is not a serial number: 1 to 64 letters, digits, '-', '_', '.' or spaces, with a letter or a digit.", i)
		case !ok:
			return bad("[%d].hardwareHash must be the base64 hardware hash (padded or not) of 1 byte to 8 KiB, as Get-WindowsAutopilotInfo writes it.", i)
		case utf8.RuneCountInString(f.GroupTag) > 128 || !printableText(f.GroupTag):
			return bad("[%d].groupTag must be at most 128 printable characters.", i)
		case f.AssignedUser != "" && !validUPN(f.AssignedUser):
			return bad("[%d].assignedUser must be a user principal name, name@domain.", i)
		}
		serials[i] = f.SerialNumber
		out[i] = graph.ImportedDevice{SerialNumber: f.SerialNumber, HardwareIdentifier: hash, GroupTag: f.GroupTag, AssignedUserPrincipalName: f.AssignedUser}
	}
	if _, p := checkSerials("devices", serials); p != nil {
		return nil, p
	}
	return out, nil
}

// decodeHash decodes a base64 hardware hash, padded or not, of 1 byte to MaxHashBytes.
func decodeHash(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	enc := base64.StdEncoding
	if !strings.HasSuffix(s, "=") {
		enc = base64.RawStdEncoding
	}
	if s == "" || len(s) > base64.StdEncoding.EncodedLen(followup.MaxHashBytes) {
		return nil, false
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil || len(b) == 0 || len(b) > followup.MaxHashBytes {
		return nil, false
	}
	return b, true
}

// validUPN reports whether s is shaped as a user principal name: name@domain, at most 113
// characters (Entra's limit), no space or control character, the domain with a dot.
func validUPN(s string) bool {
	name, domain, ok := strings.Cut(s, "@")
	return ok && len(s) <= 113 && name != "" && strings.Contains(domain, ".") && !strings.ContainsAny(domain, "@") &&
		!strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".") && strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

// printableText reports whether s is valid UTF-8 without control characters.
func printableText(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// importProblem refuses, before any Graph call, an import that cannot be followed: no follow-up
// queue, ?defer=false or ?wait (the sync comes after the import).
func (a *Actions) importProblem(req *Request) *problem.Problem {
	switch {
	case a.d.FollowUp == nil:
		return problem.New(problem.BadRequest, "devices are not accepted here: their import is followed through the follow-up queue, and this deployment has none (FOLLOWUP_QUEUE_URL).")
	case req.Query.Defer != nil && !*req.Query.Defer:
		return problem.New(problem.BadRequest, "defer=false does not go with devices: the sync after their import waits for the next one Intune allows.")
	case req.Query.Wait > 0:
		return problem.New(problem.BadRequest, "wait does not go with devices: the sync starts once their import has ended; the callback tells the end.")
	}
	return nil
}

// importHTTP serves POST /sync with "devices": the import, answered 202 importing right after
// Graph's 200, and its follow-up. A Graph failure of the import (never retried) is answered as
// SPEC §5 says, and nothing is followed.
func importHTTP(a *Actions, ctx context.Context, req *Request) Result {
	if p := a.importProblem(req); p != nil {
		return failed(p)
	}
	callback, p := a.callbackTarget(ctx, req.CallbackURL)
	if p != nil {
		return failed(p)
	}
	in, p := a.selectTenant(ctx, req)
	if p != nil {
		return failed(p)
	}
	devices, _ := importDevices.Get(req)
	now := a.d.Now().UTC()
	var records []graph.ImportedDevice
	err := call(ctx, in, req, true, func(c *graph.Client) (r *graph.Response, err error) {
		records, r, err = c.Import(ctx, devices)
		return r, err
	})
	if err != nil {
		return failed(about(req, problem.Of(err)))
	}
	m := followup.New(followup.NewID(), req.TenantName, now.Truncate(time.Second), followup.Targets{Callback: callback})
	m.Import = &followup.Imports{}
	res := Imported{RequestedAt: m.RequestedAt}
	for _, d := range devices {
		id := idOf(records, d.SerialNumber)
		m.Serials = append(m.Serials, d.SerialNumber)
		m.Import.Records = append(m.Import.Records, followup.ImportRecord{SerialNumber: d.SerialNumber, ID: id,
			HardwareHash: d.HardwareIdentifier, GroupTag: d.GroupTag, AssignedUser: d.AssignedUserPrincipalName})
		res.Devices = append(res.Devices, ImportedRef{SerialNumber: d.SerialNumber, ImportID: id})
	}
	fu := a.d.FollowUp
	body, err := m.Encode()
	if err == nil {
		err = fu.Queue.Send(ctx, body, fu.Schedule.FirstDelay())
	}
	if err != nil {
		// Nothing would read or delete the records: delete them now, as well as can be done.
		a.deleteRecords(ctx, in, req, m.Running())
		p := problem.New(problem.QueueUnavailable, "The import could not be followed (its check was not queued) and was undone; try again later.")
		p.Err = err
		return failed(about(req, p))
	}
	res.FollowUp = &FollowUpRef{ID: m.ID, Targets: append([]followup.Target{}, m.Targets.List()...)}
	return res
}

// idOf is the id of the record Graph gave serial's device ("" when it listed none).
func idOf(records []graph.ImportedDevice, serial string) string {
	for _, r := range records {
		if strings.EqualFold(r.SerialNumber, serial) {
			return r.ID
		}
	}
	return ""
}

// Imported is the answer to an import that Graph accepted: 202 importing.
type Imported struct {
	RequestedAt time.Time     `json:"requestedAt"`
	Devices     []ImportedRef `json:"devices"`
	FollowUp    *FollowUpRef  `json:"followUp"`
}

// ImportedRef is one device of an import and the id of its imported record.
type ImportedRef struct {
	SerialNumber string `json:"serialNumber"`
	ImportID     string `json:"importId"`
}

type importedDoc struct {
	Result autopilot.Result `json:"result"`
	Imported
}

// HTTP is 202 {"result":"importing",…}.
func (i Imported) HTTP() Answer {
	return jsonAnswer(http.StatusAccepted, importedDoc{Result: autopilot.Importing, Imported: i})
}

// Lambda is the same document (not reached: only HTTP imports).
func (i Imported) Lambda() (json.RawMessage, error) {
	return lambdaResult(importedDoc{Result: autopilot.Importing, Imported: i})
}

// Words are not reached (chat never imports); they say what was imported.
func (i Imported) Words(chat.Style, time.Time) chat.Words {
	return words("Importing " + plural(len(i.Devices), "device") + ".")
}

// Log writes code importing and the follow-up's id.
func (i Imported) Log(l *Line) {
	l.Code = string(autopilot.Importing)
	l.Add(slog.Int("devices", len(i.Devices)), slog.String("followUpId", i.FollowUp.ID))
}

// checkImports serves one import check: it reads every running import at once, deletes the
// records whose import ended, imports a StorageError's device once more, and once every import
// has ended hands the request to the sync (a deferral) or, when none registered, reports.
func (a *Actions) checkImports(ctx context.Context, req *Request, m followup.Message, now time.Time) Result {
	s := a.d.FollowUp.Schedule
	res := FollowUpResult{ID: m.ID, Result: autopilot.Importing, ImportCheck: true}
	in, p := a.selectTenant(ctx, req)
	if p != nil {
		res.Problem = p
		if p.Code.Transient() {
			return res
		}
		return a.carryOut(ctx, followup.ReportImportError(m, p.Code, now), res)
	}
	if m.Import.Ended {
		return a.toSync(ctx, in, req, m, now, res)
	}
	reading, problems := a.readImports(ctx, in, req, m.Running())
	step := followup.DecideImports(m, reading, now, s)
	switch {
	case step.Retry:
		res.Problem = firstProblem(problems)
		return res
	case step.Code != "":
		res.Problem = firstProblem(problems)
		return a.carryOut(ctx, followup.ReportImportError(m, step.Code, now), res)
	}
	deleted := a.deleteRecords(ctx, in, req, step.Delete)
	reimported := a.reimport(ctx, in, req, step.Reimport)
	out := step.Settle(deleted, reimported, s)
	res.Imported, res.ImportFailed = out.Registered, out.Failed
	if missed := len(step.Delete) - len(deleted); missed > 0 {
		res.NotDeleted = missed
	}
	if out.Ended {
		return a.toSync(ctx, in, req, out.Next, now, res)
	}
	return a.sendNext(ctx, out.Next, out.Delay, res)
}

// toSync goes on with a request whose imports have all ended: when no device registered, the
// report; else a wait for a sync triggered after the settings' last trigger, read now (a
// deferral, SPEC §16). A read that fails for now sends the message again, its imports ended,
// for a check that only reads the settings: records already deleted are never read again.
func (a *Actions) toSync(ctx context.Context, in Intune, req *Request, m followup.Message, now time.Time, res FollowUpResult) Result {
	if !m.Registered() {
		return a.carryOut(ctx, followup.ReportImports(m, now), res)
	}
	settings, err := getSettings(ctx, in, req, false)
	if err != nil {
		res.Problem = problem.Of(err)
		if !res.Problem.Code.Transient() {
			return a.carryOut(ctx, followup.ReportImportError(m, res.Problem.Code, now), res)
		}
		return a.sendNext(ctx, m, followup.RecheckAfter, res)
	}
	res.Result = autopilot.Imported
	return a.sendNext(ctx, followup.ToSync(m, settings.LastManualSyncTriggerDateTime.UTC()), time.Second, res)
}

// sendNext sends m after delay; a message that cannot be sent has the record delivered again.
func (a *Actions) sendNext(ctx context.Context, m followup.Message, delay time.Duration, res FollowUpResult) Result {
	body, err := m.Encode()
	if err == nil {
		err = a.d.FollowUp.Queue.Send(ctx, body, delay)
	}
	if err != nil {
		p := problem.New(problem.QueueUnavailable, "The next follow-up message could not be sent; the record will be delivered again.")
		p.Err = err
		res.Problem = p
	}
	return res
}

// readImports reads each record of ids at once.
func (a *Actions) readImports(ctx context.Context, in Intune, req *Request, ids []string) (followup.ImportReading, []*problem.Problem) {
	out := make(followup.ImportReading, len(ids))
	var mu sync.Mutex
	var problems []*problem.Problem
	each(ctx, in, req, ids, func(c *graph.Client, id string) (*graph.Response, error) {
		d, r, err := c.GetImported(ctx, id)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			out[id] = followup.RecordReading{State: d.State}
		case isNotFound(err):
			out[id] = followup.RecordReading{Gone: true}
		default:
			p := problem.Of(err)
			out[id] = followup.RecordReading{Code: p.Code}
			problems = append(problems, p)
		}
		return r, err
	})
	return out, problems
}

// deleteRecords deletes the records of ids at once and returns those now gone (deleted, or gone
// already: a duplicate delivery deleted them).
func (a *Actions) deleteRecords(ctx context.Context, in Intune, req *Request, ids []string) []string {
	var mu sync.Mutex
	var gone []string
	each(ctx, in, req, ids, func(c *graph.Client, id string) (*graph.Response, error) {
		r, err := c.DeleteImported(ctx, id)
		if err == nil || isNotFound(err) {
			mu.Lock()
			gone = append(gone, id)
			mu.Unlock()
		}
		return r, err
	})
	return gone
}

// reimport imports the devices of a StorageError once more (one Graph call, never retried) and
// maps each serial to its new record id ("" when that import failed).
func (a *Actions) reimport(ctx context.Context, in Intune, req *Request, recs []followup.ImportRecord) map[string]string {
	if len(recs) == 0 {
		return nil
	}
	devices := make([]graph.ImportedDevice, len(recs))
	for i, r := range recs {
		devices[i] = graph.ImportedDevice{SerialNumber: r.SerialNumber, HardwareIdentifier: r.HardwareHash, GroupTag: r.GroupTag, AssignedUserPrincipalName: r.AssignedUser}
	}
	var records []graph.ImportedDevice
	err := call(ctx, in, req, false, func(c *graph.Client) (r *graph.Response, err error) {
		records, r, err = c.Import(ctx, devices)
		return r, err
	})
	out := make(map[string]string, len(recs))
	for _, d := range devices {
		if err == nil {
			out[d.SerialNumber] = idOf(records, d.SerialNumber)
		} else {
			out[d.SerialNumber] = ""
		}
	}
	return out
}

// each runs fn for every id at once, each call's times added to req's.
func each(ctx context.Context, in Intune, req *Request, ids []string, fn func(*graph.Client, string) (*graph.Response, error)) {
	calls := make([]Request, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			_ = call(ctx, in, &calls[i], false, func(c *graph.Client) (*graph.Response, error) { return fn(c, id) })
		})
	}
	wg.Wait()
	for i := range calls {
		if i == 0 && req.Calls.Graph == (graph.Response{}) {
			req.Calls.Graph = calls[0].Calls.Graph
		}
		req.Calls.merge(calls[i].Calls)
	}
}

// isNotFound reports whether err is Graph's 404.
func isNotFound(err error) bool {
	var ge *graph.Error
	return errors.As(err, &ge) && ge.StatusCode == http.StatusNotFound
}

func firstProblem(ps []*problem.Problem) *problem.Problem {
	if len(ps) == 0 {
		return nil
	}
	return ps[0]
}
