package autopilot

import (
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// SPEC §15: is this laptop ready? A serial's readiness, from the device identities that match it
// exactly: the read answer (GET /status?serial=), the follow-up's checks and its report share it.

// The readiness states of a serial (SPEC §15).
const (
	StateNotRegistered = "notRegistered"
	StateRegistered    = "registered"
	StateAssigned      = "assigned"
	StateFailed        = "failed"
	StateError         = "error"
	// StateImportFailed: the device's import failed (SPEC §17); it was not followed.
	StateImportFailed = "importFailed"
)

// The outcomes of a request followed to ready (SPEC §15).
const (
	// DevicesReady: every serial is assigned.
	DevicesReady Result = "devicesReady"
	// DevicesNotReady: a serial failed, or was not assigned when DEVICE_MAX_AGE ran out.
	DevicesNotReady Result = "devicesNotReady"
)

// Readiness is how ready one serial is: its state from its exact matches, and those devices.
type Readiness struct {
	SerialNumber string       `json:"serialNumber"`
	State        string       `json:"state"`
	Ready        bool         `json:"ready"`
	Code         problem.Code `json:"code,omitempty"` // the read's problem, for state error
	// Error says why an import failed (state importFailed, SPEC §17); Note what else a report
	// says of the device (NoteNotApplied).
	Error   *ImportError `json:"error,omitempty"`
	Note    string       `json:"note,omitempty"`
	Devices []Device     `json:"devices"`
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

// ReadinessOf is the readiness of serial given its exact matches: none → notRegistered; any
// assigned* → assigned (ready); else any failed → failed; else registered.
func ReadinessOf(serial string, found []graph.DeviceIdentity) Readiness {
	r := Readiness{SerialNumber: serial, State: StateNotRegistered, Devices: make([]Device, len(found))}
	for i, d := range found {
		r.Devices[i] = DeviceOf(d)
		status := string(d.DeploymentProfileAssignmentStatus)
		switch {
		case r.State == StateAssigned:
		case strings.HasPrefix(status, "assigned"):
			r.State, r.Ready = StateAssigned, true
		case r.State == StateFailed:
		case status == string(graph.ProfileFailed):
			r.State = StateFailed
		default:
			r.State = StateRegistered
		}
	}
	return r
}

// ReadinessError is the readiness of a serial whose read failed with code.
func ReadinessError(serial string, code problem.Code) Readiness {
	return Readiness{SerialNumber: serial, State: StateError, Code: code, Devices: []Device{}}
}

// Final reports whether r will not change by waiting: assigned, failed, or a read that failed
// for a reason that waiting does not cure.
func (r Readiness) Final() bool {
	switch r.State {
	case StateAssigned, StateFailed, StateImportFailed:
		return true
	case StateError:
		return !r.Code.Transient()
	}
	return false
}

// Shown is the index of the device that decided the state (the first assigned, else the first
// failed, else the first), or -1 when there is none.
func (r Readiness) Shown() int {
	if len(r.Devices) == 0 {
		return -1
	}
	for _, want := range []string{StateAssigned, StateFailed} {
		for i, d := range r.Devices {
			s := d.DeploymentProfileAssignmentStatus
			if want == StateAssigned && strings.HasPrefix(s, "assigned") || want == StateFailed && s == string(graph.ProfileFailed) {
				return i
			}
		}
	}
	return 0
}

// DeviceOf is d as a readiness document shows it.
func DeviceOf(d graph.DeviceIdentity) Device {
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

// Ready counts the serials of rs that are ready.
func Ready(rs []Readiness) int {
	n := 0
	for _, r := range rs {
		if r.Ready {
			n++
		}
	}
	return n
}
