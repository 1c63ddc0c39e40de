package notify

import (
	"strconv"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/jsonenc"
)

// SPEC §15: the report of a request with serials, and Slack's 29-minute notice of one.

// devicesText is the plain-words report of n, a request with serials, at now: how many of its
// devices are ready and each serial's state, within chat.Budget.
func devicesText(st chat.Style, n followup.Notice, now time.Time) string {
	o := n.Outcome
	var head string
	switch {
	case o == nil:
		rs := n.Devices
		if rs == nil {
			head = "The sync has not finished after " + chat.Took(now.Sub(n.RequestedAt)) + "; no device was checked yet."
		} else {
			head = "After " + chat.Took(now.Sub(n.RequestedAt)) + ", " + chat.ReadyOf(rs) + "."
		}
		return join(chat.DevicesLines(st, head+" Check later with "+deviceCommand(st, n)+".", rs, now))
	case o.Result == autopilot.DevicesReady:
		head = "Ready to hand out" + syncNote(o) + "."
		if len(o.Devices) > 1 {
			head = "All " + strconv.Itoa(len(o.Devices)) + " devices are ready to hand out" + syncNote(o) + "."
		}
	case o.Result == autopilot.DevicesNotReady:
		head = chat.ReadyOf(o.Devices) + notReadyWhy(o, n.RequestedAt) + syncNote(o) + "."
	default: // autopilot.Error
		return "The devices could not be checked: " + meaning(o.Code) + "."
	}
	return join(chat.DevicesLines(st, head, o.Devices, now))
}

// notReadyWhy says why a report is not ready: a failure, or the time that ran out.
func notReadyWhy(o *followup.Outcome, requestedAt time.Time) string {
	for _, r := range o.Devices {
		if r.State == autopilot.StateFailed {
			return ""
		}
	}
	return " after " + chat.Took(o.At.Sub(requestedAt)) + ", when autopilot-sync stopped waiting"
}

// syncNote says how the sync that served the request went, when it did not complete.
func syncNote(o *followup.Outcome) string {
	switch o.SyncResult {
	case autopilot.Completed:
		return ""
	case autopilot.Failed:
		return " (the sync failed in Intune)"
	case autopilot.TimedOut:
		return " (the sync had not finished)"
	case "":
		for _, r := range o.Devices {
			if r.State != autopilot.StateImportFailed {
				return " (no sync could start)"
			}
		}
		return "" // no device was imported: none was waited for
	}
	return " (the sync's end is unknown)"
}

// deviceCommand is the chat command that reads n's serials now: `device [tenant] <serial>`, with
// "…" for the others.
func deviceCommand(st chat.Style, n followup.Notice) string {
	words := []string{"device"}
	if n.Tenant != "" {
		words = append(words, n.Tenant)
	}
	words = append(words, n.Serials[0])
	cmd := st.Code(st.Echo(strings.Join(words, " ")))
	if len(n.Serials) > 1 {
		cmd += " …"
	}
	return cmd
}

func join(lines []string) string { return strings.Join(lines, "\n") }

// devicesTitle is the Teams card's title and colour for a report (nil: Slack's notice only).
func devicesTitle(o *followup.Outcome) (string, string) {
	switch {
	case o == nil:
		return "Windows Autopilot devices", "default"
	case o.Result == autopilot.DevicesReady:
		return "Windows Autopilot devices ready", "good"
	case o.Result == autopilot.DevicesNotReady:
		return "Windows Autopilot devices not ready", "attention"
	}
	return "Windows Autopilot devices: not checked", "warning"
}

// DevicesEvent is the body of a callback reporting a request with serials (SPEC §15).
type DevicesEvent struct {
	// Type is autopilot.devices.ready, .notReady or .error.
	Type      string      `json:"type"`
	Timestamp string      `json:"timestamp"`
	Data      DevicesData `json:"data"`
}

// DevicesData is a device callback's data: syncResult is null when no sync ran; code is present
// for an error only.
type DevicesData struct {
	Tenant      string                `json:"tenant"`
	RequestedAt string                `json:"requestedAt"`
	SyncResult  *string               `json:"syncResult"`
	Devices     []autopilot.Readiness `json:"devices"`
	Code        string                `json:"code,omitempty"`
}

// devicesType is the callback type of a device report's result.
var devicesType = map[autopilot.Result]string{
	autopilot.DevicesReady:    "autopilot.devices.ready",
	autopilot.DevicesNotReady: "autopilot.devices.notReady",
	autopilot.Error:           "autopilot.devices.error",
}

func devicesBody(n followup.Notice, tenantID string) ([]byte, error) {
	o := n.Outcome
	d := DevicesData{Tenant: n.Tenant, RequestedAt: rfc3339(n.RequestedAt), Devices: o.Devices, Code: string(o.Code)}
	if d.Tenant == "" {
		d.Tenant = tenantID
	}
	if o.SyncResult != "" {
		s := string(o.SyncResult)
		d.SyncResult = &s
	}
	return jsonenc.Marshal(DevicesEvent{Type: devicesType[o.Result], Timestamp: rfc3339(o.At), Data: d})
}
