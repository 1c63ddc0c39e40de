package awssts_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/awssts"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/fakests"
)

// Obviously fake credentials; the fake STS reads only the access key id of the signature.
const (
	fakeAccessKeyID = "AKIAEXAMPLEFAKE00000"
	fakeSecretKey   = "fake/secret/key/EXAMPLE/0000000000000000"
	fakeSession     = "fake-session-token-EXAMPLE"
)

func options(s *fakests.STS) awssts.Options {
	return awssts.Options{
		Region: "us-east-1", Endpoint: s.URL(),
		AccessKeyID: fakeAccessKeyID, SecretAccessKey: fakeSecretKey, SessionToken: fakeSession,
		HTTPClient: s.HTTPClient(),
	}
}

func newSource(t *testing.T, o awssts.Options) *awssts.Source {
	t.Helper()
	src, err := awssts.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return src
}

// claims decodes the payload of a JWT (without verifying it: the emulator's tests do that).
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	p := strings.Split(jwt, ".")
	if len(p) != 3 {
		t.Fatalf("not a JWT: %d parts", len(p))
	}
	b, err := base64.RawURLEncoding.DecodeString(p[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAssertionRequestsWhatEntraNeeds(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"", awssts.SigningAlgorithmES384} {
		t.Run("alg="+alg, func(t *testing.T) {
			t.Parallel()
			s := emutest.StartSTS(t, fakests.Options{})
			o := options(s)
			o.SigningAlgorithm = alg
			src := newSource(t, o)
			tok, err := src.Assertion(t.Context())
			if err != nil {
				t.Fatalf("Assertion: %v", err)
			}
			c := claims(t, tok)
			if c["iss"] != s.URL() || c["sub"] != fakests.DefaultRoleARN || c["aud"] != awssts.Audience {
				t.Errorf("claims iss %v sub %v aud %v", c["iss"], c["sub"], c["aud"])
			}
			if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 60 {
				t.Errorf("token lifetime %v s, want 60", exp-iat)
			}
			wantAlg := alg
			if wantAlg == "" {
				wantAlg = awssts.SigningAlgorithmRS256
			}
			want := []fakests.Request{{
				Audience: []string{"api://AzureADTokenExchange"}, SigningAlgorithm: wantAlg, DurationSeconds: 60,
				AccessKeyID: fakeAccessKeyID, Region: "us-east-1", SessionToken: true,
			}}
			if diff := cmp.Diff(want, s.Requests()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if src.Requests() != 1 {
				t.Errorf("Requests() = %d, want 1", src.Requests())
			}
		})
	}
}

func TestAssertionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		fault         fakests.Fault
		maxAttempts   int
		wantCode      string
		wantStatus    int
		wantTransient bool
		wantFix       string // substring; "" = no Fix
		wantCalls     int
	}{
		{"access denied", fakests.AccessDenied, 0, "AccessDenied", 403, false, "allow sts:GetWebIdentityToken to the function's execution role", 1},
		{"federation disabled", fakests.FederationDisabled, 0, "OutboundWebIdentityFederationDisabledException", 403, false, "aws iam enable-outbound-web-identity-federation", 1},
		{"region disabled", fakests.Fault{Status: 403, Code: "RegionDisabledException", Message: "STS is not activated in this region"}, 0, "RegionDisabledException", 403, false, "activate AWS STS in this region", 1},
		{"credentials refused", fakests.Fault{Status: 403, Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}, 0, "InvalidClientTokenId", 403, false, "Lambda sets them from the execution role", 1},
		{"throttled, retried by the SDK", fakests.Throttling, 2, "Throttling", 400, true, "", 2},
		{"unavailable", fakests.Fault{Status: 503, Code: "ServiceUnavailable", Message: "Service unavailable"}, 1, "ServiceUnavailable", 503, true, "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := emutest.StartSTS(t, fakests.Options{})
			s.Fail(tc.fault)
			o := options(s)
			o.MaxAttempts = tc.maxAttempts
			tok, err := newSource(t, o).Assertion(t.Context())
			var e *awssts.Error
			if !errors.As(err, &e) {
				t.Fatalf("Assertion = %q, %v; want an *awssts.Error", tok, err)
			}
			if e.Code != tc.wantCode || e.StatusCode != tc.wantStatus || e.Transient != tc.wantTransient || e.RequestID == "" {
				t.Errorf("Error{Code %q, StatusCode %d, Transient %v, RequestID %q}, want {%q, %d, %v, non-empty}",
					e.Code, e.StatusCode, e.Transient, e.RequestID, tc.wantCode, tc.wantStatus, tc.wantTransient)
			}
			if tc.wantFix == "" && e.Fix != "" || !strings.Contains(e.Fix, tc.wantFix) {
				t.Errorf("Fix = %q, want it to hold %q", e.Fix, tc.wantFix)
			}
			if e.Message != tc.fault.Message || !strings.Contains(err.Error(), tc.wantCode) || !strings.Contains(err.Error(), e.Fix) {
				t.Errorf("Error() = %q", err)
			}
			for _, secret := range []string{fakeSecretKey, fakeSession} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Error() holds a credential: %q", err)
				}
			}
			if got := s.Calls(); got != tc.wantCalls {
				t.Errorf("STS calls = %d, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestAssertionTransportErrorIsTransient(t *testing.T) {
	t.Parallel()
	s := emutest.StartSTS(t, fakests.Options{})
	o := options(s)
	o.MaxAttempts = 1
	src := newSource(t, o)
	s.Close()
	_, err := src.Assertion(t.Context())
	var e *awssts.Error
	if !errors.As(err, &e) || !e.Transient || e.Code != "" || e.StatusCode != 0 {
		t.Fatalf("Assertion with STS down: %#v", err)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	good := awssts.Options{Region: "us-east-1", AccessKeyID: fakeAccessKeyID, SecretAccessKey: fakeSecretKey}
	tests := []struct {
		name   string
		change func(*awssts.Options)
		want   string // substring of the error; "" = valid
	}{
		{"valid", func(*awssts.Options) {}, ""},
		{"ES384", func(o *awssts.Options) { o.SigningAlgorithm = "ES384" }, ""},
		{"one hour", func(o *awssts.Options) { o.Duration = time.Hour }, ""},
		{"no region", func(o *awssts.Options) { o.Region = "" }, "AWS_REGION: required"},
		{"no access key", func(o *awssts.Options) { o.AccessKeyID = "" }, "AWS_ACCESS_KEY_ID"},
		{"no secret key", func(o *awssts.Options) { o.SecretAccessKey = "" }, "AWS_ACCESS_KEY_ID"},
		{"unknown algorithm", func(o *awssts.Options) { o.SigningAlgorithm = "HS256" }, `AWS_STS_SIGNING_ALGORITHM: must be RS256 or ES384, not "HS256"`},
		{"too short", func(o *awssts.Options) { o.Duration = 59 * time.Second }, "lifetime 59s"},
		{"too long", func(o *awssts.Options) { o.Duration = time.Hour + time.Second }, "lifetime 1h0m1s"},
		{"bad endpoint", func(o *awssts.Options) { o.Endpoint = "sts.example" }, "AWS_ENDPOINT_URL_STS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := good
			tc.change(&o)
			_, err := awssts.New(o)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("New error %v, want one holding %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), fakeSecretKey) {
				t.Errorf("error holds the secret key: %v", err)
			}
		})
	}
}

func TestOptionsFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want awssts.Options
	}{
		{"lambda", map[string]string{
			"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1",
			"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET", "AWS_SESSION_TOKEN": "SESSION",
			"AWS_STS_SIGNING_ALGORITHM": " ES384 ",
		}, awssts.Options{Region: "eu-west-1", AccessKeyID: "AKID", SecretAccessKey: "SECRET", SessionToken: "SESSION", SigningAlgorithm: "ES384"}},
		{"default region, service endpoint first", map[string]string{
			"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_STS": "https://127.0.0.1:1", "AWS_ENDPOINT_URL": "https://127.0.0.1:2",
		}, awssts.Options{Region: "us-east-1", Endpoint: "https://127.0.0.1:1"}},
		{"global endpoint", map[string]string{"AWS_ENDPOINT_URL": "https://127.0.0.1:2"}, awssts.Options{Endpoint: "https://127.0.0.1:2"}},
		{"endpoints ignored", map[string]string{"AWS_ENDPOINT_URL_STS": "https://127.0.0.1:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, awssts.Options{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := awssts.OptionsFromEnv(func(k string) string { return tc.env[k] })
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b *http.Client) bool { return a == b })); diff != "" {
				t.Errorf("OptionsFromEnv (-want +got):\n%s", diff)
			}
		})
	}
}

const clientID = "00000000-0000-4000-8000-0000000000f1"

// federated returns a ClientAssertionCredential of an app that trusts the fake STS, as
// internal/entra builds it.
func federated(t *testing.T, e *emulator.Emulator, src *awssts.Source, fc emulator.FederatedCredential) azcore.TokenCredential {
	t.Helper()
	e.AddFederatedApp(emulator.SeedTenantID, clientID, fc)
	cred, err := azidentity.NewClientAssertionCredential(emulator.SeedTenantID, clientID, src.Assertion,
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: emutest.ClientOptions(e), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// TestOneSTSRequestPerEntraToken shows that azidentity asks for an assertion only when Entra must
// issue a token: MSAL's cache answers the other GetToken calls.
func TestOneSTSRequestPerEntraToken(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	s := emutest.StartSTS(t, fakests.Options{})
	src := newSource(t, options(s))
	cred := federated(t, e, src, s.FederatedCredential(awssts.Audience))

	for i := range 20 {
		if _, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}}); err != nil {
			t.Fatalf("GetToken #%d: %v", i+1, err)
		}
	}
	if got := s.Calls(); got != 1 {
		t.Errorf("STS calls for 20 GetToken = %d, want 1", got)
	}
	if got := e.Counts().Tokens[clientID]; got != 1 {
		t.Errorf("Entra token requests = %d, want 1", got)
	}
	if got := src.Requests(); got != 1 {
		t.Errorf("Source.Requests() = %d, want 1", got)
	}
}

// TestExplainRestoresTheSTSFailure documents what reaches the caller through azidentity, and
// that Explain restores the *awssts.Error.
func TestExplainRestoresTheSTSFailure(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	s := emutest.StartSTS(t, fakests.Options{})
	src := newSource(t, options(s))
	// Entra trusts another subject: once STS answers, Entra refuses the token.
	fc := s.FederatedCredential(awssts.Audience)
	fc.Subject = "arn:aws:iam::123456789012:role/another"
	cred := federated(t, e, src, fc)
	remove := s.Fail(fakests.AccessDenied)

	_, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	var (
		authErr *azidentity.AuthenticationFailedError
		stsErr  *awssts.Error
	)
	if !errors.As(err, &authErr) || authErr.RawResponse != nil {
		t.Fatalf("GetToken error %T %v, want an *azidentity.AuthenticationFailedError without a response", err, err)
	}
	if errors.As(err, &stsErr) {
		t.Fatal("azidentity now keeps the callback's error: Explain is no longer needed")
	}
	if !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("the AuthenticationFailedError's text lost the STS code: %v", err)
	}

	wrapped := errors.Join(errors.New("key vault: read secret"), err)
	explained := src.Explain(wrapped)
	if !errors.As(explained, &stsErr) || stsErr.Code != awssts.CodeAccessDenied {
		t.Fatalf("Explain(err) = %v, want it to hold the AccessDenied *awssts.Error", explained)
	}
	if !errors.As(explained, &authErr) || explained.Error() != wrapped.Error() {
		t.Errorf("Explain changed the error: %v", explained)
	}

	// Once STS answers again, Entra's own refusal is not attributed to it.
	remove()
	_, err = cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	if !errors.As(err, &authErr) || authErr.RawResponse == nil {
		t.Fatalf("GetToken error %T %v, want Entra's refusal", err, err)
	}
	if errors.As(src.Explain(err), &stsErr) {
		t.Errorf("Explain attributed Entra's refusal to STS: %v", src.Explain(err))
	}
	for _, other := range []error{nil, errors.New("graph: 503"), context.DeadlineExceeded} {
		if got := src.Explain(other); got != other {
			t.Errorf("Explain(%v) = %v, want it unchanged", other, got)
		}
	}
}
