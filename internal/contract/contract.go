// Package contract checks HTTP answers against openapi.yaml, so that the document cannot drift
// from the code: the api unit tests, the local server's tests and the end-to-end tests pass every
// answer they see through Check, and every callback a receiver gets through CheckCallback. It is
// test support only: no function binary imports it.
package contract

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
)

// serverURL is the document's local server; requests are matched against it.
const serverURL = "http://127.0.0.1:8080"

// callbackWebhook is the webhooks entry of openapi.yaml that documents callbacks (SPEC §13).
const callbackWebhook = "syncOutcome"

var (
	loadOnce sync.Once
	document *openapi3.T
	router   routers.Router
	loadErr  error
)

func load() (routers.Router, error) {
	loadOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(autopilotsync.OpenAPI)
		if err != nil {
			loadErr = fmt.Errorf("openapi.yaml: %w", err)
			return
		}
		if err := doc.Validate(loader.Context); err != nil {
			loadErr = fmt.Errorf("openapi.yaml is not valid: %w", err)
			return
		}
		document = doc
		router, loadErr = legacy.NewRouter(doc)
	})
	return router, loadErr
}

// Exchange is one request and its answer, as a caller saw them.
type Exchange struct {
	Method     string
	Path       string // "/sync" or "/status"
	RawQuery   string
	Header     http.Header // request headers (Content-Type matters for chat)
	Status     int
	RespHeader http.Header
	Body       []byte
}

// Check returns an error when the answer is not one openapi.yaml documents for the request:
// an undocumented status, a missing required header, a body that does not match its schema.
func Check(x Exchange) error {
	r, err := load()
	if err != nil {
		return err
	}
	u, _ := url.Parse(serverURL + x.Path)
	u.RawQuery = x.RawQuery
	req, err := http.NewRequestWithContext(context.Background(), x.Method, u.String(), nil)
	if err != nil {
		return err
	}
	for k, v := range x.Header {
		req.Header[k] = v
	}
	route, pathParams, err := r.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s: no such operation in openapi.yaml: %w", x.Method, x.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: pathParams,
			Route:      route,
		},
		Status: x.Status,
		Header: x.RespHeader,
		Body:   io.NopCloser(bytes.NewReader(x.Body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s?%s → %d does not match openapi.yaml: %w\nbody: %.500s", x.Method, x.Path, x.RawQuery, x.Status, err, x.Body)
	}
	return nil
}

// CheckCallback returns an error when a callback request, as its receiver got it (header and
// body), is not one the webhooks entry syncOutcome of openapi.yaml documents: a body that does
// not match CallbackEvent, a Standard Webhooks header of the wrong form, a Content-Type other
// than application/json.
func CheckCallback(header http.Header, body []byte) error {
	if _, err := load(); err != nil {
		return err
	}
	item := document.Webhooks[callbackWebhook]
	if item == nil || item.Post == nil {
		return fmt.Errorf("openapi.yaml: no webhooks entry %s with a post operation", callbackWebhook)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "https://receiver.invalid/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req,
		Route:   &routers.Route{Spec: document, Path: "/", PathItem: item, Method: http.MethodPost, Operation: item.Post},
		Options: &openapi3filter.Options{MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return fmt.Errorf("callback does not match the webhook %s of openapi.yaml: %w\nbody: %.500s", callbackWebhook, err, body)
	}
	return nil
}
