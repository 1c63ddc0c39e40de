// Package keyvault reads secrets from Azure Key Vault through azsecrets and keeps them in memory
// for a time-to-live, so a warm invocation makes no Key Vault request. Concurrent readers of a
// secret that is not in memory share one request, which no single caller's cancellation ends.
// A failed read is remembered briefly (SPEC §6: RememberNotFound, RememberFailure), so callers
// with junk credentials cannot make the vault read a secret once per request.
//
// What a read cost comes back with it (Secret.Took), not through the context. The package never
// logs, and never formats a secret's value.
package keyvault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"golang.org/x/sync/singleflight"

	"github.com/autopilot-sync/autopilot-sync/internal/entra"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// ReadTimeout bounds one shared read of a secret (token request and retries included). The
// read runs on its own context, detached from the caller that started it, so that one caller
// giving up does not fail the others waiting for the same read; this bound keeps such a read
// from running on for ever. Key Vault answers in tens of milliseconds and the Store's retry
// policy (2 retries, 200 ms to 2 s apart) fits well inside 10 s, which is also less than API
// Gateway's 29 s: a read that takes longer is treated as failed. Each caller still stops waiting
// at its own deadline.
const ReadTimeout = 10 * time.Second

// How long a failed read of a secret is remembered (SPEC §6). Within that time Get and Refresh
// return the same failure without asking the vault again. A read that ended on a deadline (a
// caller's, or ReadTimeout) is not remembered: it says nothing about the secret, and a vault
// that hangs is already read at most once per ReadTimeout, since every caller joins the one
// read in flight.
const (
	RememberNotFound = 60 * time.Second // the vault has no enabled secret of that name
	RememberFailure  = 10 * time.Second // any other failure: vault, network, token
)

// Secret is one secret's current version.
type Secret struct {
	Name        string
	Value       string
	ContentType string // e.g. "application/x-pkcs12" or "application/x-pem-file" for certificates
	Version     string
	// Expires is the secret's expiry date (its exp attribute, as `az keyvault secret set
	// --expires` or a Key Vault certificate sets it); zero when it has none. Key Vault still
	// answers a secret past it: the date is a reminder, not a lock.
	Expires time.Time
	// Took is the time this call waited for Key Vault (token included); 0 when the value came
	// from memory.
	Took time.Duration
}

// String hides the value, so a Secret printed by mistake leaks nothing.
func (s Secret) String() string { return fmt.Sprintf("secret %q version %q", s.Name, s.Version) }

// Error is a failed read of a secret. Err is the azcore or azidentity error underneath (an
// *azcore.ResponseError for Key Vault's answers, an *azidentity.AuthenticationFailedError when
// Entra refused the identity that reads the vault), or the caller's context error when the
// caller stopped waiting.
type Error struct {
	Name       string
	StatusCode int  // Key Vault's HTTP status, 0 when it never answered
	NotFound   bool // the vault has no enabled secret of that name
	Err        error
}

func (e *Error) Error() string {
	if e.NotFound {
		return fmt.Sprintf("key vault: secret %q not found or disabled", e.Name)
	}
	return fmt.Sprintf("key vault: read secret %q: %v", e.Name, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Problem says what a failed read means to a caller (problem.Classifier), naming no secret: a
// missing, disabled or forbidden secret is misconfigured; Entra refusing the identity that reads
// the vault is credentialRejected; anything else is secretStoreUnavailable. A cause underneath
// that knows its own problem (an AWS STS refusal behind the identity) is that problem.
func (e *Error) Problem() *problem.Problem {
	var inner problem.Classifier
	switch {
	case errors.As(e.Err, &inner):
		return inner.Problem()
	case e.NotFound:
		return problem.New(problem.Misconfigured, "A secret the service needs is missing from Key Vault or disabled; its operators find which in the logs or with diagnose.")
	case e.StatusCode == http.StatusForbidden:
		return problem.New(problem.Misconfigured, "The identity that reads Key Vault may not read a secret the service needs; its operators find which in the logs or with diagnose.")
	case entra.Refused(e.Err):
		return problem.New(problem.CredentialRejected, "Microsoft Entra ID refused the identity that reads Key Vault; its operators find why in the logs or with diagnose.")
	}
	return problem.New(problem.SecretStoreUnavailable, "Key Vault could not be read; try again later.")
}

// Options configures a Store.
type Options struct {
	// TTL is how long a secret is reused; 0 means read once per process.
	TTL time.Duration
	// Transport sends the HTTP requests; nil means Go's default HTTP client.
	Transport policy.Transporter
	// DisableChallengeResourceVerification must be true only for a vault on a loopback host.
	DisableChallengeResourceVerification bool
	// Now is the clock for the TTL and for remembered failures; nil means time.Now.
	Now func() time.Time
	// Explain, when set, may give a read error back the cause a credential flattened into text
	// (awssts.Source.Explain: azidentity keeps only the text of an assertion callback's error).
	Explain func(error) error
	// TenantID is the vault's tenant (the bootstrap identity's). When set, the first read asks
	// cred for the vault's token while Key Vault answers its challenge (prefetch.go), which
	// saves a round trip on a cold start; "" leaves the order to azsecrets.
	TenantID string
}

// Store reads and caches secrets of one vault. It is safe for concurrent use.
type Store struct {
	client      *azsecrets.Client
	cred        *prefetching
	primed      atomic.Bool // a read has succeeded: azsecrets knows the challenge's answer
	explain     func(error) error
	ttl         time.Duration
	now         func() time.Time
	readTimeout time.Duration
	hooks       hooks

	// gets and refreshes are separate flights: a Refresh must not be answered from memory by
	// a Get's flight, and a Get need not wait for a Refresh.
	gets, refreshes singleflight.Group

	mu       sync.Mutex
	entries  map[string]entry
	failures map[string]failure
}

// hooks are test seams (set in export_test.go); nil in production.
type hooks struct {
	missed func(name string) // Get found nothing in memory, before it joins or starts a read
	joined func(name string) // a caller now waits for a read in flight
}

type entry struct {
	secret  Secret
	expires time.Time
}

type failure struct {
	err   *Error
	until time.Time
}

// New returns a Store for the vault at vaultURL, authenticating with cred.
func New(vaultURL string, cred azcore.TokenCredential, o Options) (*Store, error) {
	pc := &prefetching{cred: cred, tenant: o.TenantID, scope: vaultScope(vaultURL)}
	client, err := azsecrets.NewClient(vaultURL, pc, &azsecrets.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Transport: o.Transport,
			// Key Vault's answers are small; two quick retries fit in a Lambda's budget.
			Retry: policy.RetryOptions{MaxRetries: 2, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 2 * time.Second},
		},
		DisableChallengeResourceVerification: o.DisableChallengeResourceVerification,
	})
	if err != nil {
		return nil, fmt.Errorf("key vault %q: %w", vaultURL, err)
	}
	s := &Store{client: client, cred: pc, explain: o.Explain, ttl: o.TTL, now: o.Now, readTimeout: ReadTimeout,
		entries: map[string]entry{}, failures: map[string]failure{}}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Get returns the secret name: from memory while its TTL lasts, else read from the vault, one
// read shared by every concurrent caller. A read that failed within RememberNotFound or
// RememberFailure fails again at once. Errors are *Error; on error the Secret holds only Name
// and Took. A caller whose ctx ends first gets its ctx error (in an *Error) while the shared
// read goes on for the others.
func (s *Store) Get(ctx context.Context, name string) (Secret, error) {
	if o, ok := s.remembered(name, true); ok {
		return o.secret, o.err
	}
	if s.hooks.missed != nil {
		s.hooks.missed(name)
	}
	return s.wait(ctx, &s.gets, name, func(readCtx context.Context) outcome {
		// Another flight may have filled memory between the look above and this one.
		if o, ok := s.remembered(name, true); ok {
			return o
		}
		return s.read(readCtx, name)
	})
}

// Refresh reads the secret name again from the vault, whatever value memory holds (after a
// credential was rotated), and keeps the new value for Get. Concurrent calls share one read. A
// failure remembered from a read within RememberNotFound or RememberFailure is returned without
// asking the vault, so a storm of refreshes (every request meeting a Graph 401) reads the vault
// at most once per such period while it fails. Errors are as for Get.
func (s *Store) Refresh(ctx context.Context, name string) (Secret, error) {
	if o, ok := s.remembered(name, false); ok {
		return o.secret, o.err
	}
	return s.wait(ctx, &s.refreshes, name, func(readCtx context.Context) outcome {
		if o, ok := s.remembered(name, false); ok {
			return o
		}
		return s.read(readCtx, name)
	})
}

// outcome is what a flight gives every caller waiting for it.
type outcome struct {
	secret Secret
	err    error
	vault  bool // the vault was asked (else it came from memory)
}

// remembered returns what memory holds for name: the value while its TTL lasts (when useValue),
// else a failure still remembered, as a copy of its *Error.
func (s *Store) remembered(name string, useValue bool) (outcome, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if e, ok := s.entries[name]; ok && useValue && (s.ttl == 0 || now.Before(e.expires)) {
		return outcome{secret: e.secret}, true
	}
	if f, ok := s.failures[name]; ok && now.Before(f.until) {
		e := *f.err // a copy: no caller can change what the others get
		return outcome{secret: Secret{Name: name}, err: &e}, true
	}
	return outcome{}, false
}

// wait joins the flight of name in g, or starts it with fn on a context that ctx's
// cancellation does not end, and waits for it or for ctx, whichever ends first.
func (s *Store) wait(ctx context.Context, g *singleflight.Group, name string, fn func(context.Context) outcome) (Secret, error) {
	if err := ctx.Err(); err != nil {
		return Secret{Name: name}, &Error{Name: name, Err: err}
	}
	started := time.Now()
	ch := g.DoChan(name, func() (any, error) {
		readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.readTimeout)
		defer cancel()
		return fn(readCtx), nil
	})
	if s.hooks.joined != nil {
		s.hooks.joined(name)
	}
	select {
	case r := <-ch:
		o := r.Val.(outcome)
		if o.vault {
			o.secret.Took = time.Since(started)
		}
		return o.secret, o.err
	case <-ctx.Done():
		return Secret{Name: name, Took: time.Since(started)}, &Error{Name: name, Err: ctx.Err()}
	}
}

// read asks the vault for the current version of name and keeps what it learnt: the value, or
// the failure for the time SPEC §6 gives it.
func (s *Store) read(ctx context.Context, name string) outcome {
	if !s.primed.Load() {
		s.cred.start(ctx) // the token, while the vault answers the challenge
	}
	resp, err := s.client.GetSecret(ctx, name, "", nil)
	if err != nil {
		if s.explain != nil {
			err = s.explain(err)
		}
		e := &Error{Name: name, Err: err}
		var re *azcore.ResponseError
		if errors.As(err, &re) {
			e.StatusCode = re.StatusCode
			// A disabled secret is answered 403 with the inner code SecretDisabled: it is no
			// permission problem, but a secret that is not there to use.
			e.NotFound = re.StatusCode == http.StatusNotFound || disabled(re)
		}
		s.fail(e)
		return outcome{secret: Secret{Name: name}, err: e, vault: true}
	}
	if resp.Attributes != nil && resp.Attributes.Enabled != nil && !*resp.Attributes.Enabled {
		e := &Error{Name: name, StatusCode: http.StatusOK, NotFound: true}
		s.fail(e)
		return outcome{secret: Secret{Name: name}, err: e, vault: true}
	}
	sec := Secret{Name: name}
	if resp.Value != nil {
		sec.Value = *resp.Value
	}
	if resp.ContentType != nil {
		sec.ContentType = *resp.ContentType
	}
	if resp.ID != nil {
		sec.Version = resp.ID.Version()
	}
	if resp.Attributes != nil && resp.Attributes.Expires != nil {
		sec.Expires = resp.Attributes.Expires.UTC()
	}
	s.primed.Store(true)
	s.mu.Lock()
	s.entries[name] = entry{secret: sec, expires: s.now().Add(s.ttl)}
	delete(s.failures, name)
	s.mu.Unlock()
	return outcome{secret: sec, vault: true}
}

// fail remembers e, unless the read ended on a deadline.
func (s *Store) fail(e *Error) {
	if errors.Is(e, context.DeadlineExceeded) || errors.Is(e, context.Canceled) {
		return
	}
	memory := RememberFailure
	if e.NotFound {
		memory = RememberNotFound
	}
	s.mu.Lock()
	s.failures[e.Name] = failure{err: e, until: s.now().Add(memory)}
	s.mu.Unlock()
}

// disabled reports whether Key Vault refused a read because the secret is disabled: 403 with
// the inner error code SecretDisabled (the outer code is only Forbidden).
func disabled(re *azcore.ResponseError) bool {
	return re.StatusCode == http.StatusForbidden && AnswerOf(re).InnerCode == "SecretDisabled"
}

// Answer is what Key Vault said in an error answer: its code, message and inner code (e.g.
// Forbidden, "Operation get is not allowed on a disabled secret.", SecretDisabled).
type Answer struct {
	Code, Message, InnerCode string
}

// AnswerOf reads Key Vault's error answer under err (an *azcore.ResponseError); zero when err
// holds none or its body is not Key Vault's error JSON.
func AnswerOf(err error) Answer {
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.RawResponse == nil {
		return Answer{}
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		return Answer{}
	}
	var e struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				Code string `json:"code"`
			} `json:"innererror"` // names match case-insensitively: innerError too
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return Answer{}
	}
	return Answer{Code: e.Error.Code, Message: e.Error.Message, InnerCode: e.Error.InnerError.Code}
}
