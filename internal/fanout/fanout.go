// Package fanout enqueues one sync per tenant to the fleet's SQS queue (SPEC §11): one message
// {"tenant":"<name>"} per tenant, sent with SendMessageBatch, at most ten to a call. It builds its
// SQS client from the environment Lambda provides (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION; AWS_ENDPOINT_URL_SQS for tests against a local SQS) without the
// SDK's config package, which would bring shared-config and SSO code into the Lambda binary. It
// never receives or deletes messages: the sync function's SQS event source does.
package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/autopilot-sync/autopilot-sync/internal/awsenv"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"
)

const (
	// maxBatch is SendMessageBatch's limit of entries per call.
	maxBatch = 10
	// defaultConcurrency bounds the batches in flight: 500 tenants are 50 calls.
	defaultConcurrency = 4
	// maxListed bounds how many tenants an error names.
	maxListed = 10
)

// Options configures New. Empty fields are read from the environment.
type Options struct {
	// HTTPClient sends the requests; nil means the SDK's default client.
	HTTPClient *http.Client
	// Region is the queue's AWS region; "" means AWS_REGION, else AWS_DEFAULT_REGION, else the
	// region in a standard queue URL (https://sqs.<region>.amazonaws.com/...).
	Region string
	// Endpoint replaces the SQS endpoint (a local SQS in tests); "" means AWS_ENDPOINT_URL_SQS,
	// else AWS_ENDPOINT_URL, else the region's endpoint.
	Endpoint string
	// Concurrency bounds the SendMessageBatch calls in flight; 0 means 4.
	Concurrency int
	// Getenv reads the environment (AWS_* above and the credentials); nil means os.Getenv.
	Getenv func(string) string
}

// Queue sends fan-out messages to one SQS queue. It is safe for concurrent use.
type Queue struct {
	url         string
	client      *sqs.Client
	concurrency int
}

// New returns a Queue for queueURL. It sends nothing; it fails when queueURL is not an absolute
// URL or no region can be found. Credentials are read from the environment at each signing
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for a role's temporary credentials,
// AWS_SESSION_TOKEN, as Lambda sets them).
func New(queueURL string, o Options) (*Queue, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	u, err := url.Parse(queueURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("FLEET_QUEUE_URL: %.200q is not an SQS queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/fleet", queueURL)
	}
	region := firstOf(o.Region, awsenv.Region(getenv), regionOf(u.Hostname()))
	if region == "" {
		return nil, errors.New("AWS_REGION: not set, and the region of FLEET_QUEUE_URL is not in its host")
	}
	endpoint := firstOf(o.Endpoint, awsenv.Endpoint(getenv, "SQS"))

	opts := sqs.Options{
		Region:      region,
		Credentials: awsenv.Credentials(getenv),
	}
	if endpoint != "" {
		opts.BaseEndpoint = aws.String(endpoint)
	}
	if o.HTTPClient != nil {
		opts.HTTPClient = o.HTTPClient
	}
	q := &Queue{url: queueURL, client: sqs.New(opts), concurrency: o.Concurrency}
	if q.concurrency <= 0 {
		q.concurrency = defaultConcurrency
	}
	return q, nil
}

// URL returns the queue's URL.
func (q *Queue) URL() string { return q.url }

// Failure is a tenant whose message SQS did not accept.
type Failure struct {
	Tenant      string
	Code        string // SQS's error code, e.g. InternalError
	SenderFault bool   // true when the request itself was wrong: a retry cannot help
}

// PartialError reports tenants whose messages SQS refused within otherwise successful batches,
// after one retry (none for sender faults).
type PartialError struct {
	QueueURL string
	Failed   []Failure
}

func (e *PartialError) Error() string {
	names := make([]string, 0, min(len(e.Failed), maxListed))
	for _, f := range e.Failed[:min(len(e.Failed), maxListed)] {
		names = append(names, fmt.Sprintf("%.63s (%.40s)", f.Tenant, f.Code))
	}
	more := ""
	if n := len(e.Failed) - len(names); n > 0 {
		more = fmt.Sprintf(" and %d more", n)
	}
	return fmt.Sprintf("SQS queue %s: %d tenant(s) not enqueued: %s%s", e.QueueURL, len(e.Failed), strings.Join(names, ", "), more)
}

// Tenants returns the names of the tenants that were not enqueued.
func (e *PartialError) Tenants() []string {
	out := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f.Tenant
	}
	return out
}

// message is the body of a fan-out message, as the sync function's SQS consumer reads it.
type message struct {
	Tenant string `json:"tenant"`
}

// Enqueue sends one message {"tenant":"<name>"} per tenant, in batches of at most ten sent
// concurrently with a small bound, and returns how many messages SQS accepted. Entries SQS
// refuses within a batch are sent once more; those still refused are reported in a
// *PartialError naming them. A failed call (no such queue, access denied, throttling after the
// SDK's retries) stops the remaining batches and is returned wrapped, naming the queue and the
// permission it needs (sqs:SendMessage); the count then says how many got through before.
func (q *Queue) Enqueue(ctx context.Context, tenants []string) (int, error) {
	var (
		mu       sync.Mutex
		enqueued int
		failed   []Failure
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(q.concurrency)
	for start := 0; start < len(tenants); start += maxBatch {
		batch := tenants[start:min(start+maxBatch, len(tenants))]
		g.Go(func() error {
			ok, bad, err := q.sendBatch(gctx, start, batch)
			mu.Lock()
			enqueued += ok
			failed = append(failed, bad...)
			mu.Unlock()
			return err
		})
	}
	err := g.Wait()
	if err != nil {
		err = q.callError(err)
	}
	if len(failed) > 0 {
		slices.SortFunc(failed, func(a, b Failure) int { return strings.Compare(a.Tenant, b.Tenant) })
		err = errors.Join(err, &PartialError{QueueURL: q.url, Failed: failed})
	}
	return enqueued, err
}

// sendBatch sends one batch whose entries have ids "t<index in tenants>", retrying refused
// entries once. It returns how many were accepted and which were refused for good.
func (q *Queue) sendBatch(ctx context.Context, offset int, tenants []string) (int, []Failure, error) {
	entries := make([]types.SendMessageBatchRequestEntry, len(tenants))
	byID := make(map[string]string, len(tenants))
	for i, name := range tenants {
		body, err := json.Marshal(message{Tenant: name})
		if err != nil {
			return 0, nil, err
		}
		id := "t" + strconv.Itoa(offset+i)
		byID[id] = name
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(string(body))}
	}
	accepted := 0
	var refused []types.BatchResultErrorEntry
	for attempt := 0; attempt < 2 && len(entries) > 0; attempt++ {
		out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		if err != nil {
			return accepted, nil, err
		}
		accepted += len(out.Successful)
		retry := entries[:0:0]
		for _, f := range out.Failed {
			if !f.SenderFault && attempt == 0 {
				if e, ok := entryByID(entries, aws.ToString(f.Id)); ok {
					retry = append(retry, e)
					continue
				}
			}
			refused = append(refused, f)
		}
		entries = retry
		if len(retry) == 0 {
			break
		}
	}
	failures := make([]Failure, 0, len(refused))
	for _, f := range refused {
		failures = append(failures, Failure{Tenant: byID[aws.ToString(f.Id)], Code: aws.ToString(f.Code), SenderFault: f.SenderFault})
	}
	return accepted, failures, nil
}

func entryByID(entries []types.SendMessageBatchRequestEntry, id string) (types.SendMessageBatchRequestEntry, bool) {
	for _, e := range entries {
		if aws.ToString(e.Id) == id {
			return e, true
		}
	}
	return types.SendMessageBatchRequestEntry{}, false
}

// callError names the queue, what went wrong and the permission the function needs, for a
// failed SendMessageBatch call.
func (q *Queue) callError(err error) error {
	var notFound *types.QueueDoesNotExist
	var api smithy.APIError
	what := "SendMessageBatch failed"
	switch {
	case errors.As(err, &notFound):
		what = "the queue does not exist (check FLEET_QUEUE_URL and AWS_REGION)"
	case errors.As(err, &api) && strings.Contains(api.ErrorCode(), "AccessDenied"):
		what = "access denied (with a customer managed KMS key, the role also needs kms:GenerateDataKey and kms:Decrypt on it)"
	}
	return fmt.Errorf("SQS queue %s: %s; the function's role needs sqs:SendMessage on the queue: %w", q.url, what, err)
}

// regionOf returns the region of a standard SQS host: sqs.<region>.amazonaws.com(.cn), or the
// legacy <region>.queue.amazonaws.com.
func regionOf(host string) string {
	parts := strings.Split(host, ".")
	switch {
	case len(parts) >= 4 && parts[0] == "sqs" && parts[2] == "amazonaws":
		return parts[1]
	case len(parts) >= 4 && parts[1] == "queue" && parts[2] == "amazonaws":
		return parts[0]
	}
	return ""
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
