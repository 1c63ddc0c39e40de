package webhook

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MinTeamsKeyBytes is the least number of bytes a Teams security token must decode to. Teams
// issues 32; a shorter key is a mistake in the vault, not a key to accept.
const MinTeamsKeyBytes = 16

// ErrWeakTeamsKey is wrapped by the error of a Teams security token that is not base64 or
// decodes to fewer than MinTeamsKeyBytes bytes: a misconfiguration.
var ErrWeakTeamsKey = errors.New("the Teams security token is not base64 of at least 16 bytes")

// DecodeTeamsKey returns the HMAC key of a Teams outgoing webhook whose security token (the
// base64 text Teams shows) is token; blanks around it are ignored. Its errors wrap
// ErrWeakTeamsKey and never quote the token.
func DecodeTeamsKey(token string) ([]byte, error) {
	key, ok := decodeBase64(strings.TrimSpace(token))
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: it is not standard base64", ErrWeakTeamsKey)
	case len(key) < MinTeamsKeyBytes:
		return nil, fmt.Errorf("%w: it decodes to %d bytes", ErrWeakTeamsKey, len(key))
	}
	return key, nil
}

// The header parsers below need no secret and never panic (see the fuzz tests). Each returns
// ok false for anything it does not fully understand.

// single returns the one value of header name, without surrounding blanks. A header that is
// absent, empty or repeated is no credential.
func single(h http.Header, name string) (string, bool) {
	vs := h.Values(name)
	if len(vs) != 1 {
		return "", false
	}
	v := strings.Trim(vs[0], " \t")
	return v, v != ""
}

// present reports whether header name is in h at all, even empty: presence names a scheme.
func present(h http.Header, name string) bool { return len(h.Values(name)) > 0 }

// authorizationSchemes returns the first words of h's Authorization values, in lower case.
func authorizationSchemes(h http.Header) map[string]bool {
	schemes := map[string]bool{}
	for _, v := range h.Values("Authorization") {
		scheme, _, _ := strings.Cut(strings.Trim(v, " \t"), " ")
		schemes[strings.ToLower(scheme)] = true
	}
	return schemes
}

// decodeBase64 decodes standard, padded, canonical base64. Go's decoder skips '\r' and '\n'
// anywhere, even in strict mode, so any byte outside the alphabet is refused first.
func decodeBase64(s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/', c == '=':
		default:
			return nil, false
		}
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	return b, err == nil
}

// splitAuthorization splits "<scheme> <credentials>" at its one space; the credentials hold no blank.
func splitAuthorization(v string) (scheme, credentials string, ok bool) {
	scheme, credentials, ok = strings.Cut(v, " ")
	if !ok || scheme == "" || credentials == "" || strings.ContainsAny(credentials, " \t") {
		return "", "", false
	}
	return scheme, credentials, true
}

// parseBearer returns t of "Bearer <t>" (the scheme name in any case).
func parseBearer(v string) (string, bool) {
	scheme, token, ok := splitAuthorization(v)
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return token, true
}

// parseBasicPassword returns the password of "Basic base64(user:password)" (RFC 7617); the
// user name may be anything, the password must not be empty.
func parseBasicPassword(v string) (string, bool) {
	scheme, credentials, ok := splitAuthorization(v)
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", false
	}
	decoded, ok := decodeBase64(credentials)
	if !ok {
		return "", false
	}
	_, password, ok := strings.Cut(string(decoded), ":")
	if !ok || password == "" {
		return "", false
	}
	return password, true
}

// parseHubSignature returns the digest of "sha256=<hex>" (X-Hub-Signature-256, X-Hub-Signature).
func parseHubSignature(v string) ([]byte, bool) {
	h, ok := strings.CutPrefix(v, "sha256=")
	if !ok {
		return nil, false
	}
	return parseHexDigest(h)
}

// parsePagerDutySignature returns the digests of "v1=<hex>[,v1=<hex>…]". PagerDuty sends one
// per signing secret while a secret rotates; entries of other versions or malformed ones are
// skipped, so any well-formed v1 entry may match.
func parsePagerDutySignature(v string) [][]byte {
	var sigs [][]byte
	for entry := range strings.SplitSeq(v, ",") {
		h, ok := strings.CutPrefix(strings.Trim(entry, " \t"), "v1=")
		if !ok {
			continue
		}
		if sig, ok := parseHexDigest(h); ok {
			sigs = append(sigs, sig)
		}
	}
	return sigs
}

// parseSlack returns the digest of X-Slack-Signature "v0=<hex>" when X-Slack-Request-Timestamp
// is a Unix time in whole seconds at most SlackMaxSkew from now, either way.
func parseSlack(signature, timestamp string, now time.Time) ([]byte, bool) {
	if timestamp == "" || strings.Trim(timestamp, "0123456789") != "" {
		return nil, false // digits only: ParseInt alone would take "+1531420618"
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return nil, false
	}
	// Both are at least 0 here, so the difference cannot overflow.
	skew := now.Unix() - ts
	if limit := int64(SlackMaxSkew / time.Second); skew > limit || skew < -limit {
		return nil, false
	}
	h, ok := strings.CutPrefix(signature, "v0=")
	if !ok {
		return nil, false
	}
	return parseHexDigest(h)
}

// parseTeamsAuthorization returns the digest of "HMAC <base64>" (a Teams outgoing webhook).
func parseTeamsAuthorization(v string) ([]byte, bool) {
	scheme, credentials, ok := splitAuthorization(v)
	if !ok || !strings.EqualFold(scheme, "HMAC") {
		return nil, false
	}
	sig, ok := decodeBase64(credentials)
	if !ok || len(sig) != sha256.Size {
		return nil, false
	}
	return sig, true
}

// parseHexDigest decodes a SHA-256 digest in hex of either case.
func parseHexDigest(h string) ([]byte, bool) {
	if len(h) != hex.EncodedLen(sha256.Size) {
		return nil, false
	}
	sig, err := hex.DecodeString(h)
	if err != nil {
		return nil, false
	}
	return sig, true
}
