package awssqs

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

var (
	// accountID is an AWS account id: twelve digits.
	accountID = regexp.MustCompile(`^[0-9]{12}$`)
	// queueName is an SQS queue name: 1 to 80 letters, digits, hyphens and underscores, a FIFO
	// queue's ending in .fifo.
	queueName = regexp.MustCompile(`^(?:[A-Za-z0-9_-]{1,80}|[A-Za-z0-9_-]{1,75}\.fifo)$`)
	// regionName is an AWS region as hosts name it: us-east-1, us-gov-west-1, eusc-de-east-1.
	regionName = regexp.MustCompile(`^[a-z]{2,4}(?:-[a-z]+)+-[0-9]{1,2}$`)
)

// partitions maps a region's prefix to its partition; any other region is in "aws".
var partitions = []struct{ prefix, partition string }{
	{"cn-", "aws-cn"},
	{"us-gov-", "aws-us-gov"},
	{"us-iso-", "aws-iso"},
	{"us-isob-", "aws-iso-b"},
	{"us-isof-", "aws-iso-f"},
	{"eu-isoe-", "aws-iso-e"},
	{"eusc-", "aws-eusc"},
}

// QueueARN returns the ARN of the queue at queueURL, arn:<partition>:sqs:<region>:<account>:<name>:
// the eventSourceARN that Lambda gives each record of that queue's SQS event source, so that a
// consumer can check a record came from the queue it expects. queueURL is a queue URL as
// CreateQueue, GetQueueUrl and CloudFormation return it: https://sqs.<region>.amazonaws.com/<account>/<name>
// and its variants (amazonaws.com.cn, sqs-fips, dual-stack api.aws, VPC endpoints, the legacy
// <region>.queue.amazonaws.com and queue.amazonaws.com), or a local SQS's
// (http://127.0.0.1:PORT/123456789012/<name> for moto, http://localhost:4566/000000000000/<name>
// or http://sqs.<region>.localhost.localstack.cloud:4566/... for LocalStack). The region is the
// one the host names; region is used only for a host that names none (a local SQS), and the
// partition follows from the region. It fails, naming what is wrong, when queueURL is not such a
// URL or no region is known.
func QueueARN(queueURL, region string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%.200q is not an SQS queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/fleet: %s", queueURL, why)
	}
	u, err := url.Parse(queueURL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return bad("not an absolute http(s) URL")
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return bad("it has user info, a query or a fragment")
	}
	account, name, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	switch {
	case !ok || !accountID.MatchString(account):
		return bad("its path does not start with a 12-digit account id")
	case !queueName.MatchString(name):
		return bad("its path does not end with a queue name (1 to 80 letters, digits, - and _, or a name ending in .fifo)")
	}
	if r := regionOf(u.Hostname()); r != "" {
		region = r
	}
	region = strings.TrimSpace(region)
	if !regionName.MatchString(region) {
		return bad("its host names no region, and AWS_REGION is not set to one")
	}
	return "arn:" + partitionOf(region) + ":sqs:" + region + ":" + account + ":" + name, nil
}

// partitionOf returns the partition of region.
func partitionOf(region string) string {
	for _, p := range partitions {
		if strings.HasPrefix(region, p.prefix) {
			return p.partition
		}
	}
	return "aws"
}

// regionOf returns the region an SQS host names: the label after sqs or sqs-fips
// (sqs.<region>.amazonaws.com(.cn), sqs.<region>.api.aws, vpce-….sqs.<region>.vpce.amazonaws.com,
// sqs.<region>.localhost.localstack.cloud), or the legacy <region>.queue.amazonaws.com and
// queue.amazonaws.com (us-east-1); "" for any other host.
func regionOf(host string) string {
	labels := strings.Split(strings.ToLower(host), ".")
	for i := 0; i+1 < len(labels); i++ {
		if (labels[i] == "sqs" || labels[i] == "sqs-fips") && regionName.MatchString(labels[i+1]) {
			return labels[i+1]
		}
	}
	switch {
	case len(labels) == 4 && labels[1] == "queue" && labels[2] == "amazonaws" && regionName.MatchString(labels[0]):
		return labels[0]
	case strings.Join(labels, ".") == "queue.amazonaws.com":
		return "us-east-1"
	}
	return ""
}

// ARN returns the queue's ARN (QueueARN of its URL), which an SQS event source puts in every
// record's eventSourceARN.
func (q *Queue) ARN() string { return q.arn }
