// Package events is the former home of the sample invocation events' embedding, kept only until
// internal/api's tests read autopilotsync.SampleEvents instead; then this file goes and the
// directory holds the JSON samples alone (SPEC §2). See autopilotsync.SampleEvents for what the
// samples are.
//
// Deprecated: use autopilotsync.SampleEvents (module root package).
package events

import "embed"

// FS holds every sample event, named as in this directory (for example "httpapi-sync.json").
//
// Deprecated: use autopilotsync.SampleEvents.
//
//go:embed *.json
var FS embed.FS
