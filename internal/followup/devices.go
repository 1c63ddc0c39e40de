package followup

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// SPEC §15: a request with serials is followed past its sync. The sync's end (whatever it was,
// found by Decide or, for a deferral that never got one, by Defer) is logged and reported to no
// one; the message then becomes the device checks (Message.Devices), which read the readiness of
// the serials not yet final, with §13's backoff capped at DEVICE_CHECK_INTERVAL, until every
// serial is assigned or failed or DEVICE_MAX_AGE since the request has passed. Then one report
// goes to every target: devicesReady, devicesNotReady or error, with each serial's readiness.

const (
	// MaxSerials is the most serials one request names.
	MaxSerials = 20
	// maxDevicesKept bounds the device identities a message keeps per serial, and maxFieldKept
	// the characters of each of their texts: a message stays well under MaxMessageBytes.
	maxDevicesKept = 3
	maxFieldKept   = 128
)

// DeviceChecks are the device checks of a request with serials, once its sync has ended.
type DeviceChecks struct {
	// SyncResult is the outcome of the sync that served the request; "" when none ran (a
	// deferred request whose wait ran out).
	SyncResult autopilot.Result `json:"syncResult,omitempty"`
	// Final holds the readiness of the serials that waiting no longer changes (assigned,
	// failed, a read that failed for good), in the order asked; the checks read only the others.
	Final []autopilot.Readiness `json:"final,omitempty"`
}

// DeviceReading is what one device check read: the readiness of each serial of m.Pending(), in
// that order, or Code when the tenant could not be read at all.
type DeviceReading struct {
	Readiness []autopilot.Readiness
	Code      problem.Code
}

// Pending returns the serials a device check reads: those not final yet, in the order asked.
func (m Message) Pending() []string {
	if m.Devices == nil {
		return m.Serials
	}
	var out []string
	for _, s := range m.Serials {
		if _, ok := finalOf(m.Devices.Final, s); !ok && !m.importFailed(s) {
			out = append(out, s)
		}
	}
	return out
}

// end is what follows the end o of m's sync: its delivery, or, for a request with serials, the
// device checks, which start at once (o is only logged).
func end(m Message, o Outcome, now time.Time) Plan {
	if len(m.Serials) == 0 {
		return deliver(withOutcome(m, o), now)
	}
	next := served(m, m.TriggeredAt)
	next.Deferred, next.Attempt = nil, 1
	next.Devices = &DeviceChecks{SyncResult: o.Result}
	if o.Result == autopilot.TimedOut && m.Deferred != nil {
		next.Devices.SyncResult = "" // no sync ran
	}
	return Plan{Outcome: &o, message: m, now: now, next: &next, delay: queueDelay(0)}
}

// DecideDevices says what a device check of m does at now, given r. In this order: a read that
// failed for a transient reason retries; a tenant that cannot be read, or every serial's read
// failing for good, ends with error; every serial final, or DEVICE_MAX_AGE since the request
// passed, ends with devicesReady (every serial assigned) or devicesNotReady; else the next check,
// after §13's backoff capped at DEVICE_CHECK_INTERVAL, with Slack's 29-minute notice of the
// readiness so far.
func DecideDevices(m Message, r DeviceReading, now time.Time, s Schedule) Plan {
	now = now.UTC()
	if m.Outcome != nil {
		return deliver(m, now)
	}
	pending := m.Pending()
	retry := r.Code.Transient() || r.Code == "" && len(r.Readiness) != len(pending)
	for _, x := range r.Readiness {
		retry = retry || x.State == autopilot.StateError && x.Code.Transient()
	}
	if retry {
		return Plan{Retry: true, message: m, now: now}
	}
	all := make([]autopilot.Readiness, len(m.Serials))
	final, errored := 0, 0
	for i, serial := range m.Serials {
		x, ok := finalOf(m.Devices.Final, serial)
		switch {
		case m.importFailed(serial):
			x = m.importReadiness(serial)
		case ok:
		case r.Code != "":
			x = autopilot.ReadinessError(serial, r.Code)
		default:
			x = compact(r.Readiness[indexOf(pending, serial)])
		}
		if note := m.importNote(serial, x); note != "" {
			x.Note = note
		}
		all[i] = x
		if x.Final() {
			final++
		}
		if x.State == autopilot.StateError {
			errored++
		}
	}
	o := Outcome{At: now, Devices: all, SyncResult: m.Devices.SyncResult}
	deadline := m.RequestedAt.Add(s.DeviceMaxAge)
	switch {
	case errored == len(all):
		o.Result, o.Code = autopilot.Error, all[0].Code
	case autopilot.Ready(all) == len(all):
		o.Result = autopilot.DevicesReady
	case final == len(all) || !now.Before(deadline):
		o.Result = autopilot.DevicesNotReady
	default:
		next := m
		next.Devices = &DeviceChecks{SyncResult: m.Devices.SyncResult}
		for _, x := range all {
			if x.Final() && x.State != autopilot.StateImportFailed {
				next.Devices.Final = append(next.Devices.Final, x)
			}
		}
		p := waiting(m, now, deadline, min(after(m.Attempt), s.DeviceCheckInterval))
		p.next.Devices = next.Devices
		for i := range p.Notices {
			p.Notices[i].Devices = all
		}
		return p
	}
	return deliver(withOutcome(m, o), now)
}

// DeviceWait is how long after the request o's devices were reported (SPEC §15's
// DeviceWaitSeconds), never negative.
func (o Outcome) DeviceWait(requestedAt time.Time) time.Duration {
	return max(o.At.Sub(requestedAt), 0)
}

// finalOf finds serial's readiness among final.
func finalOf(final []autopilot.Readiness, serial string) (autopilot.Readiness, bool) {
	for _, r := range final {
		if r.SerialNumber == serial {
			return r, true
		}
	}
	return autopilot.Readiness{}, false
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// compact is r as a message keeps it: at most maxDevicesKept devices, each text clipped.
func compact(r autopilot.Readiness) autopilot.Readiness {
	ds := make([]autopilot.Device, 0, min(len(r.Devices), maxDevicesKept))
	shown := r.Shown()
	if shown >= maxDevicesKept {
		ds = append(ds, r.Devices[shown]) // the device that decided the state is always kept
	}
	for _, d := range r.Devices {
		if len(ds) == maxDevicesKept {
			break
		}
		ds = append(ds, d)
	}
	for i := range ds {
		d := &ds[i]
		for _, f := range []*string{&d.ID, &d.GroupTag, &d.Manufacturer, &d.Model, &d.DeploymentProfileAssignmentStatus,
			&d.DeploymentProfileAssignmentDetailedStatus, &d.EnrollmentState} {
			*f = cleanText(*f, maxFieldKept)
		}
	}
	r.Devices = ds
	return r
}

// cleanText is s without control characters (invalid UTF-8 becomes U+FFFD), cut to at most n
// bytes on a character boundary.
func cleanText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// validDevices checks the serials and device checks of a message.
func (m Message) validDevices() error {
	if len(m.Serials) > MaxSerials {
		return fmt.Errorf("serials: more than %d", MaxSerials)
	}
	seen := map[string]bool{}
	for _, s := range m.Serials {
		if !validSerialText(s) || seen[s] {
			return errors.New("serials: each must be 1-64 printable characters, none twice")
		}
		seen[s] = true
	}
	if m.Devices == nil {
		return checkReadiness(m, m.outcomeDevices())
	}
	switch {
	case len(m.Serials) == 0:
		return errors.New("devices go with serials only")
	case m.Deferred != nil:
		return errors.New("devices do not go with deferred")
	case m.Devices.SyncResult != "" && !m.Devices.SyncResult.Ended():
		return errors.New("devices.syncResult is not completed, failed, timedOut or error")
	}
	for _, r := range m.Devices.Final {
		if !r.Final() {
			return errors.New("devices.final holds a serial that is not final")
		}
	}
	if err := checkReadiness(m, m.Devices.Final); err != nil {
		return err
	}
	return checkReadiness(m, m.outcomeDevices())
}

func (m Message) outcomeDevices() []autopilot.Readiness {
	if m.Outcome == nil {
		return nil
	}
	if o := m.Outcome; o.SyncResult != "" && !o.SyncResult.Ended() {
		return []autopilot.Readiness{{}} // refused below: no serial
	}
	return m.Outcome.Devices
}

// checkReadiness checks readiness documents a message carries: each of a serial of m, at most
// once, in a known state, with devices whose texts are printable and clipped.
func checkReadiness(m Message, rs []autopilot.Readiness) error {
	seen := map[string]bool{}
	for _, r := range rs {
		if indexOf(m.Serials, r.SerialNumber) < 0 || seen[r.SerialNumber] {
			return errors.New("a readiness is not of a serial asked, or repeats one")
		}
		seen[r.SerialNumber] = true
		switch r.State {
		case autopilot.StateNotRegistered, autopilot.StateRegistered, autopilot.StateAssigned, autopilot.StateFailed:
			if r.Code != "" {
				return errors.New("a readiness has a code without state error")
			}
		case autopilot.StateError:
			if !validName(string(r.Code), maxTextLength, "") || r.Code == "" {
				return errors.New("a readiness in state error needs a problem code")
			}
		case autopilot.StateImportFailed:
			if e := r.Error; e == nil || r.Code != "" || len(e.Name) > maxTextLength || !printable(e.Name) || len(e.Meaning) > 512 || !printable(e.Meaning) {
				return errors.New("a readiness in state importFailed needs its error")
			}
		default:
			return errors.New("a readiness has an unknown state")
		}
		if r.Error != nil && r.State != autopilot.StateImportFailed || len(r.Note) > 512 || !printable(r.Note) {
			return errors.New("a readiness has an error without state importFailed, or a bad note")
		}
		found := r.State != autopilot.StateNotRegistered && r.State != autopilot.StateError && r.State != autopilot.StateImportFailed
		if r.Ready != (r.State == autopilot.StateAssigned) || len(r.Devices) > maxDevicesKept || found != (len(r.Devices) > 0) {
			return errors.New("a readiness does not agree with its devices")
		}
		for _, d := range r.Devices {
			for _, f := range []string{d.ID, d.GroupTag, d.Manufacturer, d.Model, d.DeploymentProfileAssignmentStatus,
				d.DeploymentProfileAssignmentDetailedStatus, d.EnrollmentState} {
				if len(f) > maxFieldKept || !printable(f) {
					return errors.New("a device's text is too long or not printable")
				}
			}
			for _, t := range []*time.Time{d.DeploymentProfileAssignedDateTime, d.LastContactedDateTime} {
				if t != nil && !sane(*t) {
					return errors.New("a device's time is out of range")
				}
			}
		}
	}
	return nil
}

// utcDevices puts the times of the readiness documents of m in UTC.
func (m Message) utcDevices() {
	var lists [][]autopilot.Readiness
	if m.Devices != nil {
		lists = append(lists, m.Devices.Final)
	}
	if m.Outcome != nil {
		lists = append(lists, m.Outcome.Devices)
	}
	for _, rs := range lists {
		for _, r := range rs {
			for i := range r.Devices {
				for _, t := range []**time.Time{&r.Devices[i].DeploymentProfileAssignedDateTime, &r.Devices[i].LastContactedDateTime} {
					if *t != nil {
						*t = timePtr(**t)
					}
				}
			}
		}
	}
}

// validSerialText reports whether s can be a serial of SPEC §15: 1-64 ASCII letters, digits,
// '-', '_', '.' and spaces.
func validSerialText(s string) bool {
	return s != "" && validName(s, 64, "_. ")
}
