package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// Status is the status document of SPEC §5.
type Status struct {
	ID                            string           `json:"id"`
	SyncStatus                    graph.SyncStatus `json:"syncStatus"`
	LastSyncDateTime              time.Time        `json:"lastSyncDateTime"`
	LastManualSyncTriggerDateTime time.Time        `json:"lastManualSyncTriggerDateTime"`
	// NextManualSyncAllowedAt is lastManualSyncTriggerDateTime + 10 min; null when no manual sync
	// was ever triggered.
	NextManualSyncAllowedAt *time.Time `json:"nextManualSyncAllowedAt"`
	CanSyncNow              bool       `json:"canSyncNow"`
}

// NewStatus derives the status document from the settings at now.
func NewStatus(s graph.Settings, now time.Time) Status {
	st := Status{
		ID:                            s.ID,
		SyncStatus:                    s.SyncStatus,
		LastSyncDateTime:              s.LastSyncDateTime.UTC(),
		LastManualSyncTriggerDateTime: s.LastManualSyncTriggerDateTime.UTC(),
		CanSyncNow:                    s.SyncStatus != graph.SyncStatusInProgress,
	}
	if !s.LastManualSyncTriggerDateTime.IsZero() {
		next := st.LastManualSyncTriggerDateTime.Add(SyncInterval)
		st.NextManualSyncAllowedAt = &next
		st.CanSyncNow = st.CanSyncNow && !now.Before(next)
	}
	return st
}

func (f *Function) getStatus(ctx context.Context, in Intune) answer {
	s, err := in.Get(ctx)
	if err != nil {
		a := problemAnswer(classify(err))
		a.action = "status"
		return a
	}
	return answer{status: http.StatusOK, action: "status", body: NewStatus(s, f.d.Now())}
}

func (f *Function) patchStatus(ctx context.Context, in Intune, r *http.Request, body []byte) answer {
	u, p := parseUpdate(r.Header.Get("Content-Type"), body)
	if p == nil {
		s, err := in.Update(ctx, u)
		if err == nil {
			return answer{status: http.StatusOK, action: "update", body: NewStatus(s, f.d.Now())}
		}
		p = classify(err)
	}
	a := problemAnswer(p)
	a.action = "update"
	return a
}

// patchBody is what a PATCH may hold; a field absent or null is left as it is.
type patchBody struct {
	LastSyncDateTime              *string `json:"lastSyncDateTime"`
	LastManualSyncTriggerDateTime *string `json:"lastManualSyncTriggerDateTime"`
	SyncStatus                    *string `json:"syncStatus"`
}

// parseUpdate validates a PATCH: JSON only (415 otherwise), the three known fields only,
// RFC 3339 timestamps, a documented syncStatus, at least one field, nothing after the object.
func parseUpdate(contentType string, body []byte) (graph.SettingsUpdate, *problem.Problem) {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "application/json" {
		return graph.SettingsUpdate{}, problem.New(problem.UnsupportedMediaType, "PATCH takes application/json.")
	}
	bad := func(detail string) (graph.SettingsUpdate, *problem.Problem) {
		return graph.SettingsUpdate{}, problem.New(problem.BadRequest, detail)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var b patchBody
	if err := dec.Decode(&b); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return bad("The body is empty; send a JSON object with lastSyncDateTime, lastManualSyncTriggerDateTime or syncStatus.")
		case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
			return bad("The body is not valid JSON.")
		case errors.As(err, &typ) && typ.Field != "":
			return bad("Field " + typ.Field + " must be a string.")
		case errors.As(err, &typ):
			return bad("The body must be a JSON object.")
		default:
			// DisallowUnknownFields: `json: unknown field "x"`: the name is the caller's own input.
			return bad("The body has a field that cannot be updated; allowed: lastSyncDateTime, lastManualSyncTriggerDateTime, syncStatus.")
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("The body must hold one JSON object and nothing after it.")
	}
	var u graph.SettingsUpdate
	for _, field := range []struct {
		name string
		in   *string
		out  **time.Time
	}{
		{"lastSyncDateTime", b.LastSyncDateTime, &u.LastSyncDateTime},
		{"lastManualSyncTriggerDateTime", b.LastManualSyncTriggerDateTime, &u.LastManualSyncTriggerDateTime},
	} {
		if field.in == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, *field.in)
		if err != nil {
			return bad(field.name + " must be an RFC 3339 timestamp such as 2026-11-28T15:00:00Z.")
		}
		t = t.UTC()
		*field.out = &t
	}
	if b.SyncStatus != nil {
		s := graph.SyncStatus(*b.SyncStatus)
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
