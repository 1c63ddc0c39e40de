package emulator

// Workload identity federation, Entra's side: an app registration's federated identity
// credentials, and the check of a client assertion against them at the token endpoint. The
// issuer a test federates with (e.g. the fake AWS STS of package fakests) is not here.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"
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

// AddFederatedApp adds a federated identity credential to an app registration, registering the
// app (with no Graph roles, no secret and no certificate) when it is unknown. From then on, the
// app's client assertions are checked against its federated credentials, not its certificate.
func (e *Emulator) AddFederatedApp(tenantID, clientID string, fc FederatedCredential) {
	fc.Keys = append([]crypto.PublicKey(nil), fc.Keys...)
	e.mu.Lock()
	defer e.mu.Unlock()
	k := appKey(tenantID, clientID)
	if _, ok := e.apps[k]; !ok {
		e.addAppLocked(App{TenantID: tenantID, ClientID: clientID, Roles: []string{}})
	}
	e.federated[k] = append(e.federated[k], fc)
}

// federatedCredentials returns a copy of the app's federated credentials.
func (e *Emulator) federatedCredentials(tenantID, clientID string) []FederatedCredential {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]FederatedCredential(nil), e.federated[appKey(tenantID, clientID)]...)
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
