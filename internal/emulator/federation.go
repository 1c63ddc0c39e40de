package emulator

// Workload identity federation: Entra's side (an app registration's federated identity
// credentials, checked at the token endpoint) and a fake of AWS STS GetWebIdentityToken, the
// issuer AWS IAM outbound identity federation provides.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"
)

// FederatedCredential is a federated identity credential of an app registration: Entra accepts
// as the app's client assertion a JWT from Issuer whose sub is Subject and whose aud holds
// Audience, signed with one of the issuer's keys (Certificates & secrets › Federated credentials).
type FederatedCredential struct {
	Issuer   string
	Subject  string
	Audience string // e.g. "api://AzureADTokenExchange"
	// Keys, when set, are the issuer's verification keys (*rsa.PublicKey or *ecdsa.PublicKey).
	// Otherwise they are fetched at each token request, from JWKSURL or, when that is empty, from
	// the jwks_uri of {Issuer}/.well-known/openid-configuration.
	Keys    []crypto.PublicKey
	JWKSURL string
	// HTTPClient fetches the discovery document and the keys; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// federations holds each emulator's federated credentials, by appKey. It lives beside the
// Emulator rather than in it, and forgets an emulator when it is garbage collected.
var federations = struct {
	sync.Mutex
	m map[weak.Pointer[Emulator]]map[string][]FederatedCredential
}{m: map[weak.Pointer[Emulator]]map[string][]FederatedCredential{}}

// AddFederatedApp adds a federated identity credential to an app registration, registering the
// app (with no Graph roles, no secret and no certificate) when it is unknown. From then on, the
// app's client assertions are checked against its federated credentials, not its certificate.
func (e *Emulator) AddFederatedApp(tenantID, clientID string, fc FederatedCredential) {
	fc.Keys = append([]crypto.PublicKey(nil), fc.Keys...)
	e.mu.Lock()
	if _, ok := e.apps[appKey(tenantID, clientID)]; !ok {
		e.addAppLocked(App{TenantID: tenantID, ClientID: clientID, Roles: []string{}})
	}
	e.mu.Unlock()

	federations.Lock()
	defer federations.Unlock()
	p := weak.Make(e)
	apps, ok := federations.m[p]
	if !ok {
		apps = map[string][]FederatedCredential{}
		federations.m[p] = apps
		runtime.AddCleanup(e, func(p weak.Pointer[Emulator]) {
			federations.Lock()
			defer federations.Unlock()
			delete(federations.m, p)
		}, p)
	}
	k := appKey(tenantID, clientID)
	apps[k] = append(apps[k], fc)
}

func (e *Emulator) federatedCredentials(tenantID, clientID string) []FederatedCredential {
	federations.Lock()
	defer federations.Unlock()
	return federations.m[weak.Make(e)][appKey(tenantID, clientID)]
}

// verifyFederated checks a client assertion against the app's federated credentials the way
// Entra does. ok is false when the app has none (its certificate applies then). desc is "" for a
// valid assertion, else the AADSTS description of the refusal (answered 401 invalid_client).
func (e *Emulator) verifyFederated(ctx context.Context, tenantID, clientID, assertion string) (desc string, ok bool) {
	fcs := e.federatedCredentials(tenantID, clientID)
	if len(fcs) == 0 {
		return "", false
	}
	return verifyFederatedAssertion(ctx, assertion, fcs, time.Now()), true
}

type jwtClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"`
	Exp json.Number     `json:"exp"`
	Nbf json.Number     `json:"nbf"`
	Iat json.Number     `json:"iat"`
}

func (c jwtClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Aud, &many)
	return many
}

// verifyFederatedAssertion returns "" when jwt is valid for one of fcs at now, else why not.
func verifyFederatedAssertion(ctx context.Context, jwt string, fcs []FederatedCredential, now time.Time) string {
	const malformed = "AADSTS50027: JWT token is invalid or malformed."
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return malformed
	}
	var hdr struct{ Alg, Kid string }
	var claims jwtClaims
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &claims) != nil {
		return malformed
	}
	noMatch := func(code, what, value string) string {
		return fmt.Sprintf("%s: No matching federated identity record found for presented assertion %s '%s'. "+
			"Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.", code, what, value)
	}
	var byIssuer, bySubject []FederatedCredential
	for _, fc := range fcs {
		if fc.Issuer == claims.Iss {
			byIssuer = append(byIssuer, fc)
		}
	}
	if len(byIssuer) == 0 {
		return noMatch("AADSTS700211", "issuer", claims.Iss)
	}
	for _, fc := range byIssuer {
		if fc.Subject == claims.Sub {
			bySubject = append(bySubject, fc)
		}
	}
	if len(bySubject) == 0 {
		return noMatch("AADSTS700213", "subject", claims.Sub)
	}
	var fc *FederatedCredential
	auds := claims.audiences()
	for i := range bySubject {
		for _, a := range auds {
			if a == bySubject[i].Audience {
				fc = &bySubject[i]
			}
		}
	}
	if fc == nil {
		return noMatch("AADSTS700212", "audience", strings.Join(auds, ","))
	}

	keys, err := fc.verificationKeys(ctx, hdr.Kid)
	if err != nil {
		return "AADSTS50166: Request to External OIDC endpoint failed: " + err.Error() + "."
	}
	if !verifySignature(hdr.Alg, parts[0]+"."+parts[1], sig, keys) {
		return "AADSTS700027: Client assertion failed signature validation: no key of the issuer verifies the " + hdr.Alg + " signature."
	}

	exp, errExp := claims.Exp.Int64()
	nbf, errNbf := claims.Nbf.Int64()
	if errNbf != nil {
		nbf, errNbf = claims.Iat.Int64()
	}
	const skew = 5 * time.Minute
	if errExp != nil || !now.Before(time.Unix(exp, 0)) || (errNbf == nil && now.Add(skew).Before(time.Unix(nbf, 0))) {
		return fmt.Sprintf("AADSTS700024: Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s.",
			now.UTC().Format(time.RFC3339), unixOrNone(nbf, errNbf), unixOrNone(exp, errExp))
	}
	return ""
}

func unixOrNone(sec int64, err error) string {
	if err != nil {
		return "(none)"
	}
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}

// verifySignature checks a JWS signature (RS256, PS256 or ES384) of signingInput with any of keys.
func verifySignature(alg, signingInput string, sig []byte, keys []crypto.PublicKey) bool {
	for _, k := range keys {
		switch k := k.(type) {
		case *rsa.PublicKey:
			d := sha256.Sum256([]byte(signingInput))
			switch alg {
			case "RS256":
				if rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil {
					return true
				}
			case "PS256":
				if rsa.VerifyPSS(k, crypto.SHA256, d[:], sig, nil) == nil {
					return true
				}
			}
		case *ecdsa.PublicKey:
			if alg != "ES384" || k.Curve != elliptic.P384() || len(sig) != 96 {
				continue
			}
			d := sha512.Sum384([]byte(signingInput))
			r, s := new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])
			if ecdsa.Verify(k, d[:], r, s) {
				return true
			}
		}
	}
	return false
}

// verificationKeys returns the issuer's keys that may have signed a token with key id kid (all of
// them when the token names none).
func (fc FederatedCredential) verificationKeys(ctx context.Context, kid string) ([]crypto.PublicKey, error) {
	if len(fc.Keys) > 0 {
		return fc.Keys, nil
	}
	client := fc.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	jwksURL := fc.JWKSURL
	if jwksURL == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := getJSON(ctx, client, strings.TrimRight(fc.Issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
			return nil, err
		}
		if doc.Issuer != fc.Issuer || doc.JWKSURI == "" {
			return nil, fmt.Errorf("the discovery document of %s names issuer %q and jwks_uri %q", fc.Issuer, doc.Issuer, doc.JWKSURI)
		}
		jwksURL = doc.JWKSURI
	}
	var set struct{ Keys []jwk }
	if err := getJSON(ctx, client, jwksURL, &set); err != nil {
		return nil, err
	}
	var keys []crypto.PublicKey
	for _, k := range set.Keys {
		if kid != "" && k.Kid != kid {
			continue
		}
		if pub, err := k.publicKey(); err == nil {
			keys = append(keys, pub)
		}
	}
	return keys, nil
}

func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// jwk is a JSON Web Key (RFC 7517) of type RSA or EC.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

func (k jwk) publicKey() (crypto.PublicKey, error) {
	b64 := base64.RawURLEncoding.DecodeString
	switch k.Kty {
	case "RSA":
		n, err1 := b64(k.N)
		e, err2 := b64(k.E)
		if err1 != nil || err2 != nil || len(e) > 4 {
			return nil, errors.New("bad RSA key")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	case "EC":
		if k.Crv != "P-384" {
			return nil, errors.New("unsupported curve " + k.Crv)
		}
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if err1 != nil || err2 != nil || len(x) != 48 || len(y) != 48 {
			return nil, errors.New("bad EC key")
		}
		return ecdsa.ParseUncompressedPublicKey(elliptic.P384(), append(append([]byte{4}, x...), y...))
	}
	return nil, errors.New("unsupported key type " + k.Kty)
}

// FakeRoleARN is the default role of a fake STS: the sub of the tokens it issues.
const FakeRoleARN = "arn:aws:iam::123456789012:role/autopilot-sync-fake"

// STSOptions configures StartSTS.
type STSOptions struct {
	Addr    string // listen address; default "127.0.0.1:0"
	RoleARN string // the caller's role, sub of the tokens; default FakeRoleARN
}

// STSFault makes the fake STS answer GetWebIdentityToken with an AWS Query error.
type STSFault struct {
	Status  int    // HTTP status
	Code    string // AWS error code
	Message string
	Times   int // how many requests it applies to; 0 = until removed
}

// Faults of the fake STS, as real STS answers them.
var (
	STSAccessDenied = STSFault{Status: http.StatusForbidden, Code: "AccessDenied",
		Message: "User: arn:aws:sts::123456789012:assumed-role/autopilot-sync-fake/autopilot-sync is not authorized to perform: sts:GetWebIdentityToken because no identity-based policy allows the sts:GetWebIdentityToken action"}
	STSFederationDisabled = STSFault{Status: http.StatusForbidden, Code: "OutboundWebIdentityFederationDisabledException",
		Message: "Outbound web identity federation is disabled for this account."}
	STSThrottling = STSFault{Status: http.StatusBadRequest, Code: "Throttling", Message: "Rate exceeded"}
)

// STSRequest is what a GetWebIdentityToken request asked for, as the fake STS saw it.
type STSRequest struct {
	Audience         []string
	SigningAlgorithm string
	DurationSeconds  int
	// From the SigV4 Authorization header: the access key and the region of the signature.
	AccessKeyID, Region string
	SessionToken        bool // X-Amz-Security-Token was sent
}

// STS is a loopback fake of the AWS STS query API's GetWebIdentityToken, and the OIDC issuer of
// the tokens it signs (discovery document and JWKS at its root URL). It checks that requests are
// SigV4-signed but not the signature itself. Its methods are safe for concurrent use.
type STS struct {
	url     string
	roleARN string
	caPEM   []byte
	pool    *x509.CertPool
	srv     *http.Server
	rsaKey  *rsa.PrivateKey
	ecKey   *ecdsa.PrivateKey

	mu       sync.Mutex
	calls    int
	requests []STSRequest
	faults   []*STSFault
	issued   []string
}

// StartSTS starts a fake STS with its own CA, serving HTTPS on o.Addr.
func StartSTS(o STSOptions) (*STS, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.RoleARN == "" {
		o.RoleARN = FakeRoleARN
	}
	caPEM, pool, leaf, err := newCerts()
	if err != nil {
		return nil, fmt.Errorf("fake sts: certificates: %w", err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("fake sts: listen: %w", err)
	}
	s := &STS{
		url: "https://" + ln.Addr().String(), roleARN: o.RoleARN,
		caPEM: caPEM, pool: pool, rsaKey: rsaKey, ecKey: ecKey,
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12},
	}
	go func() { _ = s.srv.ServeTLS(ln, "", "") }()
	return s, nil
}

// Close stops the fake.
func (s *STS) Close() error { return s.srv.Close() }

// URL returns the endpoint (for AWS_ENDPOINT_URL_STS), "https://127.0.0.1:PORT". It is also the
// issuer of the tokens.
func (s *STS) URL() string { return s.url }

// RoleARN returns the sub of the tokens.
func (s *STS) RoleARN() string { return s.roleARN }

// CAPEM returns the PEM of the CA of the fake's server certificate.
func (s *STS) CAPEM() []byte { return append([]byte(nil), s.caPEM...) }

// HTTPClient returns a new client that trusts only the fake's CA.
func (s *STS) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pool.Clone(), MinVersion: tls.VersionTLS12}}}
}

// FederatedCredential returns the federated identity credential that trusts this fake's tokens
// for audience: its issuer, its role as subject, keys fetched over HTTPS as Entra does.
func (s *STS) FederatedCredential(audience string) FederatedCredential {
	return FederatedCredential{Issuer: s.url, Subject: s.roleARN, Audience: audience, HTTPClient: s.HTTPClient()}
}

// Calls returns how many GetWebIdentityToken requests the fake received, failed ones included.
func (s *STS) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Requests returns the GetWebIdentityToken requests received, in order.
func (s *STS) Requests() []STSRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]STSRequest(nil), s.requests...)
}

// IssuedTokens returns every token the fake has issued, for leak checks.
func (s *STS) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// Fail makes GetWebIdentityToken answer f (before any fault added earlier) and returns a
// function that removes it.
func (s *STS) Fail(f STSFault) (remove func()) {
	p := &f
	s.mu.Lock()
	s.faults = append([]*STSFault{p}, s.faults...)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.removeFaultLocked(p)
	}
}

func (s *STS) removeFaultLocked(p *STSFault) {
	for i, f := range s.faults {
		if f == p {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			return
		}
	}
}

// ServeHTTP serves the query API at / and the issuer's discovery document and keys.
func (s *STS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, "application/json", map[string]any{
			"issuer":                                s.url,
			"jwks_uri":                              s.url + "/.well-known/jwks.json",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256", "ES384"},
		})
	case r.Method == http.MethodGet && r.URL.Path == "/.well-known/jwks.json":
		writeJSON(w, http.StatusOK, "application/json", map[string]any{"keys": s.jwks()})
	case r.Method == http.MethodPost && r.URL.Path == "/":
		s.query(w, r)
	default:
		stsError(w, http.StatusNotFound, "Sender", "InvalidAction", "Could not find operation "+r.Method+" "+r.URL.Path)
	}
}

func (s *STS) query(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		stsError(w, http.StatusBadRequest, "Sender", "MalformedInput", "The request body is not a form")
		return
	}
	f := r.PostForm
	if a := f.Get("Action"); a != "GetWebIdentityToken" {
		stsError(w, http.StatusBadRequest, "Sender", "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", a, f.Get("Version")))
		return
	}
	req := STSRequest{SigningAlgorithm: f.Get("SigningAlgorithm"), SessionToken: r.Header.Get("X-Amz-Security-Token") != ""}
	for i := 1; f.Has("Audience.member." + strconv.Itoa(i)); i++ {
		req.Audience = append(req.Audience, f.Get("Audience.member."+strconv.Itoa(i)))
	}
	req.DurationSeconds = 300
	if d := f.Get("DurationSeconds"); d != "" {
		req.DurationSeconds, _ = strconv.Atoi(d)
	}
	// Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/sts/aws4_request, SignedHeaders=…, Signature=…
	auth := r.Header.Get("Authorization")
	if cred, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 Credential="); ok {
		scope := strings.Split(strings.SplitN(cred, ",", 2)[0], "/")
		if len(scope) == 5 && scope[3] == "sts" && scope[4] == "aws4_request" {
			req.AccessKeyID, req.Region = scope[0], scope[2]
		}
	}

	s.mu.Lock()
	s.calls++
	s.requests = append(s.requests, req)
	var fault *STSFault
	if len(s.faults) > 0 {
		fault = s.faults[0]
		if fault.Times > 0 {
			if fault.Times--; fault.Times == 0 {
				s.removeFaultLocked(fault)
			}
		}
	}
	s.mu.Unlock()

	switch {
	case req.AccessKeyID == "":
		stsError(w, http.StatusBadRequest, "Sender", "MissingAuthenticationToken", "Request is missing Authentication Token")
	case fault != nil:
		typ := "Sender"
		if fault.Status >= 500 {
			typ = "Receiver"
		}
		stsError(w, fault.Status, typ, fault.Code, fault.Message)
	case len(req.Audience) == 0 || len(req.Audience) > 10:
		stsError(w, http.StatusBadRequest, "Sender", "ValidationError", "1 validation error detected: Value at 'audience' failed to satisfy constraint: Member must have length between 1 and 10")
	case req.SigningAlgorithm != "RS256" && req.SigningAlgorithm != "ES384":
		stsError(w, http.StatusBadRequest, "Sender", "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RS256, ES384]", req.SigningAlgorithm))
	case req.DurationSeconds < 60 || req.DurationSeconds > 3600:
		stsError(w, http.StatusBadRequest, "Sender", "ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 60 and 3600")
	default:
		now := time.Now()
		exp := now.Add(time.Duration(req.DurationSeconds) * time.Second)
		tok, err := s.sign(req, now, exp)
		if err != nil {
			stsError(w, http.StatusInternalServerError, "Receiver", "InternalFailure", "signing failed")
			return
		}
		s.mu.Lock()
		s.issued = append(s.issued, tok)
		s.mu.Unlock()
		id := newUUID()
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("X-Amzn-Requestid", id)
		fmt.Fprintf(w, `<GetWebIdentityTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetWebIdentityTokenResult>
    <WebIdentityToken>%s</WebIdentityToken>
    <Expiration>%s</Expiration>
  </GetWebIdentityTokenResult>
  <ResponseMetadata>
    <RequestId>%s</RequestId>
  </ResponseMetadata>
</GetWebIdentityTokenResponse>
`, tok, exp.UTC().Format("2006-01-02T15:04:05.000Z"), id)
	}
}

// sign returns a JWT for req, signed with the key of its algorithm, with the claims of a real
// GetWebIdentityToken token.
func (s *STS) sign(req STSRequest, now, exp time.Time) (string, error) {
	var aud any = req.Audience
	if len(req.Audience) == 1 {
		aud = req.Audience[0]
	}
	account := strings.Split(s.roleARN, ":")
	claims := map[string]any{
		"iss": s.url, "sub": s.roleARN, "aud": aud,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix(), "jti": newUUID(),
		"https://sts.amazonaws.com/": map[string]any{
			"aws_account": account[min(4, len(account)-1)], "source_region": req.Region, "principal_id": s.roleARN,
		},
	}
	hdr := map[string]any{"alg": req.SigningAlgorithm, "typ": "JWT", "kid": req.SigningAlgorithm + "-1"}
	input := base64.RawURLEncoding.EncodeToString(mustJSON(hdr)) + "." + base64.RawURLEncoding.EncodeToString(mustJSON(claims))
	var sig []byte
	switch req.SigningAlgorithm {
	case "RS256":
		d := sha256.Sum256([]byte(input))
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, s.rsaKey, crypto.SHA256, d[:]); err != nil {
			return "", err
		}
	case "ES384":
		d := sha512.Sum384([]byte(input))
		r, ss, err := ecdsa.Sign(rand.Reader, s.ecKey, d[:])
		if err != nil {
			return "", err
		}
		sig = make([]byte, 96)
		r.FillBytes(sig[:48])
		ss.FillBytes(sig[48:])
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func (s *STS) jwks() []jwk {
	b64 := base64.RawURLEncoding.EncodeToString
	ec, _ := s.ecKey.PublicKey.Bytes() // 0x04 || X || Y
	return []jwk{
		{Kty: "RSA", Kid: "RS256-1", Use: "sig", Alg: "RS256", N: b64(s.rsaKey.N.Bytes()), E: b64(big.NewInt(int64(s.rsaKey.E)).Bytes())},
		{Kty: "EC", Kid: "ES384-1", Use: "sig", Alg: "ES384", Crv: "P-384", X: b64(ec[1:49]), Y: b64(ec[49:])},
	}
}

// stsError answers an AWS Query API error document.
func stsError(w http.ResponseWriter, status int, typ, code, message string) {
	id := newUUID()
	var b strings.Builder
	b.WriteString(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>`)
	_ = xml.EscapeText(&b, []byte(typ))
	b.WriteString("</Type><Code>")
	_ = xml.EscapeText(&b, []byte(code))
	b.WriteString("</Code><Message>")
	_ = xml.EscapeText(&b, []byte(message))
	b.WriteString("</Message></Error><RequestId>" + id + "</RequestId></ErrorResponse>\n")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", id)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}
