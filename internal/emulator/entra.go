package emulator

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// serveEntra serves OpenID discovery, instance discovery, JWKS and the token endpoint.
func (e *Emulator) serveEntra(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	isToken := len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token"
	if isToken && r.Method == http.MethodPost {
		// Parse before faults so that faulted token requests are counted by client.
		_ = r.ParseForm()
		e.mu.Lock()
		e.counts.Tokens[formClientID(r)]++
		e.mu.Unlock()
	}
	if f, ok := e.matchFault(Entra, r); ok {
		if e.applyFault(w, r, f, func(status int) []byte { return entraErrorBody(status, "", "") }) {
			return
		}
	}
	switch {
	case len(segs) == 3 && segs[0] == "common" && segs[1] == "discovery" && segs[2] == "instance":
		e.instanceDiscovery(w, r)
	case len(segs) == 4 && segs[1] == "v2.0" && segs[2] == ".well-known" && segs[3] == "openid-configuration":
		e.openIDConfig(w, r, segs[0])
	case len(segs) == 4 && segs[1] == "discovery" && segs[2] == "v2.0" && segs[3] == "keys":
		writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{"keys": []any{}})
	case isToken:
		if r.Method != http.MethodPost {
			entraError(w, http.StatusMethodNotAllowed, "invalid_request", "AADSTS900561: The endpoint only accepts POST requests.")
			return
		}
		e.token(w, r, segs[0])
	default:
		entraError(w, http.StatusNotFound, "invalid_request", "AADSTS90000: Unknown endpoint "+r.URL.Path+".")
	}
}

func formClientID(r *http.Request) string {
	if id := r.PostForm.Get("client_id"); id != "" {
		return id
	}
	if id, _, ok := r.BasicAuth(); ok {
		return id
	}
	return ""
}

func (e *Emulator) knownTenant(tenant string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	prefix := strings.ToLower(tenant) + "/"
	for k := range e.apps {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

func (e *Emulator) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	answer, ok := e.instanceDiscoveryAnswer(r) // clouds.go
	if !ok {
		entraError(w, http.StatusBadRequest, "invalid_instance", "AADSTS50049: Unknown or invalid instance.")
		return
	}
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", answer)
}

// openIDConfig announces the issuer and endpoints on the Entra host the request was sent to
// (the emulator's address, or a national cloud's host through StartProxy).
func (e *Emulator) openIDConfig(w http.ResponseWriter, r *http.Request, tenant string) {
	if !e.knownTenant(tenant) || e.wrongCloud(r, tenant) {
		entraError(w, http.StatusBadRequest, "invalid_tenant", fmt.Sprintf(
			"AADSTS90002: Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	root := e.authorityRoot(r)
	base := root + "/" + tenant
	instance, graphHost := cloudOfRoot(root)
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     root + "/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "tid"},
		"kerberos_endpoint":                     base + "/kerberos",
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   instance,
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          graphHost,
	})
}

func (e *Emulator) token(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		entraError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	}
	if !e.knownTenant(tenant) || e.wrongCloud(r, tenant) {
		entraError(w, http.StatusBadRequest, "invalid_tenant", fmt.Sprintf(
			"AADSTS90002: Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	f := r.PostForm
	if gt := f.Get("grant_type"); gt != "client_credentials" {
		if gt == "" {
			entraError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		} else {
			entraError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type '"+gt+"'.")
		}
		return
	}
	resource := ""
	for _, s := range strings.Fields(f.Get("scope")) {
		if strings.HasSuffix(s, "/.default") {
			resource = strings.TrimSuffix(s, "/.default")
			break
		}
	}
	if resource == "" {
		entraError(w, http.StatusBadRequest, "invalid_scope", fmt.Sprintf(
			"AADSTS1002012: The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", f.Get("scope")))
		return
	}
	if desc := crossCloudResource(r, tenant, resource); desc != "" { // no token crosses clouds
		entraError(w, http.StatusBadRequest, "invalid_resource", desc)
		return
	}
	clientID := formClientID(r)
	secret := f.Get("client_secret")
	if _, s, ok := r.BasicAuth(); ok && secret == "" {
		secret = s
	}
	assertion := f.Get("client_assertion")

	e.mu.Lock()
	a, ok := e.apps[appKey(tenant, clientID)]
	var ac app
	if ok {
		ac = *a
	}
	e.mu.Unlock()
	if clientID == "" {
		entraError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'client_id'.")
		return
	}
	if !ok {
		entraError(w, http.StatusUnauthorized, "invalid_client", fmt.Sprintf(
			"AADSTS700016: Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", clientID, tenant))
		return
	}
	switch {
	case secret != "":
		if ac.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(ac.Secret)) != 1 {
			entraError(w, http.StatusUnauthorized, "invalid_client", fmt.Sprintf(
				"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
			return
		}
	case assertion != "":
		if f.Get("client_assertion_type") != clientAssertionType {
			entraError(w, http.StatusBadRequest, "invalid_request", "AADSTS90014: The required field 'client_assertion_type' is missing or invalid.")
			return
		}
		if desc, federated := e.verifyFederated(r.Context(), tenant, clientID, assertion); federated {
			if desc != "" {
				entraError(w, http.StatusUnauthorized, "invalid_client", desc)
				return
			}
			break // a valid federated assertion (federation.go)
		}
		aud := e.authorityRoot(r) + "/" + tenant + "/oauth2/v2.0/token"
		if msg := verifyAssertion(assertion, ac, aud, time.Now()); msg != "" {
			entraError(w, http.StatusUnauthorized, "invalid_client", "AADSTS700027: Client assertion failed signature validation or is invalid: "+msg+".")
			return
		}
	default:
		entraError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	issued := time.Now()
	tok := newAccessToken(tenant, clientID, resource, ac.Roles, issued, issued.Add(e.tokenTTL)) // tokens.go
	e.mu.Lock()
	e.tokens[tok] = &accessToken{
		tenant: tenant, client: clientID, resource: resource,
		gen: ac.gen, roles: ac.Roles, expires: issued.Add(e.tokenTTL),
	}
	e.mu.Unlock()
	secs := int(e.tokenTTL / time.Second)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok,
	})
}

// IssuedTokens returns every access token the emulator has issued so far, revoked and expired
// ones included, sorted: tests use it to check that no token leaks into logs or answers.
func (e *Emulator) IssuedTokens() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.tokens))
	for tok := range e.tokens {
		out = append(out, tok)
	}
	slices.Sort(out)
	return out
}

// verifyAssertion checks a client assertion JWT against the app's certificate.
// It returns "" when valid, else a short reason.
func verifyAssertion(jwt string, a app, aud string, now time.Time) string {
	if a.Certificate == nil {
		return "no certificate registered"
	}
	pub, ok := a.Certificate.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "certificate key is not RSA"
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "malformed JWT"
	}
	var hdr map[string]any
	var claims struct {
		Aud, Iss, Sub string
		Exp, Nbf      json.Number
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &claims) != nil {
		return "malformed JWT"
	}
	s1, s256 := sha1.Sum(a.Certificate.Raw), sha256.Sum256(a.Certificate.Raw)
	x5t, hasX5t := hdr["x5t"].(string)
	x5tS, hasX5tS := hdr["x5t#S256"].(string)
	switch {
	case !hasX5t && !hasX5tS:
		return "no x5t or x5t#S256 header"
	case hasX5t && !thumbMatches(x5t, s1[:]), hasX5tS && !thumbMatches(x5tS, s256[:]):
		return "certificate thumbprint does not match a registered certificate"
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch hdr["alg"] {
	case "RS256":
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			return "signature is invalid"
		}
	case "PS256":
		if rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) != nil {
			return "signature is invalid"
		}
	default:
		return "unsupported alg"
	}
	if claims.Aud != aud {
		return "audience is not the token endpoint"
	}
	if !strings.EqualFold(claims.Iss, a.ClientID) || !strings.EqualFold(claims.Sub, a.ClientID) {
		return "iss and sub must be the client ID"
	}
	exp, err := claims.Exp.Int64()
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return "assertion is expired"
	}
	if nbf, err := claims.Nbf.Int64(); err == nil && now.Add(5*time.Minute).Before(time.Unix(nbf, 0)) {
		return "assertion is not yet valid"
	}
	return ""
}

// thumbMatches compares a base64 (standard or URL, padded or not) thumbprint with want.
func thumbMatches(s string, want []byte) bool {
	s = strings.TrimRight(s, "=")
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil && subtle.ConstantTimeCompare(b, want) == 1 {
			return true
		}
	}
	return false
}

func entraErrorBody(status int, code, desc string) []byte {
	if code == "" {
		switch {
		case status == http.StatusUnauthorized:
			code, desc = "invalid_client", "AADSTS7000215: Invalid client secret provided."
		case status >= 500:
			code, desc = "temporarily_unavailable", "AADSTS50196: The server terminated an operation because it encountered a client request loop."
		case status == http.StatusTooManyRequests:
			code, desc = "temporarily_unavailable", "AADSTS90055: The request is throttled."
		default:
			code, desc = "invalid_request", "AADSTS90014: The request is invalid."
		}
	}
	trace, corr := newUUID(), newUUID()
	ts := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	var n int
	_, _ = fmt.Sscanf(strings.TrimPrefix(desc, "AADSTS"), "%d", &n)
	return mustJSON(map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("%s Trace ID: %s Correlation ID: %s Timestamp: %s", desc, trace, corr, ts),
		"error_codes":       []int{n},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         "https://login.microsoftonline.com/error?code=" + fmt.Sprint(n),
	})
}

func entraError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(entraErrorBody(status, code, desc))
}
