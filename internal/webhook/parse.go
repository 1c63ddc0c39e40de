package webhook

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

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
	decoded, err := base64.StdEncoding.Strict().DecodeString(credentials)
	if err != nil {
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
	sig, err := base64.StdEncoding.Strict().DecodeString(credentials)
	if err != nil || len(sig) != sha256.Size {
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
