package awssqs_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/awssqs"
)

func TestQueueARN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url, region string
		want              string // "" when refused
		wantErr           string
	}{
		{"standard", "https://sqs.eu-west-1.amazonaws.com/123456789012/fleet", "", "arn:aws:sqs:eu-west-1:123456789012:fleet", ""},
		{"the host's region wins over AWS_REGION", "https://sqs.eu-west-1.amazonaws.com/123456789012/fleet", "us-east-1", "arn:aws:sqs:eu-west-1:123456789012:fleet", ""},
		{"a CloudFormation name", "https://sqs.us-east-1.amazonaws.com/123456789012/s1-FollowUpQueue-4WX2PADUA673", "", "arn:aws:sqs:us-east-1:123456789012:s1-FollowUpQueue-4WX2PADUA673", ""},
		{"FIFO", "https://sqs.eu-west-1.amazonaws.com/123456789012/checks.fifo", "", "arn:aws:sqs:eu-west-1:123456789012:checks.fifo", ""},
		{"China", "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/fleet", "", "arn:aws-cn:sqs:cn-north-1:123456789012:fleet", ""},
		{"GovCloud", "https://sqs.us-gov-west-1.amazonaws.com/123456789012/fleet", "", "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:fleet", ""},
		{"FIPS", "https://sqs-fips.us-east-2.amazonaws.com/123456789012/fleet", "", "arn:aws:sqs:us-east-2:123456789012:fleet", ""},
		{"dual-stack", "https://sqs.ap-southeast-2.api.aws/123456789012/fleet", "", "arn:aws:sqs:ap-southeast-2:123456789012:fleet", ""},
		{"VPC endpoint", "https://vpce-0123456789abcdef0-abcdefgh.sqs.eu-central-1.vpce.amazonaws.com/123456789012/fleet", "", "arn:aws:sqs:eu-central-1:123456789012:fleet", ""},
		{"ISO", "https://sqs.us-iso-east-1.c2s.ic.gov/123456789012/fleet", "", "arn:aws-iso:sqs:us-iso-east-1:123456789012:fleet", ""},
		{"ISO-B", "https://sqs.us-isob-east-1.sc2s.sgov.gov/123456789012/fleet", "", "arn:aws-iso-b:sqs:us-isob-east-1:123456789012:fleet", ""},
		{"European Sovereign Cloud", "https://sqs.eusc-de-east-1.amazonaws.eu/123456789012/fleet", "", "arn:aws-eusc:sqs:eusc-de-east-1:123456789012:fleet", ""},
		{"legacy regional", "https://eu-west-1.queue.amazonaws.com/123456789012/fleet", "", "arn:aws:sqs:eu-west-1:123456789012:fleet", ""},
		{"legacy us-east-1", "https://queue.amazonaws.com/123456789012/fleet", "eu-west-1", "arn:aws:sqs:us-east-1:123456789012:fleet", ""},
		{"host in capitals", "https://SQS.EU-WEST-1.AMAZONAWS.COM/123456789012/fleet", "", "arn:aws:sqs:eu-west-1:123456789012:fleet", ""},
		{"moto", "http://127.0.0.1:41889/123456789012/fleet", "us-east-1", "arn:aws:sqs:us-east-1:123456789012:fleet", ""},
		{"LocalStack", "http://localhost:4566/000000000000/fleet", "eu-west-1", "arn:aws:sqs:eu-west-1:000000000000:fleet", ""},
		{"LocalStack by region", "http://sqs.eu-west-2.localhost.localstack.cloud:4566/000000000000/fleet", "us-east-1", "arn:aws:sqs:eu-west-2:000000000000:fleet", ""},
		{"a local SQS in China", "http://127.0.0.1:9324/123456789012/fleet", "cn-northwest-1", "arn:aws-cn:sqs:cn-northwest-1:123456789012:fleet", ""},

		{"a local SQS without a region", "http://127.0.0.1:9324/123456789012/fleet", "", "", "names no region"},
		{"a region that is none", "http://127.0.0.1:9324/123456789012/fleet", "mars", "", "names no region"},
		{"no account", "https://sqs.eu-west-1.amazonaws.com/fleet", "", "", "12-digit account id"},
		{"a short account", "https://sqs.eu-west-1.amazonaws.com/12345/fleet", "", "", "12-digit account id"},
		{"no name", "https://sqs.eu-west-1.amazonaws.com/123456789012/", "", "", "queue name"},
		{"a trailing slash", "https://sqs.eu-west-1.amazonaws.com/123456789012/fleet/", "", "", "queue name"},
		{"a name too long", "https://sqs.eu-west-1.amazonaws.com/123456789012/" + strings.Repeat("q", 81), "", "", "queue name"},
		{"a name with a colon", "https://sqs.eu-west-1.amazonaws.com/123456789012/a:b", "", "", "queue name"},
		{"a query", "https://sqs.eu-west-1.amazonaws.com/123456789012/fleet?x=1", "", "", "query"},
		{"user info", "https://u@sqs.eu-west-1.amazonaws.com/123456789012/fleet", "", "", "user info"},
		{"not a URL", "fleet", "eu-west-1", "", "absolute"},
		{"another scheme", "sqs://sqs.eu-west-1.amazonaws.com/123456789012/fleet", "", "", "absolute"},
		{"an ARN", "arn:aws:sqs:eu-west-1:123456789012:fleet", "", "", "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := awssqs.QueueARN(tt.url, tt.region)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("QueueARN(%q, %q) = %q, %v; want an error with %q", tt.url, tt.region, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("QueueARN(%q, %q): %v", tt.url, tt.region, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("QueueARN(%q, %q) (-want +got):\n%s", tt.url, tt.region, diff)
			}
		})
	}
}
