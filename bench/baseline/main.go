// Command baseline is the benchmark's floor: the smallest useful Go Lambda behind an API Gateway
// HTTP API. It answers every invocation with the same fixed response and does nothing else, so its
// cold start, latency, memory and size are what the Go runtime, aws-lambda-go and the Lambda
// runtime API cost on their own. It is built and run only by the benchmark (go run ./bench).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// answer is the fixed response: a status document of the same shape and size as the product's.
var answer = events.APIGatewayV2HTTPResponse{
	StatusCode: 200,
	Headers:    map[string]string{"Content-Type": "application/json; charset=utf-8"},
	Body:       `{"id":"bd7faf38-5b15-4b49-a473-f6ec8954d9cb","syncStatus":"completed","lastSyncDateTime":"2026-11-28T14:53:22Z","lastManualSyncTriggerDateTime":"2026-11-28T14:43:22Z","nextManualSyncAllowedAt":"2026-11-28T14:53:22Z","canSyncNow":true}`,
}

func handle(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return answer, nil
}

func main() { lambda.Start(handle) }
