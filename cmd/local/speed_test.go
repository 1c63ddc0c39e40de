package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSpeedFlag: -speed takes a whole number from 1 to 600, and, as -sync-duration, only on the
// embedded emulator; a refusal says why and prints the usage, and no server starts.
func TestSpeedFlag(t *testing.T) {
	t.Parallel()
	const keyVault = "https://contoso-kv.vault.azure.net/"
	tests := []struct {
		name        string
		args        []string
		keyVaultURL string
		want        string // in the error
	}{
		{"zero", []string{"-speed", "0"}, "", "-speed 0: want a whole number from 1 to 600"},
		{"negative", []string{"-speed", "-20"}, "", "-speed -20: want a whole number from 1 to 600"},
		{"above 600", []string{"-speed", "601"}, "", "-speed 601: want a whole number from 1 to 600"},
		{"a fraction", []string{"-speed", "1.5"}, "", `invalid value "1.5" for flag -speed`},
		{"a word", []string{"-speed", "fast"}, "", `invalid value "fast" for flag -speed`},
		{"with KEY_VAULT_URL", []string{"-speed", "20"}, keyVault, "-speed: only on the embedded emulator; KEY_VAULT_URL is set"},
		{"1 with KEY_VAULT_URL", []string{"-speed", "1"}, keyVault, "-speed: only on the embedded emulator"},
		{"-sync-duration with KEY_VAULT_URL", []string{"-sync-duration", "10s"}, keyVault, "-sync-duration: only on the embedded emulator"},
		{"both with KEY_VAULT_URL", []string{"-sync-duration", "10s", "-speed", "20"}, keyVault, "-speed, -sync-duration: only on the embedded emulator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out lockedBuffer
			ready := make(chan string, 1)
			// Cancelled: a server that started anyway stops at once, and run returns.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, tt.args...),
				env(map[string]string{"KEY_VAULT_URL": tt.keyVaultURL}), &out, &out, ready)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one that says %q", err, tt.want)
			}
			if !strings.Contains(out.String(), "Usage of local") || !strings.Contains(out.String(), "-speed N") {
				t.Errorf("no usage printed:\n%s", out.String())
			}
			if len(ready) != 0 {
				t.Error("the server started")
			}
		})
	}
}

// TestSpeedServesDeferralFast: with -speed 600 the emulator, the functions and the follow-up
// queue share a clock that runs 600× as fast: a request deferred behind a sync waits Intune's 10
// minutes, and is served by the next sync, in well under a real second per emulated minute (a
// tenth of one). -sync-duration 10m: the check that triggers the sync reads the clock after
// Graph answers, and counts as the sync's end a lastSyncDateTime from 10 s before that on; Graph's
// answer, slow on a loaded test machine, must not take as long as the whole sync (10m at 600× is
// a real second).
func TestSpeedServesDeferralFast(t *testing.T) {
	t.Parallel()
	r := startReceiver(t, always(204))
	base, stdout, _, stop := startLocalWith(t, local{timeouts: defaultTimeouts}, "-speed", "600", "-sync-duration", "10m")
	t.Cleanup(stop)
	if want := "The emulated clock runs 600× as fast as real time (-speed 600): Intune's 10 minutes pass in 1s, a sync (-sync-duration 10m) in 1s."; !strings.Contains(stdout.String(), want) {
		t.Errorf("the banner lacks %q:\n%s", want, stdout.String())
	}

	first := acceptedSync(t, base+"/sync", "")
	deferredAt := time.Now()
	answer := acceptedSync(t, base+"/sync?defer=true", `{"callbackUrl":"`+r.url+`/deferred"}`)
	if answer.Result != "deferred" {
		t.Fatalf("POST /sync?defer=true behind a sync: %+v, want deferred", answer)
	}
	c := r.next(t)
	waited := time.Since(deferredAt)
	var event struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      struct {
			LastSyncDateTime time.Time `json:"lastSyncDateTime"`
		} `json:"data"`
	}
	if err := json.Unmarshal(c.body, &event); err != nil {
		t.Fatal(err)
	}
	if event.Type != "autopilot.sync.completed" || event.Data.LastSyncDateTime.Before(first.RequestedAt.Add(10*time.Minute)) {
		t.Fatalf("the deferred request's outcome %s: want completed, by a sync 10 minutes after the first (%v)", c.body, first.RequestedAt)
	}
	emulated := event.Timestamp.Sub(answer.RequestedAt)
	if emulated < 10*time.Minute {
		t.Fatalf("served %v of emulated time after its deferral: want 10 minutes or more, Intune's wait", emulated)
	}
	if perMinute := time.Duration(float64(waited) / emulated.Minutes()); perMinute > time.Second/2 {
		t.Errorf("served %v of emulated time after its deferral, in %v of real time (%v per emulated minute): want well under a real second each",
			emulated, waited, perMinute)
	} else {
		t.Logf("served %v of emulated time after its deferral, in %v of real time (%v per emulated minute)", emulated, waited, perMinute)
	}
}

// syncAnswer is what the tests read of a POST /sync answer.
type syncAnswer struct {
	Result      string    `json:"result"`
	RequestedAt time.Time `json:"requestedAt"`
	SyncAt      time.Time `json:"syncAt"`
	FollowUp    struct {
		ID string `json:"id"`
	} `json:"followUp"`
}

// acceptedSync sends POST u with the JSON body (none when "") and returns its 202 answer.
func acceptedSync(t *testing.T, u, body string) syncAnswer {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	status, data := postJSON(t, u, b)
	var a syncAnswer
	if err := json.Unmarshal(data, &a); err != nil || status != http.StatusAccepted {
		t.Fatalf("POST %s: %d %s, want 202", u, status, data)
	}
	return a
}

// TestWalkThroughDeferred: the deferral walk-through that cmd/local prints with -speed does what
// it says, its lines run as printed: a sync, then two requests deferred to the next sync with
// their callbacks at /a and /b; then one's check triggers the next sync and the other's merges
// into it, and the receiver gets that one sync's completed outcome twice, at /a and /b, within a
// minute at -speed 20 (20 emulated minutes after the first sync). The test runs at -speed 200
// (the lines to paste are those of -speed 20; only the real times of the prose differ) with
// -sync-duration 3m (under a real second, too), for the reason TestSpeedServesDeferralFast gives.
func TestWalkThroughDeferred(t *testing.T) {
	t.Parallel()
	base, stdout, stderr, stop := startLocalWith(t, local{timeouts: defaultTimeouts}, "-speed", "200", "-sync-duration", "3m")
	t.Cleanup(stop)
	steps := readWalkThrough(t, stdout.String(), "Try deferred syncs")
	var at20 strings.Builder
	printDeferralWalkThrough(&at20, base, 20)
	if diff := cmp.Diff(commandLines(readWalkThrough(t, "\n"+at20.String()+"Ctrl-C stops.", "Try deferred syncs")), commandLines(steps)); diff != "" {
		t.Errorf("the lines that -speed 20 prints differ from those run (-want +got):\n%s", diff)
	}

	var (
		received *lockedBuffer
		address  = strings.NewReplacer()
		first    time.Time             // requestedAt of the sync that starts
		deferred = map[string]string{} // callback path → followUp.id
		waited   bool
	)
	for _, s := range steps {
		switch {
		case s.receive != nil:
			received, address = startReceiverLine(t, s)
		case s.curl != nil:
			var a syncAnswer
			if err := json.Unmarshal(checkCurl(t, base, s, address), &a); err != nil {
				t.Fatalf("%s: %v", s.line, err)
			}
			switch a.Result {
			case "started":
				first = a.RequestedAt
			case "deferred":
				deferred[callbackPath(t, s)] = a.FollowUp.ID
			}
		case strings.HasPrefix(s.prose, "Then, "):
			waited = true
			checkDeferralsServed(t, received, stderr, first, deferred)
		default:
			t.Fatalf("a walk-through line the test does not know: %q", s.line)
		}
	}
	if !waited || first.IsZero() || len(deferred) != 2 {
		t.Fatalf("the walk-through should start a sync, defer two requests and say what then comes; it has %d deferred, a started sync: %v, the wait: %v",
			len(deferred), !first.IsZero(), waited)
	}
}

// checkDeferralsServed waits for the receiver to print the outcome of each deferred request
// (callback path → follow-up id), and checks what the walk-through says: one check started the
// next sync and the other merged into it, both outcomes are that sync's completion, within 20
// emulated minutes of the first sync (a minute at -speed 20).
func checkDeferralsServed(t *testing.T, received, stderr *lockedBuffer, first time.Time, deferred map[string]string) {
	t.Helper()
	out := received.waitFor(t, "both outcomes", func(out string) bool {
		got := printedRequests(out)
		// The receiver prints a request line by line, its body last.
		return len(got) >= len(deferred) && json.Valid(got[len(got)-1].body)
	})
	var (
		paths     []string
		lastSyncs = map[time.Time]bool{}
	)
	for _, c := range printedRequests(out) {
		paths = append(paths, c.path)
		var event struct {
			Type      string    `json:"type"`
			Timestamp time.Time `json:"timestamp"`
			Data      struct {
				Result           string    `json:"result"`
				LastSyncDateTime time.Time `json:"lastSyncDateTime"`
			} `json:"data"`
		}
		if err := json.Unmarshal(c.body, &event); err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		lastSyncs[event.Data.LastSyncDateTime] = true
		if event.Type != "autopilot.sync.completed" || event.Data.Result != "completed" ||
			event.Data.LastSyncDateTime.Before(first.Add(10*time.Minute)) || event.Timestamp.After(first.Add(20*time.Minute)) {
			t.Errorf("the outcome at %s: %s; want completed, by a sync 10 minutes or more after the first (%v), told within 20 minutes of it", c.path, c.body, first)
		}
	}
	slices.Sort(paths)
	if diff := cmp.Diff([]string{"/a", "/b"}, paths); diff != "" {
		t.Errorf("the receiver's requests (-want +got):\n%s", diff)
	}
	if len(lastSyncs) != 1 {
		t.Errorf("the outcomes are of %d syncs, want one: %v", len(lastSyncs), lastSyncs)
	}
	var how []string // each request's way to its sync: started or merged
	for _, id := range deferred {
		line := waitForLine(t, stderr, id, "the check that started or merged", func(l map[string]any) bool {
			return l["outcome"] == "started" || l["outcome"] == "merged"
		})
		how = append(how, line["outcome"].(string))
	}
	slices.Sort(how)
	if diff := cmp.Diff([]string{"merged", "started"}, how); diff != "" {
		t.Errorf("how the deferred requests came to their sync (-want +got):\n%s", diff)
	}
}

// commandLines returns the lines of steps to paste: the commands, not the prose.
func commandLines(steps []walkStep) []string {
	var lines []string
	for _, s := range steps {
		if s.prose == "" {
			lines = append(lines, s.line)
		}
	}
	return lines
}

// callbackPath returns the path of the callbackUrl in the body (-d) of the curl line s.
func callbackPath(t *testing.T, s walkStep) string {
	t.Helper()
	for i := range len(s.curl) - 1 {
		if s.curl[i] == "-d" {
			var body struct {
				CallbackURL string `json:"callbackUrl"`
			}
			if err := json.Unmarshal([]byte(s.curl[i+1]), &body); err == nil {
				if u, err := url.Parse(body.CallbackURL); err == nil {
					return u.Path
				}
			}
		}
	}
	t.Fatalf("a deferred request without a callbackUrl: %q", s.line)
	return ""
}

// printedRequests reads the receiver's output: each request's path (the line "TIME METHOD
// PATH") and body (the last indented line after it; the last request's may not be printed yet).
func printedRequests(out string) []callback {
	var got []callback
	for _, line := range strings.Split(out, "\n") {
		switch fields := strings.Fields(line); {
		case strings.HasPrefix(line, "  ") && len(got) > 0:
			got[len(got)-1].body = []byte(strings.TrimSpace(line))
		case len(fields) == 3 && strings.HasPrefix(fields[2], "/"):
			got = append(got, callback{path: fields[2]})
		}
	}
	return got
}
