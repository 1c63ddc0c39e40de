package emulator

// Registration and profile assignment over time, on the emulator's clock (SPEC §15, issue 23).
//
// A device added pending registration (an import that completed, or AddPendingDevice) is not in
// the device identities yet: the Windows Autopilot deployment service hands it to Intune with the
// next sync. So it appears once a sync that started at or after the time it was added has
// completed (a failed sync registers nothing), at the time that sync completed. Its deployment
// profile assignment then ends, as its ProfileAssignment scripts, a delay after it appeared.
// Everything is computed from the clock when read, so a test that moves a manual clock sees the
// same states whenever it looks.

import (
	"strings"
	"time"
)

// defaultProfileAssignmentDelay is how long after a device appears its profile assignment ends,
// unless scripted. Microsoft documents no bound ("several minutes").
const defaultProfileAssignmentDelay = 3 * time.Minute

// ProfileAssignment scripts how a device's deployment profile assignment ends.
type ProfileAssignment struct {
	// After is how long after the device appears in the device identities the assignment ends;
	// 0 means Options.ProfileAssignmentDelay (default 3 minutes).
	After time.Duration
	// Status is the deploymentProfileAssignmentStatus it ends with; default
	// assignedUnkownSyncState (Microsoft's spelling: assigned, the device has not been in touch
	// yet). "failed", or any other value, as a test wants.
	Status string
	// DetailedStatus is the deploymentProfileAssignmentDetailedStatus it ends with; default none.
	// A self-deploying profile on a device without TPM 2.0 fails with hardwareRequirementsNotMet.
	DetailedStatus string
}

// withDefaults fills the zero fields of a from the emulator's options.
func (a ProfileAssignment) withDefaults(o deviceOptions) ProfileAssignment {
	if a.After <= 0 {
		a.After = o.assignDelay
	}
	if a.Status == "" {
		a.Status = "assignedUnkownSyncState"
	}
	if a.DetailedStatus == "" {
		a.DetailedStatus = "none"
	}
	return a
}

// AddPendingDevice adds d to a tenant pending registration, at the clock's time: it appears in the
// device identities once a sync that started at or after now has completed, as d (its
// deploymentProfileAssignmentStatus defaults to notAssigned; "pending" shows an assignment under
// way), and its profile assignment ends as a scripts. It returns d with the defaults filled in:
// its ID is the device identity's id once registered.
func (e *Emulator) AddPendingDevice(tenantID string, d Device, a ProfileAssignment) Device {
	e.mu.Lock()
	defer e.mu.Unlock()
	d = withDeviceDefaults(d)
	e.tenantLocked(tenantID).putDevice(e.pendingRec(d, a, e.clock.Now()))
	return d
}

// pendingRec is a record of d, pending registration since addedAt.
func (e *Emulator) pendingRec(d Device, a ProfileAssignment, addedAt time.Time) *deviceRec {
	a = a.withDefaults(e.dev)
	return &deviceRec{d: d, pending: true, addedAt: addedAt, assign: &a}
}

// registerPending registers the devices pending since at most trigger: a sync triggered then
// completed at done. Called by tenantLocked as it settles a completed sync.
func (ts *tenantState) registerPending(trigger, done time.Time) {
	for _, r := range ts.devices {
		if r.pending && !r.addedAt.After(trigger) {
			r.pending, r.visibleAt = false, done
		}
	}
}

// at returns the device as Graph shows it at now, and whether Graph lists it.
func (r *deviceRec) at(now time.Time) (Device, bool) {
	if r.pending {
		return Device{}, false
	}
	d := r.d
	if r.assign != nil {
		if ends := r.visibleAt.Add(r.assign.After); !now.Before(ends) {
			d.DeploymentProfileAssignmentStatus = r.assign.Status
			d.DeploymentProfileAssignmentDetailedStatus = r.assign.DetailedStatus
			if strings.HasPrefix(r.assign.Status, "assigned") {
				d.DeploymentProfileAssignedDateTime = ends.UTC()
			}
		}
	}
	return d, true
}
