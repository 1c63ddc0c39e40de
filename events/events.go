// Package events holds sample invocation events, one JSON file per source the functions accept:
// API Gateway HTTP API (payload 2.0) and REST API (payload 1.0) requests, buffered Lambda Function
// URL requests, signed Slack and Teams requests, scheduled events from EventBridge rules and
// EventBridge Scheduler, direct invocations, and an SQS batch of the fleet's fan-out messages.
//
// A developer passes a file to `sam local invoke -e events/<file>`; the end-to-end tests send the
// same files to the Lambda runtime emulator through [FS]. The events are realistic in every field
// but carry only placeholder identifiers (account 123456789012, documentation IP addresses) and
// never a credential or token: the signature headers of the Slack and Teams samples are
// placeholders that the tests replace. The package holds data only.
package events

import "embed"

// FS holds every sample event, named as in this directory (for example "httpapi-sync.json").
//
//go:embed *.json
var FS embed.FS
