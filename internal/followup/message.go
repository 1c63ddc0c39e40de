package followup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/jsonenc"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

const (
	// Version is the version of the message shape this package writes and reads.
	Version = 1
	// Kind tells a follow-up message from the other messages the sync function consumes.
	Kind = "followUp"
	// MaxMessageBytes bounds a message Decode accepts. A message holds at most two URLs of
	// 2 KiB each, and for a request with serials 20 serials' readiness, clipped (devices.go);
	// SQS would take 256 KiB.
	MaxMessageBytes = 128 << 10
	// MaxURLBytes bounds a target URL (SPEC §13: callback URLs of at most 2 KB).
	MaxURLBytes = 2048

	maxIDLength     = 64
	maxTenantLength = 64
	maxAttempt      = 10000
	maxTextLength   = 64
	// futureSkew is how far after now a message's times may lie (clocks of two instances).
	futureSkew = 5 * time.Minute
)

// ErrMalformed marks every error of Decode and Encode: the message cannot be acted on and
// is dropped, not retried.
var ErrMalformed = errors.New("malformed follow-up message")

// Target names one place a follow-up reports to.
type Target string

// The targets of SPEC §13.
const (
	Slack    Target = "slack"
	Teams    Target = "teams"
	Callback Target = "callback"
)

// Targets are the places a follow-up still owes a report. The zero value has none: a
// scheduled or fleet sync is followed for its log line and metrics only.
type Targets struct {
	// Slack is the slash command's response_url, already checked against
	// SLACK_RESPONSE_URL_PREFIXES. A secret for logging purposes.
	Slack string `json:"slack,omitempty"`
	// Teams reports that the sync was started from Teams: the outcome goes to the Workflows URL
	// that Key Vault holds (TEAMS_NOTIFY_URL_SECRET_NAME), which never travels in a message.
	Teams bool `json:"teams,omitempty"`
	// Callback is the callbackUrl, already matched to a urlPrefix. A secret for logging
	// purposes. Its prefix and headers are looked up again at delivery, so a prefix removed
	// from CALLBACK_TARGETS_SECRET_NAME stops its callbacks and rotated headers apply.
	Callback string `json:"callback,omitempty"`
}

// List returns the targets present, in a fixed order.
func (t Targets) List() []Target {
	var list []Target
	if t.Slack != "" {
		list = append(list, Slack)
	}
	if t.Teams {
		list = append(list, Teams)
	}
	if t.Callback != "" {
		list = append(list, Callback)
	}
	return list
}

// without returns t less target x.
func (t Targets) without(x Target) Targets {
	switch x {
	case Slack:
		t.Slack = ""
	case Teams:
		t.Teams = false
	case Callback:
		t.Callback = ""
	}
	return t
}

// Outcome is how a followed sync ended, or, for a request with serials, how ready its devices
// are (SPEC §15: Devices is set).
type Outcome struct {
	// Result is completed, failed, timedOut or error (autopilot.Result.Ended); for a request
	// with serials devicesReady, devicesNotReady or error.
	Result autopilot.Result `json:"result"`
	// At is when the outcome was found: the callbacks' timestamp, and the start of the hour
	// in which failed deliveries are tried again.
	At time.Time `json:"at"`
	// SyncStatus and LastSyncDateTime are the settings last read; empty for Error.
	SyncStatus       string     `json:"syncStatus,omitempty"`
	LastSyncDateTime *time.Time `json:"lastSyncDateTime,omitempty"`
	// SyncDurationSeconds is lastSyncDateTime − requestedAt, never negative, for Completed
	// and Failed only.
	SyncDurationSeconds *int64 `json:"syncDurationSeconds,omitempty"`
	// Code is the problem code (SPEC §5, §11) that ended the follow-up, for Error only.
	Code problem.Code `json:"code,omitempty"`
	// Devices is each serial's readiness, in the order asked (a request with serials), and
	// SyncResult the outcome of the sync that served it ("" when no sync ran).
	Devices    []autopilot.Readiness `json:"devices,omitempty"`
	SyncResult autopilot.Result      `json:"syncResult,omitempty"`
}

// Message is one follow-up queue message: everything a check and a delivery need.
type Message struct {
	V    int    `json:"v"`
	Kind string `json:"kind"`
	// ID identifies the follow-up: the same in every message of it, and the callbacks'
	// webhook-id.
	ID string `json:"id"`
	// Tenant is the registry name of the tenant (SPEC §11); empty without a registry.
	Tenant      string    `json:"tenant,omitempty"`
	RequestedAt time.Time `json:"requestedAt"`
	// Attempt numbers, from 1, the check this message asks for while Outcome is nil, and the
	// delivery round once Outcome is set (round 1 ran with the check that found the outcome).
	Attempt int     `json:"attempt"`
	Targets Targets `json:"targets"`
	// Deferred is set while the request waits for a sync to serve it (SPEC §16), and stays
	// with the outcome of a wait that ended without one.
	Deferred *Deferred `json:"deferred,omitempty"`
	// TriggeredAt is when the sync that serves a deferred request was triggered (the check's
	// clock at Graph's 204 less the clock skew, or the merged trigger's time); absent for a sync
	// triggered at the request. "Finished" is tested against it (Since).
	TriggeredAt *time.Time `json:"triggeredAt,omitempty"`
	// Serials are the serial numbers followed to ready once the sync has ended (SPEC §15), in
	// the order asked; Devices is set once it has: the device checks (devices.go).
	Serials []string      `json:"serials,omitempty"`
	Devices *DeviceChecks `json:"devices,omitempty"`
	// Import is set for a request with devices (SPEC §17): their imports, which come first
	// (imports.go); then Serials are the devices' serials.
	Import *Imports `json:"import,omitempty"`
	// Outcome is set once the sync has ended (for a request with serials: once the devices are
	// decided) and only deliveries remain.
	Outcome *Outcome `json:"outcome,omitempty"`
}

// Deferred is a deferred request's wait: Before is the lastManualSyncTriggerDateTime the
// deferral saw (Graph's own time; absent when none was known): a trigger later than it serves
// the request.
type Deferred struct {
	Before *time.Time `json:"before,omitempty"`
}

// NewID returns a fresh follow-up id (a random UUID).
func NewID() string { return uuid.NewString() }

// New returns the first message of a follow-up of the sync Graph accepted at requestedAt.
// tenant is the registry name, or empty without a registry.
func New(id, tenant string, requestedAt time.Time, targets Targets) Message {
	return Message{V: Version, Kind: Kind, ID: id, Tenant: tenant, RequestedAt: requestedAt.UTC(), Attempt: 1, Targets: targets}
}

// NewDeferred returns the first message of a deferred request made at requestedAt (SPEC §16):
// before is the lastManualSyncTriggerDateTime the deferral saw (zero when none was known).
func NewDeferred(id, tenant string, requestedAt, before time.Time, targets Targets) Message {
	m := New(id, tenant, requestedAt, targets)
	m.Deferred = &Deferred{}
	if !before.IsZero() {
		m.Deferred.Before = timePtr(before)
	}
	return m
}

// NeedsCheck reports whether the settings must be read before Decide: the outcome is not
// known yet.
func (m Message) NeedsCheck() bool { return m.Outcome == nil }

// Since is the time the sync that serves the request was triggered: TriggeredAt for a deferred
// request that got one, else the request's time.
func (m Message) Since() time.Time {
	if m.TriggeredAt != nil {
		return *m.TriggeredAt
	}
	return m.RequestedAt
}

// Encode returns the message's JSON, or an error wrapping ErrMalformed when the message is
// not one that Decode would accept (a URL over 2 KB, say).
func (m Message) Encode() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	b, err := jsonenc.Marshal(m) // texts of <, > and & take one byte each, not six
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(b) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(b), MaxMessageBytes)
	}
	return b, nil
}

// Decode reads a message received at now. Every error wraps ErrMalformed and names what is
// wrong without quoting the message (which holds URLs that are secrets).
func Decode(body []byte, now time.Time) (Message, error) {
	if len(body) > MaxMessageBytes {
		return Message{}, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(body), MaxMessageBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var m Message
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if dec.More() {
		return Message{}, fmt.Errorf("%w: data after the message", ErrMalformed)
	}
	if err := m.validate(); err != nil {
		return Message{}, err
	}
	m.RequestedAt = m.RequestedAt.UTC()
	latest := now.Add(futureSkew)
	if m.RequestedAt.After(latest) {
		return Message{}, fmt.Errorf("%w: requestedAt lies in the future", ErrMalformed)
	}
	for _, t := range []*time.Time{m.TriggeredAt, m.deferredBefore()} {
		if t != nil {
			*t = t.UTC()
		}
	}
	if t := m.TriggeredAt; t != nil && t.After(latest) {
		return Message{}, fmt.Errorf("%w: triggeredAt lies in the future", ErrMalformed)
	}
	m.utcDevices()
	// Empty lists are absent ones: the message written again omits them.
	if len(m.Serials) == 0 {
		m.Serials = nil
	}
	if m.Devices != nil && len(m.Devices.Final) == 0 {
		m.Devices.Final = nil
	}
	if o := m.Outcome; o != nil {
		o.At = o.At.UTC()
		if o.At.After(latest) {
			return Message{}, fmt.Errorf("%w: outcome.at lies in the future", ErrMalformed)
		}
		if o.LastSyncDateTime != nil {
			t := o.LastSyncDateTime.UTC()
			o.LastSyncDateTime = &t
		}
	}
	return m, nil
}

// jsonProblem says what is wrong with undecodable JSON without quoting it.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var parse *time.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return "empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	case errors.As(err, &syntax):
		return fmt.Sprintf("not JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return "not a JSON object"
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s has the wrong type", clip(typ.Field))
	case errors.As(err, &parse):
		return "a time is not RFC 3339"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + clip(strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return "a field has the wrong type or format"
}

// validate checks everything that does not depend on the clock.
func (m Message) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	switch {
	case m.V != Version:
		return bad("version %d, want %d", m.V, Version)
	case m.Kind != Kind:
		return bad("kind is not %q", Kind)
	case !validName(m.ID, maxIDLength, "_") || m.ID == "":
		return bad("id must be 1-%d letters, digits, '-' or '_'", maxIDLength)
	case !validName(m.Tenant, maxTenantLength, ""):
		return bad("tenant must be at most %d letters, digits or '-'", maxTenantLength)
	case !sane(m.RequestedAt):
		return bad("requestedAt is missing or out of range")
	case m.Attempt < 1 || m.Attempt > maxAttempt:
		return bad("attempt must be 1-%d", maxAttempt)
	}
	switch {
	case m.Deferred != nil && m.TriggeredAt != nil:
		return bad("deferred does not go with triggeredAt")
	case m.TriggeredAt != nil && !sane(*m.TriggeredAt):
		return bad("triggeredAt is out of range")
	case m.deferredBefore() != nil && !sane(*m.deferredBefore()):
		return bad("deferred.before is out of range")
	}
	if err := m.validDevices(); err != nil {
		return bad("%s", err)
	}
	if err := m.validImports(); err != nil {
		return bad("%s", err)
	}
	if err := validURL(m.Targets.Slack, false); err != nil {
		return bad("targets.slack %s", err)
	}
	if err := validURL(m.Targets.Callback, true); err != nil {
		return bad("targets.callback %s", err)
	}
	if o := m.Outcome; o != nil {
		devicesResult := o.Result == autopilot.DevicesReady || o.Result == autopilot.DevicesNotReady
		switch {
		case len(m.Serials) == 0 && !o.Result.Ended():
			return bad("outcome.result is not completed, failed, timedOut or error")
		case len(m.Serials) > 0 && !devicesResult && o.Result != autopilot.Error:
			return bad("outcome.result is not devicesReady, devicesNotReady or error")
		case (len(m.Serials) > 0) != (o.Devices != nil) || o.SyncResult != "" && o.Devices == nil:
			return bad("outcome.devices and outcome.syncResult go with serials only")
		case !sane(o.At):
			return bad("outcome.at is missing or out of range")
		case o.LastSyncDateTime != nil && !sane(*o.LastSyncDateTime):
			return bad("outcome.lastSyncDateTime is out of range")
		case !validText(o.SyncStatus):
			return bad("outcome.syncStatus must be at most %d printable characters", maxTextLength)
		case (o.Code != "") != (o.Result == autopilot.Error) || !validName(string(o.Code), maxTextLength, ""):
			return bad("outcome.code must be a problem code, for an error only")
		case o.SyncDurationSeconds != nil && (*o.SyncDurationSeconds < 0 || o.Result != autopilot.Completed && o.Result != autopilot.Failed):
			return bad("outcome.syncDurationSeconds must be non-negative, for completed or failed only")
		}
	}
	return nil
}

// deferredBefore is Deferred.Before, or nil.
func (m Message) deferredBefore() *time.Time {
	if m.Deferred == nil {
		return nil
	}
	return m.Deferred.Before
}
