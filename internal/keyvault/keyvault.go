// Package keyvault reads secrets from Azure Key Vault through azsecrets and keeps them in memory
// for a time-to-live, so a warm invocation makes no Key Vault request. Concurrent readers of a
// secret that is not cached share one request. It never logs or formats a secret's value.
package keyvault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"golang.org/x/sync/singleflight"
)

// Secret is one secret's current version.
type Secret struct {
	Name        string
	Value       string
	ContentType string // e.g. "application/x-pkcs12" or "application/x-pem-file" for certificates
	Version     string
}

// String hides the value, so a Secret printed by mistake leaks nothing.
func (s Secret) String() string { return fmt.Sprintf("secret %q version %q", s.Name, s.Version) }

// Error is a failed read of a secret. Err is the azcore or azidentity error underneath (an
// *azcore.ResponseError for Key Vault's answers, an *azidentity.AuthenticationFailedError when
// Entra refused the identity that reads the vault).
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

// Options configures a Store.
type Options struct {
	// TTL is how long a secret is reused; 0 means read once per process.
	TTL time.Duration
	// Transport sends the HTTP requests; nil means Go's default HTTP client.
	Transport policy.Transporter
	// DisableChallengeResourceVerification must be true only for a vault on a loopback host.
	DisableChallengeResourceVerification bool
	// Now is the clock for the TTL; nil means time.Now.
	Now func() time.Time
	// Explain, when set, may give a read error back the cause a credential flattened into text
	// (awssts.Source.Explain: azidentity keeps only the text of an assertion callback's error).
	Explain func(error) error
}

// Store reads and caches secrets of one vault. It is safe for concurrent use.
type Store struct {
	client  *azsecrets.Client
	explain func(error) error
	ttl     time.Duration
	now     func() time.Time
	group   singleflight.Group

	mu      sync.Mutex
	entries map[string]entry
}

type entry struct {
	secret  Secret
	expires time.Time
}

// New returns a Store for the vault at vaultURL, authenticating with cred.
func New(vaultURL string, cred azcore.TokenCredential, o Options) (*Store, error) {
	client, err := azsecrets.NewClient(vaultURL, cred, &azsecrets.ClientOptions{
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
	s := &Store{client: client, explain: o.Explain, ttl: o.TTL, now: o.Now, entries: map[string]entry{}}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Get returns the secret name, from memory while its TTL lasts. Errors are *Error.
func (s *Store) Get(ctx context.Context, name string) (Secret, error) {
	s.mu.Lock()
	e, ok := s.entries[name]
	s.mu.Unlock()
	if ok && (s.ttl == 0 || s.now().Before(e.expires)) {
		return e.secret, nil
	}
	return s.read(ctx, name)
}

// Refresh reads the secret name again from the vault, whatever the cache holds (after a
// credential was rotated). Concurrent calls share one read.
func (s *Store) Refresh(ctx context.Context, name string) (Secret, error) {
	return s.read(ctx, name)
}

type readTimeKey struct{}

// WithReadTime returns a context under which the time spent reading the vault (token included)
// is added to *d, for the invocation's log line. d must not be shared between goroutines.
func WithReadTime(ctx context.Context, d *time.Duration) context.Context {
	return context.WithValue(ctx, readTimeKey{}, d)
}

func (s *Store) read(ctx context.Context, name string) (Secret, error) {
	if d, ok := ctx.Value(readTimeKey{}).(*time.Duration); ok {
		defer func(started time.Time) { *d += time.Since(started) }(time.Now())
	}
	// The read is shared by every caller waiting for it and runs on the first caller's context:
	// a read must not outlive the invocation that started it (in Lambda the next invocation
	// would find it still hanging). Each caller stops waiting at its own deadline.
	ch := s.group.DoChan(name, func() (any, error) {
		resp, err := s.client.GetSecret(ctx, name, "", nil)
		if err != nil {
			if s.explain != nil {
				err = s.explain(err)
			}
			e := &Error{Name: name, Err: err}
			var re *azcore.ResponseError
			if errors.As(err, &re) {
				e.StatusCode = re.StatusCode
				e.NotFound = re.StatusCode == http.StatusNotFound
			}
			return Secret{}, e
		}
		if resp.Attributes != nil && resp.Attributes.Enabled != nil && !*resp.Attributes.Enabled {
			return Secret{}, &Error{Name: name, StatusCode: http.StatusOK, NotFound: true}
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
		s.mu.Lock()
		s.entries[name] = entry{secret: sec, expires: s.now().Add(s.ttl)}
		s.mu.Unlock()
		return sec, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Secret{}, r.Err
		}
		return r.Val.(Secret), nil
	case <-ctx.Done():
		return Secret{}, &Error{Name: name, Err: ctx.Err()}
	}
}
