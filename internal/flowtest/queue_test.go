package flowtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/flowtest"
)

// TestQueue: the queue keeps each message until its delay, rounded up to whole seconds as SQS's
// DelaySeconds, has passed on the clock, and hands it back once; a redelivery comes one receive
// later, with the same id.
func TestQueue(t *testing.T) {
	t.Parallel()
	start := flowtest.DefaultStart
	clock := emulator.NewManualClock(start)
	q := flowtest.NewQueue(clock)
	for _, d := range []time.Duration{90 * time.Second, 1500 * time.Millisecond, 0, 60 * time.Second} {
		if err := q.Send(context.Background(), []byte(d.String()), d); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []time.Duration{16 * time.Minute, -time.Second} {
		if err := q.Send(context.Background(), []byte("refused"), d); err == nil {
			t.Errorf("a delay of %v was taken, want an error as SQS gives", d)
		}
	}
	type got struct {
		At       time.Duration
		Bodies   []string
		Receives []int
	}
	var gots []got
	ids := map[string]string{}
	for {
		at, ok := q.NextDue()
		if !ok {
			break
		}
		clock.Set(at)
		g := got{At: at.Sub(start)}
		for _, r := range q.TakeDue(at) {
			g.Bodies, g.Receives = append(g.Bodies, string(r.Body)), append(g.Receives, r.Receive)
			if id, ok := ids[string(r.Body)]; ok && id != r.ID {
				t.Errorf("%s came back as %s, want its id %s", r.Body, r.ID, id)
			}
			ids[string(r.Body)] = r.ID
			if r.Receive == 1 && string(r.Body) == "1m0s" {
				q.Redeliver(r, flowtest.DefaultRedeliverAfter)
			}
		}
		gots = append(gots, g)
	}
	want := []got{
		{At: 0, Bodies: []string{"0s"}, Receives: []int{1}},
		{At: 2 * time.Second, Bodies: []string{"1.5s"}, Receives: []int{1}},
		{At: time.Minute, Bodies: []string{"1m0s"}, Receives: []int{1}},
		{At: 90 * time.Second, Bodies: []string{"1m30s", "1m0s"}, Receives: []int{1, 2}},
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if q.Len() != 0 {
		t.Errorf("%d messages left", q.Len())
	}
}
