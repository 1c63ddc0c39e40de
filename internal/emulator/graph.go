package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	settingsPath  = "/beta/devicemanagement/windowsautopilotsettings"
	odataContext  = "https://graph.microsoft.com/beta/$metadata#deviceManagement/windowsAutopilotSettings/$entity"
	odataJSON     = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
	agsDiagnostic = `{"ServerInfo":{"DataCenter":"West Europe","Slice":"E","Ring":"5","ScaleUnit":"002","RoleInstance":"AM4PEPF0000EMU1"}}`
)

// isSyncStatus reports whether s is a value of the windowsAutopilotSyncStatus enumeration.
func isSyncStatus(s string) bool {
	switch s {
	case "unknown", "inProgress", "completed", "failed", "unknownFutureValue":
		return true
	}
	return false
}

// tenantLocked returns a tenant's state, creating it on first use, settled
// against the clock. e.mu must be held.
func (e *Emulator) tenantLocked(tenantID string) *tenantState {
	k := strings.ToLower(tenantID)
	now := e.clock.Now()
	e.settleImportsLocked(now) // imports.go: the devices they register, before a sync's end
	ts, ok := e.tenants[k]
	if !ok {
		ts = &tenantState{s: Settings{
			ID:                            newUUID(),
			LastSyncDateTime:              now.Add(-time.Hour).UTC(),
			LastManualSyncTriggerDateTime: now.Add(-2 * time.Hour).UTC(),
			SyncStatus:                    "completed",
		}}
		e.tenants[k] = ts
	}
	if ts.s.SyncStatus == "inProgress" {
		if done := ts.s.LastManualSyncTriggerDateTime.Add(e.syncDur); !now.Before(done) {
			ts.s.SyncStatus = ts.outcome
			if ts.s.SyncStatus == "" {
				ts.s.SyncStatus = "completed"
			}
			ts.s.LastSyncDateTime = done.UTC()
			if ts.s.SyncStatus == "completed" {
				ts.registerPending(ts.s.LastManualSyncTriggerDateTime, done) // registration.go
			}
		}
	}
	return ts
}

type graphReq struct {
	w        http.ResponseWriter
	r        *http.Request
	reqID    string
	clientID string // client-request-id
	now      time.Time
}

// serveGraph serves /beta/deviceManagement/windowsAutopilotSettings and its sync action.
func (e *Emulator) serveGraph(w http.ResponseWriter, r *http.Request) {
	g := &graphReq{w: w, r: r, reqID: newUUID(), clientID: r.Header.Get("client-request-id"), now: e.clock.Now().UTC()}
	if g.clientID == "" {
		g.clientID = newUUID()
	}
	h := w.Header()
	h.Set("request-id", g.reqID)
	h.Set("client-request-id", g.clientID)
	h.Set("x-ms-ags-diagnostic", agsDiagnostic)
	h.Set("Date", g.now.Format(http.TimeFormat))
	h.Set("Cache-Control", "no-cache")
	h.Set("Strict-Transport-Security", "max-age=31536000")

	p := strings.ToLower(strings.TrimSuffix(r.URL.Path, "/"))
	isSync := p == settingsPath+"/sync" || p == settingsPath+"/microsoft.graph.sync"
	key := graphCountKey(r.Method, p, isSync) // devices.go
	tok, why := e.lookupToken(bearer(r))
	e.mu.Lock()
	e.counts.Graph[key]++
	if tok != nil {
		e.counts.GraphTokensSeen[tok.tenant]++
	}
	e.mu.Unlock()

	if f, ok := e.matchFault(Graph, r); ok {
		if e.applyFault(w, r, f, g.errorBody) {
			return
		}
	}

	if why == "" && !sameHost(tok.resource, r.Host) {
		why = "audience"
	}
	switch why {
	case "":
	case "missing":
		g.unauthorized("Access token is empty.")
		return
	case "unknown":
		g.unauthorized("IDX14100: JWT is not well formed, there are no dots (.).")
		return
	case "expired":
		g.unauthorized("Lifetime validation failed, the token is expired.")
		return
	case "revoked":
		g.unauthorized("Access token validation failure. The token has been revoked.")
		return
	default:
		g.unauthorized("Access token validation failure. Invalid audience.")
		return
	}

	switch {
	case p == settingsPath && r.Method == http.MethodGet:
		e.graphGet(g, tok, RoleReadAll, RoleReadWriteAll)
	case p == settingsPath && r.Method == http.MethodPatch:
		e.graphPatch(g, tok)
	case isSync && r.Method == http.MethodPost:
		e.graphSync(g, tok)
	case p == settingsPath || isSync:
		g.error(http.StatusMethodNotAllowed, "No method match route template", fmt.Sprintf(
			"No OData route exists that match template ~/singleton/navigation with http verb %s for request /DeviceEnrollmentFE/StatelessDeviceEnrollmentFEService/deviceManagement/windowsAutopilotSettings.", r.Method))
	case p == devicesPath && r.Method == http.MethodGet:
		e.graphDevices(g, tok) // devices.go
	case p == importedPath || strings.HasPrefix(p, importedPath+"/"):
		e.serveImported(g, tok, p) // importapi.go
	default:
		seg := p
		if i := strings.LastIndex(r.URL.Path, "/"); i >= 0 {
			seg = r.URL.Path[i+1:]
		}
		g.error(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg))
	}
}

// sameHost reports whether resource (e.g. "https://127.0.0.1") names the host of hostport.
func sameHost(resource, hostport string) bool {
	u, err := url.Parse(resource)
	if err != nil || u.Scheme != "https" || (u.Path != "" && u.Path != "/") {
		return false
	}
	h := hostport
	if hh, _, err := splitHostPort(hostport); err == nil {
		h = hh
	}
	return u.Port() == "" && strings.EqualFold(u.Hostname(), h)
}

func splitHostPort(hp string) (string, string, error) {
	u, err := url.Parse("//" + hp)
	if err != nil {
		return "", "", err
	}
	return u.Hostname(), u.Port(), nil
}

func (e *Emulator) authorize(g *graphReq, tok *accessToken, roles ...string) bool {
	for _, r := range roles {
		if slices.Contains(tok.roles, r) {
			return true
		}
	}
	g.error(http.StatusForbidden, "Forbidden", "Application is not authorized to perform this operation. Application must have one of the following scopes: "+strings.Join(roles, ", ")+" - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: "+g.reqID+" - Url: "+fefURL(g.r))
	return false
}

func (e *Emulator) graphGet(g *graphReq, tok *accessToken, roles ...string) {
	if !e.authorize(g, tok, roles...) {
		return
	}
	e.mu.Lock()
	s := e.tenantLocked(tok.tenant).s
	e.mu.Unlock()
	writeJSON(g.w, http.StatusOK, odataJSON, settingsJSON(s))
}

func settingsJSON(s Settings) map[string]any {
	return map[string]any{
		"@odata.context":                odataContext,
		"id":                            s.ID,
		"lastSyncDateTime":              s.LastSyncDateTime.UTC().Format(time.RFC3339Nano),
		"lastManualSyncTriggerDateTime": s.LastManualSyncTriggerDateTime.UTC().Format(time.RFC3339Nano),
		"syncStatus":                    s.SyncStatus,
	}
}

func (e *Emulator) graphPatch(g *graphReq, tok *accessToken) {
	if !e.authorize(g, tok, RoleReadWriteAll) {
		return
	}
	body, err := io.ReadAll(g.r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			g.error(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request body is too large.")
		} else {
			g.error(http.StatusBadRequest, "BadRequest", "Unable to read the request body.")
		}
		return
	}
	var props map[string]json.RawMessage
	if !strings.HasPrefix(strings.ToLower(g.r.Header.Get("Content-Type")), "application/json") ||
		json.Unmarshal(body, &props) != nil || props == nil {
		g.error(http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		return
	}
	var upd Settings
	var setSync, setTrig, setStatus bool
	for k, v := range props {
		var msg string
		switch k {
		case "lastSyncDateTime":
			upd.LastSyncDateTime, msg = parseEdmTime(v)
			setSync = true
		case "lastManualSyncTriggerDateTime":
			upd.LastManualSyncTriggerDateTime, msg = parseEdmTime(v)
			setTrig = true
		case "syncStatus":
			if json.Unmarshal(v, &upd.SyncStatus) != nil || !isSyncStatus(upd.SyncStatus) {
				msg = fmt.Sprintf("The value %s is not a valid enumerated type value for 'microsoft.graph.windowsAutopilotSyncStatus'.", v)
			}
			setStatus = true
		case "@odata.type":
			var t string
			if json.Unmarshal(v, &t) != nil || t != "#microsoft.graph.windowsAutopilotSettings" {
				msg = fmt.Sprintf("A type named %s could not be resolved by the model.", v)
			}
		case "id":
			// Accepted and ignored, like other read-only keys.
		default:
			msg = fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.windowsAutopilotSettings'. Make sure to only use property names that are defined by the type or mark the type as open type.", k)
		}
		if msg != "" {
			g.error(http.StatusBadRequest, "BadRequest", msg)
			return
		}
	}
	e.mu.Lock()
	ts := e.tenantLocked(tok.tenant)
	if setSync {
		ts.s.LastSyncDateTime = upd.LastSyncDateTime
	}
	if setTrig {
		ts.s.LastManualSyncTriggerDateTime = upd.LastManualSyncTriggerDateTime
	}
	if setStatus {
		ts.s.SyncStatus = upd.SyncStatus
	}
	s := e.tenantLocked(tok.tenant).s
	noContent := e.patchNoContent
	e.mu.Unlock()
	if noContent {
		g.w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(g.w, http.StatusOK, odataJSON, settingsJSON(s))
}

// parseEdmTime parses an Edm.DateTimeOffset; on failure it returns the Graph error message.
func parseEdmTime(v json.RawMessage) (time.Time, string) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC(), ""
		}
	}
	return time.Time{}, fmt.Sprintf("Cannot convert the literal %s to the expected type 'Edm.DateTimeOffset'.", v)
}

func (e *Emulator) graphSync(g *graphReq, tok *accessToken) {
	if !e.authorize(g, tok, RoleReadWriteAll) {
		return
	}
	_, _ = io.Copy(io.Discard, g.r.Body)
	e.mu.Lock()
	ts := e.tenantLocked(tok.tenant)
	status := ts.s.SyncStatus
	allowed := ts.s.LastManualSyncTriggerDateTime.Add(syncCooldown)
	mode := e.retryAfter
	now := e.clock.Now()
	if status != "inProgress" && !now.Before(allowed) {
		ts.s.LastManualSyncTriggerDateTime = now.UTC()
		ts.s.SyncStatus = "inProgress"
	}
	e.mu.Unlock()
	switch {
	case status == "inProgress":
		g.intuneError(http.StatusConflict, "Conflict", "A sync is already in progress. Please wait for the current sync to complete")
	case now.Before(allowed):
		remaining := allowed.Sub(now)
		switch mode {
		case RetryAfterSeconds:
			g.w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(remaining.Seconds())), 10))
		case RetryAfterFractional:
			g.w.Header().Set("Retry-After", strconv.FormatFloat(remaining.Seconds(), 'f', 3, 64))
		case RetryAfterDate:
			g.w.Header().Set("Retry-After", allowed.Add(time.Second-1).Truncate(time.Second).UTC().Format(http.TimeFormat))
		}
		g.intuneError(http.StatusTooManyRequests, "TooManyRequests", "Too many requests: a sync was requested less than 10 minutes ago")
	default:
		g.w.WriteHeader(http.StatusNoContent)
	}
}

// errorBody returns a realistic Graph error body for status.
func (g *graphReq) errorBody(status int) []byte {
	code, msg := "UnknownError", ""
	switch status {
	case http.StatusBadRequest:
		code, msg = "BadRequest", "Bad request."
	case http.StatusUnauthorized:
		code, msg = "InvalidAuthenticationToken", "Access token validation failure."
	case http.StatusForbidden:
		code, msg = "Forbidden", "Application is not authorized to perform this operation."
	case http.StatusNotFound:
		code, msg = "ResourceNotFound", "Resource not found."
	case http.StatusConflict:
		return g.intuneBody("Conflict", "A sync is already in progress. Please wait for the current sync to complete")
	case http.StatusTooManyRequests:
		return g.intuneBody("TooManyRequests", "Too many requests")
	case http.StatusInternalServerError:
		code, msg = "InternalServerError", "An internal server error occurred."
	case http.StatusBadGateway:
		code, msg = "BadGateway", "Bad gateway."
	case http.StatusServiceUnavailable:
		code, msg = "ServiceUnavailable", "The service is temporarily unavailable. Please retry."
	case http.StatusGatewayTimeout:
		code, msg = "GatewayTimeout", "The gateway timed out."
	}
	return g.body(code, msg)
}

func (g *graphReq) body(code, msg string) []byte {
	return mustJSON(map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"innerError": map[string]string{
			"date": g.now.Format("2006-01-02T15:04:05Z"), "request-id": g.reqID, "client-request-id": g.clientID,
		},
	}})
}

// intuneBody is an error whose message is the stringified JSON document Intune puts there; its
// Url is the Intune front end's for the request (fefURL).
func (g *graphReq) intuneBody(code, what string) []byte {
	var inner strings.Builder
	enc := json.NewEncoder(&inner)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		Version              int     `json:"_version"`
		Message              string  `json:"Message"`
		CustomAPIErrorPhrase string  `json:"CustomApiErrorPhrase"`
		RetryAfter           *string `json:"RetryAfter"`
		ErrorSourceService   string  `json:"ErrorSourceService"`
		HTTPHeaders          string  `json:"HttpHeaders"`
	}{3, what + " - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: " + g.reqID + " - Url: " + fefURL(g.r), "", nil, "", "{}"})
	return g.body(code, strings.ReplaceAll(strings.TrimSuffix(inner.String(), "\n"), "\n", "\r\n"))
}

func (g *graphReq) write(status int, body []byte) {
	g.w.Header().Set("Content-Type", "application/json")
	g.w.WriteHeader(status)
	_, _ = g.w.Write(body)
}

func (g *graphReq) error(status int, code, msg string) { g.write(status, g.body(code, msg)) }

func (g *graphReq) intuneError(status int, code, what string) {
	g.write(status, g.intuneBody(code, what))
}

func (g *graphReq) unauthorized(msg string) {
	g.w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
	g.error(http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
}
