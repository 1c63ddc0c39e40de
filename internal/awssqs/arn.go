package awssqs

import (
	"fmt"
	"net/url"
	"strings"
)

// ARN returns the queue's ARN, which an SQS event source puts in every record's eventSourceARN:
// arn:<partition>:sqs:<region>:<account>:<name>, the account and name from the queue URL's path
// (https://sqs.<region>.amazonaws.com/<account>/<name>, or a local SQS's
// http://127.0.0.1:<port>/<account>/<name>).
func (q *Queue) ARN() string { return q.arn }

// queueARN derives a queue's ARN from its URL and region; it fails when the path is not
// /<account>/<name>.
func queueARN(u *url.URL, region string) (string, error) {
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", fmt.Errorf("%.200q is not an SQS queue URL: its path is not /<account>/<queue name>", u.String())
	}
	partition := "aws"
	switch {
	case strings.HasPrefix(region, "cn-"):
		partition = "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		partition = "aws-us-gov"
	}
	return "arn:" + partition + ":sqs:" + region + ":" + parts[0] + ":" + parts[1], nil
}
