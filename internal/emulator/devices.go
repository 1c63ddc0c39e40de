package emulator

// Windows Autopilot device identities (Graph beta deviceManagement/windowsAutopilotDeviceIdentities):
// the devices a tenant holds, how tests add them, and the list with the $filter, $top and paging
// that the real service answers.
//
// What the service does, and so the emulator does (SPEC §15, FIELD-NOTES):
//   - $filter=contains(serialNumber,'X') is a case-insensitive substring match;
//   - $filter=serialNumber eq 'X' (or any other filter) is refused: 400 BadRequest whose message
//     is Intune's stringified document "An error has occurred - Operation ID …"
//     (microsoftgraph/msgraph-sdk-powershell#1260, microsoftgraph/microsoft-graph-docs#12174);
//   - a contains() value holding a hyphen fails the same way, 400 "An error has occurred"
//     (microsoftgraph/msgraph-sdk-powershell#2464, labelled "Service issue"), and so does one
//     holding a space (ugurkocde/IntuneOffboarding#8: VMware serials such as
//     "VMware-12 3e 45 …" cannot be searched);
//   - pages end with @odata.nextLink while more remain; $top sets a smaller page.

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	devicesPath    = "/beta/devicemanagement/windowsautopilotdeviceidentities"
	devicesContext = "https://graph.microsoft.com/beta/$metadata#deviceManagement/windowsAutopilotDeviceIdentities"
	// defaultDevicePageSize is the page Intune usually serves; Microsoft does not document it.
	defaultDevicePageSize = 1000
	zeroGUID              = "00000000-0000-0000-0000-000000000000"
)

// Device is a Windows Autopilot device identity as Graph lists it. Enumerations are plain
// strings, so that a test can set a value Graph may add later and see it pass through.
// AddDevice fills the fields left empty with what Graph shows for a device that was just
// registered.
type Device struct {
	ID           string // default: a new GUID
	SerialNumber string
	GroupTag     string
	Manufacturer string
	Model        string
	// DeploymentProfileAssignmentStatus: unknown, assignedInSync, assignedOutOfSync,
	// assignedUnkownSyncState (Microsoft's spelling), notAssigned (default), pending, failed.
	DeploymentProfileAssignmentStatus string
	// DeploymentProfileAssignmentDetailedStatus: none (default), hardwareRequirementsNotMet,
	// surfaceHubProfileNotSupported, holoLensProfileNotSupported, windowsPcProfileNotSupported,
	// surfaceHub2SProfileNotSupported, unknownFutureValue.
	DeploymentProfileAssignmentDetailedStatus string
	DeploymentProfileAssignedDateTime         time.Time // zero: Graph's "0001-01-01T00:00:00Z"
	// EnrollmentState: unknown, enrolled, pendingReset, failed, notContacted (default), blocked.
	EnrollmentState       string
	LastContactedDateTime time.Time
	// The rest is what the real resource also carries.
	PurchaseOrderIdentifier string
	ProductKey              string
	SystemFamily            string
	SkuNumber               string
	DisplayName             string
	UserPrincipalName       string
	AzureADDeviceID         string // default: a new GUID (Autopilot creates the Entra device)
}

// DeviceCounts counts a tenant's requests to the device resources that passed the token and
// role checks (faults and refused tokens are in Counts.Graph only).
type DeviceCounts struct {
	Lists           int // pages of windowsAutopilotDeviceIdentities answered, 400s included
	Imports         int // import actions (importapi.go), 400s included
	RecordsImported int // imported records the import actions created
	ImportedReads   int // GETs of an imported record, 404s included
	ImportedDeletes int // DELETEs of an imported record, 404s included
	RecordsDeleted  int // imported records deleted (DELETE answered 204)
}

// deviceOptions are the Options of the device resources, with their defaults applied.
type deviceOptions struct {
	pageSize    int
	assignDelay time.Duration // registration.go
	importDur   time.Duration // imports.go
}

// deviceRec is a device a tenant holds: listed as d, or pending registration (registration.go).
type deviceRec struct {
	d         Device
	pending   bool               // added pending registration, not registered yet
	addedAt   time.Time          // when it was added pending registration
	visibleAt time.Time          // when the sync that registered it completed
	assign    *ProfileAssignment // how its profile assignment ends; nil: d as it is
}

// startDevices applies the device options of o and seeds o.Devices. e.mu must not be held.
func (e *Emulator) startDevices(o Options) {
	e.dev.pageSize = o.DevicePageSize
	if e.dev.pageSize <= 0 {
		e.dev.pageSize = defaultDevicePageSize
	}
	e.dev.assignDelay = o.ProfileAssignmentDelay
	if e.dev.assignDelay <= 0 {
		e.dev.assignDelay = defaultProfileAssignmentDelay
	}
	e.dev.importDur = o.ImportDuration
	if e.dev.importDur <= 0 {
		e.dev.importDur = defaultImportDuration
	}
	for tenantID, ds := range o.Devices {
		for _, d := range ds {
			e.AddDevice(tenantID, d)
		}
	}
}

// AddDevice registers d in a tenant's Windows Autopilot devices, visible at once, and returns it
// with the defaults filled in. A device with the ID of one the tenant holds replaces it.
func (e *Emulator) AddDevice(tenantID string, d Device) Device {
	e.mu.Lock()
	defer e.mu.Unlock()
	d = withDeviceDefaults(d)
	e.tenantLocked(tenantID).putDevice(&deviceRec{d: d})
	return d
}

// Devices returns the device identities Graph lists for a tenant now, in list order.
func (e *Emulator) Devices(tenantID string) []Device {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tenantLocked(tenantID).listDevices(e.clock.Now())
}

func withDeviceDefaults(d Device) Device {
	if d.ID == "" {
		d.ID = newUUID()
	}
	if d.DeploymentProfileAssignmentStatus == "" {
		d.DeploymentProfileAssignmentStatus = "notAssigned"
	}
	if d.DeploymentProfileAssignmentDetailedStatus == "" {
		d.DeploymentProfileAssignmentDetailedStatus = "none"
	}
	if d.EnrollmentState == "" {
		d.EnrollmentState = "notContacted"
	}
	if d.AzureADDeviceID == "" {
		d.AzureADDeviceID = newUUID()
	}
	return d
}

// putDevice adds r, or replaces the device with its ID in place.
func (ts *tenantState) putDevice(r *deviceRec) {
	for i, old := range ts.devices {
		if old.d.ID == r.d.ID {
			ts.devices[i] = r
			return
		}
	}
	ts.devices = append(ts.devices, r)
}

// listDevices returns the devices Graph lists at now. The tenant must be settled (tenantLocked).
func (ts *tenantState) listDevices(now time.Time) []Device {
	out := make([]Device, 0, len(ts.devices))
	for _, r := range ts.devices {
		if d, ok := r.at(now); ok {
			out = append(out, d)
		}
	}
	return out
}

// containsSerial matches the one filter the service takes; eqSerial the one it famously refuses.
var (
	containsSerial = regexp.MustCompile(`(?i)^\s*contains\s*\(\s*serialNumber\s*,\s*'((?:[^']|'')*)'\s*\)\s*$`)
	eqSerial       = regexp.MustCompile(`(?i)^\s*serialNumber\s+eq\s+`)
)

// serialFilter reads $filter: it returns the substring to match (lower-cased; "" matches every
// device), or ok false when the service would answer 400.
func serialFilter(filter string) (substr string, ok bool) {
	if filter == "" {
		return "", true
	}
	if eqSerial.MatchString(filter) {
		return "", false
	}
	m := containsSerial.FindStringSubmatch(filter)
	if m == nil {
		return "", false
	}
	v := strings.ReplaceAll(m[1], "''", "'")
	if strings.ContainsAny(v, "- ") {
		return "", false
	}
	return strings.ToLower(v), true
}

// graphDevices serves GET windowsAutopilotDeviceIdentities.
func (e *Emulator) graphDevices(g *graphReq, tok *accessToken) {
	if !e.authorize(g, tok, RoleReadAll, RoleReadWriteAll) {
		return
	}
	e.countDevices(tok.tenant, func(c *DeviceCounts) { c.Lists++ })
	q, err := url.ParseQuery(g.r.URL.RawQuery)
	if err != nil {
		g.error(http.StatusBadRequest, "BadRequest", "The query specified in the URI is not valid.")
		return
	}
	substr, ok := serialFilter(q.Get("$filter"))
	if !ok {
		g.intuneError(http.StatusBadRequest, "BadRequest", "An error has occurred")
		return
	}
	size := e.dev.pageSize
	if v, set := q["$top"]; set {
		top, err := strconv.Atoi(v[0])
		if err != nil || top < 0 {
			g.error(http.StatusBadRequest, "BadRequest", "Invalid value '"+v[0]+"' for $top query option found. The $top query option requires a non-negative integer value.")
			return
		}
		size = min(size, top)
	}
	offset, ok := 0, true
	if v := q.Get("$skiptoken"); v != "" {
		offset, ok = readSkipToken(v)
	}
	if !ok {
		g.error(http.StatusBadRequest, "BadRequest", "The skip token is not valid.")
		return
	}
	e.mu.Lock()
	var matches []Device
	for _, d := range e.tenantLocked(tok.tenant).listDevices(e.clock.Now()) {
		if strings.Contains(strings.ToLower(d.SerialNumber), substr) {
			matches = append(matches, d)
		}
	}
	e.mu.Unlock()
	offset = min(offset, len(matches))
	end := min(offset+size, len(matches))
	value := make([]map[string]any, 0, end-offset)
	for _, d := range matches[offset:end] {
		value = append(value, deviceJSON(d))
	}
	page := map[string]any{"@odata.context": devicesContext, "value": value}
	if end < len(matches) && size > 0 {
		q.Set("$skiptoken", skipToken(end))
		page["@odata.nextLink"] = "https://" + g.r.Host + g.r.URL.Path + "?" + odataQuery(q)
	}
	writeJSON(g.w, http.StatusOK, odataJSON, page)
}

// skipToken is an opaque continuation token, as Intune's are.
func skipToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("LastDeviceOffset=" + strconv.Itoa(offset)))
}

func readSkipToken(v string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "LastDeviceOffset="))
	return n, err == nil && n >= 0 && strings.HasPrefix(string(b), "LastDeviceOffset=")
}

// odataQuery encodes q keeping the "$" of system query options readable, as Graph's links do.
func odataQuery(q url.Values) string {
	return strings.ReplaceAll(q.Encode(), "%24", "$")
}

func edmTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// deviceJSON is d as Graph serialises a windowsAutopilotDeviceIdentity, every property included.
func deviceJSON(d Device) map[string]any {
	return map[string]any{
		"@odata.type":                       "#microsoft.graph.windowsAutopilotDeviceIdentity",
		"id":                                d.ID,
		"deploymentProfileAssignmentStatus": d.DeploymentProfileAssignmentStatus,
		"deploymentProfileAssignmentDetailedStatus": d.DeploymentProfileAssignmentDetailedStatus,
		"deploymentProfileAssignedDateTime":         edmTime(d.DeploymentProfileAssignedDateTime),
		"groupTag":                                  d.GroupTag,
		"purchaseOrderIdentifier":                   d.PurchaseOrderIdentifier,
		"serialNumber":                              d.SerialNumber,
		"productKey":                                d.ProductKey,
		"manufacturer":                              d.Manufacturer,
		"model":                                     d.Model,
		"enrollmentState":                           d.EnrollmentState,
		"lastContactedDateTime":                     edmTime(d.LastContactedDateTime),
		"addressableUserName":                       "",
		"userPrincipalName":                         d.UserPrincipalName,
		"resourceName":                              "",
		"skuNumber":                                 d.SkuNumber,
		"systemFamily":                              d.SystemFamily,
		"azureActiveDirectoryDeviceId":              d.AzureADDeviceID,
		"azureAdDeviceId":                           d.AzureADDeviceID,
		"managedDeviceId":                           zeroGUID,
		"displayName":                               d.DisplayName,
		"deviceAccountUpn":                          "",
		"deviceAccountPassword":                     nil,
		"deviceFriendlyName":                        "",
		"remediationState":                          "noRemediationRequired",
		"remediationStateLastModifiedDateTime":      edmTime(time.Time{}),
		"userlessEnrollmentStatus":                  "allowed",
	}
}

// countDevices updates a tenant's device counters.
func (e *Emulator) countDevices(tenantID string, f func(*DeviceCounts)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := strings.ToLower(tenantID)
	c := e.counts.Devices[k]
	f(&c)
	e.counts.Devices[k] = c
}

// graphCountKey names a Graph request in Counts.Graph: "GET", "PATCH" and "POST sync" for the
// settings, and method plus resource for the others, ids as {id}: "GET
// windowsAutopilotDeviceIdentities".
func graphCountKey(method, lowerPath string, isSync bool) string {
	switch {
	case isSync:
		return method + " sync"
	case lowerPath == settingsPath || !strings.HasPrefix(lowerPath, "/beta/devicemanagement/"):
		return method
	}
	segs := strings.Split(strings.TrimPrefix(lowerPath, "/beta/devicemanagement/"), "/")
	for i, s := range segs {
		switch {
		case i == 0 && s == "windowsautopilotdeviceidentities":
			segs[i] = "windowsAutopilotDeviceIdentities"
		case i == 0 && s == "importedwindowsautopilotdeviceidentities":
			segs[i] = "importedWindowsAutopilotDeviceIdentities"
		case i > 0 && s != "import":
			segs[i] = "{id}"
		}
	}
	return method + " " + strings.Join(segs, "/")
}

// fefURL is the Intune front-end URL Intune's error messages quote for a request.
func fefURL(r *http.Request) string {
	path := strings.TrimPrefix(r.URL.Path, "/beta")
	if strings.HasSuffix(strings.ToLower(path), "/sync") {
		path = path[:len(path)-len("sync")] + "microsoft.management.services.api.sync"
	}
	u := "https://fef.amsub0502.manage.microsoft.com/DeviceEnrollmentFE/StatelessDeviceEnrollmentFEService" +
		path + "?api-version=5023-05-04"
	if r.URL.RawQuery != "" {
		u += "&" + r.URL.RawQuery
	}
	return u
}
