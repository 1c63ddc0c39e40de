package autopilotsync_test

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
	"github.com/autopilot-sync/autopilot-sync/internal/lambdahttp"
)

// request is what the handler sees of an HTTP sample.
type request struct {
	Method, Path, RawQuery, ContentType, Body string
}

var samples = []struct {
	file   string
	decode func() any // a pointer to the aws-lambda-go type the event decodes into
	source lambdahttp.Source
	want   request // for HTTP samples
}{
	{"httpapi-sync.json", v2, lambdahttp.SourceHTTPAPI, request{Method: "POST", Path: "/sync"}},
	{"httpapi-sync-wait.json", v2, lambdahttp.SourceHTTPAPI, request{Method: "POST", Path: "/sync", RawQuery: "wait=20"}},
	{"httpapi-status.json", v2, lambdahttp.SourceHTTPAPI, request{Method: "GET", Path: "/status"}},
	{"httpapi-status-patch.json", v2, lambdahttp.SourceHTTPAPI, request{
		Method: "PATCH", Path: "/status", ContentType: "application/json", Body: `{"syncStatus":"completed"}`,
	}},
	{"httpapi-status-patch-base64.json", v2, lambdahttp.SourceHTTPAPI, request{
		Method: "PATCH", Path: "/status", ContentType: "application/json", Body: `{"syncStatus":"completed"}`,
	}},
	{"httpapi-slack-sync.json", v2, lambdahttp.SourceHTTPAPI, request{
		Method: "POST", Path: "/sync", ContentType: "application/x-www-form-urlencoded", Body: `token=EXAMPLEverificationTOKEN&team_id=T0EXAMPLE&team_domain=example&channel_id=C0EXAMPLE&channel_name=it-ops&user_id=U0EXAMPLE&user_name=roadrunner&command=%2Fautopilot-sync&text=sync&api_app_id=A0EXAMPLE&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0EXAMPLE%2F1%2FEXAMPLE&trigger_id=1.2.EXAMPLE`,
	}},
	{"httpapi-teams-sync.json", v2, lambdahttp.SourceHTTPAPI, request{
		Method: "POST", Path: "/sync", ContentType: "application/json; charset=utf-8", Body: `{"type":"message","id":"1795878000123","timestamp":"2026-11-28T15:00:00.123Z","localTimestamp":"2026-11-28T16:00:00.123+01:00","serviceUrl":"https://smba.trafficmanager.net/emea/","channelId":"msteams","from":{"id":"29:1EXAMPLE","name":"Ada Lovelace","aadObjectId":"00000000-0000-4000-8000-00000000ada0"},"conversation":{"isGroup":true,"id":"19:EXAMPLE@thread.tacv2;messageid=1795878000123","name":null,"conversationType":"channel","tenantId":"00000000-0000-4000-8000-000000000001"},"recipient":null,"textFormat":"plain","attachmentLayout":null,"membersAdded":[],"membersRemoved":[],"topicName":null,"historyDisclosed":null,"locale":"en-US","text":"<at>Autopilot</at> sync\n","speak":null,"inputHint":null,"summary":null,"suggestedActions":null,"attachments":[{"contentType":"text/html","contentUrl":null,"content":"<div><div><span itemscope=\"\" itemtype=\"http://schema.skype.com/Mention\" itemid=\"0\">Autopilot</span> sync</div>\n</div>","name":null,"thumbnailUrl":null}],"entities":[{"type":"clientInfo","locale":"en-US","country":"US","platform":"Web"}],"channelData":{"teamsChannelId":"19:EXAMPLE@thread.tacv2","teamsTeamId":"19:EXAMPLETEAM@thread.tacv2","channel":{"id":"19:EXAMPLE@thread.tacv2"},"team":{"id":"19:EXAMPLETEAM@thread.tacv2"},"tenant":{"id":"00000000-0000-4000-8000-000000000001"}},"action":null,"replyToId":null,"value":null,"name":null,"relatesTo":null,"code":null}`,
	}},
	{"rest-sync.json", restAPI, lambdahttp.SourceREST, request{Method: "POST", Path: "/sync"}},
	{"rest-status.json", restAPI, lambdahttp.SourceREST, request{Method: "GET", Path: "/status"}},
	{"functionurl-sync.json", functionURL, lambdahttp.SourceFunctionURL, request{Method: "POST", Path: "/sync"}},
	{"functionurl-status.json", functionURL, lambdahttp.SourceFunctionURL, request{Method: "GET", Path: "/status"}},
	{"schedule-eventbridge.json", eventBridge, "", request{}},
	{"sqs-fleet.json", sqsBatch, "", request{}},
	{"direct-sync.json", direct, "", request{}},
	{"direct-fanout.json", direct, "", request{}},
	{"schedule-scheduler.json", eventBridge, "", request{}},
}

func v2() any          { return new(events.APIGatewayV2HTTPRequest) }
func restAPI() any     { return new(events.APIGatewayProxyRequest) }
func functionURL() any { return new(events.LambdaFunctionURLRequest) }
func eventBridge() any { return new(events.EventBridgeEvent) }
func sqsBatch() any    { return new(events.SQSEvent) }

// direct invocations have no aws-lambda-go type: they are the caller's own JSON.
func direct() any { return new(map[string]any) }

func read(t *testing.T, file string) []byte {
	t.Helper()
	raw, err := fs.ReadFile(autopilotsync.SampleEvents, file)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestEveryFileHasACase(t *testing.T) {
	t.Parallel()
	files, err := fs.Glob(autopilotsync.SampleEvents, "*")
	if err != nil {
		t.Fatal(err)
	}
	var tested []string
	for _, s := range samples {
		tested = append(tested, s.file)
	}
	if diff := cmp.Diff(tested, files, cmp.Transformer("sort", sorted)); diff != "" {
		t.Errorf("sample files (-tested +present):\n%s", diff)
	}
}

// TestRoundTrip decodes each sample into its aws-lambda-go type and encodes it again, as
// aws-lambda-go's events/test/assert.go does, so a misspelt or misplaced field shows up as lost.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			t.Parallel()
			in := read(t, s.file)
			ev := s.decode()
			if err := json.Unmarshal(in, ev); err != nil {
				t.Fatalf("decode into %T: %v", ev, err)
			}
			out, err := json.Marshal(ev)
			if err != nil {
				t.Fatalf("encode %T: %v", ev, err)
			}
			if diff := cmp.Diff(generic(t, in), generic(t, out)); diff != "" {
				t.Errorf("round trip through %T (-file +re-encoded):\n%s", ev, diff)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			t.Parallel()
			if got, want := lambdahttp.Detect(read(t, s.file)), s.source; got != want {
				t.Errorf("Detect() = %q, want %q", got, want)
			}
		})
	}
}

// TestServe checks that each HTTP sample is the request its name promises.
func TestServe(t *testing.T) {
	t.Parallel()
	for _, s := range samples {
		if s.source == "" {
			continue
		}
		t.Run(s.file, func(t *testing.T) {
			t.Parallel()
			var got request
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					t.Error(err)
				}
				got = request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), string(body)}
			})
			if _, err := lambdahttp.Serve(context.Background(), h, s.source, read(t, s.file)); err != nil {
				t.Fatalf("Serve() error = %v", err)
			}
			if diff := cmp.Diff(s.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSchedules(t *testing.T) {
	t.Parallel()
	for file, wantSource := range map[string]string{
		"schedule-eventbridge.json": "aws.events",
		"schedule-scheduler.json":   "aws.scheduler",
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			var ev events.EventBridgeEvent
			if err := json.Unmarshal(read(t, file), &ev); err != nil {
				t.Fatal(err)
			}
			got := []string{ev.DetailType, ev.Source}
			want := []string{"Scheduled Event", wantSource}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("detail-type, source (-want +got):\n%s", diff)
			}
			if len(ev.Resources) != 1 || !strings.HasPrefix(ev.Resources[0], "arn:aws:"+strings.TrimPrefix(wantSource, "aws.")+":") {
				t.Errorf("resources = %q, want one %s ARN", ev.Resources, wantSource)
			}
		})
	}
}

// generic decodes raw into plain JSON values for comparison. Zero values (null, false, 0, "",
// {} and []) are pruned on both sides: the aws-lambda-go types drop the nulls API Gateway sends
// (omitempty) and always emit a few fields the service leaves out (payload 2.0's
// requestContext.authentication). Anything with a value that a type does not carry still differs.
func generic(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return prune(v)
}

func prune(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e = prune(e); e == nil {
				delete(v, k)
			} else {
				v[k] = e
			}
		}
		if len(v) == 0 {
			return nil
		}
	case []any:
		for i, e := range v {
			v[i] = prune(e)
		}
		if len(v) == 0 {
			return nil
		}
	case bool:
		if !v {
			return nil
		}
	case float64:
		if v == 0 {
			return nil
		}
	case string:
		if v == "" {
			return nil
		}
	}
	return v
}

func sorted(in []string) []string {
	out := append([]string(nil), in...)
	slices.Sort(out)
	return out
}
