package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

const importedPath = "/deviceManagement/importedWindowsAutopilotDeviceIdentities"

// ErrInvalidID is returned by GetImported and DeleteImported for a record id that is empty, "."
// or "..": it would name another resource. No request is sent.
var ErrInvalidID = errors.New("invalid imported record id")

// ImportStatus is the deviceImportStatus of an imported record. Values Graph adds in the future
// pass through unchanged.
type ImportStatus string

// The documented deviceImportStatus values.
const (
	ImportUnknown  ImportStatus = "unknown" // not processed yet, as pending
	ImportPending  ImportStatus = "pending"
	ImportPartial  ImportStatus = "partial"
	ImportComplete ImportStatus = "complete"
	ImportError    ImportStatus = "error"
)

// The deviceErrorName values of the import errors SPEC §17 explains. Microsoft spells 808 both
// ways. Their deviceErrorCode: 802 InvalidZtdHardwareHash, 806 ZtdDeviceAlreadyAssigned, 808
// ZtdDeviceAssignedToOtherTenant; no public source gives the others'.
const (
	ErrorNameAlreadyAssigned         = "ZtdDeviceAlreadyAssigned"
	ErrorNameAssignedToOtherTenant   = "ZtdDeviceAssignedToOtherTenant"
	ErrorNameAssignedToAnotherTenant = "ZtdDeviceAssignedToAnotherTenant"
	ErrorNameDuplicated              = "ZtdDeviceDuplicated"
	ErrorNameInvalidHardwareHash     = "InvalidZtdHardwareHash"
	ErrorNameStorageError            = "StorageError"
)

// ImportState is the state of an imported record, as the Windows Autopilot Device Directory
// Service reports it.
type ImportState struct {
	DeviceImportStatus ImportStatus `json:"deviceImportStatus"`
	// DeviceRegistrationID is the id of the device identity a complete (or partial) import
	// registered.
	DeviceRegistrationID string `json:"deviceRegistrationId"`
	DeviceErrorCode      int    `json:"deviceErrorCode"`
	DeviceErrorName      string `json:"deviceErrorName"`
}

// ImportedDevice is an importedWindowsAutopilotDeviceIdentity: a device to import, or the record
// Graph keeps of an import. HardwareIdentifier is the decoded hardware hash; it is sent as padded
// base64, the only form Graph's Edm.Binary accepts.
//
// https://learn.microsoft.com/graph/api/resources/intune-enrollment-importedwindowsautopilotdeviceidentity?view=graph-rest-beta
type ImportedDevice struct {
	ID                        string      `json:"id,omitempty"`
	SerialNumber              string      `json:"serialNumber"`
	HardwareIdentifier        []byte      `json:"hardwareIdentifier"`
	GroupTag                  string      `json:"groupTag"`
	AssignedUserPrincipalName string      `json:"assignedUserPrincipalName"`
	State                     ImportState `json:"state"`
}

// Import imports devices into Windows Autopilot and returns Graph's records of them, one per
// device, each with the ID to read (GetImported) and delete (DeleteImported) it by. Graph does not
// promise their order: match them to the request by SerialNumber. A device whose State has no
// DeviceImportStatus is sent as "pending". Needs DeviceManagementServiceConfig.ReadWrite.All.
//
// The import is never retried, whatever happens (429, 5xx, a timeout or a broken connection): an
// attempt that failed may still have created records, and a retry would create others that nobody
// reads or deletes (SPEC §17). So a failure here may leave records behind; the caller reports it
// and follows nothing. Errors: *Error for a Graph answer (a 400 names a hash that is not base64),
// ErrMalformedAnswer (wrapped), or the transport or context error.
//
// https://learn.microsoft.com/graph/api/intune-enrollment-importedwindowsautopilotdeviceidentity-import?view=graph-rest-beta
func (c *Client) Import(ctx context.Context, devices []ImportedDevice) ([]ImportedDevice, *Response, error) {
	items := make([]ImportedDevice, len(devices))
	for i, d := range devices {
		if d.State.DeviceImportStatus == "" {
			d.State.DeviceImportStatus = ImportPending
		}
		items[i] = d
	}
	body, err := json.Marshal(map[string][]ImportedDevice{"importedWindowsAutopilotDeviceIdentities": items})
	if err != nil {
		return nil, &Response{}, fmt.Errorf("graph: encode import: %w", err)
	}
	ctx = policy.WithRetryOptions(ctx, policy.RetryOptions{MaxRetries: -1})
	var answer struct {
		Value []ImportedDevice `json:"value"`
	}
	resp, err := c.do(ctx, http.MethodPost, c.root.String()+importedPath+"/import", body, &answer)
	if err != nil {
		return nil, resp, err
	}
	return answer.Value, resp, nil
}

// GetImported reads the imported record id, whose State says how its import went: until
// DeviceImportStatus is neither unknown nor pending, the import has not ended. Needs
// DeviceManagementServiceConfig.Read.All. A record deleted already is a *Error with StatusCode
// 404. Errors as for Get, and ErrInvalidID.
//
// https://learn.microsoft.com/graph/api/intune-enrollment-importedwindowsautopilotdeviceidentity-get?view=graph-rest-beta
func (c *Client) GetImported(ctx context.Context, id string) (ImportedDevice, *Response, error) {
	var d ImportedDevice
	endpoint, err := c.importedURL(id)
	if err != nil {
		return d, &Response{}, err
	}
	resp, err := c.do(ctx, http.MethodGet, endpoint, nil, &d)
	return d, resp, err
}

// DeleteImported deletes the imported record id, as Microsoft expects once its import has ended,
// whatever the result. Graph answers 204. A record deleted already is a *Error with StatusCode 404,
// which is also what a retried DELETE (after a 5xx or a broken connection) meets when the first
// attempt went through: a caller treats 404 as done. Needs
// DeviceManagementServiceConfig.ReadWrite.All. Errors as for Get, and ErrInvalidID.
//
// https://learn.microsoft.com/graph/api/intune-enrollment-importedwindowsautopilotdeviceidentity-delete?view=graph-rest-beta
func (c *Client) DeleteImported(ctx context.Context, id string) (*Response, error) {
	endpoint, err := c.importedURL(id)
	if err != nil {
		return &Response{}, err
	}
	return c.do(ctx, http.MethodDelete, endpoint, nil, nil)
}

// importedURL is the URL of the record id, escaped as one path segment.
func (c *Client) importedURL(id string) (string, error) {
	if id == "" || id == "." || id == ".." {
		return "", fmt.Errorf("graph: %w %q", ErrInvalidID, id)
	}
	return c.root.String() + importedPath + "/" + url.PathEscape(id), nil
}
