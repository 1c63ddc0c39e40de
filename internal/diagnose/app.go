package diagnose

// The checks of one Graph app: its credential in Key Vault (graphCredential), a token from Entra
// with the roles the function needs (graphToken), and a read of windowsAutopilotSettings
// (graphRead). A single-tenant deployment has one app; each tenant of a registry has its own.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/entra"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// app is a Graph app registration as the checks see it.
type app struct {
	id           entra.Identity
	secretName   string
	graphBaseURL string
	// tenant is a registry tenant's id, whose admin consents to the app; "" for the app of a
	// single-tenant deployment, which lives in its own tenant.
	tenant string
	// entry is the tenant's place in the registry, counted from 1; 0 for a single tenant.
	entry int
}

// singleApp is the Graph app of a deployment without a registry.
func (r *runner) singleApp() app {
	cfg := r.cfg
	return app{
		id: entra.Identity{
			TenantID: cfg.GraphTenantID, ClientID: cfg.GraphClientID, AuthorityHost: cfg.AuthorityHost,
			Transport: r.o.Transport, DisableInstanceDiscovery: config.IsLoopback(cfg.AuthorityHost),
		},
		secretName:   cfg.GraphCredentialSecretName,
		graphBaseURL: cfg.GraphBaseURL,
	}
}

// credential is the Graph app's credential built from its Key Vault secret.
type credential struct {
	cred        azcore.TokenCredential
	certificate bool
}

func isCertificate(contentType string) bool {
	switch strings.ToLower(strings.TrimSpace(contentType)) {
	case entra.ContentTypePEM, entra.ContentTypePKCS12:
		return true
	}
	return false
}

// graphCredential reads the app's secret and builds its credential, as the functions do.
func (r *runner) graphCredential(ctx context.Context, l *links, a app) (*credential, *fault) {
	secret, err := l.vault.Get(ctx, a.secretName)
	if err != nil {
		return nil, r.readFault(ctx, err, a.secretName, "", FixMissingSecret(r.vaultName, a.secretName))
	}
	cred, err := entra.NewAppCredential(a.id, secret.Value, secret.ContentType)
	switch {
	case err == nil:
		return &credential{cred: cred, certificate: isCertificate(secret.ContentType)}, nil
	case isCertificate(secret.ContentType):
		return nil, &fault{problem.Misconfigured, fmt.Sprintf("Key Vault secret %q (%s) is not a usable certificate with its private key: %s.",
			a.secretName, strings.ToLower(strings.TrimSpace(secret.ContentType)), clip(err.Error())), FixUnusableCertificate(r.vaultName, a.secretName)}
	case strings.TrimSpace(secret.Value) == "":
		return nil, &fault{problem.Misconfigured, fmt.Sprintf("Key Vault secret %q is empty: it must hold the Graph app's client secret, or be a certificate (application/x-pem-file or application/x-pkcs12).",
			a.secretName), FixMissingSecret(r.vaultName, a.secretName)}
	}
	return nil, &fault{problem.Misconfigured, fmt.Sprintf("The Graph app's credential cannot be built (tenant %s, client %s): %s.", a.id.TenantID, a.id.ClientID, clip(err.Error())),
		r.tenantFix(a)}
}

// tenantFix mends a tenant id that Entra does not know.
func (r *runner) tenantFix(a app) string {
	if a.entry > 0 {
		return FixRegistryEntry(r.vaultName, r.cfg.TenantRegistrySecretName, a.entry, "tenantId")
	}
	return FixConfiguration("GRAPH_TENANT_ID")
}

// needed is the permission the function needs of Graph, and whether roles grant it.
func (r *runner) needed(roles []string) (permission, lacking string, ok bool) {
	if r.o.Function == FunctionStatus {
		return PermissionRead, PermissionRead + " (or " + PermissionReadWrite + ")",
			slices.Contains(roles, PermissionRead) || slices.Contains(roles, PermissionReadWrite)
	}
	return PermissionReadWrite, PermissionReadWrite, slices.Contains(roles, PermissionReadWrite)
}

// graphToken asks Entra for the app's Graph token and, when it is a JWT, checks its roles.
func (r *runner) graphToken(ctx context.Context, c *credential, a app, ck *Check) *fault {
	scope, err := graph.Scope(a.graphBaseURL)
	if err != nil {
		return configFault(fmt.Errorf("GRAPH_BASE_URL: %w", err))
	}
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}, EnableCAE: true})
	if err != nil {
		return r.graphAppFault(ctx, err, c, a)
	}
	roles, isJWT := tokenRoles(tok.Token)
	if !isJWT {
		return nil // an opaque token: its roles cannot be read, graphRead tells
	}
	ck.Roles = roles
	permission, lacking, ok := r.needed(roles)
	if ok {
		return nil
	}
	has := "no roles"
	if len(roles) > 0 {
		has = "the roles " + strings.Join(roles, ", ")
	}
	return &fault{problem.GraphPermissionDenied, fmt.Sprintf("The Graph app's token has %s: it lacks %s, which the %s function needs.", has, lacking, r.o.Function),
		FixGraphPermission(a.tenant, a.id.ClientID, permission)}
}

// graphAppFault explains Entra not issuing the Graph app a token.
func (r *runner) graphAppFault(ctx context.Context, err error, c *credential, a app) *fault {
	if problem.IsTimeout(err) || ctx.Err() != nil {
		return &fault{problem.UpstreamTimeout, "Microsoft Entra ID (" + a.id.AuthorityHost + ") did not answer the Graph app's token request within " + r.o.CheckTimeout.String() + ".",
			FixAuthorityUnreachable(a.id.AuthorityHost)}
	}
	ans, ok := readEntra(err)
	switch {
	case ok && ans.rejected():
		fix := FixGraphAppRejected(r.vaultName, a.secretName, a.id.ClientID, c.certificate)
		switch ans.aadsts {
		case "AADSTS700016": // the app is not in the tenant: a wrong id, or a tenant that never consented
			if a.entry > 0 {
				permission, _, _ := r.needed(nil)
				fix = FixGraphPermission(a.tenant, a.id.ClientID, permission)
			} else {
				fix = FixConfiguration("GRAPH_CLIENT_ID")
			}
		case "AADSTS90002": // no such tenant
			fix = r.tenantFix(a)
		}
		return &fault{problem.CredentialRejected, fmt.Sprintf("Microsoft Entra ID refused the Graph app (client %s, tenant %s) its credential from Key Vault secret %q: %s",
			a.id.ClientID, a.id.TenantID, a.secretName, ans.said()), fix}
	case ok && ans.status != 0:
		return &fault{problem.GraphUnavailable, "Microsoft Entra ID did not issue the Graph app a token: " + ans.said(), FixTryAgain("Microsoft Entra ID")}
	}
	return &fault{problem.GraphUnavailable, "Microsoft Entra ID (" + a.id.AuthorityHost + ") could not be reached for the Graph app's token: " + clip(err.Error()),
		FixAuthorityUnreachable(a.id.AuthorityHost)}
}

// graphRead reads windowsAutopilotSettings through the Graph client the functions use.
func (r *runner) graphRead(ctx context.Context, c *credential, a app) (graph.Response, *fault) {
	client, err := graph.NewClient(a.graphBaseURL, c.cred, &graph.Options{Transport: r.o.Transport, Now: r.o.Now, MaxRetries: 1})
	if err != nil {
		return graph.Response{}, configFault(fmt.Errorf("GRAPH_BASE_URL: %w", err))
	}
	_, resp, err := client.Get(ctx)
	var got graph.Response
	if resp != nil {
		got = *resp
	}
	if err == nil {
		return got, nil
	}
	var ge *graph.Error
	switch {
	case errors.As(err, &ge):
		said := fmt.Sprintf(" GET windowsAutopilotSettings (HTTP %d %s, request-id %s)", ge.StatusCode, ge.Code, ge.RequestID)
		if ge.Message != "" {
			said += ": " + clip(ge.Message)
		}
		said = sentence(said)
		permission, _, _ := r.needed(nil)
		switch {
		case ge.StatusCode == http.StatusUnauthorized || ge.StatusCode == http.StatusForbidden:
			return got, &fault{problem.GraphPermissionDenied, "Microsoft Graph refused" + said, FixGraphPermission(a.tenant, a.id.ClientID, permission)}
		case ge.StatusCode == http.StatusTooManyRequests || ge.StatusCode >= 500:
			return got, &fault{problem.GraphUnavailable, "Microsoft Graph did not answer" + said, FixTryAgain("Microsoft Graph")}
		}
		return got, &fault{problem.GraphError, "Microsoft Graph refused" + said, FixGraphRefused(a.graphBaseURL, a.id.TenantID, ge.RequestID)}
	case problem.IsTimeout(err) || ctx.Err() != nil:
		return got, &fault{problem.UpstreamTimeout, "Microsoft Graph (" + a.graphBaseURL + ") did not answer GET windowsAutopilotSettings within " + r.o.CheckTimeout.String() + ".",
			FixGraphUnreachable(a.graphBaseURL)}
	case errors.Is(err, graph.ErrMalformedAnswer):
		return got, &fault{problem.GraphError, "Microsoft Graph answered GET windowsAutopilotSettings with a body that is not the documented JSON.", FixGraphUnreachable(a.graphBaseURL)}
	}
	if _, ok := readEntra(err); ok {
		return got, r.graphAppFault(ctx, err, c, a) // a token refresh, refused or not answered
	}
	return got, &fault{problem.GraphUnavailable, "Microsoft Graph (" + a.graphBaseURL + ") could not be reached: " + clip(err.Error()), FixGraphUnreachable(a.graphBaseURL)}
}
