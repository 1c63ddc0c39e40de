// Package webhook verifies the callers of the HTTP functions (SPEC §6): a shared token, an
// HMAC-SHA256 signature of the raw body (GitHub, Jira, PagerDuty), Slack's v0 request signature
// and a Teams outgoing webhook's HMAC. Secrets come from Key Vault through a Secrets reader that
// does the caching; this package caches nothing itself.
//
// It never logs, and never returns or formats a secret, token or signature: a failed check is
// always the same unauthorized problem, whatever part failed. A request that carries no
// credential header of a configured scheme reads no secret at all.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// SlackMaxSkew is how far a Slack request's timestamp may be from now, either way, before the
// request is refused as a possible replay.
const SlackMaxSkew = 5 * time.Minute

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

// attempt is one configured scheme whose credential headers the request carries, parsed and
// waiting for the secret that decides.
type attempt struct {
	scheme     string // for the cause of a secretStoreUnavailable problem; never a value
	secretName string
	verify     func(secret string) bool
}

// Check returns nil when r, whose raw body is body, carries valid credentials for any
// configured scheme. Otherwise it returns a *problem.Problem: unauthorized (the same answer
// whatever failed), or, when a secret needed to decide could not be read and no other scheme
// accepted the request, secretStoreUnavailable (misconfigured when the vault has no such
// secret) with Err set to the cause.
func (c *Checker) Check(ctx context.Context, r *http.Request, body []byte) error {
	if r == nil {
		return unauthorized()
	}
	var unreadable error
	notFound := false
	for _, a := range c.attempts(r, body) {
		s, err := c.secrets.Get(ctx, a.secretName)
		if err != nil {
			if unreadable == nil {
				unreadable = fmt.Errorf("webhook %s scheme: %w", a.scheme, err)
				var kv *keyvault.Error
				notFound = errors.As(err, &kv) && kv.NotFound
			}
			continue
		}
		// Secrets pasted into Key Vault often carry a trailing newline. An empty secret would
		// make every HMAC computable by anyone: that scheme fails.
		secret := strings.TrimSpace(s.Value)
		if secret != "" && a.verify(secret) {
			return nil
		}
	}
	if unreadable != nil {
		if notFound {
			p := problem.New(problem.Misconfigured, "A secret that verifies callers is missing from Key Vault.")
			p.Err = unreadable
			return p
		}
		p := problem.New(problem.SecretStoreUnavailable, "The secret that verifies callers could not be read; try again later.")
		p.Err = unreadable
		return p
	}
	return unauthorized()
}

func unauthorized() *problem.Problem {
	return problem.New(problem.Unauthorized, "The request does not carry valid credentials.")
}

// attempts parses the credential headers of the configured schemes. It needs no secret, so a
// request without credentials, or with malformed ones, reads none.
func (c *Checker) attempts(r *http.Request, body []byte) []attempt {
	var out []attempt
	authorization, hasAuthorization := single(r.Header, "Authorization")

	if c.names.Token != "" {
		var tokens []string
		if hasAuthorization {
			if t, ok := parseBearer(authorization); ok {
				tokens = append(tokens, t)
			} else if t, ok := parseBasicPassword(authorization); ok {
				tokens = append(tokens, t)
			}
		}
		if t, ok := single(r.Header, "X-Api-Key"); ok {
			tokens = append(tokens, t)
		}
		if len(tokens) > 0 {
			out = append(out, attempt{"token", c.names.Token, func(secret string) bool {
				match := false
				for _, t := range tokens {
					match = equalToken(t, secret) || match // no early exit: same work either way
				}
				return match
			}})
		}
	}

	if c.names.HMAC != "" {
		var sigs [][]byte
		for _, name := range []string{"X-Hub-Signature-256", "X-Hub-Signature"} {
			if v, ok := single(r.Header, name); ok {
				if sig, ok := parseHubSignature(v); ok {
					sigs = append(sigs, sig)
				}
			}
		}
		if v, ok := single(r.Header, "X-Pagerduty-Signature"); ok {
			sigs = append(sigs, parsePagerDutySignature(v)...)
		}
		if len(sigs) > 0 {
			out = append(out, attempt{"hmac", c.names.HMAC, func(secret string) bool {
				return anyEqual(hmacSHA256([]byte(secret), body), sigs)
			}})
		}
	}

	if c.names.Slack != "" {
		sigHeader, okSig := single(r.Header, "X-Slack-Signature")
		timestamp, okTS := single(r.Header, "X-Slack-Request-Timestamp")
		if okSig && okTS {
			if sig, ok := parseSlack(sigHeader, timestamp, c.now()); ok {
				out = append(out, attempt{"slack", c.names.Slack, func(secret string) bool {
					return hmac.Equal(hmacSHA256([]byte(secret), slackBase(timestamp, body)), sig)
				}})
			}
		}
	}

	if c.names.Teams != "" && hasAuthorization {
		if sig, ok := parseTeamsAuthorization(authorization); ok {
			out = append(out, attempt{"teams", c.names.Teams, func(secret string) bool {
				key, err := base64.StdEncoding.DecodeString(secret)
				if err != nil {
					return false // misconfigured secret: fail this scheme, say nothing
				}
				return hmac.Equal(hmacSHA256(key, body), sig)
			}})
		}
	}
	return out
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
