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

// Region is AWS_REGION, else AWS_DEFAULT_REGION ("" when neither is set).
func Region(getenv func(string) string) string {
	return first(getenv, "AWS_REGION", "AWS_DEFAULT_REGION")
}

// Endpoint is the SDK's endpoint override for service (an upper-case service id such as "SQS"
// or "STS"): AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL; "" when neither is set or when
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true.
func Endpoint(getenv func(string) string, service string) string {
	if ignore, _ := strconv.ParseBool(strings.TrimSpace(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))); ignore {
		return ""
	}
	return first(getenv, "AWS_ENDPOINT_URL_"+service, "AWS_ENDPOINT_URL")
}

// ErrNoCredentials is returned by Credentials' provider when the environment holds none.
var ErrNoCredentials = errors.New("no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the execution role)")

// Credentials provides the static credentials Lambda puts in the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for a role, AWS_SESSION_TOKEN), read when the
// SDK signs a request.
func Credentials(getenv func(string) string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		c := aws.Credentials{
			AccessKeyID:     strings.TrimSpace(getenv("AWS_ACCESS_KEY_ID")),
			SecretAccessKey: strings.TrimSpace(getenv("AWS_SECRET_ACCESS_KEY")),
			SessionToken:    strings.TrimSpace(getenv("AWS_SESSION_TOKEN")),
			Source:          "environment",
		}
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return aws.Credentials{}, ErrNoCredentials
		}
		return c, nil
	})
}

func first(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v
		}
	}
	return ""
}
