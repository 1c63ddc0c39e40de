package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/awssts"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/entra"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Defaults of Options.
const (
	DefaultConcurrency  = 4
	DefaultCheckTimeout = 10 * time.Second
)

// Options are what Run needs besides the configuration.
type Options struct {
	// Function is the function diagnosed: sync (the default) or status.
	Function autopilot.Function
	// Transport sends every request to Entra ID, Key Vault and Graph; nil means Go's default client.
	Transport policy.Transporter
	// Now is the clock of the checks' ms and of Graph's Retry-After dates; nil means time.Now.
	Now func() time.Time
	// Assertion proves the identity that reads Key Vault with AWS STS (AZURE_FEDERATED_TOKEN_SOURCE
	// aws-sts), and ExplainAssertionError restores the STS failure behind an Entra error
	// (awssts.Source's Assertion and Explain). When aws-sts is configured and Assertion is nil, Run
	// builds a source of its own from the configuration's AWS environment.
	Assertion             func(context.Context) (string, error)
	ExplainAssertionError func(error) error
	// Concurrency bounds how many tenants of a registry are checked at once; 0 means 4.
	Concurrency int
	// CheckTimeout bounds each check (each tenant's too); 0 means 10 s.
	CheckTimeout time.Duration
}

// Run checks every link of the chain of SPEC §4 in order, as the function configured by cfg
// (or failing with cfgErr, the error found loading it) would use it, and returns the report. A
// check whose prerequisite failed is skipped. It never starts a sync and never writes to Graph
// or Key Vault, and nothing it returns holds a secret value or a token.
func Run(ctx context.Context, cfg config.Config, cfgErr error, o Options) Report {
	if o.Function == "" {
		o.Function = FunctionSync
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = DefaultCheckTimeout
	}
	r := &runner{cfg: cfg, o: o, vaultName: VaultName(cfg.KeyVaultURL)}
	c := r.chain()
	rep := Report{Function: o.Function}

	var l *links
	configured := c.step(ctx, CheckConfiguration, true, func(context.Context, *Check) *fault {
		var f *fault
		l, f = r.configure(cfgErr)
		return f
	})
	vaultOK := c.step(ctx, CheckKeyVaultToken, configured, func(ctx context.Context, _ *Check) *fault {
		return r.keyVaultToken(ctx, l)
	})
	if cfg.TenantRegistrySecretName != "" {
		r.callerSecretsStep(ctx, c, l, vaultOK)
		c.stepWithin(ctx, CheckTenants, vaultOK, 0, func(ctx context.Context, ck *Check) *fault {
			return r.tenants(ctx, l, ck)
		})
	} else {
		a := r.singleApp()
		var cred *credential
		credOK := c.step(ctx, CheckGraphCredential, vaultOK, func(ctx context.Context, _ *Check) *fault {
			var f *fault
			cred, f = r.graphCredential(ctx, l, a)
			return f
		})
		r.callerSecretsStep(ctx, c, l, vaultOK)
		tokenOK := c.step(ctx, CheckGraphToken, credOK, func(ctx context.Context, ck *Check) *fault {
			return r.graphToken(ctx, cred, a, ck)
		})
		c.step(ctx, CheckGraphRead, tokenOK, func(ctx context.Context, _ *Check) *fault {
			var f *fault
			rep.Graph, f = r.graphRead(ctx, cred, a)
			return f
		})
	}
	r.warnExpiry(ctx, l, c.checks)
	rep.Checks = c.checks
	rep.OK = !slices.ContainsFunc(rep.Checks, func(ck Check) bool { return !ck.OK })
	return rep
}

// runner is one run's configuration and what the checks learn on the way.
type runner struct {
	cfg       config.Config
	o         Options
	vaultName string
	explain   func(error) error
	// roleARN is the subject of the last STS token (aws-sts): the role a federated credential
	// must name.
	roleARN atomic.Pointer[string]
}

// links are the clients the first checks build and the later ones use.
type links struct {
	boot  azcore.TokenCredential
	vault *keyvault.Store
}

func (r *runner) chain() *chain { return &chain{now: r.o.Now, timeout: r.o.CheckTimeout} }

// chain runs checks one after the other and collects them.
type chain struct {
	now     func() time.Time
	timeout time.Duration
	checks  []Check
}

// step runs one check within the check timeout, unless ready is false (a prerequisite failed:
// the check is skipped), and reports whether it passed.
func (c *chain) step(ctx context.Context, name string, ready bool, fn func(context.Context, *Check) *fault) bool {
	return c.stepWithin(ctx, name, ready, c.timeout, fn)
}

// stepWithin is step with its own timeout; 0 means none (a check made of bounded checks).
func (c *chain) stepWithin(ctx context.Context, name string, ready bool, timeout time.Duration, fn func(context.Context, *Check) *fault) bool {
	if !ready {
		c.checks = append(c.checks, Check{Name: name, Skipped: true})
		return false
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ck := Check{Name: name}
	started := c.now()
	f := fn(ctx, &ck)
	ck.Ms = max(0, c.now().Sub(started).Milliseconds())
	if f == nil {
		ck.OK = true
	} else {
		ck.Code, ck.Detail, ck.Fix = f.code, f.detail, f.fix
	}
	c.checks = append(c.checks, ck)
	return ck.OK
}

// configure builds what the functions build at cold start: the identity that reads Key Vault
// and the vault's client. Nothing is sent yet.
func (r *runner) configure(cfgErr error) (*links, *fault) {
	cfg := r.cfg
	if cfgErr != nil {
		return nil, configFault(cfgErr)
	}
	if _, err := graph.Scope(cfg.GraphBaseURL); err != nil {
		return nil, configFault(fmt.Errorf("GRAPH_BASE_URL: %w", err))
	}
	assertion := r.o.Assertion
	r.explain = r.o.ExplainAssertionError
	if assertion == nil && cfg.FederatedTokenSource == config.FederatedTokenSourceAWSSTS {
		sts, err := awssts.New(awssts.OptionsFrom(cfg.AWS))
		if err != nil {
			return nil, configFault(fmt.Errorf("AZURE_FEDERATED_TOKEN_SOURCE=aws-sts: %w", err))
		}
		assertion, r.explain = sts.Assertion, sts.Explain
	}
	if assertion != nil {
		inner := assertion
		assertion = func(ctx context.Context) (string, error) {
			tok, err := inner(ctx)
			if sub := tokenSubject(tok); err == nil && sub != "" {
				r.roleARN.Store(&sub)
			}
			return tok, err
		}
	}
	boot, err := entra.NewBootstrapCredential(entra.Identity{
		TenantID: cfg.TenantID, ClientID: cfg.ClientID, AuthorityHost: cfg.AuthorityHost,
		Transport: r.o.Transport, DisableInstanceDiscovery: config.IsLoopback(cfg.AuthorityHost),
	}, entra.Bootstrap{
		ClientSecret: cfg.ClientSecret, CertificatePath: cfg.ClientCertificatePath,
		CertificatePassword: cfg.ClientCertificatePassword, FederatedTokenFile: cfg.FederatedTokenFile,
		Assertion: assertion,
	})
	if err != nil {
		return nil, configFault(fmt.Errorf("identity that reads Key Vault: %w", err))
	}
	vault, err := keyvault.New(cfg.KeyVaultURL, boot, keyvault.Options{
		Transport:                            r.o.Transport,
		DisableChallengeResourceVerification: config.IsLoopback(cfg.KeyVaultURL),
		Now:                                  r.o.Now,
		Explain:                              r.explain,
	})
	if err != nil {
		return nil, configFault(fmt.Errorf("KEY_VAULT_URL: %w", err))
	}
	return &links{boot: boot, vault: vault}, nil
}

// configVariable finds the variable an error line names: the last NAME followed by a colon.
var configVariable = regexp.MustCompile(`\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+):`)

// configFault reports a configuration error: every problem, and the fix of each variable named.
func configFault(err error) *fault {
	var lines, fixes []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		lines = append(lines, line)
		if m := configVariable.FindAllStringSubmatch(line, -1); m != nil {
			if fix := FixConfiguration(m[len(m)-1][1]); !slices.Contains(fixes, fix) {
				fixes = append(fixes, fix)
			}
		}
	}
	if len(fixes) == 0 {
		fixes = append(fixes, FixConfiguration(""))
	}
	return &fault{problem.Misconfigured, clipLines(strings.Join(lines, "; ")), strings.Join(fixes, "; ")}
}

// clipLines bounds a detail made of several problems (the configuration's, the registry's).
func clipLines(s string) string {
	const maxLines = 2000
	if len(s) > maxLines {
		return s[:maxLines] + "…"
	}
	return s
}

// keyVaultToken asks Entra for a Key Vault token as the identity that reads the vault.
func (r *runner) keyVaultToken(ctx context.Context, l *links) *fault {
	_, err := l.boot.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{vaultScope(r.cfg.KeyVaultURL)}, EnableCAE: true})
	if err == nil {
		return nil
	}
	return r.readerFault(ctx, err)
}

// readerFault explains a failure to get the identity that reads Key Vault a token.
func (r *runner) readerFault(ctx context.Context, err error) *fault {
	cfg := r.cfg
	if r.explain != nil {
		err = r.explain(err)
	}
	var stsErr *awssts.Error
	if errors.As(err, &stsErr) {
		return r.stsFault(stsErr)
	}
	if problem.IsTimeout(err) || ctx.Err() != nil {
		return &fault{problem.UpstreamTimeout, "Microsoft Entra ID (" + cfg.AuthorityHost + ") did not answer the token request of the identity that reads Key Vault within " + r.o.CheckTimeout.String() + ".",
			FixAuthorityUnreachable(cfg.AuthorityHost)}
	}
	a, ok := readEntra(err)
	switch {
	case ok && a.rejected():
		fix := FixKeyVaultReaderRejected(cfg.TenantID, cfg.ClientID)
		if cfg.FederatedTokenSource == config.FederatedTokenSourceAWSSTS {
			fix = FixFederatedReaderRejected(cfg.ClientID, r.role())
		}
		return &fault{problem.CredentialRejected, fmt.Sprintf("Microsoft Entra ID refused the identity that reads Key Vault (AZURE_CLIENT_ID %s, tenant %s): %s",
			cfg.ClientID, cfg.TenantID, a.said()), fix}
	case ok && a.status != 0:
		return &fault{problem.SecretStoreUnavailable, "Microsoft Entra ID did not issue the identity that reads Key Vault a token: " + a.said(), FixTryAgain("Microsoft Entra ID")}
	}
	return &fault{problem.SecretStoreUnavailable, "Microsoft Entra ID (" + cfg.AuthorityHost + ") could not be reached for a Key Vault token: " + clip(err.Error()),
		FixAuthorityUnreachable(cfg.AuthorityHost)}
}

// stsFault explains AWS STS refusing (or failing) to prove the identity that reads Key Vault.
func (r *runner) stsFault(e *awssts.Error) *fault {
	said := e.Code
	if said == "" {
		said = "no answer"
	}
	if e.StatusCode != 0 {
		said += fmt.Sprintf(" (HTTP %d, request id %s)", e.StatusCode, e.RequestID)
	}
	if e.Message != "" {
		said += ": " + clip(e.Message)
	} else if e.Code == "" && e.Err != nil {
		said += ": " + clip(e.Err.Error())
	}
	if e.Transient {
		return &fault{problem.SecretStoreUnavailable, "AWS STS did not issue the web identity token that proves the identity that reads Key Vault: " + said, FixTryAgain("AWS STS")}
	}
	role := roleOfMessage(e.Message)
	if role == "" {
		role = r.role()
	}
	fix := e.Fix
	switch e.Code {
	case awssts.CodeAccessDenied, "AccessDeniedException":
		fix = FixSTSAccessDenied(role)
	case awssts.CodeFederationDisabled:
		fix = FixSTSFederationDisabled(r.cfg.ClientID, role)
	}
	return &fault{problem.CredentialRejected, "AWS STS refused GetWebIdentityToken, which proves the identity that reads Key Vault: " + said, fix}
}

// role is the role ARN of the last STS token, "" when none was seen.
func (r *runner) role() string {
	if p := r.roleARN.Load(); p != nil {
		return *p
	}
	return ""
}

// vaultScope is the scope of a Key Vault token for the vault at vaultURL: its cloud's resource
// (vault.azure.net, vault.usgovcloudapi.net, vault.azure.cn), as the vault's challenge names
// it; vault.azure.net for any other host (a local emulator).
func vaultScope(vaultURL string) string {
	u, err := url.Parse(strings.TrimSpace(vaultURL))
	if err == nil && net.ParseIP(u.Hostname()) == nil {
		if _, rest, ok := strings.Cut(strings.ToLower(u.Hostname()), "."); ok && strings.HasPrefix(rest, "vault.") {
			return "https://" + rest + "/.default"
		}
	}
	return "https://vault.azure.net/.default"
}
