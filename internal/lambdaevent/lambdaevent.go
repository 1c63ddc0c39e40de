// Package lambdaevent reads a Lambda invocation of either function once, decoding its JSON a
// single time into the union of the shapes the functions take: an HTTP event (API Gateway HTTP
// API, REST API, Lambda Function URL; package lambdahttp serves it), an EventBridge schedule, a
// direct invocation ({"action":…}) or an SQS batch. It says which shape the event has and hands
// over its fields.
//
// It only reads. It never decides what an invocation asks for (the action table does), never
// checks a caller, and never decodes an SQS message's body (each queue's consumer does, once).
package lambdaevent

import (
	"encoding/json"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/lambdahttp"
)

// Shape is what kind of invocation an event is.
type Shape int

// The shapes, in the order they are told apart.
const (
	// Unknown is any other event (or not a JSON object): the functions refuse it.
	Unknown Shape = iota
	// HTTP is an API Gateway HTTP API (payload 2.0), REST API (payload 1.0) or Lambda Function URL
	// event: Event.HTTP.
	HTTP
	// Schedule is an EventBridge rule or Scheduler event (detail-type "Scheduled Event", source
	// aws.events or aws.scheduler): Event.Tenant.
	Schedule
	// SQS is a batch of SQS records: Event.Records.
	SQS
	// Direct is a direct invocation {"action":…}: Event.Action, Tenant and Tenants.
	Direct
)

// Event is one invocation, decoded once. Only the fields of its Shape mean anything.
type Event struct {
	// HTTP is the event of an HTTP shape.
	lambdahttp.Event

	// DetailType and EventSource tell an EventBridge scheduled event.
	DetailType  string `json:"detail-type"`
	EventSource string `json:"source"`

	// Action, Tenant and Tenants are a direct invocation's ({"action":"sync","tenant":"contoso"},
	// {"action":"sync","tenants":"all"}); Tenant also selects the tenant of a scheduled event.
	// Read lower-cases them.
	Action  string `json:"action"`
	Tenant  string `json:"tenant"`
	Tenants string `json:"tenants"`

	// Records are an SQS batch's.
	Records []events.SQSMessage `json:"Records"`
}

// Read decodes raw once and tells its shape. Any decoding error makes it Unknown.
func Read(raw []byte) (*Event, Shape) {
	ev := &Event{}
	if err := json.Unmarshal(raw, ev); err != nil {
		return &Event{}, Unknown
	}
	ev.Action, ev.Tenant, ev.Tenants = strings.ToLower(ev.Action), strings.ToLower(ev.Tenant), strings.ToLower(ev.Tenants)
	switch {
	case ev.Event.Source() != "":
		return ev, HTTP
	case ev.DetailType == "Scheduled Event" && (ev.EventSource == "aws.events" || ev.EventSource == "aws.scheduler"):
		return ev, Schedule
	case len(ev.Records) > 0 && ev.Records[0].EventSource == "aws:sqs":
		return ev, SQS
	case ev.Action != "":
		return ev, Direct
	}
	return ev, Unknown
}

// Source is the log line's source of an event of shape s (for HTTP, the shape of its event).
func (ev *Event) Source(s Shape) autopilot.Source {
	switch s {
	case HTTP:
		return HTTPSource(ev.Event.Source())
	case Schedule:
		return autopilot.SourceSchedule
	case SQS:
		return autopilot.SourceSQS
	case Direct:
		return autopilot.SourceDirect
	}
	return autopilot.SourceUnknown
}

// HTTPSource is the log line's source of an HTTP event shape ("" outside Lambda: cmd/local).
func HTTPSource(s lambdahttp.Source) autopilot.Source {
	switch s {
	case lambdahttp.SourceHTTPAPI:
		return autopilot.SourceHTTPAPI
	case lambdahttp.SourceREST:
		return autopilot.SourceREST
	case lambdahttp.SourceFunctionURL:
		return autopilot.SourceFunctionURL
	}
	return autopilot.SourceLocal
}
