package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

// patchSamples are real PATCH bodies (action/testdata/patch-bodies.json): what the README and the
// events/ samples send, what people try, and what breaks the decoder.
var patchSamples = func() []struct{ ContentType, Body string } {
	data, err := os.ReadFile("../action/testdata/patch-bodies.json")
	if err != nil {
		panic(err)
	}
	var out []struct{ ContentType, Body string }
	if err := json.Unmarshal(data, &out); err != nil {
		panic(err)
	}
	return out
}()

// fuzzIntune is a fake Intune whose answers the fuzzer picks: success, or one of the errors the
// Graph path returns (for the reads too, unless mode/10 is odd: the sync fails but the read of
// the settings after it works).
func fuzzIntune(mode uint8) *fakeIntune {
	var e error
	switch mode % 10 {
	case 1:
		e = &graph.Error{StatusCode: 409, Code: "Conflict", RequestID: "rid", ClientRequestID: "crid"}
	case 2:
		e = &graph.Error{StatusCode: 429, Code: "TooManyRequests", RetryAfter: 2128 * time.Millisecond, HasRetryAfter: true}
	case 3:
		e = &graph.Error{StatusCode: 429, Code: "TooManyRequests"}
	case 4:
		e = &graph.Error{StatusCode: 403, Code: "Forbidden"}
	case 5:
		e = &graph.Error{StatusCode: 503, Code: "ServiceUnavailable", RetryAfter: 7 * time.Second, HasRetryAfter: true}
	case 6:
		e = context.DeadlineExceeded
	case 7:
		e = errors.New("graph: GET windowsAutopilotSettings: connection reset by peer")
	}
	now := time.Now().UTC()
	f := &fakeIntune{syncErr: e, updateErr: e, getErr: e, settings: graph.Settings{ID: "bd7faf38-5b15-4b49-a473-f6ec8954d9cb", SyncStatus: graph.SyncStatusCompleted,
		LastSyncDateTime: now, LastManualSyncTriggerDateTime: now.Add(-3 * time.Minute)}}
	if mode/10%2 == 1 {
		f.getErr = nil
	}
	return f
}

// sampleRequest is the HTTP part of an events/ sample, whatever its shape.
type sampleRequest struct {
	HTTPMethod     string            `json:"httpMethod"`
	Headers        map[string]string `json:"headers"`
	RawQueryString string            `json:"rawQueryString"`
	Query          map[string]string `json:"queryStringParameters"`
	Body           string            `json:"body"`
	Base64         bool              `json:"isBase64Encoded"`
	RequestContext struct {
		HTTP struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
}

func FuzzServeHTTP(f *testing.F) {
	names, err := fs.Glob(autopilotsync.SampleEvents, "*.json")
	if err != nil {
		f.Fatal(err)
	}
	for i, name := range names {
		data, err := fs.ReadFile(autopilotsync.SampleEvents, name)
		if err != nil {
			f.Fatal(err)
		}
		var s sampleRequest
		if json.Unmarshal(data, &s) != nil {
			continue
		}
		method := s.RequestContext.HTTP.Method
		if method == "" {
			method = s.HTTPMethod
		}
		if method == "" {
			continue // a schedule, not an HTTP request
		}
		query := s.RawQueryString
		if query == "" && len(s.Query) > 0 {
			v := url.Values{}
			for k, q := range s.Query {
				v.Set(k, q)
			}
			query = v.Encode()
		}
		body := []byte(s.Body)
		if s.Base64 {
			if body, err = base64.StdEncoding.DecodeString(s.Body); err != nil {
				f.Fatal(err)
			}
		}
		contentType := ""
		for k, v := range s.Headers {
			if strings.EqualFold(k, "content-type") {
				contentType = v
			}
		}
		isSync := strings.Contains(name, "sync")
		for mode := range uint8(8) {
			f.Add(isSync, method, contentType, query, body, mode+uint8(i%2)*10)
		}
	}
	for _, s := range patchSamples {
		f.Add(false, http.MethodPatch, s.ContentType, "", []byte(s.Body), uint8(0))
	}
	for _, q := range []string{"wait=0", "wait=2", "wait=26", "wait=-1", "wait=soon", "wait=1&wait=2", "wait", "%zz", "tenant=contoso"} {
		f.Add(true, http.MethodPost, "", q, []byte(nil), uint8(0))
	}
	f.Add(true, http.MethodOptions, "", "", []byte(nil), uint8(0))
	f.Add(false, http.MethodDelete, "", "", []byte(nil), uint8(0))
	f.Add(true, http.MethodPost, "application/json", "", bytes.Repeat([]byte("x"), MaxBodyBytes+1), uint8(0))

	f.Fuzz(func(t *testing.T, isSync bool, method, contentType, query string, body []byte, mode uint8) {
		kind, path := autopilot.FunctionStatus, "/status"
		if isSync {
			kind, path = autopilot.FunctionSync, "/sync"
		}
		intune := fuzzIntune(mode)
		fn := New(kind, Deps{Deps: action.Deps{Intune: intune}, AllowUnauthenticated: true})
		// A deadline close enough that ?wait=N ends at once: the answer is then 202 inProgress.
		ctx, cancel := context.WithTimeout(context.Background(), deadlineMargin+20*time.Millisecond)
		defer cancel()
		r, err := http.NewRequestWithContext(ctx, method, "http://autopilot-sync.example"+path, bytes.NewReader(body))
		if err != nil {
			return // not a method net/http can carry
		}
		r.URL.RawQuery = query
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		fn.ServeHTTP(w, r)

		status := w.Code
		// A 504 is right once the deadline has passed: on a busy machine the 20 ms can run out
		// before the fake answers (seen under -race with a load of 9 on 2 cores).
		timedOut := status == http.StatusGatewayTimeout && ctx.Err() != nil
		if status >= 500 && !intune.erred() && !timedOut {
			t.Fatalf("%s %s?%s (%q, %q): %d without an upstream error: %s", method, path, query, contentType, body, status, w.Body)
		}
		if status == http.StatusNoContent {
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("%d answer is not JSON: %v: %q", status, err, w.Body)
		}
		if status >= 400 {
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%d answer has Content-Type %q", status, ct)
			}
			if code, _ := doc["code"].(string); code == "" || doc["status"] != float64(status) {
				t.Fatalf("%d answer is not a problem with a code: %s", status, w.Body)
			}
		}
		if status == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
			t.Fatal("405 without Allow")
		}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			if n, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || n < 1 {
				t.Fatalf("%d without a whole-seconds Retry-After: %q", status, w.Header().Get("Retry-After"))
			}
		}
	})
}
