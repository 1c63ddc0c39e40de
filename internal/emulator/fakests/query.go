package fakests

// The fake's HTTP side: the query API's GetWebIdentityToken, the issuer's discovery document and
// keys, and the tokens it signs.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const maxBody = 1 << 20

// ServeHTTP serves the query API at / and the issuer's discovery document and keys.
func (s *STS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/.well-known/openid-configuration":
		writeJSON(w, map[string]any{
			"issuer":                                s.url,
			"jwks_uri":                              s.url + "/.well-known/jwks.json",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256", "ES384"},
		})
	case r.Method == http.MethodGet && r.URL.Path == "/.well-known/jwks.json":
		writeJSON(w, map[string]any{"keys": s.jwks()})
	case r.Method == http.MethodPost && r.URL.Path == "/":
		s.query(w, r)
	default:
		queryError(w, http.StatusNotFound, "Sender", "InvalidAction", "Could not find operation "+r.Method+" "+r.URL.Path)
	}
}

func (s *STS) query(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		queryError(w, http.StatusBadRequest, "Sender", "MalformedInput", "The request body is not a form")
		return
	}
	f := r.PostForm
	if a := f.Get("Action"); a != "GetWebIdentityToken" {
		queryError(w, http.StatusBadRequest, "Sender", "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", a, f.Get("Version")))
		return
	}
	req := Request{SigningAlgorithm: f.Get("SigningAlgorithm"), SessionToken: r.Header.Get("X-Amz-Security-Token") != ""}
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
	fault, faulted := s.nextFaultLocked()
	s.mu.Unlock()

	switch {
	case req.AccessKeyID == "":
		queryError(w, http.StatusBadRequest, "Sender", "MissingAuthenticationToken", "Request is missing Authentication Token")
	case faulted:
		typ := "Sender"
		if fault.Status >= 500 {
			typ = "Receiver"
		}
		queryError(w, fault.Status, typ, fault.Code, fault.Message)
	case len(req.Audience) == 0 || len(req.Audience) > 10:
		queryError(w, http.StatusBadRequest, "Sender", "ValidationError", "1 validation error detected: Value at 'audience' failed to satisfy constraint: Member must have length between 1 and 10")
	case req.SigningAlgorithm != "RS256" && req.SigningAlgorithm != "ES384":
		queryError(w, http.StatusBadRequest, "Sender", "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RS256, ES384]", req.SigningAlgorithm))
	case req.DurationSeconds < 60 || req.DurationSeconds > 3600:
		queryError(w, http.StatusBadRequest, "Sender", "ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 60 and 3600")
	default:
		now := time.Now()
		exp := now.Add(time.Duration(req.DurationSeconds) * time.Second)
		tok, err := s.sign(req, now, exp)
		if err != nil {
			queryError(w, http.StatusInternalServerError, "Receiver", "InternalFailure", "signing failed")
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
// GetWebIdentityToken token. It fails on an algorithm other than RS256 and ES384.
func (s *STS) sign(req Request, now, exp time.Time) (string, error) {
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
			return "", fmt.Errorf("fake sts: sign: %w", err)
		}
	case "ES384":
		d := sha512.Sum384([]byte(input))
		r, ss, err := ecdsa.Sign(rand.Reader, s.ecKey, d[:])
		if err != nil {
			return "", fmt.Errorf("fake sts: sign: %w", err)
		}
		sig = make([]byte, 96)
		r.FillBytes(sig[:48])
		ss.FillBytes(sig[48:])
	default:
		return "", fmt.Errorf("fake sts: unsupported signing algorithm %q", req.SigningAlgorithm)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// jwk is a public JSON Web Key (RFC 7517) of type RSA or EC.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

func (s *STS) jwks() []jwk {
	b64 := base64.RawURLEncoding.EncodeToString
	ec, _ := s.ecKey.PublicKey.Bytes() // 0x04 || X || Y
	return []jwk{
		{Kty: "RSA", Kid: "RS256-1", Use: "sig", Alg: "RS256", N: b64(s.rsaKey.N.Bytes()), E: b64(big.NewInt(int64(s.rsaKey.E)).Bytes())},
		{Kty: "EC", Kid: "ES384-1", Use: "sig", Alg: "ES384", Crv: "P-384", X: b64(ec[1:49]), Y: b64(ec[49:])},
	}
}

// queryError answers an AWS Query API error document.
func queryError(w http.ResponseWriter, status int, typ, code, message string) {
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

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(mustJSON(v))
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
