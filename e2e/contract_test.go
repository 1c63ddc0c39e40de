package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/autopilot-sync/autopilot-sync/internal/contract"
	"github.com/autopilot-sync/autopilot-sync/internal/lambdahttp"
)

// checkContract fails the test when an HTTP answer of the end-to-end suite is not one
// openapi.yaml documents for its request (SPEC §5; the document cannot drift from the code).
// Non-HTTP invocations (schedules, SQS, direct) and Lambda errors are not HTTP answers.
func checkContract(t *testing.T, kind string, event, answer []byte) {
	t.Helper()
	src := lambdahttp.Detect(event)
	if src == "" || strings.Contains(string(answer), `"errorMessage"`) {
		return
	}
	x := contract.Exchange{Path: "/" + kind, Header: http.Header{}, RespHeader: http.Header{}}
	var body string
	var base64Body bool
	switch src {
	case lambdahttp.SourceREST:
		var req awsevents.APIGatewayProxyRequest
		var resp awsevents.APIGatewayProxyResponse
		if json.Unmarshal(event, &req) != nil || json.Unmarshal(answer, &resp) != nil {
			t.Errorf("undecodable REST exchange: %s", answer)
			return
		}
		x.Method = req.HTTPMethod
		q := url.Values{}
		for k, vs := range req.MultiValueQueryStringParameters {
			q[k] = vs
		}
		x.RawQuery = q.Encode()
		for k, v := range req.Headers {
			x.Header.Set(k, v)
		}
		x.Status, body, base64Body = resp.StatusCode, resp.Body, resp.IsBase64Encoded
		for k, vs := range resp.MultiValueHeaders {
			x.RespHeader[http.CanonicalHeaderKey(k)] = vs
		}
	default: // HTTP API 2.0 and Function URL share the request and answer shapes we read
		var req awsevents.APIGatewayV2HTTPRequest
		var resp awsevents.APIGatewayV2HTTPResponse
		if json.Unmarshal(event, &req) != nil || json.Unmarshal(answer, &resp) != nil {
			t.Errorf("undecodable %s exchange: %s", src, answer)
			return
		}
		x.Method, x.RawQuery = req.RequestContext.HTTP.Method, req.RawQueryString
		for k, v := range req.Headers {
			x.Header.Set(k, v)
		}
		x.Status, body, base64Body = resp.StatusCode, resp.Body, resp.IsBase64Encoded
		for k, v := range resp.Headers {
			x.RespHeader.Set(k, v)
		}
	}
	if base64Body {
		t.Errorf("a JSON answer came back base64-encoded: %s", answer)
		return
	}
	x.Body = []byte(body)
	if err := contract.Check(x); err != nil {
		t.Error(err)
	}
}
