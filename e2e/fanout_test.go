package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/moto"
)

// TestFleetFanOut runs the fleet's whole path through the real sync binary: a direct invocation
// {"action":"sync","tenants":"all"} enqueues one message per tenant to a local SQS (moto_server),
// and those very messages, delivered back as an SQS batch, sync every tenant and report only the
// transient failure.
func TestFleetFanOut(t *testing.T) {
	t.Parallel()
	endpoint := moto.Start(t)
	client := moto.SQSClient(endpoint)
	q, err := client.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String("autopilot-sync-fleet")})
	if err != nil {
		t.Fatal(err)
	}
	e, vars := newFleetEnv(t)
	vars["FLEET_QUEUE_URL"] = aws.ToString(q.QueueUrl)
	vars["AWS_ENDPOINT_URL_SQS"] = endpoint
	vars["AWS_REGION"] = moto.Region
	vars["AWS_ACCESS_KEY_ID"] = "AKIAEXAMPLEFANOUT"
	vars["AWS_SECRET_ACCESS_KEY"] = "not-a-real-secret-key-for-moto"
	e.plant("AWS secret access key", vars["AWS_SECRET_ACCESS_KEY"])
	fn := e.start(t, binaries.sync, vars)

	var out map[string]any
	raw := fn.invoke(t, []byte(`{"action":"sync","tenants":"all"}`))
	if err := json.Unmarshal(raw, &out); err != nil || out["enqueued"] != float64(len(fleet)) {
		t.Fatalf("fan-out: %s, want {\"enqueued\":%d}", raw, len(fleet))
	}
	bodies := moto.ReceiveAll(t, client, aws.ToString(q.QueueUrl), len(fleet))
	var want []string
	for _, ft := range fleet {
		want = append(want, `{"tenant":"`+ft.name+`"}`)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, bodies); diff != "" {
		t.Fatalf("queued messages (-want +got):\n%s", diff)
	}

	var batch awsevents.SQSEvent
	for i, b := range bodies {
		batch.Records = append(batch.Records, awsevents.SQSMessage{MessageId: fmt.Sprint("m", i), Body: b, EventSource: "aws:sqs",
			EventSourceARN: queueARN(t, aws.ToString(q.QueueUrl), moto.Region)})
	}
	data, _ := json.Marshal(batch)
	var resp awsevents.SQSEventResponse
	if err := json.Unmarshal(fn.invoke(t, data), &resp); err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, bodies[atoi(t, f.ItemIdentifier[1:])])
	}
	if diff := cmp.Diff([]string{`{"tenant":"flaky"}`}, failed); diff != "" {
		t.Errorf("batchItemFailures (-want +got):\n%s", diff)
	}
	if n := e.emu.Counts().Graph["POST sync"]; n != 3 {
		t.Errorf("Graph saw %d syncs, want 3 (contoso, fabrikam, gov)", n)
	}
}
