package autopilot

import (
	"fmt"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

// SPEC §17: the import errors of the Windows Autopilot Device Directory Service, by the
// deviceErrorName an imported record reports, in plain words.

// ImportError is why a device's import failed: the service's name and code, and what it means.
type ImportError struct {
	Name    string `json:"name"`
	Code    int    `json:"code"`
	Meaning string `json:"meaning"`
}

// NoteNotApplied is the note of a device that was registered already (806), for which a
// groupTag or assignedUser was asked.
const NoteNotApplied = "already registered in Windows Autopilot: the groupTag and assignedUser asked for were not applied; change them in Intune"

// NoteImportElsewhere is the note of a device not registered whose import another delivery of the
// same check handled (at-least-once delivery): that delivery's report, under the same webhook-id,
// says how the import went.
const NoteImportElsewhere = "its import was handled by another delivery of this request's check, whose report (the same webhook-id) says how it went"

// importMeanings are the plain words of the names SPEC §17 explains, and of autopilot-sync's own.
var importMeanings = map[string]string{
	graph.ErrorNameAssignedToOtherTenant:   "registered in Windows Autopilot in another tenant, which must deregister it first",
	graph.ErrorNameAssignedToAnotherTenant: "registered in Windows Autopilot in another tenant, which must deregister it first",
	graph.ErrorNameDuplicated:              "the same hardware hash is in this import twice; import it once",
	graph.ErrorNameInvalidHardwareHash:     "the hardware hash is damaged or incomplete; capture it again on the device",
	graph.ErrorNameStorageError:            "the Windows Autopilot service failed to store it, twice; import it again later",
	"importTimedOut":                       "the import had not ended when autopilot-sync stopped waiting (DEVICE_MAX_AGE)",
	"importNotAccepted":                    "Microsoft Graph's answer to the import did not list this device",
}

// ImportMeaning is the plain meaning of an import error: SPEC §17's, or for a name it does not
// know, the name and code as the service gave them.
func ImportMeaning(name string, code int) string {
	if m, ok := importMeanings[name]; ok {
		return m
	}
	if name == "" {
		return fmt.Sprintf("the Windows Autopilot service refused the import (error %d)", code)
	}
	return fmt.Sprintf("the Windows Autopilot service refused the import (%s, error %d)", name, code)
}

// ImportFailedReadiness is the readiness of a device whose import failed with name and code.
func ImportFailedReadiness(serial, name string, code int) Readiness {
	return Readiness{SerialNumber: serial, State: StateImportFailed, Devices: []Device{},
		Error: &ImportError{Name: name, Code: code, Meaning: ImportMeaning(name, code)}}
}
