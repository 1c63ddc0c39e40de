package rie

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// maxAnswer bounds the answer Invoke reads (Lambda's synchronous response limit is 6 MB).
const maxAnswer = 6 << 20

// Invoke sends event as one synchronous invocation, with a request id the emulator chooses, and
// returns the function's answer. See InvokeWithID.
func (f *Function) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	return f.InvokeWithID(ctx, "", event)
}

// InvokeWithID sends event as one synchronous invocation whose Lambda request id is requestID
// (the X-Amzn-RequestId header; "" lets the emulator choose one) and returns the function's
// answer: the handler's result or, for a handler error, the runtime's
// {"errorMessage","errorType"}, which the emulator both answers with HTTP 200. Another status, a
// failed request or an answer over 6 MB is an error that carries the answer and the tail of the
// output.
func (f *Function) InvokeWithID(ctx context.Context, requestID string, event []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if requestID != "" {
		req.Header.Set("X-Amzn-RequestId", requestID)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rie: invoke %s: %w\n%s", f.bootstrap, err, f.out.Tail(16<<10))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("rie: invoke %s: read the answer: %w", f.bootstrap, err)
	}
	if len(body) > maxAnswer {
		return nil, fmt.Errorf("rie: invoke %s: the answer is over %d bytes", f.bootstrap, maxAnswer)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("rie: invoke %s: the emulator answered HTTP %d: %.2000s\n%s", f.bootstrap, resp.StatusCode, body, f.out.Tail(16<<10))
	}
	return body, nil
}
