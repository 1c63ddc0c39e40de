package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/net/http/httpguts"

	"github.com/autopilot-sync/autopilot-sync/internal/jsonenc"
)

// Source names the kind of HTTP event (used in logs).
type Source string

// The HTTP event shapes that [Serve] understands.
const (
	SourceHTTPAPI     Source = "httpApi"     // API Gateway HTTP API, payload format 2.0
	SourceREST        Source = "rest"        // API Gateway REST API (or HTTP API payload format 1.0)
	SourceFunctionURL Source = "functionUrl" // Lambda Function URL, BUFFERED invoke mode
)

// describe names what an event of src looks like, for error messages.
func (src Source) describe() string {
	switch src {
	case SourceHTTPAPI:
		return "API Gateway HTTP API (payload 2.0)"
	case SourceREST:
		return "API Gateway REST API (payload 1.0)"
	case SourceFunctionURL:
		return "Lambda Function URL"
	}
	return fmt.Sprintf("unknown source %q", string(src))
}

// Event is the union of the fields this package reads from the three HTTP shapes and their
// look-alikes (each JSON name has one type across all of them), so an event is decoded once, for
// telling its shape and for building the request. A reader of every kind of invocation embeds it
// in its own union and decodes the whole invocation once.
type Event struct {
	Version    string `json:"version"`
	HTTPMethod string `json:"httpMethod"`
	// Type is set on Lambda authorizer requests ("REQUEST", "TOKEN"), which also carry HTTP fields.
	Type                            string              `json:"type"`
	Path                            string              `json:"path"`
	RawPath                         string              `json:"rawPath"`
	RawQueryString                  string              `json:"rawQueryString"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	Cookies                         []string            `json:"cookies"`
	Body                            string              `json:"body"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
	RequestContext                  *requestContext     `json:"requestContext"`
}

type requestContext struct {
	DomainName   string    `json:"domainName"`
	ConnectionID string    `json:"connectionId"` // API Gateway WebSocket API
	ELB          *struct{} `json:"elb"`          // Application Load Balancer target
	Path         string    `json:"path"`         // REST
	Protocol     string    `json:"protocol"`     // REST
	Identity     struct {
		SourceIP string `json:"sourceIp"`
	} `json:"identity"` // REST
	HTTP *struct {
		Method   string `json:"method"`
		Path     string `json:"path"`
		Protocol string `json:"protocol"`
		SourceIP string `json:"sourceIp"`
	} `json:"http"` // payload 2.0 and Function URL
}

// Source tells the shape of a decoded event ("" when it is not an HTTP event this package serves).
func (ev *Event) Source() Source {
	rc := ev.RequestContext
	switch {
	case ev.Type != "" || rc == nil || rc.ConnectionID != "" || rc.ELB != nil:
		return ""
	case ev.Version == "2.0" && rc.HTTP != nil && rc.HTTP.Method != "":
		if strings.Contains(rc.DomainName, ".lambda-url.") {
			return SourceFunctionURL
		}
		return SourceHTTPAPI
	case ev.HTTPMethod != "":
		return SourceREST
	}
	return ""
}

// parts takes from ev what an *http.Request needs, as an event of shape src carries it.
func (ev *Event) parts(src Source) parts {
	rc := ev.RequestContext
	if rc == nil {
		rc = &requestContext{}
	}
	if src == SourceREST {
		return parts{
			method: ev.HTTPMethod, path: firstNonEmpty(ev.Path, rc.Path), query: restQuery(ev),
			proto: rc.Protocol, sourceIP: rc.Identity.SourceIP, domainName: rc.DomainName,
			header: headerFromREST(ev), body: ev.Body, isBase64: ev.IsBase64Encoded,
		}
	}
	p := parts{
		query: ev.RawQueryString, domainName: rc.DomainName,
		header: headerFromV2(ev.Headers, ev.Cookies), body: ev.Body, isBase64: ev.IsBase64Encoded,
	}
	if h := rc.HTTP; h != nil {
		p.method, p.path, p.proto, p.sourceIP = h.Method, firstNonEmpty(ev.RawPath, h.Path), h.Protocol, h.SourceIP
	} else {
		p.path = ev.RawPath
	}
	return p
}

// Detect reports which HTTP shape raw is, or "" when it is not an HTTP event (a schedule, an SQS
// batch, a direct invocation, an ALB, WebSocket or authorizer event, or not a JSON object at all).
// A payload 2.0 event whose requestContext.domainName contains ".lambda-url." is a Function URL
// event; any other is an HTTP API event.
func Detect(raw []byte) Source {
	var ev Event
	if json.Unmarshal(raw, &ev) != nil {
		return ""
	}
	return ev.Source()
}

// ServeEvent serves a decoded event of an HTTP shape through h: the request built from it carries
// ctx (and the shape, see [SourceFrom]). Its errors are Serve's, but for decoding, which the
// caller did.
func ServeEvent(ctx context.Context, h http.Handler, ev *Event) (Response, error) {
	src := ev.Source()
	if src == "" {
		return Response{}, errors.New("lambdahttp: not an API Gateway HTTP API, REST API or Lambda Function URL event")
	}
	return serve(ctx, h, src, ev.parts(src))
}

type sourceKey struct{}

// SourceFrom returns the Source stored in a request's context by [Serve] ("" outside Lambda).
func SourceFrom(ctx context.Context) Source {
	src, _ := ctx.Value(sourceKey{}).(Source)
	return src
}

// Serve decodes raw as an event of src, builds an *http.Request carrying ctx (and src, see
// [SourceFrom]), runs h, and returns what h wrote as the response type of src (see Response).
//
// It returns an error, and does not run h, when src is not one of the Source constants, when raw
// does not decode as an event of src, or when the event has no valid HTTP method. The error
// names the expected event shape. A body marked isBase64Encoded that is not valid base64 reaches
// h as a body whose reads fail with ErrBodyNotBase64.
func Serve(ctx context.Context, h http.Handler, src Source, raw []byte) (Response, error) {
	switch src {
	case SourceHTTPAPI, SourceFunctionURL, SourceREST:
	default:
		return Response{}, fmt.Errorf("lambdahttp: %s: expected one of %q, %q, %q",
			src.describe(), SourceHTTPAPI, SourceREST, SourceFunctionURL)
	}
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return Response{}, fmt.Errorf("decode %s event: %w", src.describe(), err)
	}
	return serve(ctx, h, src, ev.parts(src))
}

// Response is the answer to an HTTP event in the type its shape takes: exactly one field is set.
// It encodes as that field.
type Response struct {
	HTTPAPI     *events.APIGatewayV2HTTPResponse
	REST        *events.APIGatewayProxyResponse
	FunctionURL *events.LambdaFunctionURLResponse
}

// MarshalJSON encodes the field that is set (null when none is), without HTML escaping, as the
// Lambda runtime encodes results.
func (r Response) MarshalJSON() ([]byte, error) {
	switch {
	case r.HTTPAPI != nil:
		return jsonenc.Marshal(r.HTTPAPI)
	case r.REST != nil:
		return jsonenc.Marshal(r.REST)
	case r.FunctionURL != nil:
		return jsonenc.Marshal(r.FunctionURL)
	}
	return []byte("null"), nil
}

// serve builds the request of p, runs h, and encodes what h wrote as the response type of src.
func serve(ctx context.Context, h http.Handler, src Source, p parts) (Response, error) {
	req, err := p.request(context.WithValue(ctx, sourceKey{}, src))
	if err != nil {
		return Response{}, fmt.Errorf("malformed %s event: %w", src.describe(), err)
	}

	w := responseWriter{header: make(http.Header)}
	h.ServeHTTP(&w, req)
	w.finish()
	switch src {
	case SourceHTTPAPI:
		r := w.httpAPIResponse()
		return Response{HTTPAPI: &r}, nil
	case SourceFunctionURL:
		r := w.functionURLResponse()
		return Response{FunctionURL: &r}, nil
	default:
		r := w.restResponse()
		return Response{REST: &r}, nil
	}
}

// parts is what every event shape contributes to an *http.Request.
type parts struct {
	method, path, query, proto, sourceIP, domainName, body string
	isBase64                                               bool
	header                                                 http.Header
}

// request builds a request shaped like the ones net/http's server hands to handlers.
func (p parts) request(ctx context.Context) (*http.Request, error) {
	if !httpguts.ValidHeaderFieldName(p.method) { // a method is an RFC 9110 token, as a header name is
		return nil, fmt.Errorf("missing or invalid HTTP method %q", p.method)
	}
	body, n, err := requestBody(p.body, p.isBase64)
	if err != nil {
		return nil, err
	}

	u := &url.URL{Path: p.path, RawQuery: p.query}
	if path, err := url.PathUnescape(p.path); err == nil && path != p.path {
		u.Path, u.RawPath = path, p.path
	}
	if u.Path == "" {
		u.Path = "/"
	}

	proto := p.proto
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		proto, major, minor = "HTTP/1.1", 1, 1
	}

	// As net/http's server does, move the Host header into Request.Host.
	host := p.header.Get("Host")
	delete(p.header, "Host")
	if host == "" {
		host = p.domainName
	}

	// The port of the caller is unknown; ":0" keeps net.SplitHostPort(r.RemoteAddr) working.
	var remoteAddr string
	if p.sourceIP != "" {
		remoteAddr = net.JoinHostPort(p.sourceIP, "0")
	}

	req := &http.Request{
		Method:        p.method,
		URL:           u,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        p.header,
		Body:          body,
		ContentLength: n,
		Host:          host,
		RemoteAddr:    remoteAddr,
		RequestURI:    u.RequestURI(),
	}
	return req.WithContext(ctx), nil
}

// ErrBodyNotBase64 is what reading a request body marked isBase64Encoded returns when the body
// is not base64: the handler answers it as a bad request (a 400), not Lambda as a failed
// invocation (which API Gateway would show as a 500).
var ErrBodyNotBase64 = errors.New("body marked isBase64Encoded is not base64")

// requestBody returns the body as a reader over the event's own string when it is not base64,
// so the body is never copied.
func requestBody(body string, isBase64 bool) (io.ReadCloser, int64, error) {
	if isBase64 {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return io.NopCloser(failingReader{fmt.Errorf("%w: %w", ErrBodyNotBase64, err)}), -1, nil
		}
		if len(b) == 0 {
			return http.NoBody, 0, nil
		}
		return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
	}
	if body == "" {
		return http.NoBody, 0, nil
	}
	return io.NopCloser(strings.NewReader(body)), int64(len(body)), nil
}

// failingReader is a body whose every read fails with err.
type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

// headerFromV2 converts payload 2.0 headers, whose repeated values API Gateway has already
// comma-joined, and its separate cookies list.
func headerFromV2(headers map[string]string, cookies []string) http.Header {
	h := make(http.Header, len(headers)+1)
	values := make([]string, len(headers)) // one backing array for all single values
	i := 0
	for k, v := range headers {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		values[i] = v
		if prev, ok := h[ck]; ok {
			h[ck] = append(prev, v)
		} else {
			h[ck] = values[i : i+1 : i+1] // full slice expression: appends never touch a neighbour
		}
		i++
	}
	if len(cookies) > 0 {
		h["Cookie"] = append(h["Cookie"], strings.Join(cookies, "; "))
	}
	return h
}

// headerFromREST prefers multiValueHeaders, which keep repeated headers apart.
func headerFromREST(ev *Event) http.Header {
	if len(ev.MultiValueHeaders) == 0 {
		return headerFromV2(ev.Headers, nil)
	}
	h := make(http.Header, len(ev.MultiValueHeaders))
	for k, vs := range ev.MultiValueHeaders {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if prev, ok := h[ck]; ok {
			h[ck] = append(prev, vs...)
		} else {
			h[ck] = vs
		}
	}
	return h
}

// restQuery rebuilds the query string, which payload 1.0 only delivers already decoded.
func restQuery(ev *Event) string {
	if len(ev.MultiValueQueryStringParameters) > 0 {
		return url.Values(ev.MultiValueQueryStringParameters).Encode()
	}
	if len(ev.QueryStringParameters) == 0 {
		return ""
	}
	q := make(url.Values, len(ev.QueryStringParameters))
	for k, v := range ev.QueryStringParameters {
		q[k] = []string{v}
	}
	return q.Encode()
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
