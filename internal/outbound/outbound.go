package outbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

const (
	// MaxAnswerBytes is the most of an answer's body that Post reads.
	MaxAnswerBytes = 64 << 10
	// MaxTimeout is the most time one Post may take, answer included (SPEC §13: 10 s a delivery).
	MaxTimeout = 10 * time.Second
	// IdleConnTimeout is how long an idle connection may wait for reuse (issue 17: at most 90 s).
	IdleConnTimeout = 90 * time.Second

	userAgent = "autopilot-sync"
)

// Options configures New. The zero value is the production client.
type Options struct {
	// Timeout bounds each Post, answer included; 0 or anything above MaxTimeout means MaxTimeout.
	Timeout time.Duration
	// AllowLoopback allows loopback addresses and plain http to a loopback host. Only cmd/local
	// on its embedded emulator sets it: on Lambda the Runtime API listens on loopback.
	AllowLoopback bool
	// RootCAs are the trusted roots; nil means the system's (which honour SSL_CERT_FILE).
	RootCAs *x509.CertPool
}

// Target is where a Post goes.
type Target struct {
	// URL is the absolute https URL to POST to. It is never put in an error.
	URL string
	// LiteralIPAllowed reports that the configuration which allowed URL names its host as a
	// literal IP address (a urlPrefix, a SLACK_RESPONSE_URL_PREFIXES entry or the Teams URL):
	// then exactly that address may be dialled though it is private or otherwise special,
	// unless it is loopback, unspecified, link-local or multicast. It changes nothing for a URL
	// whose host is a name.
	LiteralIPAllowed bool
}

// Verdict is what a Post's result means for the delivery.
type Verdict int

// The verdicts.
const (
	// Delivered: the target answered 2xx.
	Delivered Verdict = iota + 1
	// Refused: the target answered with a status that another try will not change (4xx but 408
	// and 429, a 3xx that is not followed, anything else outside 2xx and 5xx). The delivery
	// ends; log the status.
	Refused
	// Retry: a 5xx, 408 or 429, a timeout or a connection failure: try again later.
	Retry
	// Blocked: the target may not be sent to at all (a special-purpose address, not https, a
	// malformed URL or header). Permanent: the delivery ends without a request, or without
	// one reaching an address that is not allowed.
	Blocked
)

// String returns the verdict's name for logs: delivered, refused, retry or blocked.
func (v Verdict) String() string {
	switch v {
	case Delivered:
		return "delivered"
	case Refused:
		return "refused"
	case Retry:
		return "retry"
	case Blocked:
		return "blocked"
	}
	return "unknown"
}

// Final reports whether the delivery ends with this verdict (everything but Retry).
func (v Verdict) Final() bool { return v != Retry }

// Classify returns the verdict of an answer with HTTP status code status.
func Classify(status int) Verdict {
	switch {
	case status >= 200 && status <= 299:
		return Delivered
	case status >= 500 && status <= 599, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return Retry
	}
	return Refused
}

// Result is what a Post learnt.
type Result struct {
	// Verdict is always set.
	Verdict Verdict
	// Status is the answer's HTTP status code; 0 when there was no answer.
	Status int
	// Body is at most MaxAnswerBytes of the answer's body.
	Body []byte
	// Truncated reports that the answer's body was longer than MaxAnswerBytes.
	Truncated bool
}

// Errors that Post wraps; test with errors.Is.
var (
	// ErrBlocked: the address dialled, or the literal address in the URL, is not allowed.
	ErrBlocked = errors.New("address not allowed")
	// ErrTarget: the target URL or a header cannot be sent as given.
	ErrTarget = errors.New("target not sendable")
	// ErrTimeout: no whole answer within the Post's time.
	ErrTimeout = errors.New("no answer in time")
)

// Client sends POSTs to targets under the rules of the package doc. It is safe for concurrent
// use; build one per process.
type Client struct {
	http          *http.Client
	transport     *http.Transport
	guard         *ssrf.Guardian
	timeout       time.Duration
	allowLoopback bool
	// never lists the addresses that no literal-IP allowance reaches.
	never func(netip.Addr) bool
}

// New returns a Client configured by o.
func New(o Options) *Client {
	c := &Client{
		guard:         ssrf.New(ssrf.WithAnyPort()),
		timeout:       o.Timeout,
		allowLoopback: o.AllowLoopback,
		never:         neverAllowed,
	}
	if c.timeout <= 0 || c.timeout > MaxTimeout {
		c.timeout = MaxTimeout
	}
	dialer := &net.Dialer{KeepAlive: 30 * time.Second, ControlContext: c.control}
	c.transport = &http.Transport{
		Proxy:                  nil, // no HTTP(S)_PROXY: a proxy would dial for us, unchecked
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.RootCAs},
		TLSHandshakeTimeout:    c.timeout,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           8,
		IdleConnTimeout:        IdleConnTimeout,
		MaxResponseHeaderBytes: MaxAnswerBytes,
		DisableCompression:     true,
	}
	c.http = &http.Client{
		Transport:     c.transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// Post sends body to t with headers (Content-Type defaults to application/json) and reads at
// most MaxAnswerBytes of the answer. The error is nil whenever the target answered, whatever
// the status: Result.Verdict says what the answer means. Otherwise the error wraps ErrBlocked,
// ErrTarget or ErrTimeout, or says which connection failure happened; it never contains the URL
// or a header value.
func (c *Client) Post(ctx context.Context, t Target, body []byte, headers map[string]string) (Result, error) {
	u, pinned, err := c.target(t)
	if err != nil {
		return Result{Verdict: Blocked}, err
	}
	for name, value := range headers {
		if !validHeaderName(name) || !validHeaderValue(value) {
			return Result{Verdict: Blocked}, fmt.Errorf("outbound: %w: header %q is not a valid header name and value", ErrTarget, sanitizedName(name))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if pinned.IsValid() {
		ctx = context.WithValue(ctx, pinnedKey{}, pinned)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return Result{Verdict: Blocked}, fmt.Errorf("outbound: %w: the request cannot be built", ErrTarget)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	for name, value := range headers {
		req.Header.Set(name, value)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.failure(ctx, err)
	}
	defer resp.Body.Close()
	res := Result{Verdict: Classify(resp.StatusCode), Status: resp.StatusCode}
	// A body cut short by the deadline still leaves the status: the target did answer.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if len(b) > MaxAnswerBytes {
		b, res.Truncated = b[:MaxAnswerBytes], true
	}
	res.Body = b
	return res, nil
}

// failure turns a failed exchange into its Result, dropping the *url.Error that names the URL.
func (c *Client) failure(ctx context.Context, err error) (Result, error) {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, ErrBlocked):
		return Result{Verdict: Blocked}, fmt.Errorf("outbound: %w", err)
	case errors.Is(err, context.DeadlineExceeded), ctx.Err() != nil, errors.As(err, &ne) && ne.Timeout():
		return Result{Verdict: Retry}, fmt.Errorf("outbound: %w within %s", ErrTimeout, c.timeout)
	}
	return Result{Verdict: Retry}, fmt.Errorf("outbound: %w", err)
}

// target parses t and checks what can be checked before dialling: the scheme, and a literal
// address (so that a pooled connection to an allowed literal address serves no other target).
// pinned is the literal address that t allows, if any.
func (c *Client) target(t Target) (u *url.URL, pinned netip.Addr, err error) {
	u, err = url.Parse(t.URL)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return nil, pinned, fmt.Errorf("outbound: %w: not an absolute URL", ErrTarget)
	}
	if u.User != nil {
		return nil, pinned, fmt.Errorf("outbound: %w: user info in the URL", ErrTarget)
	}
	plain := false
	switch u.Scheme {
	case "https":
	case "http":
		if !c.allowLoopback {
			return nil, pinned, fmt.Errorf("outbound: %w: the URL must use https", ErrTarget)
		}
		plain = true
	default:
		return nil, pinned, fmt.Errorf("outbound: %w: the URL must use https", ErrTarget)
	}
	host := u.Hostname()
	ip, perr := netip.ParseAddr(host)
	if perr != nil {
		if plain && host != "localhost" {
			return nil, pinned, fmt.Errorf("outbound: %w: plain http only to a loopback host", ErrTarget)
		}
		return u, pinned, nil
	}
	if ip.Zone() != "" {
		return nil, pinned, fmt.Errorf("outbound: %w: an IPv6 zone in the URL", ErrTarget)
	}
	if plain && !ip.Unmap().IsLoopback() {
		return nil, pinned, fmt.Errorf("outbound: %w: plain http only to a loopback host", ErrTarget)
	}
	if t.LiteralIPAllowed {
		pinned = ip
	}
	if err := c.check(ip, pinned); err != nil {
		return nil, netip.Addr{}, fmt.Errorf("outbound: %w", err)
	}
	return u, pinned, nil
}

// pinnedKey carries a Post's allowed literal address to the dialer's control function.
type pinnedKey struct{}

// control runs for every connection, on the address about to be dialled.
func (c *Client) control(ctx context.Context, network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %s", ErrBlocked, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address", ErrBlocked)
	}
	pinned, _ := ctx.Value(pinnedKey{}).(netip.Addr)
	return c.check(ap.Addr(), pinned)
}

// check reports whether ip may be dialled, pinned being the literal address a target allows.
func (c *Client) check(ip, pinned netip.Addr) error {
	plain := ip.Unmap()
	if c.allowLoopback && plain.IsLoopback() {
		return nil
	}
	if pinned.IsValid() && plain == pinned.Unmap() && !c.never(plain) {
		return nil
	}
	if c.never(plain) {
		return fmt.Errorf("%w: %s is a loopback, link-local, multicast or unspecified address", ErrBlocked, ip)
	}
	if err := c.guard.SafeAddr(ip); err != nil {
		return fmt.Errorf("%w: %s is a private or special-purpose address", ErrBlocked, ip)
	}
	return nil
}

// neverAllowed reports the addresses that no configuration may open: loopback (the Lambda
// Runtime API and extensions), unspecified (which reaches the local host), link-local (cloud
// metadata services) and multicast or broadcast.
func neverAllowed(ip netip.Addr) bool {
	return ip.IsLoopback() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() || ip.IsMulticast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}
