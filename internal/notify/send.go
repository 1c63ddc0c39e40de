package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/outbound"
)

// ErrNotConfigured is what a Secrets method returns when its secret's name is not configured:
// the notice cannot be delivered, now or later.
var ErrNotConfigured = errors.New("not configured")

// Poster sends one POST; *outbound.Client is the one to use.
type Poster interface {
	Post(ctx context.Context, t outbound.Target, body []byte, headers map[string]string) (outbound.Result, error)
}

// Secrets reads the follow-up's secrets from Key Vault (cached as every secret is). Each
// method returns ErrNotConfigured (wrapped or not) when its secret name is unset; any other
// error counts as transient.
type Secrets interface {
	// TeamsURL returns the Workflows URL of TEAMS_NOTIFY_URL_SECRET_NAME (see ParseTeamsURL).
	TeamsURL(ctx context.Context) (Prefix, error)
	// CallbackTargets returns the prefixes of CALLBACK_TARGETS_SECRET_NAME (see
	// ParseCallbackTargets).
	CallbackTargets(ctx context.Context) ([]Prefix, error)
	// Signer returns the signer of CALLBACK_SIGNING_SECRET_NAME, or ErrNotConfigured: then
	// callbacks go unsigned.
	Signer(ctx context.Context) (*Signer, error)
}

// Sender delivers follow-up notices to their targets. Its fields are set once, at cold start.
type Sender struct {
	// Poster sends the requests (an *outbound.Client).
	Poster Poster
	// Secrets reads the Teams URL, the callback targets and the signing secret.
	Secrets Secrets
	// SlackPrefixes are SLACK_RESPONSE_URL_PREFIXES (ParseSlackPrefixes): a response_url is
	// checked against them again before each post.
	SlackPrefixes []Prefix
	// TenantID names the tenant in callbacks of a follow-up without a registry name.
	TenantID string
	// Loopback allows callbacks to loopback URLs without callback targets (MatchLoopback):
	// cmd/local on its embedded emulator only, with an outbound client that allows loopback.
	Loopback bool
	// Now is the clock (webhook-timestamp and the Slack and Teams texts); nil means time.Now.
	Now func() time.Time
}

// Delivery is what happened to one notice.
type Delivery struct {
	Target followup.Target
	// Verdict says whether the delivery ended (Final) or is to be tried again (Retry).
	Verdict outbound.Verdict
	// Status is the target's HTTP status; 0 when it did not answer.
	Status int
	// Err says what went wrong, fit for a log line: it never holds a URL or a header value.
	Err error
}

// Again reports whether the delivery is worth another try (followup.Plan.Settle).
func (d Delivery) Again() bool { return d.Verdict == outbound.Retry }

// Deliver sends notice n to its target and says how it went. It never panics on a notice
// that names an unknown target or a URL no longer allowed: those end as Blocked.
func (s *Sender) Deliver(ctx context.Context, n followup.Notice) Delivery {
	d := Delivery{Target: n.Target}
	target, body, headers, err := s.prepare(ctx, n)
	if err != nil {
		d.Verdict, d.Err = outbound.Blocked, err
		if errors.As(err, new(transient)) {
			d.Verdict = outbound.Retry
		}
		return d
	}
	res, err := s.Poster.Post(ctx, target, body, headers)
	d.Verdict, d.Status = res.Verdict, res.Status
	if err != nil {
		d.Err = fmt.Errorf("%s: %w", n.Target, err)
	} else if res.Verdict != outbound.Delivered {
		d.Err = fmt.Errorf("%s answered %d", n.Target, res.Status)
	}
	return d
}

// errNotSendable marks a notice that no configuration can deliver.
var errNotSendable = errors.New("not sendable")

// transient marks a failure to read a secret that may pass: the delivery is tried again.
type transient struct{ err error }

func (t transient) Error() string { return t.err.Error() }
func (t transient) Unwrap() error { return t.err }

// secretError wraps a Secrets error: ErrNotConfigured ends the delivery, anything else is
// transient.
func secretError(what string, err error) error {
	err = fmt.Errorf("%s: %w", what, err)
	if errors.Is(err, ErrNotConfigured) {
		return err
	}
	return transient{err}
}

// prepare resolves n's target, body and headers.
func (s *Sender) prepare(ctx context.Context, n followup.Notice) (outbound.Target, []byte, map[string]string, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	switch n.Target {
	case followup.Slack:
		p, err := MatchSlack(s.SlackPrefixes, n.URL)
		if err != nil {
			return outbound.Target{}, nil, nil, err
		}
		body, err := SlackBody(n, now())
		return outbound.Target{URL: n.URL, LiteralIPAllowed: p.LiteralIP()}, body, nil, err
	case followup.Teams:
		if n.Outcome == nil {
			return outbound.Target{}, nil, nil, fmt.Errorf("teams: %w: only outcomes go to Teams", errNotSendable)
		}
		p, err := s.Secrets.TeamsURL(ctx)
		if err != nil {
			return outbound.Target{}, nil, nil, secretError("teams URL", err)
		}
		body, err := TeamsBody(n, now())
		return outbound.Target{URL: p.URL(), LiteralIPAllowed: p.LiteralIP()}, body, nil, err
	case followup.Callback:
		return s.callback(ctx, n, now())
	}
	return outbound.Target{}, nil, nil, fmt.Errorf("%w: unknown target %q", errNotSendable, clip(string(n.Target)))
}

// callback resolves a callback: its prefix (looked up again, so that a prefix removed from
// the secret stops its callbacks and rotated headers apply), its body, and its headers: the
// prefix's, webhook-id (the follow-up id) and webhook-timestamp always, and webhook-signature
// when CALLBACK_SIGNING_SECRET_NAME is set.
func (s *Sender) callback(ctx context.Context, n followup.Notice, now time.Time) (outbound.Target, []byte, map[string]string, error) {
	var p Prefix
	var err error
	if s.Loopback {
		p, err = MatchLoopback(n.URL)
	} else {
		var prefixes []Prefix
		if prefixes, err = s.Secrets.CallbackTargets(ctx); err != nil {
			return outbound.Target{}, nil, nil, secretError("callback targets", err)
		}
		p, err = MatchCallback(prefixes, n.URL)
	}
	if err != nil {
		return outbound.Target{}, nil, nil, err
	}
	body, err := CallbackBody(n, s.TenantID)
	if err != nil {
		return outbound.Target{}, nil, nil, fmt.Errorf("%w: %v", errNotSendable, err)
	}
	// Every callback carries its id and time, signed or not, so that a receiver can drop a
	// repeat (delivery is at least once); the signature comes on top when there is a key.
	headers := idHeaders(n.ID, now)
	for name, value := range p.headers {
		headers[name] = value // never a webhook-* name: ParseCallbackTargets refuses those
	}
	signer, err := s.Secrets.Signer(ctx)
	switch {
	case errors.Is(err, ErrNotConfigured), err == nil && signer == nil:
	case err != nil:
		return outbound.Target{}, nil, nil, secretError("callback signing secret", err)
	default:
		signature, err := signer.Headers(n.ID, now, body)
		if err != nil {
			return outbound.Target{}, nil, nil, fmt.Errorf("%w: %v", errNotSendable, err)
		}
		for name, value := range signature {
			headers[name] = value
		}
	}
	return outbound.Target{URL: n.URL, LiteralIPAllowed: p.LiteralIP()}, body, headers, nil
}
