// Package entra builds the Microsoft Entra ID credentials of SPEC §4: the bootstrap identity that
// reads Key Vault (from azidentity's environment conventions), and the Graph app's credential from
// the client secret or certificate that Key Vault holds. It never logs, stores or formats a secret.
package entra

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Identity names an app registration and how to reach its tenant's Entra.
type Identity struct {
	TenantID      string
	ClientID      string
	AuthorityHost string // e.g. https://login.microsoftonline.com
	// Transport sends the HTTP requests; nil means Go's default HTTP client.
	Transport policy.Transporter
	// DisableInstanceDiscovery must be true only for an authority on a loopback host.
	DisableInstanceDiscovery bool
}

func (id Identity) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: strings.TrimRight(id.AuthorityHost, "/") + "/"},
		Transport: id.Transport,
	}
}

// Bootstrap is how the identity that reads Key Vault proves itself: exactly one field is used, in
// this order.
type Bootstrap struct {
	ClientSecret        string
	CertificatePath     string
	CertificatePassword string
	FederatedTokenFile  string
	// Assertion, when set, returns a client assertion (a JWT) on demand, e.g. from AWS STS.
	Assertion func(context.Context) (string, error)
}

// NewBootstrapCredential returns the credential of the identity that reads Key Vault.
func NewBootstrapCredential(id Identity, b Bootstrap) (azcore.TokenCredential, error) {
	switch {
	case b.Assertion != nil:
		return azidentity.NewClientAssertionCredential(id.TenantID, id.ClientID, b.Assertion,
			&azidentity.ClientAssertionCredentialOptions{ClientOptions: id.clientOptions(), DisableInstanceDiscovery: id.DisableInstanceDiscovery})
	case b.ClientSecret != "":
		return newSecretCredential(id, b.ClientSecret)
	case b.CertificatePath != "":
		data, err := os.ReadFile(b.CertificatePath)
		if err != nil {
			return nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: %w", err)
		}
		return newCertificateCredential(id, data, b.CertificatePassword)
	case b.FederatedTokenFile != "":
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions:            id.clientOptions(),
			TenantID:                 id.TenantID,
			ClientID:                 id.ClientID,
			TokenFilePath:            b.FederatedTokenFile,
			DisableInstanceDiscovery: id.DisableInstanceDiscovery,
		})
	}
	return nil, errors.New("no client secret, certificate or federated token for the identity that reads Key Vault")
}

// Content types under which Key Vault exposes a certificate as a secret.
const (
	ContentTypePKCS12 = "application/x-pkcs12"
	ContentTypePEM    = "application/x-pem-file"
)

// NewAppCredential returns the Graph app's credential from the secret Key Vault holds: a
// certificate when contentType says PKCS#12 (base64 of the PFX) or PEM, a client secret otherwise.
// Errors never quote the secret. The credential's token errors are *AppTokenError.
func NewAppCredential(id Identity, value, contentType string) (azcore.TokenCredential, error) {
	cred, err := newAppCredential(id, value, contentType)
	if err != nil {
		return nil, err
	}
	return appCredential{cred}, nil
}

func newAppCredential(id Identity, value, contentType string) (azcore.TokenCredential, error) {
	switch strings.ToLower(strings.TrimSpace(contentType)) {
	case ContentTypePKCS12:
		pfx, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
		if err != nil {
			return nil, errors.New("the PKCS#12 certificate is not base64")
		}
		return newCertificateCredential(id, pfx, "")
	case ContentTypePEM:
		return newCertificateCredential(id, []byte(value), "")
	}
	// A secret pasted into Key Vault often carries a trailing newline, which Entra would refuse.
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, errors.New("the client secret is empty")
	}
	return newSecretCredential(id, value)
}

func newSecretCredential(id Identity, secret string) (azcore.TokenCredential, error) {
	return azidentity.NewClientSecretCredential(id.TenantID, id.ClientID, secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: id.clientOptions(), DisableInstanceDiscovery: id.DisableInstanceDiscovery})
}

func newCertificateCredential(id Identity, data []byte, password string) (azcore.TokenCredential, error) {
	var pw []byte
	if password != "" {
		pw = []byte(password)
	}
	certs, key, err := azidentity.ParseCertificates(data, pw)
	if err != nil {
		// ParseCertificates' message names the format problem, never the key material.
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	return azidentity.NewClientCertificateCredential(id.TenantID, id.ClientID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: id.clientOptions(), DisableInstanceDiscovery: id.DisableInstanceDiscovery, SendCertificateChain: true})
}

// Refused reports whether err holds Entra's answer refusing a credential (a 4xx such as
// invalid_client), as opposed to Entra not answering.
func Refused(err error) bool {
	var af *azidentity.AuthenticationFailedError
	return errors.As(err, &af) && af.RawResponse != nil &&
		af.RawResponse.StatusCode >= 400 && af.RawResponse.StatusCode < 500
}

// AppTokenError is a Graph app's failure to get a token: Err is azidentity's error.
type AppTokenError struct{ Err error }

func (e *AppTokenError) Error() string { return "graph app token: " + e.Err.Error() }
func (e *AppTokenError) Unwrap() error { return e.Err }

// Problem is credentialRejected when Entra refused the Graph app's credential, else
// graphUnavailable (problem.Classifier). Neither names an Entra error code: those are for the
// log line and diagnose.
func (e *AppTokenError) Problem() *problem.Problem {
	if Refused(e.Err) {
		return problem.New(problem.CredentialRejected, "Microsoft Entra ID refused the Graph app's credential; its operators find why in the logs or with diagnose.")
	}
	return problem.New(problem.GraphUnavailable, "Microsoft Entra ID did not issue a token for Graph; try again later.")
}

// appCredential marks the Graph app's token errors as *AppTokenError.
type appCredential struct{ azcore.TokenCredential }

func (c appCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.TokenCredential.GetToken(ctx, o)
	if err != nil {
		return tok, &AppTokenError{Err: err}
	}
	return tok, nil
}
