package diagnose

import (
	"regexp"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/awssts"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/fakests"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Obviously fake AWS credentials; the fake STS reads only the access key id of the signature.
const (
	fakeAccessKeyID = "AKIAEXAMPLEFAKE00000"
	fakeSecretKey   = "fake/secret/key/EXAMPLE/0000000000000000"
	fakeSession     = "fake-session-token-EXAMPLE"
)

// federated turns f's identity that reads Key Vault into one without a secret, proved by the
// fake STS's tokens (AZURE_FEDERATED_TOKEN_SOURCE=aws-sts); subject is the role its federated
// credential names ("" for the STS's own role). It returns the fake and the options that use it.
func federated(t *testing.T, f *fixture, subject string) (*fakests.STS, func(*Options)) {
	t.Helper()
	s := emutest.StartSTS(t, fakests.Options{})
	f.mu.Lock()
	f.tokens = append(f.tokens, s.IssuedTokens)
	f.mu.Unlock()
	f.plant(fakeSecretKey, fakeSession)
	fc := s.FederatedCredential(awssts.Audience)
	if subject != "" {
		fc.Subject = subject
	}
	f.e.AddApp(emulator.App{TenantID: seedTenant, ClientID: seedReaderApp, Roles: []string{}})
	f.e.AddFederatedApp(seedTenant, seedReaderApp, fc)
	delete(f.env, "AZURE_CLIENT_SECRET")
	f.env["AZURE_FEDERATED_TOKEN_SOURCE"] = "aws-sts"
	src, err := awssts.New(awssts.Options{
		Region: "us-east-1", Endpoint: s.URL(), AccessKeyID: fakeAccessKeyID, SecretAccessKey: fakeSecretKey,
		SessionToken: fakeSession, HTTPClient: s.HTTPClient(), MaxAttempts: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, func(o *Options) { o.Assertion, o.ExplainAssertionError = src.Assertion, src.Explain }
}

var stsRequestID = regexp.MustCompile(`request id [0-9a-f-]+`)

// TestFederatedReader is the report with aws-sts: STS refusing, Entra refusing the STS token.
func TestFederatedReader(t *testing.T) {
	t.Parallel()
	const fakeRole = fakests.DefaultRoleARN // arn:aws:iam::123456789012:role/autopilot-sync-fake
	rest := []Check{passed(CheckGraphCredential), withRoles(passed(CheckGraphToken), readWrite), passed(CheckGraphRead)}
	skippedRest := []Check{skipped(CheckGraphCredential), skipped(CheckGraphToken), skipped(CheckGraphRead)}
	tests := []struct {
		name    string
		subject string // of the federated credential Entra holds
		fault   *fakests.Fault
		want    []Check
	}{
		{
			name: "all good",
			want: append([]Check{passed(CheckConfiguration), passed(CheckKeyVaultToken)}, rest...),
		},
		{
			name: "STS refuses: the role may not call GetWebIdentityToken", fault: &fakests.AccessDenied,
			want: append([]Check{passed(CheckConfiguration), failed(CheckKeyVaultToken, problem.CredentialRejected,
				"AWS STS refused GetWebIdentityToken, which proves the identity that reads Key Vault: AccessDenied (HTTP 403, request id <id>): "+fakests.AccessDenied.Message,
				"sam deploy --parameter-overrides AzureFederatedTokenSource=aws-sts (it allows sts:GetWebIdentityToken to "+fakeRole+
					"); if the role already allows it, an SCP, RCP, permissions boundary or VPC endpoint policy denies it")}, skippedRest...),
		},
		{
			name: "STS refuses: outbound federation is off", fault: &fakests.FederationDisabled,
			want: append([]Check{passed(CheckConfiguration), failed(CheckKeyVaultToken, problem.CredentialRejected,
				"AWS STS refused GetWebIdentityToken, which proves the identity that reads Key Vault: OutboundWebIdentityFederationDisabledException (HTTP 403, request id <id>): "+fakests.FederationDisabled.Message,
				FixSTSFederationDisabled(seedReaderApp, ""))}, skippedRest...),
		},
		{
			name: "Entra refuses the STS token: no federated credential for the role", subject: "arn:aws:iam::123456789012:role/another-role",
			want: append([]Check{passed(CheckConfiguration), failed(CheckKeyVaultToken, problem.CredentialRejected,
				"Microsoft Entra ID refused the identity that reads Key Vault (AZURE_CLIENT_ID "+seedReaderApp+", tenant "+seedTenant+
					"): AADSTS700213: No matching federated identity record found for presented assertion subject '"+fakeRole+"'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.",
				FixFederatedReaderRejected(seedReaderApp, fakeRole))}, skippedRest...),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			s, withSTS := federated(t, f, tt.subject)
			if tt.fault != nil {
				s.Fail(*tt.fault)
			}
			rep := f.run(t, FunctionSync, withSTS)
			for i := range rep.Checks {
				rep.Checks[i].Detail = stsRequestID.ReplaceAllString(rep.Checks[i].Detail, "request id <id>")
			}
			checkReport(t, rep, FunctionSync, tt.want)
		})
	}
}

// TestFederatedReaderUnconfigured: aws-sts without the AWS environment Lambda sets is a
// configuration error naming each variable.
func TestFederatedReaderUnconfigured(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	delete(f.env, "AZURE_CLIENT_SECRET")
	f.env["AZURE_FEDERATED_TOKEN_SOURCE"] = "aws-sts"
	rep := f.run(t, FunctionStatus)
	checkReport(t, rep, FunctionStatus, []Check{
		failed(CheckConfiguration, problem.Misconfigured,
			"AZURE_FEDERATED_TOKEN_SOURCE=aws-sts: AWS_REGION: required with AZURE_FEDERATED_TOKEN_SOURCE=aws-sts: GetWebIdentityToken is not available on the STS global endpoint; "+
				"AWS_ACCESS_KEY_ID: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required with AZURE_FEDERATED_TOKEN_SOURCE=aws-sts (Lambda sets them from the execution role)",
			FixConfiguration("AWS_REGION")+"; "+FixConfiguration("AWS_ACCESS_KEY_ID")),
		skipped(CheckKeyVaultToken), skipped(CheckGraphCredential), skipped(CheckGraphToken), skipped(CheckGraphRead),
	})
}
