package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

const (
	devicesPath = "/deviceManagement/windowsAutopilotDeviceIdentities"
	// MaxDevicePages is the most pages DevicesBySerials reads for one search (SPEC §15).
	MaxDevicePages = 10
	// maxPageBytes bounds one page of a list: Graph's pages are undocumented in size, and a
	// device identity is about 1.3 KB of JSON.
	maxPageBytes = 4 << 20
)

// ErrTooManyPages is returned by DevicesBySerials when the devices whose serial holds the search
// term run past MaxDevicePages pages. Its problem is graphError.
var ErrTooManyPages error = tooManyPages{}

type tooManyPages struct{}

func (tooManyPages) Error() string { return "too many pages" }

func (tooManyPages) Problem() *problem.Problem {
	return problem.New(problem.GraphError, fmt.Sprintf("More Windows Autopilot devices match the serial number than %d pages of Graph's answer hold.", MaxDevicePages))
}

// ErrUnsearchableSerial is returned by DevicesBySerials for a serial without an ASCII letter or
// digit: there is nothing Graph can be asked to filter on.
var ErrUnsearchableSerial = errors.New("serial has no ASCII letter or digit")

// ProfileAssignmentStatus is a device's deploymentProfileAssignmentStatus. Values Graph adds in
// the future pass through unchanged.
type ProfileAssignmentStatus string

// The documented deploymentProfileAssignmentStatus values.
const (
	ProfileUnknown                  ProfileAssignmentStatus = "unknown"
	ProfileAssignedInSync           ProfileAssignmentStatus = "assignedInSync"
	ProfileAssignedOutOfSync        ProfileAssignmentStatus = "assignedOutOfSync"
	ProfileAssignedUnknownSyncState ProfileAssignmentStatus = "assignedUnkownSyncState" // sic: Microsoft's spelling
	ProfileNotAssigned              ProfileAssignmentStatus = "notAssigned"
	ProfilePending                  ProfileAssignmentStatus = "pending"
	ProfileFailed                   ProfileAssignmentStatus = "failed"
)

// Known reports whether s is one of the documented values.
func (s ProfileAssignmentStatus) Known() bool {
	switch s {
	case ProfileUnknown, ProfileAssignedInSync, ProfileAssignedOutOfSync, ProfileAssignedUnknownSyncState,
		ProfileNotAssigned, ProfilePending, ProfileFailed:
		return true
	}
	return false
}

// DeviceIdentity is a windowsAutopilotDeviceIdentity, with the properties SPEC §15 reads; Graph
// sends more, which are skipped. Enumerations are strings: unknown values pass through.
//
// https://learn.microsoft.com/graph/api/resources/intune-enrollment-windowsautopilotdeviceidentity?view=graph-rest-beta
type DeviceIdentity struct {
	ID                                string                  `json:"id"`
	SerialNumber                      string                  `json:"serialNumber"`
	GroupTag                          string                  `json:"groupTag"`
	Manufacturer                      string                  `json:"manufacturer"`
	Model                             string                  `json:"model"`
	DeploymentProfileAssignmentStatus ProfileAssignmentStatus `json:"deploymentProfileAssignmentStatus"`
	// DeploymentProfileAssignmentDetailedStatus says why an assignment failed: "none",
	// "hardwareRequirementsNotMet" (self-deploying without TPM 2.0), "surfaceHubProfileNotSupported", …
	DeploymentProfileAssignmentDetailedStatus string `json:"deploymentProfileAssignmentDetailedStatus"`
	// DeploymentProfileAssignedDateTime is zero ("0001-01-01T00:00:00Z") until a profile is assigned.
	DeploymentProfileAssignedDateTime time.Time `json:"deploymentProfileAssignedDateTime"`
	// EnrollmentState is Intune's: "unknown", "enrolled", "pendingReset", "failed", "notContacted", "blocked".
	EnrollmentState       string    `json:"enrollmentState"`
	LastContactedDateTime time.Time `json:"lastContactedDateTime"`
}

// devicePage is a page of windowsAutopilotDeviceIdentities.
type devicePage struct {
	Value    []DeviceIdentity `json:"value"`
	NextLink string           `json:"@odata.nextLink"`
}

// DevicesBySerials returns, keyed by each serial as given, the Windows Autopilot device
// identities whose serial number is that serial, compared without regard to ASCII case (Graph may
// hold one device more than once). Graph refuses `eq` on serialNumber and fails a contains()
// value with a hyphen or a space, so the call filters on contains(serialNumber,'<term>'), term
// being SearchTerm of the serials, follows @odata.nextLink for at most MaxDevicePages pages and
// keeps the exact matches itself. One search serves every serial of one term (VMware's
// "VMware-56 4d …" share "VMware"). Needs DeviceManagementServiceConfig.Read.All.
//
// The Response is the last page's, its Duration that of every page. Errors: ErrUnsearchableSerial
// for serials without a term or of several terms (no request is sent), ErrTooManyPages (wrapped),
// *Error for a Graph answer, ErrMalformedAnswer (wrapped) for a page that is not Graph's JSON or
// whose nextLink leaves the Graph host, or the transport or context error. Reads are retried as
// Get's are.
//
// https://learn.microsoft.com/graph/api/intune-enrollment-windowsautopilotdeviceidentity-list?view=graph-rest-beta
func (c *Client) DevicesBySerials(ctx context.Context, serials []string) (map[string][]DeviceIdentity, *Response, error) {
	what := strings.Join(serials, ", ")
	term := ""
	for i, serial := range serials {
		if t := SearchTerm(serial); i == 0 {
			term = t
		} else if !equalFoldASCII(t, term) { // Graph's contains() ignores case
			term = ""
			break
		}
	}
	if term == "" {
		return nil, &Response{}, fmt.Errorf("graph: devices of serial %q: %w", what, ErrUnsearchableSerial)
	}
	next := c.root.String() + devicesPath + "?$filter=" + url.QueryEscape("contains(serialNumber,'"+term+"')")
	var (
		found = make(map[string][]DeviceIdentity, len(serials))
		resp  *Response
		spent time.Duration
	)
	for pages := 1; ; pages++ {
		var p devicePage
		r, err := c.doLimit(ctx, http.MethodGet, next, nil, &p, maxPageBytes)
		spent += r.Duration
		r.Duration, resp = spent, r
		if err != nil {
			return nil, resp, err
		}
		for _, d := range p.Value {
			for _, serial := range serials {
				if equalFoldASCII(d.SerialNumber, serial) {
					found[serial] = append(found[serial], d)
				}
			}
		}
		switch {
		case p.NextLink == "":
			return found, resp, nil
		case pages == MaxDevicePages:
			return nil, resp, fmt.Errorf("graph: devices of serial %q: %w: more than %d", what, ErrTooManyPages, MaxDevicePages)
		}
		if err := c.sameOrigin(p.NextLink); err != nil {
			return nil, resp, err
		}
		next = p.NextLink
	}
}

// sameOrigin checks that a nextLink stays on the Graph host: the pipeline would send it the token.
func (c *Client) sameOrigin(link string) error {
	u, err := url.Parse(link)
	if err != nil || u.Scheme != "https" || !strings.EqualFold(u.Host, c.root.Host) || u.User != nil {
		return fmt.Errorf("graph: GET %s: %w: @odata.nextLink leaves %s", opName(c.root.String()+devicesPath), ErrMalformedAnswer, c.root.Host)
	}
	return nil
}

// SearchTerm returns the longest run of ASCII letters and digits of serial, the first of equal
// runs; "" when it has none: what a device search asks Graph to filter on, case ignored.
func SearchTerm(serial string) string {
	best, start := "", -1
	for i := 0; i <= len(serial); i++ {
		if i < len(serial) && isASCIIAlnum(serial[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start > len(best) {
			best = serial[start:i]
		}
		start = -1
	}
	return best
}

func isASCIIAlnum(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}

// equalFoldASCII compares a and b ignoring the case of ASCII letters only: no Unicode folding
// (the Kelvin sign is not a K).
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}
