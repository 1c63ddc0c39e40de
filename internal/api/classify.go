package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/autopilot-sync/autopilot-sync/internal/awssts"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

// Graph permissions, named in permission problems.
const (
	permissionRead  = "DeviceManagementServiceConfig.Read.All"
	permissionWrite = "DeviceManagementServiceConfig.ReadWrite.All"
)

// classify turns an error from the Graph path into its problem (SPEC §5). The cause is kept
// in Err for the log line; no error text reaches the answer, and no answer names a Key Vault
// secret, a role assignment, or an Entra or STS error code (SPEC §5: those go to the log line
// and the diagnose report). A missing Graph permission is named: granting it is the fix.
func classify(err error) *problem.Problem {
	if p, ok := problem.As(err); ok {
		return p
	}
	p := classifyCause(err)
	p.Err = err
	return p
}

func classifyCause(err error) *problem.Problem {
	var (
		cfgErr   *config.Error
		vaultErr *keyvault.Error
		authErr  *azidentity.AuthenticationFailedError
		graphErr *graph.Error
		stsErr   *awssts.Error
	)
	switch {
	case errors.As(err, &graphErr):
		return fromGraph(graphErr)
	case problem.IsTimeout(err):
		return problem.New(problem.UpstreamTimeout, "Microsoft Graph, Entra ID or Key Vault did not answer in time.")
	case errors.As(err, &cfgErr), errors.Is(err, tenant.ErrCredentialUnusable):
		return misconfigured(err)
	case errors.As(err, &stsErr):
		return fromSTS(stsErr)
	case errors.As(err, &vaultErr):
		return fromVault(vaultErr, authErr)
	case errors.As(err, &authErr):
		if rejected(authErr) {
			return problem.New(problem.CredentialRejected, "Microsoft Entra ID refused the Graph app's credential; its operators find why in the logs or with diagnose.")
		}
		return problem.New(problem.GraphUnavailable, "Microsoft Entra ID did not issue a token for Graph; try again later.")
	case errors.Is(err, graph.ErrMalformedAnswer):
		return problem.New(problem.GraphError, "Microsoft Graph answered with a body that is not the documented JSON.")
	}
	return problem.New(problem.GraphUnavailable, "Microsoft Graph could not be reached; try again later.")
}

func fromGraph(ge *graph.Error) *problem.Problem {
	var p *problem.Problem
	switch {
	case ge.StatusCode == http.StatusUnauthorized || ge.StatusCode == http.StatusForbidden:
		p = problem.New(problem.GraphPermissionDenied, fmt.Sprintf(
			"Microsoft Graph refused the Graph app (HTTP %d). Grant it the application permission %s (status needs %s) and admin consent.",
			ge.StatusCode, permissionWrite, permissionRead))
	case ge.StatusCode == http.StatusConflict:
		p = problem.New(problem.SyncInProgress, "A sync of Autopilot devices is already running; wait for it to finish.")
	case ge.StatusCode == http.StatusTooManyRequests:
		p = problem.New(problem.SyncThrottled, "Microsoft Graph asked to slow down; try again later.")
		if ge.HasRetryAfter {
			p.RetryAfterSeconds = ceilSeconds(ge.RetryAfter)
		}
	case ge.StatusCode >= 500:
		p = problem.New(problem.GraphUnavailable, fmt.Sprintf("Microsoft Graph is unavailable (HTTP %d); try again later.", ge.StatusCode))
		if ge.HasRetryAfter {
			p.RetryAfterSeconds = ceilSeconds(ge.RetryAfter)
		}
	default:
		p = problem.New(problem.GraphError, fmt.Sprintf("Microsoft Graph refused the request (HTTP %d %s).", ge.StatusCode, ge.Code))
	}
	p.Graph = graphRef(ge)
	return p
}

func fromVault(ve *keyvault.Error, authErr *azidentity.AuthenticationFailedError) *problem.Problem {
	switch {
	case ve.NotFound:
		return problem.New(problem.Misconfigured, "A secret the service needs is missing from Key Vault or disabled; its operators find which in the logs or with diagnose.")
	case ve.StatusCode == http.StatusForbidden:
		return problem.New(problem.Misconfigured, "The identity that reads Key Vault may not read a secret the service needs; its operators find which in the logs or with diagnose.")
	case errors.As(ve, &authErr) && rejected(authErr):
		return problem.New(problem.CredentialRejected, "Microsoft Entra ID refused the identity that reads Key Vault; its operators find why in the logs or with diagnose.")
	}
	return problem.New(problem.SecretStoreUnavailable, "Key Vault could not be read; try again later.")
}

// fromSTS explains a failure of AWS STS to prove the identity that reads Key Vault (aws-sts).
func fromSTS(e *awssts.Error) *problem.Problem {
	if e.Transient {
		return problem.New(problem.SecretStoreUnavailable, "AWS STS did not issue the web identity token that proves the identity that reads Key Vault; try again later.")
	}
	return problem.New(problem.CredentialRejected,
		"AWS STS refused the web identity token that proves the identity that reads Key Vault: the function's execution role needs the IAM permission sts:GetWebIdentityToken and the AWS account needs outbound identity federation enabled; its operators find which in the logs or with diagnose.")
}

// rejected reports whether Entra answered and said no (as opposed to not answering).
func rejected(e *azidentity.AuthenticationFailedError) bool {
	return e.RawResponse != nil && e.RawResponse.StatusCode >= 400 && e.RawResponse.StatusCode < 500
}

func misconfigured(err error) *problem.Problem {
	p := problem.New(problem.Misconfigured, "The service is not configured correctly; its operators have the details in the logs.")
	p.Err = err
	return p
}
