// Package awsenv reads the AWS settings Lambda puts in a function's environment (region,
// credentials, endpoint overrides) the way the AWS SDK's config loader would, without linking
// that loader and the SSO and shared-file machinery behind it. It never logs or formats a
// credential.
package awsenv

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Env is what Lambda puts in a function's environment for the AWS SDK clients (STS for the
// aws-sts federation, SQS for the queues). config.Load reads it once, with everything else.
type Env struct {
	// region is AWS_REGION, else AWS_DEFAULT_REGION.
	Region string
	// AccessKeyID, SecretAccessKey and SessionToken are the execution role's credentials.
	AccessKeyID, SecretAccessKey, SessionToken string
	// EndpointSTS and EndpointSQS override the services' endpoints: AWS_ENDPOINT_URL_<SERVICE>,
	// else AWS_ENDPOINT_URL; none when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true.
	EndpointSTS, EndpointSQS string
	// STSSigningAlgorithm is AWS_STS_SIGNING_ALGORITHM (RS256 or ES384; empty means RS256).
	STSSigningAlgorithm string
}

// Read reads Env through getenv.
func Read(getenv func(string) string) Env {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	return Env{
		Region:              region(getenv),
		AccessKeyID:         get("AWS_ACCESS_KEY_ID"),
		SecretAccessKey:     get("AWS_SECRET_ACCESS_KEY"),
		SessionToken:        get("AWS_SESSION_TOKEN"),
		EndpointSTS:         endpoint(getenv, "STS"),
		EndpointSQS:         endpoint(getenv, "SQS"),
		STSSigningAlgorithm: get("AWS_STS_SIGNING_ALGORITHM"),
	}
}

// String names the region only, so an Env printed by mistake leaks no credential.
func (e Env) String() string { return "aws environment (region " + e.Region + ")" }

// GoString is String, for %#v.
func (e Env) GoString() string { return e.String() }

// Credentials provides e's static credentials, or ErrNoCredentials when it holds none.
func (e Env) Credentials() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		if e.AccessKeyID == "" || e.SecretAccessKey == "" {
			return aws.Credentials{}, ErrNoCredentials
		}
		return aws.Credentials{AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey, SessionToken: e.SessionToken, Source: "environment"}, nil
	})
}

// region is AWS_REGION, else AWS_DEFAULT_REGION ("" when neither is set).
func region(getenv func(string) string) string {
	return first(getenv, "AWS_REGION", "AWS_DEFAULT_REGION")
}

// endpoint is the SDK's endpoint override for service (an upper-case service id such as "SQS"
// or "STS"): AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL; "" when neither is set or when
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true.
func endpoint(getenv func(string) string, service string) string {
	if ignore, _ := strconv.ParseBool(strings.TrimSpace(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))); ignore {
		return ""
	}
	return first(getenv, "AWS_ENDPOINT_URL_"+service, "AWS_ENDPOINT_URL")
}

// ErrNoCredentials is returned by Env.Credentials' provider when the environment holds none.
var ErrNoCredentials = errors.New("no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the execution role)")

func first(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v
		}
	}
	return ""
}
