// Package webhook verifies the callers of the HTTP functions (SPEC §6): a shared token, an
// HMAC-SHA256 signature of the raw body (GitHub, Jira, PagerDuty), Slack's v0 request signature
// and a Teams outgoing webhook's HMAC. A request is checked once, against the one scheme its
// headers name, and Check says which scheme passed, so the caller can allow only what that
// scheme may do. Secrets come from Key Vault through a Secrets reader that does the caching
// (failed reads included); this package caches nothing itself.
//
// It never logs, and never returns or formats a secret, token or signature: a failed check is
// always the same unauthorized problem, whatever part failed. A request that carries no
// credential header of a configured scheme, or only malformed ones, reads no secret at all.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// The replay windows (SPEC §6): how far a Slack request's X-Slack-Request-Timestamp, or a Teams
// activity's timestamp, may be from now, either way, before the request is refused as a possible
// replay. (The Teams timestamp is in the signed body, which the caller reads: it checks it.)
const (
	SlackMaxSkew = 5 * time.Minute
	TeamsMaxSkew = 5 * time.Minute
)

// Scheme is a caller scheme of SPEC §6: what a request proved, and so what it may do.
type Scheme string

// The schemes, in the order Check prefers them when a request names several.
const (
	SchemeToken Scheme = "token" // Authorization: Bearer or Basic (password), X-Api-Key
	SchemeHMAC  Scheme = "hmac"  // X-Hub-Signature-256, X-Hub-Signature, X-PagerDuty-Signature
	SchemeSlack Scheme = "slack" // X-Slack-Signature with X-Slack-Request-Timestamp
	SchemeTeams Scheme = "teams" // Authorization: HMAC
)

// Secrets reads a secret by name; *keyvault.Store satisfies it.
type Secrets interface {
	Get(ctx context.Context, name string) (keyvault.Secret, error)
}

// Names are the Key Vault secret names of the schemes; an empty name turns its scheme off.
type Names struct {
	Token string // WEBHOOK_TOKEN_SECRET_NAME: Bearer, X-Api-Key or Basic password
	HMAC  string // WEBHOOK_HMAC_SECRET_NAME: X-Hub-Signature-256, X-Hub-Signature, X-PagerDuty-Signature
	Slack string // SLACK_SIGNING_SECRET_NAME: X-Slack-Signature v0
	Teams string // TEAMS_WEBHOOK_SECRET_NAME: Authorization: HMAC (the base64 token Teams shows)
}

// Checker verifies HTTP callers against the configured schemes. It is safe for concurrent use.
type Checker struct {
	secrets Secrets
	names   Names
	now     func() time.Time
}

// New returns a Checker reading the secrets names from secrets; now is the clock of Slack's
// replay window (nil means time.Now).
func New(secrets Secrets, names Names, now func() time.Time) *Checker {
	if now == nil {
		now = time.Now
	}
	return &Checker{secrets: secrets, names: names, now: now}
}

// Configured reports whether any scheme is on.
func (c *Checker) Configured() bool {
	n := c.names
	return n.Token != "" || n.HMAC != "" || n.Slack != "" || n.Teams != ""
}

// attempt is the one scheme a request is checked against, its credentials parsed.
type attempt struct {
	scheme     Scheme
	secretName string
	variable   string // the configuration variable that names the secret, for causes
	// verify decides with the secret (trimmed, not empty); nil when the request's credentials
	// are malformed, so that no secret is read. Its error is a misconfigured secret.
	verify func(secret string) (bool, error)
}

// Check verifies r, whose raw body is body, and returns the scheme whose valid credentials it
// carries. A configured scheme is named by the presence of its headers: token by X-Api-Key or
// an Authorization header whose first word is Bearer or Basic; HMAC by X-Hub-Signature-256,
// X-Hub-Signature or X-PagerDuty-Signature; Slack by X-Slack-Signature or
// X-Slack-Request-Timestamp; Teams by an Authorization header whose first word is HMAC. When
// the headers name several configured schemes, only the first in the order token, HMAC,
// Slack, Teams is checked, whatever the others carry: a request never gets a second try with
// another scheme. Headers of schemes that are not configured are ignored.
//
// On failure the scheme is "" and the error a *problem.Problem: unauthorized (no cause, the
// same answer whatever failed); misconfigured when the secret is missing from Key Vault, may
// not be read, is empty, or (Teams) is not base64 of at least MinTeamsKeyBytes bytes, with the
// cause in Err (a *keyvault.Error, or a *config.Error, wrapping ErrWeakTeamsKey for Teams);
// upstreamTimeout when ctx ended while Key Vault was read; secretStoreUnavailable for other
// read failures, with the *keyvault.Error in Err.
func (c *Checker) Check(ctx context.Context, r *http.Request, body []byte) (Scheme, error) {
	if r == nil {
		return "", Unauthorized()
	}
	a, ok := c.choose(r.Header, body)
	if !ok || a.verify == nil {
		return "", Unauthorized()
	}
	s, err := c.secrets.Get(ctx, a.secretName)
	if err != nil {
		return "", unreadable(a, err)
	}
	// Secrets pasted into Key Vault often carry a trailing newline. An empty secret would make
	// every HMAC computable by anyone.
	secret := strings.TrimSpace(s.Value)
	if secret == "" {
		return "", misconfigured(a, errors.New("the secret is empty"))
	}
	match, err := a.verify(secret)
	switch {
	case err != nil:
		return "", misconfigured(a, err)
	case !match:
		return "", Unauthorized()
	}
	return a.scheme, nil
}

// Unauthorized is the one answer to a caller without valid credentials, whatever failed.
func Unauthorized() *problem.Problem {
	return problem.New(problem.Unauthorized, "The request does not carry valid credentials.")
}

func misconfigured(a attempt, err error) *problem.Problem {
	return problem.Misconfiguration(&config.Error{Err: fmt.Errorf("%s: Key Vault secret %q: %w", a.variable, a.secretName, err)})
}

// unreadable is the problem of a secret that could not be read. Its detail names no secret.
func unreadable(a attempt, err error) *problem.Problem {
	cause := fmt.Errorf("webhook %s scheme: %w", a.scheme, err)
	var kv *keyvault.Error
	var p *problem.Problem
	switch {
	case errors.As(err, &kv) && (kv.NotFound || kv.StatusCode == http.StatusForbidden):
		p = problem.New(problem.Misconfigured, "The service is not configured correctly; its operators have the details in the logs.")
	case problem.IsTimeout(err):
		p = problem.New(problem.UpstreamTimeout, "Key Vault did not answer in time.")
	default:
		p = problem.New(problem.SecretStoreUnavailable, "The secret that verifies callers could not be read; try again later.")
	}
	p.Err = cause
	return p
}

// choose returns the attempt of the first configured scheme r's headers name. It needs no
// secret.
func (c *Checker) choose(h http.Header, body []byte) (attempt, bool) {
	authorization := authorizationSchemes(h)
	switch {
	case c.names.Token != "" && (authorization["bearer"] || authorization["basic"] || present(h, "X-Api-Key")):
		return c.tokenAttempt(h), true
	case c.names.HMAC != "" && (present(h, "X-Hub-Signature-256") || present(h, "X-Hub-Signature") || present(h, "X-Pagerduty-Signature")):
		return c.hmacAttempt(h, body), true
	case c.names.Slack != "" && (present(h, "X-Slack-Signature") || present(h, "X-Slack-Request-Timestamp")):
		return c.slackAttempt(h, body), true
	case c.names.Teams != "" && authorization["hmac"]:
		return c.teamsAttempt(h, body), true
	}
	return attempt{}, false
}

func (c *Checker) tokenAttempt(h http.Header) attempt {
	a := attempt{scheme: SchemeToken, secretName: c.names.Token, variable: "WEBHOOK_TOKEN_SECRET_NAME"}
	var tokens []string
	if v, ok := single(h, "Authorization"); ok {
		if t, ok := parseBearer(v); ok {
			tokens = append(tokens, t)
		} else if t, ok := parseBasicPassword(v); ok {
			tokens = append(tokens, t)
		}
	}
	if t, ok := single(h, "X-Api-Key"); ok {
		tokens = append(tokens, t)
	}
	if len(tokens) > 0 {
		a.verify = func(secret string) (bool, error) {
			match := false
			for _, t := range tokens {
				match = equalToken(t, secret) || match // no early exit: same work either way
			}
			return match, nil
		}
	}
	return a
}

func (c *Checker) hmacAttempt(h http.Header, body []byte) attempt {
	a := attempt{scheme: SchemeHMAC, secretName: c.names.HMAC, variable: "WEBHOOK_HMAC_SECRET_NAME"}
	var sigs [][]byte
	for _, name := range []string{"X-Hub-Signature-256", "X-Hub-Signature"} {
		if v, ok := single(h, name); ok {
			if sig, ok := parseHubSignature(v); ok {
				sigs = append(sigs, sig)
			}
		}
	}
	if v, ok := single(h, "X-Pagerduty-Signature"); ok {
		sigs = append(sigs, parsePagerDutySignature(v)...)
	}
	if len(sigs) > 0 {
		a.verify = func(secret string) (bool, error) {
			return anyEqual(hmacSHA256([]byte(secret), body), sigs), nil
		}
	}
	return a
}

func (c *Checker) slackAttempt(h http.Header, body []byte) attempt {
	a := attempt{scheme: SchemeSlack, secretName: c.names.Slack, variable: "SLACK_SIGNING_SECRET_NAME"}
	sigHeader, okSig := single(h, "X-Slack-Signature")
	timestamp, okTS := single(h, "X-Slack-Request-Timestamp")
	if !okSig || !okTS {
		return a
	}
	if sig, ok := parseSlack(sigHeader, timestamp, c.now()); ok {
		a.verify = func(secret string) (bool, error) {
			return hmac.Equal(hmacSHA256([]byte(secret), slackBase(timestamp, body)), sig), nil
		}
	}
	return a
}

func (c *Checker) teamsAttempt(h http.Header, body []byte) attempt {
	a := attempt{scheme: SchemeTeams, secretName: c.names.Teams, variable: "TEAMS_WEBHOOK_SECRET_NAME"}
	v, ok := single(h, "Authorization")
	if !ok {
		return a
	}
	if sig, ok := parseTeamsAuthorization(v); ok {
		a.verify = func(secret string) (bool, error) {
			key, err := DecodeTeamsKey(secret)
			if err != nil {
				return false, err
			}
			return hmac.Equal(hmacSHA256(key, body), sig), nil
		}
	}
	return a
}

// equalToken compares in constant time, also hiding the secret's length: it compares digests.
func equalToken(presented, secret string) bool {
	p := sha256.Sum256([]byte(presented))
	s := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(p[:], s[:]) == 1
}

func anyEqual(mac []byte, sigs [][]byte) bool {
	match := false
	for _, sig := range sigs {
		match = hmac.Equal(mac, sig) || match
	}
	return match
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func slackBase(timestamp string, body []byte) []byte {
	b := make([]byte, 0, len("v0::")+len(timestamp)+len(body))
	b = append(b, "v0:"...)
	b = append(b, timestamp...)
	b = append(b, ':')
	return append(b, body...)
}
