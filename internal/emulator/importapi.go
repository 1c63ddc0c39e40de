package emulator

// The Graph endpoints of imported Windows Autopilot devices (SPEC §17):
//
//	POST   /deviceManagement/importedWindowsAutopilotDeviceIdentities/import  (ReadWrite.All)
//	GET    /deviceManagement/importedWindowsAutopilotDeviceIdentities/{id}    (Read.All or ReadWrite.All)
//	DELETE /deviceManagement/importedWindowsAutopilotDeviceIdentities/{id}    (ReadWrite.All)
//
// The import answers 200 {"value":[…]} with an id per record, in an order of its own (callers
// match records by serialNumber), each "unknown" at first. A hardwareIdentifier that is not
// padded base64 is a 400 "Cannot convert the literal '…' to the expected type 'Edm.Binary'.", as
// the service answers (MicrosoftDocs/windows-itpro-docs#6150). How imports end is in imports.go.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

const (
	importedPath    = "/beta/devicemanagement/importedwindowsautopilotdeviceidentities"
	importedType    = "microsoft.graph.importedWindowsAutopilotDeviceIdentity"
	importedContext = "https://graph.microsoft.com/beta/$metadata#deviceManagement/importedWindowsAutopilotDeviceIdentities"
	importParam     = "importedWindowsAutopilotDeviceIdentities"
)

// serveImported routes the requests under importedWindowsAutopilotDeviceIdentities.
func (e *Emulator) serveImported(g *graphReq, tok *accessToken, lowerPath string) {
	rest := strings.TrimPrefix(strings.TrimPrefix(lowerPath, importedPath), "/")
	id := rest
	if i := strings.LastIndex(g.r.URL.Path, "/"); i >= 0 && rest != "" {
		id = g.r.URL.Path[i+1:] // the id as sent, not lower-cased
	}
	isID := rest != "" && rest != "import" && !strings.Contains(rest, "/")
	switch {
	case rest == "import" && g.r.Method == http.MethodPost:
		e.graphImport(g, tok)
	case isID && g.r.Method == http.MethodGet:
		e.graphImportedGet(g, tok, id)
	case isID && g.r.Method == http.MethodDelete:
		e.graphImportedDelete(g, tok, id)
	case rest == "import" || isID || rest == "": // the emulator does not list or create records
		g.error(http.StatusMethodNotAllowed, "No method match route template", fmt.Sprintf(
			"No OData route exists that match template ~/entityset/key with http verb %s for request %s.", g.r.Method, g.r.URL.Path))
	default:
		g.error(http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+rest+"'.")
	}
}

// graphImport serves the import action.
func (e *Emulator) graphImport(g *graphReq, tok *accessToken) {
	if !e.authorize(g, tok, RoleReadWriteAll) {
		return
	}
	e.countDevices(tok.tenant, func(c *DeviceCounts) { c.Imports++ })
	items, msg := readImport(g)
	if msg != "" {
		g.error(http.StatusBadRequest, "BadRequest", msg)
		return
	}
	e.mu.Lock()
	ts := e.tenantLocked(tok.tenant)
	now := e.clock.Now()
	var seen [][]byte
	recs := make([]*importRec, 0, len(items))
	for _, ir := range items {
		recs = append(recs, e.newImportLocked(ts, ir, seen, now))
		seen = append(seen, ir.HardwareIdentifier)
	}
	value := make([]map[string]any, 0, len(recs))
	slices.SortFunc(recs, func(a, b *importRec) int { return strings.Compare(a.ID, b.ID) })
	for _, r := range recs {
		value = append(value, importedJSON(r, false))
	}
	e.mu.Unlock()
	e.countDevices(tok.tenant, func(c *DeviceCounts) { c.RecordsImported += len(recs) })
	writeJSON(g.w, http.StatusOK, odataJSON, map[string]any{"@odata.context": "https://graph.microsoft.com/beta/$metadata#Collection(" + importedType + ")", "value": value})
}

// readImport reads the import action's body; on failure it returns Graph's error message.
func readImport(g *graphReq) ([]ImportedRecord, string) {
	const unreadable = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."
	body, err := io.ReadAll(g.r.Body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, "The request body is too large."
	case err != nil:
		return nil, "Unable to read the request body."
	}
	var params map[string]json.RawMessage
	if !strings.HasPrefix(strings.ToLower(g.r.Header.Get("Content-Type")), "application/json") ||
		json.Unmarshal(body, &params) != nil || params == nil {
		return nil, unreadable
	}
	for k := range params {
		if k != importParam {
			return nil, fmt.Sprintf("The parameter '%s' in the request payload is not a valid parameter for the operation 'import'.", k)
		}
	}
	raw, ok := params[importParam]
	if !ok {
		return nil, "The parameter '" + importParam + "' is missing."
	}
	var items []map[string]json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, unreadable
	}
	out := make([]ImportedRecord, 0, len(items))
	for _, item := range items {
		ir, msg := readImported(item)
		if msg != "" {
			return nil, msg
		}
		out = append(out, ir)
	}
	return out, ""
}

// readImported reads one importedWindowsAutopilotDeviceIdentity of the request.
func readImported(item map[string]json.RawMessage) (ImportedRecord, string) {
	var ir ImportedRecord
	for k, v := range item {
		var target *string
		switch k {
		case "serialNumber":
			target = &ir.SerialNumber
		case "groupTag":
			target = &ir.GroupTag
		case "assignedUserPrincipalName":
			target = &ir.AssignedUserPrincipalName
		case "hardwareIdentifier":
			var s *string
			if json.Unmarshal(v, &s) != nil {
				return ir, fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.Binary'.", v)
			}
			if s == nil {
				continue
			}
			// .NET's Convert.FromBase64String: padded standard base64, or the literal is refused.
			b, err := base64.StdEncoding.DecodeString(*s)
			if err != nil {
				return ir, fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.Binary'.", *s)
			}
			ir.HardwareIdentifier = b
			continue
		case "@odata.type", "id", "orderIdentifier", "productKey", "importId", "state":
			continue // accepted and ignored: the service sets them
		default:
			return ir, fmt.Sprintf("The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", k, importedType)
		}
		var s *string
		if json.Unmarshal(v, &s) != nil {
			return ir, fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.String'.", v)
		}
		if s != nil {
			*target = *s
		}
	}
	return ir, ""
}

// importedJSON is r as Graph serialises it; withHash adds the hardware identifier (the import
// action's answer leaves it null).
func importedJSON(r *importRec, withHash bool) map[string]any {
	status, regID, code, name := r.state()
	var hash any
	if withHash && r.HardwareIdentifier != nil {
		hash = base64.StdEncoding.EncodeToString(r.HardwareIdentifier)
	}
	return map[string]any{
		"@odata.type":               "#" + importedType,
		"id":                        r.ID,
		"orderIdentifier":           "",
		"serialNumber":              r.SerialNumber,
		"productKey":                "",
		"importId":                  r.ID,
		"hardwareIdentifier":        hash,
		"groupTag":                  r.GroupTag,
		"assignedUserPrincipalName": r.AssignedUserPrincipalName,
		"state": map[string]any{
			"@odata.type":          "microsoft.graph.importedWindowsAutopilotDeviceIdentityState",
			"deviceImportStatus":   status,
			"deviceRegistrationId": regID,
			"deviceErrorCode":      code,
			"deviceErrorName":      name,
		},
	}
}

// graphImportedGet serves GET of an imported record, its state settled against the clock.
func (e *Emulator) graphImportedGet(g *graphReq, tok *accessToken, id string) {
	if !e.authorize(g, tok, RoleReadAll, RoleReadWriteAll) {
		return
	}
	e.countDevices(tok.tenant, func(c *DeviceCounts) { c.ImportedReads++ })
	e.mu.Lock()
	r, ok := e.tenantLocked(tok.tenant).imp.records[id]
	var body map[string]any
	if ok {
		body = importedJSON(r, true)
		body["@odata.context"] = importedContext + "/$entity"
	}
	e.mu.Unlock()
	if !ok {
		g.intuneError(http.StatusNotFound, "ResourceNotFound", "An error has occurred")
		return
	}
	writeJSON(g.w, http.StatusOK, odataJSON, body)
}

// graphImportedDelete serves DELETE of an imported record: 204, then 404 for it. Deleting a
// record whose import has not ended abandons the import: it registers nothing.
func (e *Emulator) graphImportedDelete(g *graphReq, tok *accessToken, id string) {
	if !e.authorize(g, tok, RoleReadWriteAll) {
		return
	}
	e.mu.Lock()
	ts := e.tenantLocked(tok.tenant)
	_, ok := ts.imp.records[id]
	delete(ts.imp.records, id)
	e.mu.Unlock()
	e.countDevices(tok.tenant, func(c *DeviceCounts) {
		c.ImportedDeletes++
		if ok {
			c.RecordsDeleted++
		}
	})
	if !ok {
		g.intuneError(http.StatusNotFound, "ResourceNotFound", "An error has occurred")
		return
	}
	g.w.WriteHeader(http.StatusNoContent)
}
