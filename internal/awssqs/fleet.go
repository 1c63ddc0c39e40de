package awssqs

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

// Enqueue is the fleet's fan-out (SPEC §11), kept here until the api package composes its own
// messages: it sends one message {"tenant":"<name>"} per tenant with SendBatch and returns how
// many SQS accepted. The error names the tenants whose messages SQS refused for good, in name
// order, and wraps the *PartialError (errors.As finds it); a failed call is returned as by
// SendBatch.
func (q *Queue) Enqueue(ctx context.Context, tenants []string) (int, error) {
	bodies := make([][]byte, len(tenants))
	for i, name := range tenants {
		body, err := json.Marshal(struct {
			Tenant string `json:"tenant"`
		}{name})
		if err != nil {
			return 0, err
		}
		bodies[i] = body
	}
	sent, failed, err := q.sendAll(ctx, bodies)
	if len(failed) > 0 {
		e := &tenantsNotEnqueued{PartialError: &PartialError{QueueURL: q.url, Failed: failed}, tenants: tenants}
		slices.SortStableFunc(e.Failed, func(a, b Failure) int { return strings.Compare(e.tenant(a.Index), e.tenant(b.Index)) })
		err = errors.Join(err, e)
	}
	return sent, err
}

// tenantsNotEnqueued is a *PartialError of Enqueue, whose messages are named by their tenants.
type tenantsNotEnqueued struct {
	*PartialError
	tenants []string
}

func (e *tenantsNotEnqueued) Error() string {
	return e.describe("tenant(s) not enqueued", e.tenant)
}

func (e *tenantsNotEnqueued) Unwrap() error { return e.PartialError }

func (e *tenantsNotEnqueued) tenant(i int) string {
	if i < 0 || i >= len(e.tenants) {
		return "(unknown)"
	}
	return e.tenants[i]
}
