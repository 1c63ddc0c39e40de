// Command echo is the bootstrap of internal/rie's tests: it answers an invocation
// {"fail":false} with {"requestId":…,"marker":$MARKER,"event":…} after writing one line to its
// standard output and one to its standard error, and {"fail":true} with a handler error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type answer struct {
	RequestID string          `json:"requestId"`
	Marker    string          `json:"marker"`
	Event     json.RawMessage `json:"event"`
}

func handle(ctx context.Context, event json.RawMessage) (answer, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	var in struct{ Fail bool }
	_ = json.Unmarshal(event, &in)
	fmt.Fprintf(os.Stdout, "{\"msg\":\"stdout\",\"requestId\":%q}\n", lc.AwsRequestID)
	fmt.Fprintf(os.Stderr, "{\"msg\":\"stderr\",\"requestId\":%q}\n", lc.AwsRequestID)
	if in.Fail {
		return answer{}, errors.New("asked to fail")
	}
	return answer{RequestID: lc.AwsRequestID, Marker: os.Getenv("MARKER"), Event: event}, nil
}

func main() { lambda.Start(handle) }
