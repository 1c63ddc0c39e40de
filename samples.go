package autopilotsync

import (
	"embed"
	"io/fs"
)

//go:embed events/*.json
var sampleEvents embed.FS

// SampleEvents holds the sample invocation events of the directory events/, one JSON file per
// source the functions accept, named as there without the directory (for example
// "httpapi-sync.json"): API Gateway HTTP API (payload 2.0) and REST API (payload 1.0) requests,
// buffered Lambda Function URL requests, signed Slack and Teams requests, scheduled events from
// EventBridge rules and EventBridge Scheduler, direct invocations, and an SQS batch of the
// fleet's fan-out messages.
//
// A developer passes a file to `sam local invoke -e events/<file>`; the end-to-end tests, the
// benchmark and the handler tests read the same files from here. The events are realistic in
// every field but carry only placeholder identifiers (account 123456789012, documentation IP
// addresses) and never a credential or token: the signature headers of the Slack and Teams
// samples are placeholders that the tests replace.
//
// fs.Sub fails only for an invalid path, which "events" is not.
var SampleEvents, _ = fs.Sub(sampleEvents, "events")
