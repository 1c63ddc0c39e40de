package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/contract"
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

// TestWalkThroughDeferred: the walk-through that cmd/local prints with -speed does what it says,
// its lines run as printed: a sync, then two requests deferred to the next sync with their
// callbacks at /a and /b, a request with the seeded serial SYNC-THEN-ASSIGNED-1 (callback /ready)
// and an import of IMPORT-OK-1 and OTHER-TENANT-1 (callback /import). Then one waiting request's
// check triggers the next sync and the others merge into it; the receiver gets that one sync's
// completed outcome twice, at /a and /b, and autopilot.devices.ready at /ready (the serial
// assigned), within a minute at -speed 20 (20 emulated minutes after the first sync); and
// autopilot.devices.notReady at /import, IMPORT-OK-1 assigned and OTHER-TENANT-1 importFailed
// with 808 ZtdDeviceAssignedToOtherTenant, within 20 emulated minutes as well (more by as much as
// the test's syncs are longer than -sync-duration's default). Every callback is one that
// openapi.yaml documents. The test runs at -speed 200 (the lines to paste are those of -speed 20;
// only the real times of the prose differ) with -sync-duration 3m (under a real second, too), for
// the reason TestSpeedServesDeferralFast gives: 20 emulated minutes take 6 real seconds.
func TestWalkThroughDeferred(t *testing.T) {
	t.Parallel()
	const syncDuration = 3 * time.Minute
	base, stdout, stderr, stop := startLocalWith(t, local{timeouts: defaultTimeouts}, "-speed", "200", "-sync-duration", syncDuration.String())
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
		waiting  = map[string]string{} // callback path → followUp.id, of each request that waits for the next sync
		waits    []string              // the prose lines waited on
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
			case "deferred", "importing":
				waiting[callbackPath(t, s)] = a.FollowUp.ID
			}
		case strings.HasPrefix(s.prose, "Then, "):
			waits = append(waits, "Then")
			checkDeferralsServed(t, received, stderr, first, waiting)
		case strings.HasPrefix(s.prose, "Within "):
			waits = append(waits, "Within")
			want := []string{serialImportOK + " assigned", serialOtherTenant + " importFailed 808 ZtdDeviceAssignedToOtherTenant"}
			checkDevicesTold(t, received, "/import", "autopilot.devices.notReady", want, first, 20*time.Minute+syncDuration-time.Minute)
		default:
			t.Fatalf("a walk-through line the test does not know: %q", s.line)
		}
	}
	want := []string{"/a", "/b", "/import", "/ready"}
	if diff := cmp.Diff(want, slices.Sorted(maps.Keys(waiting))); diff != "" || first.IsZero() || !slices.Equal(waits, []string{"Then", "Within"}) {
		t.Fatalf("the walk-through should start a sync, send four requests that wait for the next (-want +got callback paths:\n%s), and say what then comes, and what next; a started sync: %v, the waits: %v",
			diff, !first.IsZero(), waits)
	}
}

// checkDeferralsServed waits for the receiver to print the outcomes at /a, /b and /ready, and
// checks what the walk-through says: one waiting request's check started the next sync and the
// others (waiting: callback path → follow-up id) merged into it; /a and /b are told that sync's
// completion, within 20 emulated minutes of the first sync (a minute at -speed 20); /ready is
// told autopilot.devices.ready, the seeded serial assigned, within those 20 minutes as well.
func checkDeferralsServed(t *testing.T, received, stderr *lockedBuffer, first time.Time, waiting map[string]string) {
	t.Helper()
	told := waitForCallbacks(t, received, "/a", "/b", "/ready")
	lastSyncs := map[time.Time]bool{}
	for _, path := range []string{"/a", "/b"} {
		var event struct {
			Type      string    `json:"type"`
			Timestamp time.Time `json:"timestamp"`
			Data      struct {
				Result           string    `json:"result"`
				LastSyncDateTime time.Time `json:"lastSyncDateTime"`
			} `json:"data"`
		}
		if err := json.Unmarshal(told[path].body, &event); err != nil {
			t.Fatalf("%s: %v", told[path].body, err)
		}
		lastSyncs[event.Data.LastSyncDateTime] = true
		if event.Type != "autopilot.sync.completed" || event.Data.Result != "completed" ||
			event.Data.LastSyncDateTime.Before(first.Add(10*time.Minute)) || event.Timestamp.After(first.Add(20*time.Minute)) {
			t.Errorf("the outcome at %s: %s; want completed, by a sync 10 minutes or more after the first (%v), told within 20 minutes of it", path, told[path].body, first)
		}
	}
	if len(lastSyncs) != 1 {
		t.Errorf("the outcomes are of %d syncs, want one: %v", len(lastSyncs), lastSyncs)
	}
	checkDevicesTold(t, received, "/ready", "autopilot.devices.ready", []string{serialSyncThenAssigned + " assigned"}, first, 20*time.Minute)
	var how []string // each waiting request's way to its sync: started or merged
	for _, id := range waiting {
		line := waitForLine(t, stderr, id, "the check that started or merged", func(l map[string]any) bool {
			return l["outcome"] == "started" || l["outcome"] == "merged"
		})
		how = append(how, line["outcome"].(string))
	}
	slices.Sort(how)
	if diff := cmp.Diff([]string{"merged", "merged", "merged", "started"}, how); diff != "" {
		t.Errorf("how the waiting requests came to their sync (-want +got):\n%s", diff)
	}
}

// checkDevicesTold waits for the receiver to print the callback at path, and checks that it is
// the event typ, its sync completed, its devices as want says (devicesEvent.told), told within
// the emulated time within of first.
func checkDevicesTold(t *testing.T, received *lockedBuffer, path, typ string, want []string, first time.Time, within time.Duration) {
	t.Helper()
	c := waitForCallbacks(t, received, path)[path]
	event := readDevicesEvent(t, c)
	if diff := cmp.Diff(want, event.told()); diff != "" {
		t.Errorf("the devices told at %s (-want +got):\n%s\n%s", path, diff, c.body)
	}
	after := event.Timestamp.Sub(first)
	if event.Type != typ || event.Data.SyncResult == nil || *event.Data.SyncResult != "completed" || after > within {
		t.Errorf("the callback at %s: %s; want %s, its sync completed, told within %v of the first sync (%v)", path, c.body, typ, within, first)
	}
	t.Logf("%s told %v (emulated) after the first sync", path, after)
}

// devicesEvent is what the tests read of an autopilot.devices.* callback.
type devicesEvent struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      struct {
		SyncResult *string `json:"syncResult"`
		Devices    []struct {
			SerialNumber string `json:"serialNumber"`
			State        string `json:"state"`
			Error        *struct {
				Name string `json:"name"`
				Code int    `json:"code"`
			} `json:"error"`
			Devices []struct {
				DetailedStatus string `json:"deploymentProfileAssignmentDetailedStatus"`
			} `json:"devices"`
		} `json:"devices"`
	} `json:"data"`
}

// readDevicesEvent reads the body of callback c as an autopilot.devices.* event.
func readDevicesEvent(t *testing.T, c callback) devicesEvent {
	t.Helper()
	var event devicesEvent
	if err := json.Unmarshal(c.body, &event); err != nil {
		t.Fatalf("the callback to %s: %v: %s", c.path, err, c.body)
	}
	return event
}

// told returns each device the event tells, as "SERIAL state", with "code name" for an import
// error and the detailed status of a failed profile assignment.
func (e devicesEvent) told() []string {
	var got []string
	for _, d := range e.Data.Devices {
		s := d.SerialNumber + " " + d.State
		switch {
		case d.Error != nil:
			s += fmt.Sprintf(" %d %s", d.Error.Code, d.Error.Name)
		case d.State == "failed" && len(d.Devices) > 0:
			s += " " + d.Devices[0].DetailedStatus
		}
		got = append(got, s)
	}
	return got
}

// waitForCallbacks waits until the receiver has printed a whole request to each path and returns
// the first to each; it checks each against openapi.yaml's webhooks, from what the receiver
// printed of it.
func waitForCallbacks(t *testing.T, received *lockedBuffer, paths ...string) map[string]callback {
	t.Helper()
	told := map[string]callback{}
	received.waitFor(t, "the callbacks to "+strings.Join(paths, ", "), func(out string) bool {
		clear(told)
		for _, c := range printedRequests(out) {
			if _, seen := told[c.path]; !seen && json.Valid(c.body) {
				told[c.path] = c
			}
		}
		for _, p := range paths {
			if _, ok := told[p]; !ok {
				return false
			}
		}
		return true
	})
	for _, p := range paths {
		if err := contract.CheckCallback(told[p].header, told[p].body); err != nil {
			t.Errorf("the callback to %s: %v", p, err)
		}
	}
	return told
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
// PATH"), the headers it printed and its body (the last indented line after it; the last
// request's may not be printed yet, and what looks like its body may be a header until then).
func printedRequests(out string) []callback {
	var got []callback
	for _, line := range strings.Split(out, "\n") {
		switch fields := strings.Fields(line); {
		case strings.HasPrefix(line, "  ") && len(got) > 0:
			c := &got[len(got)-1]
			if name, value, ok := strings.Cut(string(c.body), ": "); ok && !json.Valid(c.body) {
				c.header.Add(name, value) // the line before was a header
			}
			c.body = []byte(strings.TrimSpace(line))
		case len(fields) == 3 && strings.HasPrefix(fields[2], "/"):
			got = append(got, callback{path: fields[2], header: http.Header{}})
		}
	}
	return got
}
