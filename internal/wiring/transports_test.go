package wiring_test

import (
	"net/http"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/autopilot-sync/autopilot-sync/internal/azhttp"
	"github.com/autopilot-sync/autopilot-sync/internal/outbound"
)

// TestEveryTransportRefusesConnectionsIdleOver90s checks the setting that keeps each transport
// the functions build from reusing a connection idle for more than 90 s (issue 17): a NAT gateway
// or load balancer may have forgotten it while the Lambda environment was frozen. net/http
// compares wall-clock idle time before reuse, so the setting holds after a thaw too.
func TestEveryTransportRefusesConnectionsIdleOver90s(t *testing.T) {
	t.Parallel()
	const limit = 90 * time.Second
	for _, tc := range []struct {
		name string
		idle time.Duration
	}{
		// Entra, Key Vault and Graph: azhttp.Transport's http.Transport.IdleConnTimeout.
		{"Entra, Key Vault, Graph (azhttp.Default)", azhttp.Default().IdleConnTimeout()},
		// Slack, Teams and callbacks: outbound's http.Transport.IdleConnTimeout.
		{"follow-up targets (outbound)", outbound.IdleConnTimeout},
		// awssts and awssqs leave HTTPClient nil: the SDK's BuildableClient, whose
		// http.Transport.IdleConnTimeout is awshttp.DefaultHTTPTransportIdleConnTimeout.
		{"STS (awssts)", awsIdle(t, sts.New(sts.Options{Region: "eu-west-1"}).Options().HTTPClient)},
		{"SQS (awssqs)", awsIdle(t, sqs.New(sqs.Options{Region: "eu-west-1"}).Options().HTTPClient)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.idle <= 0 || tc.idle > limit {
				t.Errorf("IdleConnTimeout: got %v, want more than 0 and at most %v", tc.idle, limit)
			}
		})
	}
}

// awsIdle returns the idle timeout of an AWS SDK client's default HTTP client.
func awsIdle(t *testing.T, c interface {
	Do(*http.Request) (*http.Response, error)
}) time.Duration {
	t.Helper()
	bc, ok := c.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("HTTP client: got %T, want the SDK's *BuildableClient", c)
	}
	return bc.GetTransport().IdleConnTimeout
}
