package emulator

import (
	"net/http"
	"strings"
	"time"
)

const vaultResource = "https://vault.azure.net"

// isSecretName reports whether name is a valid Key Vault secret name: 1 to 127 letters, digits
// and dashes.
func isSecretName(name string) bool {
	if len(name) < 1 || len(name) > 127 {
		return false
	}
	for _, c := range []byte(name) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// bearer returns the request's bearer token, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// lookupToken returns the token's record (a copy) and "" if it is valid for
// resource, else its record (nil if unknown) and why it is not.
func (e *Emulator) lookupToken(raw string) (*accessToken, string) {
	if raw == "" {
		return nil, "missing"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.tokens[raw]
	if !ok {
		return nil, "unknown"
	}
	c := *t
	if a, ok := e.apps[appKey(t.tenant, t.client)]; !ok || a.gen != t.gen {
		return &c, "revoked"
	}
	if !time.Now().Before(t.expires) {
		return &c, "expired"
	}
	return &c, ""
}

// serveVault serves Key Vault secret reads.
func (e *Emulator) serveVault(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-ms-request-id", newUUID())
	w.Header().Set("x-ms-keyvault-service-version", "1.9.2000.1")
	w.Header().Set("x-ms-keyvault-region", "westeurope")
	w.Header().Set("Cache-Control", "no-cache")
	if f, ok := e.matchFault(Vault, r); ok {
		if e.applyFault(w, r, f, vaultErrorBody) {
			return
		}
	}
	if r.URL.Query().Get("api-version") == "" {
		vaultError(w, http.StatusBadRequest, "BadParameter", "The request URI must contain the 'api-version' query parameter.")
		return
	}
	raw := bearer(r)
	tok, why := e.lookupToken(raw)
	e.mu.Lock()
	tenant := e.vaultTenant
	if raw == "" {
		e.counts.VaultChallenges++
	}
	e.mu.Unlock()
	if tenant == "" {
		tenant = SeedTenantID
	}
	msg := ""
	switch {
	case why == "missing":
		msg = "AKV10000: Request is missing a Bearer or PoP token."
	case why == "expired":
		msg = "AKV10022: Invalid token: the token is expired."
	case why != "":
		msg = "AKV10013: Token validation failed: the token is " + why + "."
	case strings.TrimSuffix(tok.resource, "/") != vaultResource:
		msg = "AKV10022: Invalid audience. Expected " + vaultResource + ", found: " + tok.resource + "."
	case !strings.EqualFold(tok.tenant, tenant):
		msg = "AKV10032: Invalid issuer. Expected one of https://sts.windows.net/" + tenant + "/, found https://sts.windows.net/" + tok.tenant + "/."
	}
	if msg != "" {
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/`+tenant+`", resource="`+vaultResource+`"`)
		vaultError(w, http.StatusUnauthorized, "Unauthorized", msg)
		return
	}
	segs := strings.Split(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/secrets/"), "/"), "/")
	if r.URL.Path == "/secrets" || r.URL.Path == "/secrets/" || len(segs) > 2 || !isSecretName(segs[0]) {
		vaultError(w, http.StatusBadRequest, "BadParameter", "The request URI contains an invalid name or is not supported by this emulator.")
		return
	}
	if r.Method != http.MethodGet {
		vaultError(w, http.StatusMethodNotAllowed, "BadParameter", "The method "+r.Method+" is not supported by this emulator.")
		return
	}
	name, version := segs[0], ""
	if len(segs) == 2 {
		version = segs[1]
	}
	e.mu.Lock()
	e.counts.SecretReads[name]++
	var found *secretVersion
	vs := e.secrets[name]
	for i := len(vs) - 1; i >= 0; i-- {
		if version == "" || vs[i].version == version {
			v := vs[i]
			found = &v
			break
		}
	}
	e.mu.Unlock()
	if found == nil {
		id := name
		if version != "" {
			id += "/" + version
		}
		vaultError(w, http.StatusNotFound, "SecretNotFound", "A secret with (name/id) "+id+" was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182")
		return
	}
	if found.disabled {
		secretDisabled(w) // tokens.go
		return
	}
	body := map[string]any{
		"value": found.value,
		"id":    e.VaultURL() + "secrets/" + name + "/" + found.version,
		"attributes": map[string]any{
			"enabled": true, "created": found.created.Unix(), "updated": found.created.Unix(),
			"recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90,
		},
		"tags": map[string]string{},
	}
	if found.contentType != "" {
		body["contentType"] = found.contentType
	}
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", body)
}

func vaultErrorBody(status int) []byte {
	code, msg := "InternalServerError", "An internal error occurred."
	switch status {
	case http.StatusBadRequest:
		code, msg = "BadParameter", "The request is invalid."
	case http.StatusUnauthorized:
		code, msg = "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."
	case http.StatusForbidden:
		return forbiddenByRBAC("Caller is not authorized to perform action on resource.") // tokens.go
	case http.StatusNotFound:
		code, msg = "NotFound", "The requested resource was not found."
	case http.StatusTooManyRequests:
		code, msg = "Throttled", "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"
	case http.StatusServiceUnavailable:
		code, msg = "ServiceUnavailable", "The service is temporarily unavailable."
	}
	return vaultErrorJSON(code, msg)
}

func vaultErrorJSON(code, msg string) []byte {
	return mustJSON(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func vaultError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(vaultErrorJSON(code, msg))
}
