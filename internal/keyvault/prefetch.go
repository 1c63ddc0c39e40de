package keyvault

// The first read's token, fetched while Key Vault answers its challenge (issue 17).
//
// azsecrets sends its first request without a token, to learn the tenant and resource from Key
// Vault's 401 challenge, and only then asks the credential for a token: two waits one after the
// other. The Store knows the vault's tenant and resource beforehand, so while the challenge is
// under way it already asks for that token; when the challenge policy then asks for the same
// token, it is handed the one under way instead of sending a second request. A token for
// another tenant or scope than the challenge names is never handed over: the policy's own request
// goes to the credential as before.

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// defaultVaultResource is Key Vault's resource in the global cloud, for a vault whose host does
// not name its cloud (a loopback emulator).
const defaultVaultResource = "https://vault.azure.net"

// vaultScope returns the token scope Key Vault's challenge will name for vaultURL: the host
// without the vault's own name ("https://vault.azure.net/.default" for
// https://contoso.vault.azure.net), for vaults and managed HSMs of every cloud.
func vaultScope(vaultURL string) string {
	u, err := url.Parse(vaultURL)
	if err == nil {
		host := strings.ToLower(u.Hostname())
		for _, service := range []string{".vault.", ".managedhsm."} {
			if i := strings.Index(host, service); i > 0 {
				return "https://" + host[i+1:] + "/.default"
			}
		}
	}
	return defaultVaultResource + "/.default"
}

// prefetching is the Store's credential: cred, plus one token request started ahead of the
// challenge and handed to the first matching GetToken.
type prefetching struct {
	cred   azcore.TokenCredential
	tenant string // the vault's tenant: the bootstrap identity's
	scope  string

	mu      sync.Mutex
	pending *handoff
}

// handoff is a token request under way, or its outcome.
type handoff struct {
	opts policy.TokenRequestOptions
	done chan struct{}
	tok  azcore.AccessToken
	err  error
}

// start asks cred for the vault's token in the background, replacing one no GetToken took.
func (p *prefetching) start(ctx context.Context) {
	if p.tenant == "" {
		return
	}
	h := &handoff{
		opts: policy.TokenRequestOptions{Scopes: []string{p.scope}, TenantID: p.tenant, EnableCAE: true},
		done: make(chan struct{}),
	}
	p.mu.Lock()
	p.pending = h
	p.mu.Unlock()
	go func() {
		defer close(h.done)
		h.tok, h.err = p.cred.GetToken(ctx, h.opts)
	}()
}

// GetToken returns the token under way when opts ask for it (once), else cred's.
func (p *prefetching) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	p.mu.Lock()
	h := p.pending
	if h != nil && sameRequest(h.opts, opts) {
		p.pending = nil
	} else {
		h = nil
	}
	p.mu.Unlock()
	if h == nil {
		return p.cred.GetToken(ctx, opts)
	}
	select {
	case <-h.done:
		return h.tok, h.err
	case <-ctx.Done():
		return azcore.AccessToken{}, ctx.Err()
	}
}

// sameRequest reports whether b asks for the token a asked for.
func sameRequest(a, b policy.TokenRequestOptions) bool {
	return strings.EqualFold(a.TenantID, b.TenantID) && slices.Equal(a.Scopes, b.Scopes) &&
		a.Claims == b.Claims && a.EnableCAE == b.EnableCAE
}
