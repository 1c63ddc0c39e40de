// Package awssqs sends messages to one Amazon SQS queue: one message with an optional delivery
// delay (SendMessage, DelaySeconds 0 to 900), or many at once (SendMessageBatch, at most ten
// entries and 256 KiB to a call, a few calls in flight). It knows nothing of what the messages
// say: the callers compose the bodies. It builds its SQS client from the environment Lambda
// provides (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, as config.Load
// read them into awsenv.Env; AWS_ENDPOINT_URL_SQS for tests) without the SDK's config package, which
// would bring shared-config and SSO code into the Lambda binary. It never receives or deletes
// messages (the sync function's SQS event source does) and never logs a body. QueueARN derives a
// queue's ARN from its URL, for a consumer to check the eventSourceARN of the records it gets.
package awssqs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/autopilot-sync/autopilot-sync/internal/awsenv"
)

const (
	// MaxDelay is the longest delivery delay SQS accepts for a message (DelaySeconds 900).
	MaxDelay = 15 * time.Minute
	// defaultConcurrency bounds the batches in flight: 500 messages are 50 calls.
	defaultConcurrency = 4
)

// Options configures New. Empty fields are read from the environment.
type Options struct {
	// HTTPClient sends the requests; nil means the SDK's default client.
	HTTPClient *http.Client
	// Region is the queue's AWS region; "" means AWS_REGION, else AWS_DEFAULT_REGION, else the
	// region a queue URL's host names (https://sqs.<region>.amazonaws.com/..., see QueueARN).
	Region string
	// Endpoint replaces the SQS endpoint (a local SQS in tests); "" means AWS_ENDPOINT_URL_SQS,
	// else AWS_ENDPOINT_URL, else the region's endpoint.
	Endpoint string
	// Concurrency bounds the SendMessageBatch calls in flight; 0 means 4.
	Concurrency int
	// AWS is the AWS environment config.Load read (region, AWS_ENDPOINT_URL_SQS, the execution
	// role's credentials).
	AWS awsenv.Env
}

// Queue sends messages to one SQS queue. It is safe for concurrent use.
type Queue struct {
	url         string
	arn         string
	client      *sqs.Client
	concurrency int
}

// New returns a Queue for queueURL. It sends nothing; it fails when queueURL is not an absolute
// http(s) URL or no region can be found (the caller names the setting the URL came from). The
// credentials are o.AWS's (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for a role's temporary
// credentials, AWS_SESSION_TOKEN, as Lambda sets them).
func New(queueURL string, o Options) (*Queue, error) {
	u, err := url.Parse(queueURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%.200q is not an SQS queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/fleet", queueURL)
	}
	region := firstOf(o.Region, o.AWS.Region, regionOf(u.Hostname()))
	if region == "" {
		return nil, fmt.Errorf("AWS_REGION: not set, and the host of the queue URL %.200q names no region", queueURL)
	}
	arn, err := QueueARN(queueURL, region)
	if err != nil {
		return nil, err
	}
	endpoint := firstOf(o.Endpoint, o.AWS.EndpointSQS)

	opts := sqs.Options{
		Region:      region,
		Credentials: o.AWS.Credentials(),
	}
	if endpoint != "" {
		opts.BaseEndpoint = aws.String(endpoint)
	}
	if o.HTTPClient != nil {
		opts.HTTPClient = o.HTTPClient
	}
	q := &Queue{url: queueURL, arn: arn, client: sqs.New(opts), concurrency: o.Concurrency}
	if q.concurrency <= 0 {
		q.concurrency = defaultConcurrency
	}
	return q, nil
}

// URL returns the queue's URL.
func (q *Queue) URL() string { return q.url }

// Send sends one message whose body is body, delivered no earlier than delay from now (SQS's
// DelaySeconds: a fraction of a second counts as a whole one; 0 means the queue's own delay). It
// sends nothing and fails when the body is not a valid SQS message body (see SendBatch) or delay
// is negative or over MaxDelay. A failed call is returned wrapped, naming the queue and the
// permission the function needs.
func (q *Queue) Send(ctx context.Context, body []byte, delay time.Duration) error {
	if err := checkBody(body); err != nil {
		return fmt.Errorf("SQS queue %s: %w", q.url, err)
	}
	if delay < 0 || delay > MaxDelay {
		return fmt.Errorf("SQS queue %s: a delay of %v is not between 0 and %v", q.url, delay, MaxDelay)
	}
	seconds := int32(math.Ceil(delay.Seconds()))
	_, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(q.url), MessageBody: aws.String(string(body)), DelaySeconds: seconds,
	})
	if err != nil {
		return q.callError("SendMessage", err)
	}
	return nil
}

// checkBody refuses what SQS would refuse, or alter: an empty body, one that is not UTF-8 (the
// SDK would send U+FFFD in its place), or one with a character outside SQS's set (#x9, #xA, #xD,
// #x20 to #xD7FF, #xE000 to #xFFFD, #x10000 to #x10FFFF).
func checkBody(body []byte) error {
	if len(body) == 0 {
		return errors.New("a message body must not be empty")
	}
	if !utf8.Valid(body) {
		return errors.New("a message body must be UTF-8")
	}
	for i, r := range string(body) {
		if !allowed(r) {
			return fmt.Errorf("a message body holds %U at byte %d, which SQS does not accept", r, i)
		}
	}
	return nil
}

func allowed(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r':
		return true
	case r < 0x20:
		return false
	case r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	default:
		return r >= 0x10000 && r <= 0x10FFFF
	}
}

// callError names the queue, what went wrong and the permission the function needs, for a
// failed call of op.
func (q *Queue) callError(op string, err error) error {
	var notFound *types.QueueDoesNotExist
	var api smithy.APIError
	what := op + " failed"
	switch {
	case errors.As(err, &notFound):
		what = "the queue does not exist (check its URL and AWS_REGION)"
	case errors.As(err, &api) && strings.Contains(api.ErrorCode(), "AccessDenied"):
		what = "access denied (with a customer managed KMS key, the role also needs kms:GenerateDataKey and kms:Decrypt on it)"
	}
	return fmt.Errorf("SQS queue %s: %s; the function's role needs sqs:SendMessage on the queue: %w", q.url, what, err)
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
