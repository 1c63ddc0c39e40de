package lambdahttp

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// responseWriter buffers what a handler writes; Lambda answers with one JSON document.
type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// Header implements http.ResponseWriter.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter. Like net/http it keeps the first final status,
// drops informational (1xx) ones, which Lambda cannot send, and panics on an impossible code.
func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.status == 0 && code >= 200 {
		w.status = code
	}
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.bodyAllowed() {
		return 0, http.ErrBodyNotAllowed
	}
	return w.body.Write(p)
}

// WriteString lets io.WriteString append without converting to []byte.
func (w *responseWriter) WriteString(s string) (int, error) {
	if !w.bodyAllowed() {
		return 0, http.ErrBodyNotAllowed
	}
	return w.body.WriteString(s)
}

func (w *responseWriter) bodyAllowed() bool {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.status != http.StatusNoContent && w.status != http.StatusNotModified
}

// finish settles the status and, as net/http does, sniffs a Content-Type the handler did not set.
func (w *responseWriter) finish() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if _, set := w.header["Content-Type"]; !set && w.body.Len() > 0 {
		w.header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
}

// encodedBody returns text bodies as they are and anything else in base64.
func (w *responseWriter) encodedBody() (body string, isBase64 bool) {
	b := w.body.Bytes()
	switch {
	case len(b) == 0:
		return "", false
	case isText(w.header.Get("Content-Type")) && utf8.Valid(b):
		return string(b), false
	default:
		return base64.StdEncoding.EncodeToString(b), true
	}
}

// isText reports whether a body of media type contentType reads as text, so that it can travel
// in the JSON response as a plain string.
func isText(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	switch {
	case strings.HasPrefix(mediaType, "text/"),
		strings.HasSuffix(mediaType, "+json"), // application/problem+json
		strings.HasSuffix(mediaType, "+xml"):
		return true
	}
	switch mediaType {
	case "application/json", "application/x-www-form-urlencoded", "application/xml", "application/javascript":
		return true
	}
	return false
}

// joinedHeaders returns each header (but Set-Cookie, which payload 2.0 answers carry as cookies)
// with its values comma-joined, the form payload 2.0 answers expect.
func (w *responseWriter) joinedHeaders() map[string]string {
	headers := make(map[string]string, len(w.header))
	for k, vs := range w.header {
		if len(vs) > 0 && k != "Set-Cookie" {
			headers[k] = strings.Join(vs, ",")
		}
	}
	return headers
}

func (w *responseWriter) httpAPIResponse() events.APIGatewayV2HTTPResponse {
	body, isBase64 := w.encodedBody()
	return events.APIGatewayV2HTTPResponse{
		StatusCode:      w.status,
		Headers:         w.joinedHeaders(),
		Body:            body,
		IsBase64Encoded: isBase64,
		Cookies:         w.header["Set-Cookie"],
	}
}

func (w *responseWriter) functionURLResponse() events.LambdaFunctionURLResponse {
	body, isBase64 := w.encodedBody()
	return events.LambdaFunctionURLResponse{
		StatusCode:      w.status,
		Headers:         w.joinedHeaders(),
		Body:            body,
		IsBase64Encoded: isBase64,
		Cookies:         w.header["Set-Cookie"],
	}
}

// restResponse carries every value in MultiValueHeaders. API Gateway merges Headers into it and
// keeps a value found in both only once, so Headers holds each header's first value: clients
// that read only Headers see what http.Header.Get would, and nothing is sent twice.
func (w *responseWriter) restResponse() events.APIGatewayProxyResponse {
	body, isBase64 := w.encodedBody()
	headers := make(map[string]string, len(w.header))
	for k, vs := range w.header {
		if len(vs) == 0 {
			delete(w.header, k)
			continue
		}
		headers[k] = vs[0]
	}
	return events.APIGatewayProxyResponse{
		StatusCode:        w.status,
		Headers:           headers,
		MultiValueHeaders: w.header,
		Body:              body,
		IsBase64Encoded:   isBase64,
	}
}
