// Package awssts proves the identity that reads Key Vault to Microsoft Entra ID without any Azure
// secret stored in AWS (SPEC §3 AZURE_FEDERATED_TOKEN_SOURCE=aws-sts, §4): it asks AWS STS
// GetWebIdentityToken (AWS IAM outbound identity federation) for a short-lived JWT signed for the
// Lambda's execution role, which Entra accepts as the client assertion of an app registration
// that holds a matching federated identity credential.
//
// It uses the Lambda's own credentials from the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), AWS_REGION, and the SDK's endpoint override
// AWS_ENDPOINT_URL_STS. It builds only the STS client of aws-sdk-go-v2, never the SDK's
// configuration loader, to keep the function binaries small. It requests a token only when it is
// called (azidentity calls it only when Entra must issue a new token), never caches one, and never
// logs, stores or formats a token or a credential.
package awssts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/autopilot-sync/autopilot-sync/internal/awsenv"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/aws/smithy-go"
)

// Audience is the audience Microsoft Entra ID expects in a federated client assertion
// (the default of a federated identity credential).
const Audience = "api://AzureADTokenExchange"

// Signing algorithms GetWebIdentityToken accepts.
const (
	SigningAlgorithmRS256 = "RS256" // RSA with SHA-256: the default, and what Entra documents
	SigningAlgorithmES384 = "ES384" // ECDSA on P-384 with SHA-384
)

// Token lifetimes GetWebIdentityToken accepts. The token is a proof of identity that Entra
// exchanges at once, so the default is the shortest allowed.
const (
	MinDuration     = 60 * time.Second
	MaxDuration     = time.Hour
	DefaultDuration = MinDuration
)

// Permission is the IAM action the execution role needs.
const Permission = "sts:GetWebIdentityToken"

// Options configures a Source. OptionsFromEnv fills it from the environment as Lambda sets it.
type Options struct {
	// Region of the STS endpoint (AWS_REGION). Required: GetWebIdentityToken is not available on
	// the STS global endpoint.
	Region string
	// Endpoint overrides the STS endpoint (AWS_ENDPOINT_URL_STS); empty means the SDK's regional
	// endpoint, https://sts.<region>.amazonaws.com.
	Endpoint string
	// AccessKeyID, SecretAccessKey and SessionToken are the caller's credentials: in Lambda, the
	// execution role's. AccessKeyID and SecretAccessKey are required.
	AccessKeyID, SecretAccessKey, SessionToken string
	// SigningAlgorithm is RS256 (the default, "") or ES384 (AWS_STS_SIGNING_ALGORITHM).
	SigningAlgorithm string
	// Audience is the token's aud claim; empty means Audience (api://AzureADTokenExchange).
	Audience string
	// Duration is the token's lifetime, 60 s to 1 h, whole seconds; 0 means DefaultDuration.
	Duration time.Duration
	// HTTPClient sends the requests; nil means the SDK's default client.
	HTTPClient *http.Client
	// MaxAttempts bounds the SDK's retries of throttling, 5xx and transport errors; 0 means the
	// SDK's default (3 attempts).
	MaxAttempts int
}

// OptionsFromEnv reads Options from the environment through getenv (os.Getenv in production):
// AWS_REGION (or AWS_DEFAULT_REGION), AWS_ENDPOINT_URL_STS (or AWS_ENDPOINT_URL, both ignored
// when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true, as the SDK does), AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_STS_SIGNING_ALGORITHM. New validates them.
func OptionsFromEnv(getenv func(string) string) Options { return OptionsFrom(awsenv.Read(getenv)) }

// OptionsFrom takes Options from the AWS environment config.Load read.
func OptionsFrom(e awsenv.Env) Options {
	return Options{
		Region:           e.Region,
		Endpoint:         e.EndpointSTS,
		AccessKeyID:      e.AccessKeyID,
		SecretAccessKey:  e.SecretAccessKey,
		SessionToken:     e.SessionToken,
		SigningAlgorithm: e.STSSigningAlgorithm,
	}
}

// Source requests client assertions from AWS STS. It is safe for concurrent use.
type Source struct {
	client *sts.Client
	input  sts.GetWebIdentityTokenInput

	requests atomic.Int64
	mu       sync.Mutex
	last     *Error // the failure of the latest request; nil after a success
}

// New validates o and returns a Source. Its errors name the environment variable to fix and are
// configuration errors (SPEC §3): nothing is sent over the network until Assertion is called.
func New(o Options) (*Source, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	if o.Region == "" {
		bad("AWS_REGION", "required with AZURE_FEDERATED_TOKEN_SOURCE=aws-sts: GetWebIdentityToken is not available on the STS global endpoint")
	}
	if o.AccessKeyID == "" || o.SecretAccessKey == "" {
		bad("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required with AZURE_FEDERATED_TOKEN_SOURCE=aws-sts (Lambda sets them from the execution role)")
	}
	if o.Endpoint != "" {
		if u, err := url.Parse(o.Endpoint); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			bad("AWS_ENDPOINT_URL_STS", "%q is not an absolute http(s) URL", o.Endpoint)
		}
	}
	switch o.SigningAlgorithm {
	case "":
		o.SigningAlgorithm = SigningAlgorithmRS256
	case SigningAlgorithmRS256, SigningAlgorithmES384:
	default:
		bad("AWS_STS_SIGNING_ALGORITHM", "must be %s or %s, not %q", SigningAlgorithmRS256, SigningAlgorithmES384, o.SigningAlgorithm)
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Duration < MinDuration || o.Duration > MaxDuration || o.Duration%time.Second != 0 {
		errs = append(errs, fmt.Errorf("web identity token lifetime %s is not whole seconds from %s to %s", o.Duration, MinDuration, MaxDuration))
	}
	if o.Audience == "" {
		o.Audience = Audience
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	creds := aws.Credentials{
		AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey, SessionToken: o.SessionToken,
		Source: "environment",
	}
	so := sts.Options{
		Region:           o.Region,
		Credentials:      aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		RetryMaxAttempts: o.MaxAttempts,
	}
	if o.Endpoint != "" {
		so.BaseEndpoint = aws.String(o.Endpoint)
	}
	if o.HTTPClient != nil {
		so.HTTPClient = o.HTTPClient
	}
	return &Source{
		client: sts.New(so),
		input: sts.GetWebIdentityTokenInput{
			Audience:         []string{o.Audience},
			SigningAlgorithm: aws.String(o.SigningAlgorithm),
			DurationSeconds:  aws.Int32(int32(o.Duration / time.Second)),
		},
	}, nil
}

// NewAssertion returns the Assertion method of a new Source, for tenant.Options.Assertion.
func NewAssertion(o Options) (func(context.Context) (string, error), error) {
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	return s.Assertion, nil
}

// Assertion requests a new web identity token from STS and returns it. Every call is one STS
// request (plus the SDK's retries of throttling, 5xx and transport errors). A failure is an
// *Error.
func (s *Source) Assertion(ctx context.Context) (string, error) {
	s.requests.Add(1)
	in := s.input // the SDK may not mutate it, but a request must never share state with another
	out, err := s.client.GetWebIdentityToken(ctx, &in)
	var e *Error
	switch {
	case err != nil:
		e = newError(err)
	case out.WebIdentityToken == nil || *out.WebIdentityToken == "":
		e = &Error{Transient: true, Err: errors.New("STS answered without a token")}
	}
	s.mu.Lock()
	s.last = e
	s.mu.Unlock()
	if e != nil {
		return "", e
	}
	return *out.WebIdentityToken, nil
}

// Requests returns how many times Assertion has been called.
func (s *Source) Requests() int64 { return s.requests.Load() }

// Explain returns err with the STS failure behind it, so that errors.As(err, **Error) finds it.
//
// azidentity flattens the error of an assertion callback into the text of an
// *azidentity.AuthenticationFailedError (without Unwrap and without a response): the *Error is
// lost on the way to the caller. Explain restores it when err holds such an
// AuthenticationFailedError and the latest request to STS failed. It returns every other err
// unchanged, nil included.
func (s *Source) Explain(err error) error {
	var (
		own     *Error
		authErr *azidentity.AuthenticationFailedError
	)
	if err == nil || errors.As(err, &own) || !errors.As(err, &authErr) || authErr.RawResponse != nil {
		return err
	}
	s.mu.Lock()
	last := s.last
	s.mu.Unlock()
	if last == nil {
		return err
	}
	return &explained{err: err, cause: last}
}

// explained is an error from the Azure SDK with the STS failure that caused it.
type explained struct {
	err   error
	cause *Error
}

func (e *explained) Error() string   { return e.err.Error() }
func (e *explained) Unwrap() []error { return []error{e.err, e.cause} }

// STS error codes with a meaning of their own here.
const (
	CodeAccessDenied       = "AccessDenied"
	CodeFederationDisabled = "OutboundWebIdentityFederationDisabledException"
	CodeRegionDisabled     = "RegionDisabledException"
	CodeThrottling         = "Throttling"
)

// Error is a failed GetWebIdentityToken request. Its text names the STS error code, the HTTP
// status, the request id and what to fix; it never holds a credential or a token.
type Error struct {
	// Code is STS's error code (e.g. AccessDenied, OutboundWebIdentityFederationDisabledException,
	// Throttling); empty when STS did not answer.
	Code string
	// Message is STS's own message, e.g. "User: arn:aws:sts::…:assumed-role/… is not authorized
	// to perform: sts:GetWebIdentityToken".
	Message string
	// StatusCode is STS's HTTP status; 0 when STS did not answer.
	StatusCode int
	// RequestID is STS's request id, for AWS support.
	RequestID string
	// Transient is true for throttling, STS 5xx and transport errors: trying again later may work.
	// Otherwise only a change of IAM or account settings helps, and Fix says which.
	Transient bool
	// Fix says what to change, in words for an operator; empty when nothing but waiting helps.
	Fix string
	// Err is the SDK's error.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("aws sts GetWebIdentityToken: ")
	switch {
	case e.Code != "":
		b.WriteString(e.Code)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString("failed")
	}
	if e.StatusCode != 0 || e.RequestID != "" {
		fmt.Fprintf(&b, " (HTTP %d, request id %q)", e.StatusCode, e.RequestID)
	}
	if e.Message != "" {
		b.WriteString(": " + strings.TrimRight(e.Message, "."))
	}
	if e.Fix != "" {
		b.WriteString(". Fix: " + e.Fix)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Problem explains the failure to prove the identity that reads Key Vault (problem.Classifier):
// secretStoreUnavailable while it may pass, else credentialRejected naming the IAM permission and
// the account setting that STS needs (granting them is the fix).
func (e *Error) Problem() *problem.Problem {
	if e.Transient {
		return problem.New(problem.SecretStoreUnavailable, "AWS STS did not issue the web identity token that proves the identity that reads Key Vault; try again later.")
	}
	return problem.New(problem.CredentialRejected,
		"AWS STS refused the web identity token that proves the identity that reads Key Vault: the function's execution role needs the IAM permission "+Permission+" and the AWS account needs outbound identity federation enabled; its operators find which in the logs or with diagnose.")
}

// newError classifies an error of the SDK.
func newError(err error) *Error {
	e := &Error{Err: err}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.StatusCode = re.HTTPStatusCode()
		e.RequestID = re.ServiceRequestID()
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		// No answer from STS (transport error, timeout, cancellation) or one the SDK could not read.
		e.Transient = true
		return e
	}
	e.Code, e.Message = api.ErrorCode(), api.ErrorMessage()
	_, throttled := retry.DefaultThrottleErrorCodes[e.Code]
	switch {
	case e.Code == CodeAccessDenied || e.Code == "AccessDeniedException":
		e.Fix = "allow " + Permission + " to the function's execution role (template.yaml does when AzureFederatedTokenSource is aws-sts); " +
			"if it is allowed, an SCP, RCP, permissions boundary or VPC endpoint policy denies it"
	case e.Code == CodeFederationDisabled:
		e.Fix = "enable outbound identity federation for the AWS account (IAM console, Account settings, or `aws iam enable-outbound-web-identity-federation`), " +
			"then add its token issuer URL (`aws iam get-outbound-web-identity-federation-info`) to the Entra app's federated credential"
	case e.Code == CodeRegionDisabled:
		e.Fix = "activate AWS STS in this region (IAM console, Account settings, Security Token Service (STS) endpoints)"
	case e.Code == "InvalidClientTokenId", e.Code == "UnrecognizedClientException", e.Code == "SignatureDoesNotMatch",
		e.Code == "IncompleteSignature", e.Code == "MissingAuthenticationToken", e.Code == "ExpiredToken", e.Code == "ExpiredTokenException":
		e.Fix = "STS refused the function's AWS credentials: do not set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN yourself, Lambda sets them from the execution role"
	case e.Code == "InvalidAction", e.Code == "UnknownOperationException":
		e.Fix = "this STS endpoint does not offer GetWebIdentityToken: use the regional endpoint (unset AWS_ENDPOINT_URL_STS or set it to https://sts.<region>.amazonaws.com)"
	case e.Code == "JWTPayloadSizeExceededException":
		e.Fix = "the execution role's principal tags make the token too large: remove some"
	case e.Code == "SessionDurationEscalationException":
		// The role session ends within the token lifetime; a new execution environment has fresh credentials.
		e.Transient = true
	case throttled, e.StatusCode == http.StatusTooManyRequests, e.StatusCode >= 500:
		e.Transient = true
	default:
		e.Fix = "see the STS error code " + e.Code
	}
	return e
}
