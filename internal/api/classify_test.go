package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/autopilot-sync/autopilot-sync/internal/awssts"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

// TestProblemsNameNoInternals: SPEC §5. No problem an HTTP or chat caller gets names a Key Vault
// secret, a role assignment, an Entra or STS error code, or the text of an internal error; the
// cause stays in Err for the log line. A missing Graph permission is named: granting it is the fix.
func TestProblemsNameNoInternals(t *testing.T) {
	t.Parallel()
	entraRefusal := func(status int) error {
		return &azidentity.AuthenticationFailedError{RawResponse: &http.Response{StatusCode: status,
			Request: &http.Request{Method: "POST"}}}
	}
	secretName := "graph-credential-contoso"
	errs := []error{
		&keyvault.Error{Name: secretName, NotFound: true, StatusCode: 404},
		&keyvault.Error{Name: secretName, StatusCode: 403, Err: &azcore.ResponseError{StatusCode: 403, ErrorCode: "ForbiddenByRbac"}},
		&keyvault.Error{Name: secretName, Err: entraRefusal(401)},
		&keyvault.Error{Name: secretName, StatusCode: 500, Err: errors.New("internal: connection reset by 10.1.2.3")},
		fmt.Errorf("graph credential: %w", entraRefusal(400)),
		fmt.Errorf("%w: secret %q: pem: no certificate", tenant.ErrCredentialUnusable, secretName),
		&config.Error{Err: fmt.Errorf("Key Vault secret %q (TENANT_REGISTRY_SECRET_NAME): entry 2: bad tenantId", secretName)},
		&awssts.Error{Code: awssts.CodeAccessDenied, Message: "User: arn:aws:sts::123456789012:assumed-role/x is not authorized", Fix: "allow sts:GetWebIdentityToken"},
		&awssts.Error{Code: awssts.CodeFederationDisabled, Fix: "enable outbound identity federation"},
		&awssts.Error{Transient: true, Message: "dial tcp: i/o timeout"},
		&graph.Error{StatusCode: 403, Code: "Forbidden", Message: `{"_version":3,"Message":"AADSTS50105 role assignment missing"}`},
		&graph.Error{StatusCode: 400, Code: "BadRequest", Message: "internal detail"},
	}
	forbidden := []string{secretName, "Key Vault Secrets User", "ForbiddenByRbac", "AADSTS", "AccessDenied", "arn:aws", "10.1.2.3", "Invalid client secret", "internal detail", "bad tenantId"}
	for _, err := range errs {
		p := problem.Of(err)
		if p.Err == nil {
			t.Errorf("%v: the cause is not kept for the log line", err)
		}
		for _, word := range forbidden {
			if strings.Contains(p.Detail, word) || strings.Contains(p.Title, word) {
				t.Errorf("%s problem %q names %q", p.Code, p.Detail, word)
			}
		}
	}
	if p := problem.Of(&graph.Error{StatusCode: 403}); !strings.Contains(p.Detail, graph.PermissionReadWrite) {
		t.Errorf("a 403 does not name the permission to grant: %q", p.Detail)
	}
}
