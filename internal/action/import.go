package action

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
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
	if i, j, dup := repeated(serials); dup {
		return bad("[%d].serialNumber repeats that of devices[%d].", i, j)
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
