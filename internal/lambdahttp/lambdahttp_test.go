package lambdahttp_test

import (
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/lambdahttp"
)

// testdata holds real sample events copied from aws-lambda-go's events/testdata.
//
//go:embed testdata/*.json
var testdata embed.FS

func sample(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := testdata.ReadFile(path.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// edited decodes the sample name into an E, lets edit change it, and encodes it again.
func edited[E any](t *testing.T, name string, edit func(*E)) []byte {
	t.Helper()
	var ev E
	if err := json.Unmarshal(sample(t, name), &ev); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	edit(&ev)
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

const (
	v2Sample   = "apigw-v2-request-no-authorizer.json"
	v2IAM      = "apigw-v2-request-iam.json"
	restSample = "apigw-request.json"
	urlSample  = "lambda-urls-request.json"
)

const scheduledEvent = `{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"Scheduled Event",
"source":"aws.events","account":"123456789012","time":"2026-11-28T15:00:00Z","region":"eu-west-1",
"resources":["arn:aws:events:eu-west-1:123456789012:rule/autopilot-sync"],"detail":{}}`

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  []byte
		want lambdahttp.Source
	}{
		{"HTTP API sample", sample(t, v2Sample), lambdahttp.SourceHTTPAPI},
		{"HTTP API IAM sample", sample(t, v2IAM), lambdahttp.SourceHTTPAPI},
		{"REST sample", sample(t, restSample), lambdahttp.SourceREST},
		{"Function URL sample", sample(t, urlSample), lambdahttp.SourceFunctionURL},
		{"REST without version or domain", []byte(`{"httpMethod":"GET","path":"/status","requestContext":{}}`), lambdahttp.SourceREST},
		{"HTTP API payload 1.0", []byte(`{"version":"1.0","httpMethod":"POST","path":"/sync","requestContext":{"domainName":"a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"}}`), lambdahttp.SourceREST},
		{"EventBridge schedule", []byte(scheduledEvent), ""},
		{"SQS", sample(t, "sqs-event.json"), ""},
		{"ALB target", sample(t, "alb-lambda-target-request-multivalue-headers.json"), ""},
		{"WebSocket", sample(t, "apigw-websocket-request.json"), ""},
		{"HTTP API authorizer", sample(t, "apigw-v2-custom-authorizer-v2-request.json"), ""},
		{"REST authorizer", sample(t, "apigw-custom-auth-request-type-request.json"), ""},
		{"payload 2.0 without method", []byte(`{"version":"2.0","requestContext":{"http":{}}}`), ""},
		{"direct sync", []byte(`{"action":"sync"}`), ""},
		{"empty object", []byte(`{}`), ""},
		{"array", []byte(`[]`), ""},
		{"null", []byte(`null`), ""},
		{"string", []byte(`""`), ""},
		{"wrong types", []byte(`{"version":2,"httpMethod":"GET","requestContext":{}}`), ""},
		{"garbage", []byte(`{"httpMethod":"GET",`), ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, want := lambdahttp.Detect(tt.raw), tt.want; got != want {
				t.Errorf("Detect() = %q, want %q", got, want)
			}
		})
	}
}

// seenRequest is what a handler observes of the request Serve builds.
type seenRequest struct {
	Source        lambdahttp.Source
	Method        string
	Path          string
	RawQuery      string
	RequestURI    string
	Host          string
	RemoteAddr    string
	Proto         string
	Header        http.Header // only the keys the test case expects, plus Host if present
	ContentLength int64
	Body          string
}

// recorder returns a handler that stores into got what it sees of a request.
func recorder(got *seenRequest, headerKeys http.Header) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		header := http.Header{}
		for k := range headerKeys {
			header[k] = r.Header[k]
		}
		if host, ok := r.Header["Host"]; ok {
			header["Host"] = host
		}
		*got = seenRequest{
			Source: lambdahttp.SourceFrom(r.Context()), Method: r.Method, Path: r.URL.Path,
			RawQuery: r.URL.RawQuery, RequestURI: r.RequestURI, Host: r.Host, RemoteAddr: r.RemoteAddr,
			Proto: r.Proto, Header: header, ContentLength: r.ContentLength, Body: string(body),
		}
	})
}

func TestServeRequest(t *testing.T) {
	t.Parallel()
	const v2Body = "{\r\n\t\"a\": 1\r\n}"
	tests := []struct {
		name string
		src  lambdahttp.Source
		raw  []byte
		want seenRequest
	}{{
		name: "HTTP API GET",
		src:  lambdahttp.SourceHTTPAPI,
		raw:  sample(t, v2Sample),
		want: seenRequest{
			Source: lambdahttp.SourceHTTPAPI, Method: "GET", Path: "/", RequestURI: "/",
			Host: "aaaaaaaaaa.execute-api.us-west-2.amazonaws.com", RemoteAddr: "1.2.3.4:0", Proto: "HTTP/1.1",
			Header: http.Header{"User-Agent": {"curl/7.58.0"}, "X-Forwarded-For": {"1.2.3.4"}},
		},
	}, {
		name: "HTTP API POST with query, cookies and several values",
		src:  lambdahttp.SourceHTTPAPI,
		raw: edited(t, v2IAM, func(ev *events.APIGatewayV2HTTPRequest) {
			ev.RequestContext.HTTP.Method = "POST"
			ev.RequestContext.HTTP.SourceIP = "203.0.113.7"
			ev.Headers["accept"] = "text/html,application/json"
		}),
		want: seenRequest{
			Source: lambdahttp.SourceHTTPAPI, Method: "POST", Path: "/my/path",
			RawQuery:   "parameter1=value1&parameter1=value2&parameter2=value",
			RequestURI: "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
			Host:       "id.execute-api.us-east-1.amazonaws.com", RemoteAddr: "203.0.113.7:0", Proto: "HTTP/1.1",
			Header: http.Header{
				"Header1": {"value1"}, "Header2": {"value2"},
				"Accept": {"text/html,application/json"}, "Cookie": {"cookie1; cookie2"},
			},
			ContentLength: int64(len(v2Body)), Body: v2Body,
		},
	}, {
		name: "HTTP API PATCH with base64 body",
		src:  lambdahttp.SourceHTTPAPI,
		raw: edited(t, v2Sample, func(ev *events.APIGatewayV2HTTPRequest) {
			ev.RequestContext.HTTP.Method = "PATCH"
			ev.RawPath = "/status"
			ev.RawQueryString = "tenant=contoso"
			ev.Headers["content-type"] = "application/json"
			ev.Body, ev.IsBase64Encoded = b64(`{"syncStatus":"completed"}`), true
		}),
		want: seenRequest{
			Source: lambdahttp.SourceHTTPAPI, Method: "PATCH", Path: "/status", RawQuery: "tenant=contoso",
			RequestURI: "/status?tenant=contoso",
			Host:       "aaaaaaaaaa.execute-api.us-west-2.amazonaws.com", RemoteAddr: "1.2.3.4:0", Proto: "HTTP/1.1",
			Header:        http.Header{"Content-Type": {"application/json"}},
			ContentLength: 26, Body: `{"syncStatus":"completed"}`,
		},
	}, {
		name: "HTTP API OPTIONS with escaped path and HTTP/2",
		src:  lambdahttp.SourceHTTPAPI,
		raw: edited(t, v2Sample, func(ev *events.APIGatewayV2HTTPRequest) {
			ev.RequestContext.HTTP.Method = "OPTIONS"
			ev.RequestContext.HTTP.Protocol = "HTTP/2.0"
			ev.RawPath = "/prod/a%2Fb/sync"
			delete(ev.Headers, "host")
		}),
		want: seenRequest{
			Source: lambdahttp.SourceHTTPAPI, Method: "OPTIONS", Path: "/prod/a/b/sync", RequestURI: "/prod/a%2Fb/sync",
			Host: "aaaaaaaaaa.execute-api.us-west-2.amazonaws.com", RemoteAddr: "1.2.3.4:0", Proto: "HTTP/2.0",
			Header: http.Header{},
		},
	}, {
		name: "Function URL POST",
		src:  lambdahttp.SourceFunctionURL,
		raw:  sample(t, urlSample),
		want: seenRequest{
			Source: lambdahttp.SourceFunctionURL, Method: "POST", Path: "/my/path",
			RawQuery:   "parameter1=value1&parameter1=value2&parameter2=value",
			RequestURI: "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
			Host:       "<url-id>.lambda-url.us-west-2.on.aws", RemoteAddr: "123.123.123.123:0", Proto: "HTTP/1.1",
			Header: http.Header{
				"Header1": {"value1"}, "Header2": {"value1,value2"}, "Cookie": {"cookie1; cookie2"},
			},
			ContentLength: 18, Body: "Hello from client!",
		},
	}, {
		name: "Function URL GET with binary base64 body",
		src:  lambdahttp.SourceFunctionURL,
		raw: edited(t, urlSample, func(ev *events.LambdaFunctionURLRequest) {
			ev.RequestContext.HTTP.Method = "GET"
			ev.RawPath, ev.RawQueryString, ev.Cookies = "/status", "", nil
			ev.Headers = map[string]string{"host": "example.lambda-url.eu-west-1.on.aws"}
			ev.Body, ev.IsBase64Encoded = b64("\x00\x01\x02\xff"), true
		}),
		want: seenRequest{
			Source: lambdahttp.SourceFunctionURL, Method: "GET", Path: "/status", RequestURI: "/status",
			Host: "example.lambda-url.eu-west-1.on.aws", RemoteAddr: "123.123.123.123:0", Proto: "HTTP/1.1",
			Header:        http.Header{"Cookie": nil},
			ContentLength: 4, Body: "\x00\x01\x02\xff",
		},
	}, {
		name: "REST POST",
		src:  lambdahttp.SourceREST,
		raw:  sample(t, restSample),
		want: seenRequest{
			Source: lambdahttp.SourceREST, Method: "POST", Path: "/hello/world", RawQuery: "name=me",
			RequestURI: "/hello/world?name=me",
			Host:       "gy415nuibc.execute-api.us-east-1.amazonaws.com", RemoteAddr: "192.168.196.186:0", Proto: "HTTP/1.1",
			Header: http.Header{
				"Content-Type":    {"application/json"},
				"X-Forwarded-For": {"54.240.196.186, 54.182.214.83"},
				"Cache-Control":   {"no-cache"},
			},
			ContentLength: int64(len(v2Body)), Body: v2Body,
		},
	}, {
		name: "REST GET with several values",
		src:  lambdahttp.SourceREST,
		raw: edited(t, restSample, func(ev *events.APIGatewayProxyRequest) {
			ev.HTTPMethod = "GET"
			ev.MultiValueHeaders["Accept"] = []string{"text/html", "application/json"}
			ev.MultiValueQueryStringParameters = map[string][]string{"tenant": {"contoso", "fabrikam"}, "wait": {"20"}}
			ev.Body = ""
		}),
		want: seenRequest{
			Source: lambdahttp.SourceREST, Method: "GET", Path: "/hello/world",
			RawQuery: "tenant=contoso&tenant=fabrikam&wait=20", RequestURI: "/hello/world?tenant=contoso&tenant=fabrikam&wait=20",
			Host: "gy415nuibc.execute-api.us-east-1.amazonaws.com", RemoteAddr: "192.168.196.186:0", Proto: "HTTP/1.1",
			Header: http.Header{"Accept": {"text/html", "application/json"}},
		},
	}, {
		name: "REST PATCH from single-value maps with base64 body",
		src:  lambdahttp.SourceREST,
		raw: edited(t, restSample, func(ev *events.APIGatewayProxyRequest) {
			ev.HTTPMethod, ev.Path = "PATCH", ""
			ev.MultiValueHeaders, ev.MultiValueQueryStringParameters = nil, nil
			ev.Headers = map[string]string{"content-type": "application/json"}
			ev.QueryStringParameters = map[string]string{"wait": "5", "a b": "c&d"}
			ev.Body, ev.IsBase64Encoded = b64(`{"syncStatus":"failed"}`), true
		}),
		want: seenRequest{
			Source: lambdahttp.SourceREST, Method: "PATCH", Path: "/hello/world",
			RawQuery: "a+b=c%26d&wait=5", RequestURI: "/hello/world?a+b=c%26d&wait=5",
			Host: "gy415nuibc.execute-api.us-east-2.amazonaws.com", RemoteAddr: "192.168.196.186:0", Proto: "HTTP/1.1",
			Header:        http.Header{"Content-Type": {"application/json"}},
			ContentLength: 23, Body: `{"syncStatus":"failed"}`,
		},
	}, {
		name: "REST OPTIONS without body",
		src:  lambdahttp.SourceREST,
		raw: edited(t, restSample, func(ev *events.APIGatewayProxyRequest) {
			ev.HTTPMethod, ev.Body = "OPTIONS", ""
			ev.MultiValueQueryStringParameters, ev.QueryStringParameters = nil, nil
		}),
		want: seenRequest{
			Source: lambdahttp.SourceREST, Method: "OPTIONS", Path: "/hello/world", RequestURI: "/hello/world",
			Host: "gy415nuibc.execute-api.us-east-1.amazonaws.com", RemoteAddr: "192.168.196.186:0", Proto: "HTTP/1.1",
			Header: http.Header{},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got seenRequest
			if _, err := lambdahttp.Serve(context.Background(), recorder(&got, tt.want.Header), tt.src, tt.raw); err != nil {
				t.Fatalf("Serve() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServeKeepsContext(t *testing.T) {
	t.Parallel()
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "invocation")
	var got any
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Context().Value(key{}) })
	if _, err := lambdahttp.Serve(ctx, h, lambdahttp.SourceHTTPAPI, sample(t, v2Sample)); err != nil {
		t.Fatal(err)
	}
	if want := "invocation"; got != want {
		t.Errorf("context value = %v, want %q", got, want)
	}
	if got := lambdahttp.SourceFrom(ctx); got != "" {
		t.Errorf("SourceFrom(outside Serve) = %q, want \"\"", got)
	}
}

func TestServeResponse(t *testing.T) {
	t.Parallel()
	png := "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		httpAPI  events.APIGatewayV2HTTPResponse // Function URL answers carry the same fields
		rest     events.APIGatewayProxyResponse
		restOnly bool
	}{{
		name: "JSON with cookies and several values",
		handler: func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Add("Vary", "Origin")
			h.Add("Vary", "Accept-Encoding")
			h.Add("Set-Cookie", "a=1; Path=/")
			h.Add("Set-Cookie", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT")
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"result":"started"}`)
		},
		httpAPI: events.APIGatewayV2HTTPResponse{
			StatusCode: 202,
			Headers:    map[string]string{"Content-Type": "application/json", "Vary": "Origin,Accept-Encoding"},
			Body:       `{"result":"started"}`,
			Cookies:    []string{"a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"},
		},
		rest: events.APIGatewayProxyResponse{
			StatusCode: 202,
			Headers:    map[string]string{"Content-Type": "application/json", "Vary": "Origin", "Set-Cookie": "a=1; Path=/"},
			MultiValueHeaders: map[string][]string{
				"Content-Type": {"application/json"},
				"Vary":         {"Origin", "Accept-Encoding"},
				"Set-Cookie":   {"a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"},
			},
			Body: `{"result":"started"}`,
		},
	}, {
		name: "problem+json",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
			w.Header().Set("Retry-After", "412")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"code":"syncThrottled","title":"Sync requested too soon – wait"}`))
		},
		httpAPI: events.APIGatewayV2HTTPResponse{
			StatusCode: 429,
			Headers:    map[string]string{"Content-Type": "application/problem+json; charset=utf-8", "Retry-After": "412"},
			Body:       `{"code":"syncThrottled","title":"Sync requested too soon – wait"}`,
		},
		rest: events.APIGatewayProxyResponse{
			StatusCode: 429,
			Headers:    map[string]string{"Content-Type": "application/problem+json; charset=utf-8", "Retry-After": "412"},
			MultiValueHeaders: map[string][]string{
				"Content-Type": {"application/problem+json; charset=utf-8"}, "Retry-After": {"412"},
			},
			Body: `{"code":"syncThrottled","title":"Sync requested too soon – wait"}`,
		},
	}, {
		name: "binary body",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			io.WriteString(w, png[:8])
			io.WriteString(w, png[8:])
		},
		httpAPI: events.APIGatewayV2HTTPResponse{
			StatusCode: 200, Headers: map[string]string{"Content-Type": "image/png"},
			Body: b64(png), IsBase64Encoded: true,
		},
		rest: events.APIGatewayProxyResponse{
			StatusCode: 200, Headers: map[string]string{"Content-Type": "image/png"},
			MultiValueHeaders: map[string][]string{"Content-Type": {"image/png"}},
			Body:              b64(png), IsBase64Encoded: true,
		},
	}, {
		name: "text type with invalid UTF-8",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "\xff\xfe")
		},
		httpAPI: events.APIGatewayV2HTTPResponse{
			StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain"},
			Body: b64("\xff\xfe"), IsBase64Encoded: true,
		},
		rest: events.APIGatewayProxyResponse{
			StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain"},
			MultiValueHeaders: map[string][]string{"Content-Type": {"text/plain"}},
			Body:              b64("\xff\xfe"), IsBase64Encoded: true,
		},
	}, {
		name:    "sniffed text",
		handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") },
		httpAPI: events.APIGatewayV2HTTPResponse{
			StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}, Body: "hello",
		},
		rest: events.APIGatewayProxyResponse{
			StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"},
			MultiValueHeaders: map[string][]string{"Content-Type": {"text/plain; charset=utf-8"}},
			Body:              "hello",
		},
	}, {
		name:    "sniffed binary",
		handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "\x00\x01\x02") },
		httpAPI: events.APIGatewayV2HTTPResponse{
			StatusCode: 200, Headers: map[string]string{"Content-Type": "application/octet-stream"},
			Body: b64("\x00\x01\x02"), IsBase64Encoded: true,
		},
		rest: events.APIGatewayProxyResponse{
			StatusCode: 200, Headers: map[string]string{"Content-Type": "application/octet-stream"},
			MultiValueHeaders: map[string][]string{"Content-Type": {"application/octet-stream"}},
			Body:              b64("\x00\x01\x02"), IsBase64Encoded: true,
		},
	}, {
		name:    "nothing written",
		handler: func(w http.ResponseWriter, r *http.Request) {},
		httpAPI: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{}},
		rest: events.APIGatewayProxyResponse{
			StatusCode: 200, Headers: map[string]string{}, MultiValueHeaders: map[string][]string{},
		},
	}, {
		name: "OPTIONS 204 with Allow, body refused",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "GET, PATCH, OPTIONS")
			w.Header()["X-Empty"] = nil
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNoContent)
			w.WriteHeader(http.StatusInternalServerError)
			if _, err := io.WriteString(w, "ignored"); err != http.ErrBodyNotAllowed {
				panic("write after 204 accepted")
			}
		},
		httpAPI: events.APIGatewayV2HTTPResponse{StatusCode: 204, Headers: map[string]string{"Allow": "GET, PATCH, OPTIONS"}},
		rest: events.APIGatewayProxyResponse{
			StatusCode: 204, Headers: map[string]string{"Allow": "GET, PATCH, OPTIONS"},
			MultiValueHeaders: map[string][]string{"Allow": {"GET, PATCH, OPTIONS"}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			t.Run("httpApi", func(t *testing.T) {
				got, err := lambdahttp.Serve(ctx, tt.handler, lambdahttp.SourceHTTPAPI, sample(t, v2Sample))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(&tt.httpAPI, got.HTTPAPI); diff != "" {
					t.Errorf("response (-want +got):\n%s", diff)
				}
			})
			t.Run("functionUrl", func(t *testing.T) {
				got, err := lambdahttp.Serve(ctx, tt.handler, lambdahttp.SourceFunctionURL, sample(t, urlSample))
				if err != nil {
					t.Fatal(err)
				}
				want := events.LambdaFunctionURLResponse{
					StatusCode: tt.httpAPI.StatusCode, Headers: tt.httpAPI.Headers, Body: tt.httpAPI.Body,
					IsBase64Encoded: tt.httpAPI.IsBase64Encoded, Cookies: tt.httpAPI.Cookies,
				}
				if diff := cmp.Diff(&want, got.FunctionURL); diff != "" {
					t.Errorf("response (-want +got):\n%s", diff)
				}
			})
			t.Run("rest", func(t *testing.T) {
				got, err := lambdahttp.Serve(ctx, tt.handler, lambdahttp.SourceREST, sample(t, restSample))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(&tt.rest, got.REST); diff != "" {
					t.Errorf("response (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestServeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		src     lambdahttp.Source
		raw     []byte
		wantErr string // a part of the message naming what was expected
	}{
		{"HTTP API truncated", lambdahttp.SourceHTTPAPI, []byte(`{"version":"2.0",`), "API Gateway HTTP API (payload 2.0)"},
		{"HTTP API wrong type", lambdahttp.SourceHTTPAPI, []byte(`{"headers":{"a":1}}`), "API Gateway HTTP API (payload 2.0)"},
		{"HTTP API without method", lambdahttp.SourceHTTPAPI, []byte(`{"version":"2.0","requestContext":{"http":{}}}`), "HTTP method"},
		{"Function URL array", lambdahttp.SourceFunctionURL, []byte(`[]`), "Lambda Function URL"},
		{"Function URL bad method", lambdahttp.SourceFunctionURL, []byte(`{"requestContext":{"http":{"method":"GE T"}}}`), "HTTP method"},
		{"REST wrong type", lambdahttp.SourceREST, []byte(`{"httpMethod":5}`), "API Gateway REST API (payload 1.0)"},
		{"REST null", lambdahttp.SourceREST, []byte(`null`), "HTTP method"},
		{"REST garbage", lambdahttp.SourceREST, []byte(`not json`), "API Gateway REST API (payload 1.0)"},
		{"no source", "", sample(t, v2Sample), `unknown source ""`},
		{"unknown source", "schedule", []byte(scheduledEvent), `unknown source "schedule"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			called := false
			h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
			got, err := lambdahttp.Serve(context.Background(), h, tt.src, tt.raw)
			if err == nil {
				t.Fatalf("Serve() = %+v, want an error", got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Serve() error = %q, want it to mention %q", err, tt.wantErr)
			}
			if called {
				t.Error("handler ran for a malformed event")
			}
		})
	}
}

// TestBadBase64Body: a body marked isBase64Encoded that is not base64 reaches the handler, whose
// reads fail with ErrBodyNotBase64, so the handler can answer 400 rather than fail the invocation.
func TestBadBase64Body(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  lambdahttp.Source
		raw  []byte
	}{
		{"HTTP API", lambdahttp.SourceHTTPAPI, edited(t, v2Sample, func(ev *events.APIGatewayV2HTTPRequest) { ev.Body, ev.IsBase64Encoded = "not base64!", true })},
		{"Function URL", lambdahttp.SourceFunctionURL, edited(t, urlSample, func(ev *events.LambdaFunctionURLRequest) { ev.IsBase64Encoded = true })},
		{"REST", lambdahttp.SourceREST, edited(t, restSample, func(ev *events.APIGatewayProxyRequest) { ev.Body, ev.IsBase64Encoded = "e30", true })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var readErr error
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, readErr = io.ReadAll(r.Body)
				w.WriteHeader(http.StatusBadRequest)
			})
			if _, err := lambdahttp.Serve(context.Background(), h, tt.src, tt.raw); err != nil {
				t.Fatalf("Serve() error = %v, want the handler to answer", err)
			}
			if !errors.Is(readErr, lambdahttp.ErrBodyNotBase64) {
				t.Errorf("read error = %v, want ErrBodyNotBase64", readErr)
			}
		})
	}
}

// echo answers with the request body as an opaque binary body.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Method", r.Method)
	io.Copy(w, r.Body)
})

func FuzzDetectAndServe(f *testing.F) {
	entries, err := testdata.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		f.Add(sample(f, e.Name()))
	}
	for _, s := range []string{scheduledEvent, `{"action":"sync"}`, `[]`, `null`, `""`, `{"httpMethod":"GET","requestContext":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sources := []lambdahttp.Source{lambdahttp.SourceHTTPAPI, lambdahttp.SourceREST, lambdahttp.SourceFunctionURL}
		detected := lambdahttp.Detect(raw)
		if detected != "" && detected != sources[0] && detected != sources[1] && detected != sources[2] {
			t.Fatalf("Detect() = %q, not a Source constant", detected)
		}
		for _, src := range sources {
			resp, err := lambdahttp.Serve(context.Background(), echo, src, raw)
			if err != nil {
				continue // a malformed event is an error, never a panic
			}
			var status int
			var headers map[string]string
			var body string
			var isBase64 bool
			var wantSrc lambdahttp.Source
			switch {
			case resp.HTTPAPI != nil:
				r := resp.HTTPAPI
				wantSrc, status, headers, body, isBase64 = lambdahttp.SourceHTTPAPI, r.StatusCode, r.Headers, r.Body, r.IsBase64Encoded
			case resp.FunctionURL != nil:
				r := resp.FunctionURL
				wantSrc, status, headers, body, isBase64 = lambdahttp.SourceFunctionURL, r.StatusCode, r.Headers, r.Body, r.IsBase64Encoded
			case resp.REST != nil:
				r := resp.REST
				wantSrc, status, headers, body, isBase64 = lambdahttp.SourceREST, r.StatusCode, r.Headers, r.Body, r.IsBase64Encoded
			}
			if wantSrc != src {
				t.Fatalf("Serve(%s) answered in another shape: %+v", src, resp)
			}
			if status != http.StatusOK || headers["X-Method"] == "" {
				t.Errorf("Serve(%s) = status %d, headers %v; want 200 with X-Method", src, status, headers)
			}
			if _, err := base64.StdEncoding.DecodeString(body); isBase64 && err != nil {
				t.Errorf("Serve(%s) body marked base64 does not decode: %v", src, err)
			}
			if _, err := json.Marshal(resp); err != nil {
				t.Errorf("Serve(%s) response does not encode: %v", src, err)
			}
		}
	})
}

func BenchmarkServe(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"result":"started"}`)
	})
	for _, bb := range []struct {
		src  lambdahttp.Source
		file string
	}{{lambdahttp.SourceHTTPAPI, v2Sample}, {lambdahttp.SourceREST, restSample}, {lambdahttp.SourceFunctionURL, urlSample}} {
		raw := sample(b, bb.file)
		b.Run(string(bb.src), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if lambdahttp.Detect(raw) != bb.src {
					b.Fatal("not detected")
				}
				if _, err := lambdahttp.Serve(context.Background(), ok, bb.src, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestServeEventAgreesWithDetectAndServe: ServeEvent, which serves an event decoded once,
// answers exactly what Detect then Serve answer, and refuses every other event.
func TestServeEventAgreesWithDetectAndServe(t *testing.T) {
	t.Parallel()
	files := []string{v2Sample, v2IAM, restSample, urlSample, "alb-lambda-target-request-multivalue-headers.json",
		"apigw-websocket-request.json", "apigw-custom-auth-request-type-request.json", "sqs-event.json"}
	inputs := [][]byte{[]byte(scheduledEvent), []byte(`{"action":"sync"}`), []byte(`{}`)}
	for _, f := range files {
		inputs = append(inputs, sample(t, f))
	}
	for i, raw := range inputs {
		var ev lambdahttp.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
		got, gotErr := lambdahttp.ServeEvent(context.Background(), echo, &ev)
		wantSrc := lambdahttp.Detect(raw)
		if gotSrc := ev.Source(); gotSrc != wantSrc {
			t.Errorf("input %d: Event.Source %q, Detect %q", i, gotSrc, wantSrc)
			continue
		}
		if wantSrc == "" {
			if gotErr == nil {
				t.Errorf("input %d: not HTTP, but ServeEvent answered %+v", i, got)
			}
			continue
		}
		want, wantErr := lambdahttp.Serve(context.Background(), echo, wantSrc, raw)
		if (gotErr != nil) != (wantErr != nil) {
			t.Errorf("input %d: ServeEvent err %v, Serve err %v", i, gotErr, wantErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("input %d (%s): ServeEvent and Serve differ (-Serve +ServeEvent):\n%s", i, wantSrc, diff)
		}
	}
}
