package emulator

// Access tokens shaped as Entra's, app roles that change after registration, and disabled Key
// Vault secrets: what the diagnose action of SPEC §14 reads or meets.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"
)

// newAccessToken returns an access token for client of tenant, shaped as the v1.0 tokens Entra
// issues to apps: a JWT whose payload carries aud, iss, tid, appid, roles (left out when the app
// has none, as Entra does) and the times. Its signature is random bytes: the emulator knows its
// tokens by their whole text, so no one verifies it, and no two tokens are alike.
func newAccessToken(tenant, client, resource string, roles []string, issued, expires time.Time) string {
	header := map[string]string{"typ": "JWT", "alg": "RS256", "kid": "emulator"}
	claims := map[string]any{
		"aud":   resource,
		"iss":   "https://sts.windows.net/" + tenant + "/",
		"tid":   tenant,
		"appid": client,
		"idtyp": "app",
		"sub":   client,
		"ver":   "1.0",
		"uti":   randHex(11),
		"iat":   issued.Unix(),
		"nbf":   issued.Unix(),
		"exp":   expires.Unix(),
	}
	if len(roles) > 0 {
		claims["roles"] = roles
	}
	sig := make([]byte, 64)
	_, _ = rand.Read(sig)
	return segment(header) + "." + segment(claims) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func segment(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// SetAppRoles replaces the Graph app roles of a registered app (an admin granting or removing an
// application permission). Tokens issued before keep the roles they were issued with, as real
// tokens do until they expire; unknown apps are ignored.
func (e *Emulator) SetAppRoles(tenantID, clientID string, roles []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a, ok := e.apps[appKey(tenantID, clientID)]; ok {
		a.Roles = append([]string{}, roles...)
	}
}

// SetSecretEnabled enables or disables the latest version of a Key Vault secret. A read of a
// disabled secret is answered as Key Vault does: 403 Forbidden with the inner error code
// SecretDisabled. Unknown secrets are ignored.
func (e *Emulator) SetSecretEnabled(name string, enabled bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if vs := e.secrets[name]; len(vs) > 0 {
		vs[len(vs)-1].disabled = !enabled
	}
}

// secretDisabled answers the read of a disabled secret.
func secretDisabled(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write(mustJSON(map[string]any{"error": map[string]any{
		"code": "Forbidden", "message": "Operation get is not allowed on a disabled secret.",
		"innererror": map[string]string{"code": "SecretDisabled"},
	}}))
}

// forbiddenByRBAC is Key Vault's 403 to a caller without a role on a vault in RBAC mode.
func forbiddenByRBAC(msg string) []byte {
	return mustJSON(map[string]any{"error": map[string]any{
		"code": "Forbidden", "message": msg,
		"innererror": map[string]string{"code": "ForbiddenByRbac"},
	}})
}
