package action

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// updateFields are the fields a PATCH may hold, by their exact JSON names.
var updateFields = []string{"lastSyncDateTime", "lastManualSyncTriggerDateTime", "syncStatus"}

// parseUpdate validates a PATCH: JSON only (415 otherwise), one object holding only the three
// known fields, each once and spelled exactly, as strings or null (null leaves a field as it
// is); RFC 3339 timestamps whose +10 min can be encoded; a documented syncStatus; at least one
// field; nothing after the object.
func parseUpdate(contentType string, body []byte) (graph.SettingsUpdate, *problem.Problem) {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "application/json" {
		return graph.SettingsUpdate{}, problem.New(problem.UnsupportedMediaType, "PATCH takes application/json.")
	}
	bad := func(detail string) (graph.SettingsUpdate, *problem.Problem) {
		return graph.SettingsUpdate{}, problem.New(problem.BadRequest, detail)
	}
	fields, detail := decodeObject(body)
	if detail != "" {
		return bad(detail)
	}
	var u graph.SettingsUpdate
	for _, ts := range []struct {
		name string
		out  **time.Time
	}{
		{"lastSyncDateTime", &u.LastSyncDateTime},
		{"lastManualSyncTriggerDateTime", &u.LastManualSyncTriggerDateTime},
	} {
		v, ok := fields[ts.name]
		if !ok || v == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, *v)
		if err != nil {
			return bad(ts.name + " must be an RFC 3339 timestamp such as 2026-11-28T15:00:00Z.")
		}
		switch t = t.UTC(); {
		case t.After(autopilot.MaxTime.Add(-autopilot.SyncInterval)):
			return bad(ts.name + " is too late: the next manual sync it implies (10 minutes later) is past 9999-12-31T23:59:59Z.")
		case t.Year() < 1:
			// An offset can move year 0000 before it, which JSON cannot hold.
			return bad(ts.name + " is too early: it must be in UTC year 0001 or later.")
		}
		*ts.out = &t
	}
	if v := fields["syncStatus"]; v != nil {
		s := graph.SyncStatus(*v)
		if !s.Known() {
			return bad("syncStatus must be one of unknown, inProgress, completed, failed.")
		}
		u.SyncStatus = &s
	}
	if u.LastSyncDateTime == nil && u.LastManualSyncTriggerDateTime == nil && u.SyncStatus == nil {
		return bad("Nothing to update; send lastSyncDateTime, lastManualSyncTriggerDateTime or syncStatus.")
	}
	return u, nil
}

// decodeObject reads body as one JSON object of updateFields whose values are strings or null,
// matching names exactly (encoding/json would match {"SYNCSTATUS":…} too) and refusing a field
// given twice. The detail of a refusal never echoes the caller's input.
func decodeObject(body []byte) (map[string]*string, string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	syntax := func(error) string { return "The body is not valid JSON." }
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return nil, "The body is empty; send a JSON object with lastSyncDateTime, lastManualSyncTriggerDateTime or syncStatus."
	}
	if err != nil {
		return nil, syntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, "The body must be a JSON object."
	}
	fields := map[string]*string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntax(err)
		}
		name, _ := tok.(string)
		known := false
		for _, f := range updateFields {
			known = known || name == f
		}
		if !known {
			return nil, "The body has a field that cannot be updated; allowed: lastSyncDateTime, lastManualSyncTriggerDateTime, syncStatus."
		}
		if _, dup := fields[name]; dup {
			return nil, "Field " + name + " is given more than once."
		}
		var v *string
		if err := dec.Decode(&v); err != nil {
			var typ *json.UnmarshalTypeError
			if errors.As(err, &typ) {
				return nil, "Field " + name + " must be a string."
			}
			return nil, syntax(err)
		}
		fields[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, syntax(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, "The body must hold one JSON object and nothing after it."
	}
	return fields, ""
}
