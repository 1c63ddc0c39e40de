package graph

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"120", 120 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"2.128", 2128 * time.Millisecond, true},
		{"0", 0, true},
		{"-3", 0, true},
		{"1e12", 24 * time.Hour, true},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestNewError(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)
	intune429 := `{"error":{"code":"TooManyRequests","message":"{\r\n  \"_version\": 3,\r\n  \"Message\": \"Too many requests\"\r\n}","innerError":{"date":"2026-11-28T15:00:00","request-id":"body-rid","client-request-id":"body-crid"}}}`
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   Error
	}{
		{
			name:   "intune 429 without Retry-After",
			status: 429,
			header: http.Header{"Request-Id": {"hdr-rid"}},
			body:   intune429,
			want: Error{StatusCode: 429, Code: "TooManyRequests", Message: "{\r\n  \"_version\": 3,\r\n  \"Message\": \"Too many requests\"\r\n}",
				RequestID: "body-rid", ClientRequestID: "body-crid", Date: "2026-11-28T15:00:00"},
		},
		{
			name:   "fractional Retry-After",
			status: 429,
			header: http.Header{"Retry-After": {"2.5"}},
			body:   intune429,
			want: Error{StatusCode: 429, Code: "TooManyRequests", Message: "{\r\n  \"_version\": 3,\r\n  \"Message\": \"Too many requests\"\r\n}",
				RequestID: "body-rid", ClientRequestID: "body-crid", Date: "2026-11-28T15:00:00", RetryAfter: 2500 * time.Millisecond, HasRetryAfter: true},
		},
		{
			name:   "not JSON keeps headers",
			status: 502,
			header: http.Header{"Request-Id": {"hdr-rid"}, "Client-Request-Id": {"hdr-crid"}, "Date": {"Sat, 28 Nov 2026 15:00:00 GMT"}},
			body:   "<html>Bad gateway</html>",
			want:   Error{StatusCode: 502, RequestID: "hdr-rid", ClientRequestID: "hdr-crid", Date: "Sat, 28 Nov 2026 15:00:00 GMT"},
		},
		{
			name:   "empty body falls back to the id we sent",
			status: 403,
			header: http.Header{},
			want:   Error{StatusCode: 403, ClientRequestID: "sent-crid"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := &http.Response{StatusCode: tt.status, Header: tt.header}
			got := newError(resp, "sent-crid", []byte(tt.body), now)
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("newError mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorStringOmitsMessage(t *testing.T) {
	t.Parallel()
	e := &Error{StatusCode: 429, Code: "TooManyRequests", Message: "internal details", RequestID: "rid"}
	got := e.Error()
	if want := "graph: 429 Too Many Requests (TooManyRequests) request-id rid"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if strings.Contains(got, "internal details") {
		t.Error("Error() leaks the message")
	}
}

func TestScope(t *testing.T) {
	t.Parallel()
	tests := []struct{ base, want string }{
		{"https://graph.microsoft.com/beta", "https://graph.microsoft.com/.default"},
		{"https://graph.microsoft.us/beta", "https://graph.microsoft.us/.default"},
		{"https://dod-graph.microsoft.us/beta", "https://dod-graph.microsoft.us/.default"},
		{"https://microsoftgraph.chinacloudapi.cn/beta", "https://microsoftgraph.chinacloudapi.cn/.default"},
		{"https://127.0.0.1:8443/beta", "https://127.0.0.1/.default"},
	}
	for _, tt := range tests {
		got, err := Scope(tt.base)
		if err != nil || got != tt.want {
			t.Errorf("Scope(%q) = %q, %v; want %q", tt.base, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "graph.microsoft.com/beta", "http://graph.microsoft.com/beta", "https://"} {
		if _, err := Scope(bad); err == nil {
			t.Errorf("Scope(%q) succeeded, want an error", bad)
		}
	}
}

func TestSyncStatusKnown(t *testing.T) {
	t.Parallel()
	for _, s := range []SyncStatus{SyncStatusUnknown, SyncStatusInProgress, SyncStatusCompleted, SyncStatusFailed} {
		if !s.Known() {
			t.Errorf("%q.Known() = false", s)
		}
	}
	if SyncStatus("unknownFutureValue").Known() {
		t.Error(`"unknownFutureValue".Known() = true`)
	}
}
