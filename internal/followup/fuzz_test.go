package followup

import (
	"errors"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeMessage checks that Decode never panics, refuses with ErrMalformed only, and that
// whatever it accepts can be decided, settled and written again as a message it accepts.
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range []Message{typical(), withDone(typical()), New("id", "", t0, Targets{Teams: true})} {
		b, err := m.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, body := range malformed {
		if len(body) <= 1024 { // long seeds make the fuzzer spend its time minimizing
			f.Add([]byte(body))
		}
	}
	now := t0.Add(time.Hour)
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Decode(body, now)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			return
		}
		b, err := m.Encode()
		if err != nil {
			t.Fatalf("accepted message does not encode: %v", err)
		}
		again, err := Decode(b, now)
		if err != nil {
			t.Fatalf("re-encoded message refused: %v", err)
		}
		if diff := cmp.Diff(m, again); diff != "" {
			t.Fatalf("round trip changed the message (-first +again):\n%s", diff)
		}
		for _, r := range []Reading{running, {Settings: graph.Settings{SyncStatus: "completed", LastSyncDateTime: now}}, {Code: "unknownTenant"}} {
			p := Decide(m, r, now, DefaultSchedule())
			st := p.Settle([]Target{Slack, Teams, Callback})
			if st.Next == nil {
				continue
			}
			if _, err := st.Next.Encode(); err != nil {
				t.Fatalf("next message does not encode: %v", err)
			}
			if st.Delay < time.Second || st.Delay > MaxDelay {
				t.Fatalf("delay %s outside 1 s to %s", st.Delay, MaxDelay)
			}
		}
	})
}
