package lambdaevent_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/lambdaevent"
)

// TestSamples: every sample event of events/ is read as the shape its name says, with its source.
func TestSamples(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(autopilotsync.SampleEvents, "*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, name := range names {
		raw, err := fs.ReadFile(autopilotsync.SampleEvents, name)
		if err != nil {
			t.Fatal(err)
		}
		ev, shape := lambdaevent.Read(raw)
		want, wantSource := lambdaevent.Unknown, autopilot.SourceUnknown
		switch {
		case strings.HasPrefix(name, "httpapi-"):
			want, wantSource = lambdaevent.HTTP, autopilot.SourceHTTPAPI
		case strings.HasPrefix(name, "rest-"):
			want, wantSource = lambdaevent.HTTP, autopilot.SourceREST
		case strings.HasPrefix(name, "functionurl-"):
			want, wantSource = lambdaevent.HTTP, autopilot.SourceFunctionURL
		case strings.HasPrefix(name, "schedule"), strings.HasPrefix(name, "scheduler"), strings.HasPrefix(name, "eventbridge"):
			want, wantSource = lambdaevent.Schedule, autopilot.SourceSchedule
		case strings.HasPrefix(name, "sqs-"):
			want, wantSource = lambdaevent.SQS, autopilot.SourceSQS
		case strings.HasPrefix(name, "direct-"):
			want, wantSource = lambdaevent.Direct, autopilot.SourceDirect
		default:
			t.Errorf("%s: a sample of no known kind (name it by its source)", name)
			continue
		}
		if shape != want || ev.Source(shape) != wantSource {
			t.Errorf("%s: shape %d source %q, want %d %q", name, shape, ev.Source(shape), want, wantSource)
		}
	}
}

// TestOtherShapes: events of other AWS sources, and JSON that is no event of ours, are Unknown;
// a direct invocation's fields are read once, lower-cased.
func TestOtherShapes(t *testing.T) {
	t.Parallel()
	// aws-lambda-go's own samples of the look-alikes, as lambdahttp keeps them.
	for _, f := range []string{"alb-lambda-target-request-multivalue-headers.json", "apigw-websocket-request.json", "apigw-custom-auth-request-type-request.json"} {
		raw, err := os.ReadFile(filepath.Join("../lambdahttp/testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if _, shape := lambdaevent.Read(raw); shape != lambdaevent.Unknown {
			t.Errorf("%s: shape %d, want Unknown", f, shape)
		}
	}
	for _, raw := range []string{`null`, `[]`, `"sync"`, `{}`, `{"action":5}`, `{"detail-type":"Scheduled Event","source":"aws.ec2"}`, `{"Records":[{"eventSource":"aws:s3"}]}`} {
		if _, shape := lambdaevent.Read([]byte(raw)); shape != lambdaevent.Unknown {
			t.Errorf("%s: shape %d, want Unknown", raw, shape)
		}
	}
	ev, shape := lambdaevent.Read([]byte(`{"action":"Status","tenant":"Contoso","tenants":"ALL"}`))
	if shape != lambdaevent.Direct || ev.Action != "status" || ev.Tenant != "contoso" || ev.Tenants != "all" {
		t.Errorf("direct: shape %d, %+v", shape, ev)
	}
}
