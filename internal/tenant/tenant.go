// Package tenant connects to one Intune tenant the way SPEC §4 describes: the bootstrap identity
// reads the Graph app's credential from Key Vault, which yields a Graph client that lives for the
// life of the process. A Graph 401 drops that client, re-reads the secret once and retries once
// (credential rotation); so does Entra refusing the Graph app's credential. It never retries anything else: retries of Graph itself are the graph
// package's.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"

	"github.com/autopilot-sync/autopilot-sync/internal/azhttp"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/entra"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Tenant is one Intune tenant reached through its Graph app. It is safe for concurrent use.
type Tenant struct {
	app              entra.Identity
	credentialSecret string
	graphBaseURL     string
	vault            *keyvault.Store
	graphOptions     graph.Options

	// client is the live Graph client; building is held by a one-slot channel rather than a
	// mutex, so that a caller whose deadline passes while another builds gives up in time.
	client   atomic.Pointer[graph.Client]
	building chan struct{}
	version  string // of the secret client was built from; guarded by building
}

// Options are the process-wide dependencies of Open.
type Options struct {
	// Transport sends every HTTP request (Entra, Key Vault, Graph); nil means azhttp.Default(),
	// to which Open hands the three hosts of the configuration to preconnect.
	Transport policy.Transporter
	// Now is the clock for secret TTLs and Retry-After dates; nil means time.Now.
	Now func() time.Time
	// Assertion, when set, proves the bootstrap identity with a client assertion (SPEC §4, aws-sts),
	// and ExplainAssertionError gives Key Vault read errors back the assertion's own failure.
	Assertion             func(context.Context) (string, error)
	ExplainAssertionError func(error) error
	// TracingProvider, when set, traces every Graph call (OpenTelemetry, X-Ray); none by default.
	TracingProvider tracing.Provider
}

// Open builds the bootstrap credential and the Key Vault store of cfg, and the tenant they serve.
// Nothing is sent over the network until the first call, but for the TCP and TLS connections to
// the Entra, Key Vault and Graph hosts that a transport able to (azhttp) opens at once: that
// reads no secret and requests no token (issue 17).
func Open(cfg config.Config, o Options) (*Tenant, *keyvault.Store, error) {
	if o.Transport == nil {
		o.Transport = azhttp.Default()
	}
	if p, ok := o.Transport.(interface{ Preconnect(...string) }); ok {
		p.Preconnect(cfg.AuthorityHost, cfg.KeyVaultURL, cfg.GraphBaseURL)
	}
	// The identity that reads Key Vault and the Graph app share their tenant's discovery.
	o.Transport = entra.ShareDiscovery(o.Transport)
	boot, err := entra.NewBootstrapCredential(entra.Identity{
		TenantID:                 cfg.TenantID,
		ClientID:                 cfg.ClientID,
		AuthorityHost:            cfg.AuthorityHost,
		Transport:                o.Transport,
		DisableInstanceDiscovery: config.IsLoopback(cfg.AuthorityHost),
	}, entra.Bootstrap{
		ClientSecret:        cfg.ClientSecret,
		CertificatePath:     cfg.ClientCertificatePath,
		CertificatePassword: cfg.ClientCertificatePassword,
		FederatedTokenFile:  cfg.FederatedTokenFile,
		Assertion:           o.Assertion,
	})
	if err != nil {
		return nil, nil, &config.Error{Err: fmt.Errorf("identity that reads Key Vault: %w", err)}
	}
	vault, err := keyvault.New(cfg.KeyVaultURL, boot, keyvault.Options{
		TTL:                                  cfg.SecretCacheTTL,
		Transport:                            o.Transport,
		DisableChallengeResourceVerification: config.IsLoopback(cfg.KeyVaultURL),
		Now:                                  o.Now,
		Explain:                              o.ExplainAssertionError,
		TenantID:                             cfg.TenantID,
	})
	if err != nil {
		return nil, nil, &config.Error{Err: err}
	}
	t := New(vault, App{
		TenantID:             cfg.GraphTenantID,
		ClientID:             cfg.GraphClientID,
		CredentialSecretName: cfg.GraphCredentialSecretName,
		AuthorityHost:        cfg.AuthorityHost,
		GraphBaseURL:         cfg.GraphBaseURL,
	}, o)
	return t, vault, nil
}

// App describes a tenant's Graph app registration.
type App struct {
	TenantID             string
	ClientID             string
	CredentialSecretName string
	AuthorityHost        string
	GraphBaseURL         string
}

// New returns the tenant served by app, whose credential is read from vault.
func New(vault *keyvault.Store, app App, o Options) *Tenant {
	return &Tenant{
		building: make(chan struct{}, 1),
		app: entra.Identity{
			TenantID:                 app.TenantID,
			ClientID:                 app.ClientID,
			AuthorityHost:            app.AuthorityHost,
			Transport:                o.Transport,
			DisableInstanceDiscovery: config.IsLoopback(app.AuthorityHost),
		},
		credentialSecret: app.CredentialSecretName,
		graphBaseURL:     app.GraphBaseURL,
		vault:            vault,
		graphOptions:     graph.Options{Transport: o.Transport, Now: o.Now, TracingProvider: o.TracingProvider},
	}
}

// ErrCredentialUnusable marks a Graph credential secret that cannot be turned into a credential
// (an empty secret, an unreadable certificate). Its problem is misconfigured.
var ErrCredentialUnusable error = credentialUnusable{}

type credentialUnusable struct{}

func (credentialUnusable) Error() string { return "graph credential unusable" }

func (credentialUnusable) Problem() *problem.Problem { return problem.Misconfiguration(nil) }

// Call is what one call to a tenant saw, for the invocation's log line and problems: Graph's last
// answer, and the time spent in Graph and in Key Vault (reading the Graph credential).
type Call struct {
	// Graph is the last Graph answer (StatusCode 0 when Graph was not reached).
	Graph graph.Response
	// GraphTime adds up every Graph call: a rotation retry makes two.
	GraphTime time.Duration
	// VaultTime is the time spent waiting for the Graph credential's secret (token included).
	VaultTime time.Duration
}

// Do runs call, one or more Graph requests through a graph.Client method, with the tenant's Graph
// client, building it on first use (one secret read and one token per process). On a Graph 401
// it rebuilds the client from a fresh read of the secret and runs call once more; so it does when
// Entra refuses the app's credential and Key Vault holds a newer version (rotation, SPEC §4).
// The errors are those of call, of reading the secret (*keyvault.Error) and of building the
// credential (*config.Error): each knows its problem (problem.Of).
func (t *Tenant) Do(ctx context.Context, call func(*graph.Client) (*graph.Response, error)) (Call, error) {
	var info Call
	run := func(c *graph.Client) error {
		r, err := call(c)
		if r != nil {
			info.Graph = *r
			info.GraphTime += r.Duration
		}
		return err
	}
	c, err := t.graphClient(ctx, nil, false, &info)
	if err != nil {
		return info, err
	}
	err = run(c)
	var fresh *graph.Client
	var rebuildErr error
	switch {
	case graphRefusedToken(err):
		// SPEC §4: drop the credential, re-read the secret once, retry once.
		fresh, rebuildErr = t.graphClient(ctx, c, false, &info)
	case entraRefusedCredential(err):
		// Only a newer secret can help: the same one would be refused again.
		fresh, rebuildErr = t.graphClient(ctx, c, true, &info)
	default:
		return info, err
	}
	switch {
	case errors.Is(rebuildErr, errSameCredential):
		return info, err
	case rebuildErr != nil:
		return info, rebuildErr
	}
	return info, run(fresh)
}

// errSameCredential says Key Vault still holds the version of the secret a refused credential
// was built from.
var errSameCredential = errors.New("graph credential: Key Vault holds no newer version")

// graphRefusedToken reports whether Graph answered 401 (a token it no longer accepts).
func graphRefusedToken(err error) bool {
	var ge *graph.Error
	return errors.As(err, &ge) && ge.StatusCode == http.StatusUnauthorized
}

// entraRefusedCredential reports whether Entra refused the Graph app's credential itself
// (invalid_client once an old secret expired after a rotation).
func entraRefusedCredential(err error) bool {
	var app *entra.AppTokenError
	return errors.As(err, &app) && entra.Refused(app)
}

// graphClient returns the live Graph client, building it on first use. With stale set, it
// replaces stale (unless another caller already did) from a fresh read of the secret. Concurrent
// callers wait for one build: one secret read and one token request per process.
func (t *Tenant) graphClient(ctx context.Context, stale *graph.Client, onlyNewer bool, info *Call) (*graph.Client, error) {
	if c := t.client.Load(); c != nil && c != stale {
		return c, nil
	}
	select {
	case t.building <- struct{}{}:
		defer func() { <-t.building }()
	case <-ctx.Done():
		return nil, fmt.Errorf("graph credential: %w", ctx.Err())
	}
	if c := t.client.Load(); c != nil && c != stale {
		return c, nil // built by the caller we waited for
	}
	read := t.vault.Get
	if stale != nil {
		read = t.vault.Refresh
	}
	readStarted := time.Now()
	secret, err := read(ctx, t.credentialSecret)
	info.VaultTime += time.Since(readStarted)
	if err != nil {
		return nil, fmt.Errorf("graph credential: %w", err)
	}
	if onlyNewer && secret.Version != "" && secret.Version == t.version {
		return nil, errSameCredential
	}
	cred, err := entra.NewAppCredential(t.app, secret.Value, secret.ContentType)
	if err != nil {
		return nil, fmt.Errorf("%w: secret %q: %w", ErrCredentialUnusable, t.credentialSecret, err)
	}
	c, err := graph.NewClient(t.graphBaseURL, cred, &t.graphOptions)
	if err != nil {
		return nil, &config.Error{Err: err}
	}
	t.version = secret.Version
	t.client.Store(c)
	return c, nil
}
