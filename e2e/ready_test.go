package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/contract"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
)

// SPEC §15, follow to ready, end to end: the real sync binary under aws-lambda-rie, its follow-up
// queue a local SQS (moto_server, seen through the recorder of followup_test.go), Graph the
// emulator with devices pending registration whose profile assignment ends as scripted, and the
// callbacks really delivered to a receiver on a host of the test's own (a network namespace: the
// production client never posts to loopback).
//
// Time: the binary reads the real clock, the emulator a manual one. The delays the function asks
// for (60 s, 120 s) are read from what it sent to the queue, each message is handed to the
// function as the SQS event source hands it over once due, and the emulator's clock is moved by
// what those minutes bring (the sync's end, an assignment's end). The emulator's times stay less
// than two minutes ahead of the function's clock (a follow-up message whose times lie more than
// five minutes ahead of it is malformed). DEVICE_MAX_AGE (1 min at least) cannot pass on the
// function's clock within a test: the check that finds it passed is the function's own message
// with its request time moved back by that minute, as if it had been waiting that long.

// readySyncDuration is how long the emulator's syncs run, on its clock.
const readySyncDuration = 30 * time.Second

// deviceList is the Graph resource a readiness read lists, as the emulator counts it.
const deviceList = "GET windowsAutopilotDeviceIdentities"

// readyRig is one test's follow-to-ready setup: the emulator on a manual clock, a receiver on a
// host of the test's own allowed as a callback prefix (with an Authorization header), and the
// sync function with its follow-up queue.
type readyRig struct {
	e       *env
	s       *localSQS
	q       string
	fn      *function
	rcv     *receiver
	prefix  string // the allowed callback prefix, on the receiver
	auth    string // the Authorization header that goes with every callback to prefix
	signing string // the callback signing secret; "" when callbacks are not signed
}

// newReadyRig starts a rig whose function has the follow-up environment of s plus vars; signed
// configures callback signing.
func newReadyRig(t *testing.T, s *localSQS, signed bool, vars map[string]string) *readyRig {
	t.Helper()
	clock := emulator.NewManualClock(time.Now())
	e := newEnvWith(t, emulator.Options{Clock: clock, SyncDuration: readySyncDuration})
	e.clock = clock
	r := &readyRig{e: e, s: s, q: s.newQueue(t), rcv: startReceiver(t, newNSHost(t))}
	r.prefix = r.rcv.url + "/api/x_autopilot/"
	r.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte("svc-autopilot:"+rand.Text()))
	targets, _ := json.Marshal([]map[string]any{{"urlPrefix": r.prefix, "headers": map[string]string{"Authorization": r.auth}}})
	e.emu.SetSecret("callback-targets", string(targets), "")
	env := s.vars(e, r.q)
	maps.Copy(env, e.trust(t, r.rcv.certPEM))
	env["CALLBACK_TARGETS_SECRET_NAME"] = "callback-targets"
	if signed {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		r.signing = "whsec_" + base64.StdEncoding.EncodeToString(key)
		e.emu.SetSecret("callback-signing", r.signing, "")
		env["CALLBACK_SIGNING_SECRET_NAME"] = "callback-signing"
	}
	maps.Copy(env, vars)
	r.fn = e.start(t, binaries.sync, env)
	return r
}

// serialsRequest is the HTTP API POST /sync sample whose JSON body is body.
func serialsRequest(t *testing.T, query string, body map[string]any) []byte {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return httpAPIEvent(t, "httpapi-sync.json", func(ev *awsevents.APIGatewayV2HTTPRequest) {
		if query != "" {
			k, v, _ := strings.Cut(query, "=")
			ev.RawQueryString, ev.QueryStringParameters = query, map[string]string{k: v}
		}
		ev.Body = string(data)
		ev.Headers["content-type"] = "application/json"
		ev.Headers["content-length"] = strconv.Itoa(len(data))
	})
}

// readyRequest is a request with serials that started a sync.
type readyRequest struct {
	id, callback string
	requestedAt  time.Time   // as the answer and the messages say it, to the second
	first        sentMessage // the sync's first check
	// within bounds how long after Graph's trigger (on the emulator's clock) the function saw
	// the request.
	within time.Duration
}

// request POSTs /sync with serials and a callbackUrl of its own under the rig's prefix, and checks
// what a request with serials answers and sends when Graph starts the sync: 202 started, a
// followUp that tells the callback, and one message, delayed by FOLLOWUP_FIRST_CHECK, that
// carries the serials.
func (r *readyRig) request(t *testing.T, serials ...string) readyRequest {
	t.Helper()
	callback := r.prefix + "done/INC0012345-" + rand.Text()
	set := time.Now()
	r.e.clock.Set(set) // Graph's trigger: the emulator's clock meets the function's
	got := decodeHTTP(t, r.fn.invokeLogged(t, serialsRequest(t, "", map[string]any{"serials": serials, "callbackUrl": callback})))
	within := time.Since(set)
	body := got.json(t)
	ref, _ := body["followUp"].(map[string]any)
	id, _ := ref["id"].(string)
	answered, err := time.Parse(time.RFC3339, fmt.Sprint(body["requestedAt"]))
	if got.StatusCode != 202 || body["result"] != "started" || id == "" || fmt.Sprint(ref["targets"]) != "[callback]" || err != nil {
		t.Fatalf("POST /sync with serials: %d %s, want 202 started with a followUp that tells the callback", got.StatusCode, got.Body)
	}
	sent := r.s.sentTo(r.q)
	if len(sent) != 1 || sent[0].DelaySeconds != 1 {
		t.Fatalf("SendMessage calls %+v, want one with DelaySeconds 1 (FOLLOWUP_FIRST_CHECK)", sent)
	}
	m := decodeMessage(t, sent[0].MessageBody)
	if m.ID != id || !slices.Equal(m.Serials, serials) || m.Targets != (followup.Targets{Callback: callback}) || m.Devices != nil ||
		m.Attempt != 1 || m.RequestedAt.Sub(answered).Abs() >= time.Second {
		t.Errorf("first message %+v, want attempt 1 of follow-up %s with serials %q, requested at %v", m, id, serials, answered)
	}
	return readyRequest{id: id, callback: callback, requestedAt: m.RequestedAt, within: within, first: sent[0]}
}

// readyCheck is what one check of a request with serials did.
type readyCheck struct {
	line   map[string]any // its invocation line
	next   *sentMessage   // the message it sent, if any
	failed []string       // batchItemFailures
	reads  int            // pages of device identities Graph answered or refused
}

// check hands the function body as the SQS event source hands a due message over (record id
// rec), and returns what the check of follow-up id did.
func (r *readyRig) check(t *testing.T, id, rec, body string) readyCheck {
	t.Helper()
	sent, reads := len(r.s.sentTo(r.q)), r.e.emu.Counts().Graph[deviceList]
	c := readyCheck{failed: r.fn.consume(t, sqsRecord(rec, []byte(body)))}
	c.reads = r.e.emu.Counts().Graph[deviceList] - reads
	c.line = lastLineOf(t, r.fn, id)
	switch now := r.s.sentTo(r.q); len(now) - sent {
	case 0:
	case 1:
		c.next = &now[sent]
	default:
		t.Fatalf("one check sent %d messages: %+v", len(now)-sent, now[sent:])
	}
	return c
}

// untilDevices drives the follow-up of req through its sync, which the emulator ends (its clock
// moved by readySyncDuration plus extra) before the first check: that check logs the outcome
// completed, tells no one, and sends the first device check, one second later.
func (r *readyRig) untilDevices(t *testing.T, req readyRequest, extra time.Duration) sentMessage {
	t.Helper()
	r.e.clock.Advance(readySyncDuration + extra)
	c := r.check(t, req.id, "sync-end", req.first.MessageBody)
	wantSyncEnd(t, r, req, c)
	return *c.next
}

// wantSyncEnd checks the check that found the sync completed: its line (outcome completed,
// SyncOutcomeCompleted 1, no device figures, no delivery), nothing told, and the next message:
// the device checks, one second later.
func wantSyncEnd(t *testing.T, r *readyRig, req readyRequest, c readyCheck) {
	t.Helper()
	if len(c.failed) != 0 {
		t.Fatalf("the check of the sync's end: batchItemFailures %v", c.failed)
	}
	d, _ := c.line["syncDurationSeconds"].(float64)
	checkOutcomeLine(t, c.line, "completed", d)
	wantFigures(t, "the check of the sync's end", c.line, map[string]float64{"SyncOutcomeCompleted": 1, "DevicesReady": -1, "DevicesNotReady": -1, "DeviceWaitSeconds": -1})
	// From the request to the end (SPEC §13), rounded: the emulator's sync less the time the
	// request took to reach the function after the trigger, plus up to the second that
	// requestedAt is rounded down by.
	if least, most := math.Floor((readySyncDuration - req.within).Seconds()), readySyncDuration.Seconds()+1; d < least || d > most {
		t.Errorf("syncDurationSeconds %v, want %v to %v", d, least, most)
	}
	if c.line["deliveries"] != nil || len(r.rcv.posts()) != 0 || c.reads != 0 {
		t.Errorf("the check of the sync's end delivered %v (the receiver got %d posts) and read %d device pages, want nothing", c.line["deliveries"], len(r.rcv.posts()), c.reads)
	}
	if c.next == nil {
		t.Fatal("the check of the sync's end sent no device check")
	}
	m := decodeMessage(t, c.next.MessageBody)
	if c.next.DelaySeconds != 1 || m.Devices == nil || m.Devices.SyncResult != autopilot.Completed || len(m.Devices.Final) != 0 || m.Attempt != 1 {
		t.Errorf("after the sync's end: DelaySeconds %d, message %+v (devices %+v); want the first device check, 1 s later", c.next.DelaySeconds, m, m.Devices)
	}
}

// emfFigure is one metric as CloudWatch extracts it from an Embedded Metric Format line.
type emfFigure struct {
	value float64
	unit  string
}

// cloudWatchFigures reads the line's metrics as CloudWatch Logs does: the _aws member's
// Timestamp (milliseconds since the epoch) and CloudWatchMetrics directives, each of the
// namespace autopilot-sync, its dimension sets naming members of the line that are strings, each
// metric's value the member of its name, a number. A line CloudWatch would reject fails the test.
func cloudWatchFigures(t *testing.T, line map[string]any) map[string]emfFigure {
	t.Helper()
	meta, _ := line["_aws"].(map[string]any)
	stamp, _ := meta["Timestamp"].(float64)
	directives, _ := meta["CloudWatchMetrics"].([]any)
	if stamp != math.Trunc(stamp) || math.Abs(float64(time.Now().UnixMilli())-stamp) > float64(time.Hour.Milliseconds()) || len(directives) == 0 {
		t.Fatalf("_aws %v: want a Timestamp in milliseconds of this hour and CloudWatchMetrics", line["_aws"])
	}
	out := map[string]emfFigure{}
	for _, d := range directives {
		d, _ := d.(map[string]any)
		if d["Namespace"] != api.MetricsNamespace {
			t.Errorf("a directive of namespace %v, want %s", d["Namespace"], api.MetricsNamespace)
		}
		sets, _ := d["Dimensions"].([]any)
		for _, set := range sets {
			for _, dim := range set.([]any) {
				if v, ok := line[fmt.Sprint(dim)].(string); !ok || v == "" {
					t.Errorf("dimension %v names no string member of the line", dim)
				}
			}
		}
		metrics, _ := d["Metrics"].([]any)
		for _, m := range metrics {
			m, _ := m.(map[string]any)
			name, _ := m["Name"].(string)
			unit, _ := m["Unit"].(string)
			v, ok := line[name].(float64)
			if !ok {
				t.Errorf("metric %q has no numeric member on the line (%v): CloudWatch would reject the line", name, line[name])
				continue
			}
			if _, twice := out[name]; twice {
				t.Errorf("metric %q declared twice", name)
			}
			out[name] = emfFigure{value: v, unit: unit}
		}
	}
	return out
}

// wantFigures checks metrics of the line as CloudWatch reads them: each named metric has the value
// (unit Count, or Seconds for the *Seconds ones); one named with -1 is not on the line at all.
func wantFigures(t *testing.T, what string, line map[string]any, want map[string]float64) {
	t.Helper()
	got := cloudWatchFigures(t, line)
	for name, v := range want {
		f, ok := got[name]
		unit := "Count"
		if strings.HasSuffix(name, "Seconds") {
			unit = "Seconds"
		}
		switch {
		case v < 0 && (ok || line[name] != nil):
			t.Errorf("%s: %s = %v, want no such metric", what, name, f.value)
		case v >= 0 && (!ok || f.value != v || f.unit != unit):
			t.Errorf("%s: %s = %+v (declared: %v), want %v %s", what, name, f, ok, v, unit)
		}
	}
}

// devicesEvent is the body of a callback of SPEC §15.
type devicesEvent struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      struct {
		Tenant      string                `json:"tenant"`
		RequestedAt string                `json:"requestedAt"`
		SyncResult  *string               `json:"syncResult"`
		Devices     []autopilot.Readiness `json:"devices"`
	} `json:"data"`
}

// readinessSummary is a readiness list in short: serial=state, each device's id and status.
func readinessSummary(rs []autopilot.Readiness) string {
	var parts []string
	for _, r := range rs {
		p := fmt.Sprintf("%s=%s(ready %v)", r.SerialNumber, r.State, r.Ready)
		for _, d := range r.Devices {
			p += fmt.Sprintf(" [%s %s/%s %s]", d.ID, d.DeploymentProfileAssignmentStatus, d.DeploymentProfileAssignmentDetailedStatus, d.GroupTag)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// callbacks returns what the receiver got for req, each post checked as a callback of req:
// POST to its callbackUrl with the prefix's Authorization header, Content-Type JSON, webhook-id
// the follow-up's id, a webhook of openapi.yaml (contract.CheckCallback), and, when the rig
// signs, a Standard Webhooks signature that verifies (without signing: none).
func (r *readyRig) callbacks(t *testing.T, req readyRequest) []devicesEvent {
	t.Helper()
	var wh *standardwebhooks.Webhook
	if r.signing != "" {
		var err error
		if wh, err = standardwebhooks.NewWebhook(r.signing); err != nil {
			t.Fatal(err)
		}
	}
	var out []devicesEvent
	for i, p := range r.rcv.posts() {
		what := fmt.Sprintf("callback %d", i+1)
		if p.method != "POST" || r.rcv.url+p.path != req.callback || p.header.Get("Authorization") != r.auth ||
			p.header.Get("Content-Type") != "application/json" || p.header.Get("webhook-id") != req.id {
			t.Errorf("%s: %s %s, webhook-id %q, Content-Type %q, Authorization sent %v; want POST to the callbackUrl, the prefix's header, webhook-id %s",
				what, p.method, p.path, p.header.Get("webhook-id"), p.header.Get("Content-Type"), p.header.Get("Authorization") == r.auth, req.id)
		}
		if err := contract.CheckCallback(p.header, p.body); err != nil {
			t.Errorf("%s: %v", what, err)
		}
		switch sig := p.header.Get("webhook-signature"); {
		case wh == nil && sig != "":
			t.Errorf("%s: signed without CALLBACK_SIGNING_SECRET_NAME", what)
		case wh != nil:
			if err := wh.Verify(p.body, p.header); err != nil {
				t.Errorf("%s: the signature does not verify: %v", what, err)
			}
		}
		var ev devicesEvent
		if err := json.Unmarshal(p.body, &ev); err != nil {
			t.Fatalf("%s: %v: %s", what, err, p.body)
		}
		if ev.Data.Tenant != emulator.SeedTenantID || ev.Data.SyncResult == nil || *ev.Data.SyncResult != "completed" {
			t.Errorf("%s: %s; want tenant %s, syncResult completed", what, p.body, emulator.SeedTenantID)
		}
		out = append(out, ev)
	}
	return out
}

// wantReport checks the check that reports: its line (outcome, figures as CloudWatch reads
// them, DeviceWaitSeconds from requestedAt to now, one delivery to the callback), no next
// message, and the callback it sent: one event of type typ with the devices want (a
// readinessSummary).
func wantReport(t *testing.T, r *readyRig, req readyRequest, c readyCheck, outcome, typ, want string, requestedAt time.Time) {
	t.Helper()
	if len(c.failed) != 0 || c.line["outcome"] != outcome || c.line["code"] != "ok" {
		t.Errorf("the reporting check: batchItemFailures %v, outcome %v, code %v; want %s, ok", c.failed, c.line["outcome"], c.line["code"], outcome)
	}
	wait := c.line["deviceWaitSeconds"]
	w, _ := wait.(float64)
	if most := math.Ceil(time.Since(requestedAt).Seconds()); w < 0 || w > most {
		t.Errorf("deviceWaitSeconds %v, want 0 to %v (since the request)", wait, most)
	}
	ready := map[string]float64{"devicesReady": 1}[outcome]
	wantFigures(t, "the reporting check", c.line, map[string]float64{"DevicesReady": ready, "DevicesNotReady": 1 - ready,
		"DeviceWaitSeconds": w, "DeliveryFailures": 0, "DeliveriesGivenUp": 0, "SyncOutcomeCompleted": -1})
	if got := fmt.Sprint(c.line["deliveries"]); got != "[map[status:204 target:callback verdict:delivered]]" {
		t.Errorf("deliveries %s, want the callback delivered (204)", got)
	}
	if c.next != nil {
		t.Errorf("the reporting check sent %+v, want nothing: every target told", *c.next)
	}
	events := r.callbacks(t, req)
	if len(events) != 1 {
		t.Fatalf("the receiver got %d callbacks, want 1", len(events))
	}
	ev := events[0]
	if ev.Type != typ || ev.Data.RequestedAt != requestedAt.UTC().Format(time.RFC3339) {
		t.Errorf("callback type %s requested at %s, want %s at %s", ev.Type, ev.Data.RequestedAt, typ, requestedAt.UTC().Format(time.RFC3339))
	}
	if got := readinessSummary(ev.Data.Devices); got != want {
		t.Errorf("callback devices\n got %s\nwant %s", got, want)
	}
}

// wantWaitingCheck checks a device check that found some serial not final: outcome pending, both
// device figures 0 and no wait, nothing told, and the next check after delay seconds with the
// serials final so far.
func wantWaitingCheck(t *testing.T, r *readyRig, what string, c readyCheck, delay int32, final []string) {
	t.Helper()
	if len(c.failed) != 0 || c.line["outcome"] != "pending" || c.line["deliveries"] != nil {
		t.Errorf("%s: batchItemFailures %v, outcome %v, deliveries %v; want pending, none", what, c.failed, c.line["outcome"], c.line["deliveries"])
	}
	wantFigures(t, what, c.line, map[string]float64{"DevicesReady": 0, "DevicesNotReady": 0, "DeviceWaitSeconds": -1, "SyncOutcomeCompleted": -1})
	if n := len(r.rcv.posts()); n != 0 {
		t.Errorf("%s: the receiver got %d callbacks, want none yet", what, n)
	}
	if c.next == nil {
		t.Fatalf("%s: no next check", what)
	}
	m := decodeMessage(t, c.next.MessageBody)
	var got []string
	if m.Devices != nil {
		for _, x := range m.Devices.Final {
			got = append(got, x.SerialNumber)
		}
	}
	if c.next.DelaySeconds != delay || !slices.Equal(got, final) {
		t.Errorf("%s: next after %d s with %q final, want after %d s with %q final", what, c.next.DelaySeconds, got, delay, final)
	}
}

// TestFollowToReady: POST /sync with two serials (one hyphenated, one with a substring
// neighbour already registered) and a callbackUrl; the two devices wait for registration in the
// emulator. The sync runs (pending, 60 s), ends (completed, logged, told to no one); the device
// checks find both registered (60 s), then one assigned (120 s, and only the other is read from
// then on), then both: exactly one callback autopilot.devices.ready, signed, with both serials'
// readiness in the order asked, the neighbour in neither.
func TestFollowToReady(t *testing.T) {
	t.Parallel()
	r := newReadyRig(t, startSQS(t), true, nil)
	first := r.e.emu.AddPendingDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: "5CG1234XYZ", GroupTag: "Sales"},
		emulator.ProfileAssignment{After: 20 * time.Second, Status: "assignedInSync"})
	second := r.e.emu.AddPendingDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: "PF-2AB3C"},
		emulator.ProfileAssignment{After: 50 * time.Second})
	neighbour := r.e.emu.AddDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: "5CG1234XYZ0", GroupTag: "Sales",
		DeploymentProfileAssignmentStatus: "failed", DeploymentProfileAssignmentDetailedStatus: "hardwareRequirementsNotMet"})

	req := r.request(t, "5CG1234XYZ", "PF-2AB3C")

	// The first check, received from the queue after its delay: the sync runs.
	rec := r.s.receive(t, r.q)
	if rec.Body != req.first.MessageBody {
		t.Fatalf("moto delivered %s, want what was sent", rec.Body)
	}
	c := r.check(t, req.id, rec.MessageId, rec.Body)
	checkOutcomeLine(t, c.line, "pending", 0)
	wantFigures(t, "the check while the sync runs", c.line, map[string]float64{"DevicesReady": -1, "DevicesNotReady": -1})
	if c.next == nil || c.next.DelaySeconds != 60 || c.reads != 0 {
		t.Fatalf("the check while the sync runs: next %+v, %d device reads; want the next check after 60 s, no device read", c.next, c.reads)
	}

	// The sync ends (the emulator's SyncDuration): logged, told to no one, the devices next.
	r.e.clock.Advance(readySyncDuration)
	c = r.check(t, req.id, "sync-end", c.next.MessageBody)
	wantSyncEnd(t, r, req, c)

	// Both devices registered with the sync that ended, neither assigned yet.
	c = r.check(t, req.id, "devices-1", c.next.MessageBody)
	wantWaitingCheck(t, r, "both registered", c, 60, nil)
	if c.reads != 2 {
		t.Errorf("both registered: %d device pages read, want 2 (one per serial)", c.reads)
	}

	// A minute later (on the emulator: 30 s), the first is assigned: only the other is read next.
	r.e.clock.Advance(30 * time.Second)
	c = r.check(t, req.id, "devices-2", c.next.MessageBody)
	wantWaitingCheck(t, r, "one assigned", c, 120, []string{"5CG1234XYZ"})
	if c.reads != 2 {
		t.Errorf("one assigned: %d device pages read, want 2", c.reads)
	}

	r.e.clock.Advance(30 * time.Second)
	c = r.check(t, req.id, "devices-3", c.next.MessageBody)
	if c.reads != 1 {
		t.Errorf("the last check read %d device pages, want 1: the serial that was not final", c.reads)
	}
	wantReport(t, r, req, c, "devicesReady", "autopilot.devices.ready",
		"5CG1234XYZ=assigned(ready true) ["+first.ID+" assignedInSync/none Sales]; PF-2AB3C=assigned(ready true) ["+second.ID+" assignedUnkownSyncState/none ]",
		req.requestedAt)
	if strings.Contains(string(r.rcv.posts()[0].body), neighbour.ID) {
		t.Errorf("the callback reports the substring neighbour %s", neighbour.SerialNumber)
	}
	if n := r.e.emu.Counts().Graph["POST sync"]; n != 1 {
		t.Errorf("%d Graph sync calls, want 1", n)
	}
}

// TestFollowToNotReady: a request with serials ends devicesNotReady when a serial's assignment
// failed (at the first device check, both being final), or when DEVICE_MAX_AGE has passed with a
// serial still waiting: one whose assignment never ends and one never registered, whose substring
// neighbour (assigned) is not taken for it. The callback autopilot.devices.notReady, signed or
// not, says each serial's state.
func TestFollowToNotReady(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	never := 1000 * time.Hour
	tests := []struct {
		name   string
		signed bool
		vars   map[string]string
		// pending are the serials added pending registration with their assignment; assigned
		// devices registered already.
		pending  map[string]emulator.ProfileAssignment
		assigned []string
		// maxAge: the first device check waits (its delay cut to DEVICE_MAX_AGE), then the minute
		// passes.
		maxAge bool
		want   string // readinessSummary of the callback, ids as {serial}
	}{
		{name: "one failed", signed: true,
			pending: map[string]emulator.ProfileAssignment{
				"5CG1234XYZ": {After: 10 * time.Second},
				"PF-2AB3C":   {After: 10 * time.Second, Status: "failed", DetailedStatus: "hardwareRequirementsNotMet"}},
			want: "5CG1234XYZ=assigned(ready true) [{5CG1234XYZ} assignedUnkownSyncState/none ]; PF-2AB3C=failed(ready false) [{PF-2AB3C} failed/hardwareRequirementsNotMet ]"},
		{name: "DEVICE_MAX_AGE, unsigned", vars: map[string]string{"DEVICE_MAX_AGE": "1m"}, maxAge: true,
			pending:  map[string]emulator.ProfileAssignment{"PF-2AB3C": {After: never}},
			assigned: []string{"5CG1234XYZ0"},
			want:     "5CG1234XYZ=notRegistered(ready false); PF-2AB3C=registered(ready false) [{PF-2AB3C} notAssigned/none ]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newReadyRig(t, s, tt.signed, tt.vars)
			want := tt.want
			for serial, a := range tt.pending {
				d := r.e.emu.AddPendingDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: serial}, a)
				want = strings.ReplaceAll(want, "{"+serial+"}", d.ID)
			}
			for _, serial := range tt.assigned {
				r.e.emu.AddDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: serial, DeploymentProfileAssignmentStatus: "assignedInSync"})
			}
			req := r.request(t, "5CG1234XYZ", "PF-2AB3C")
			due := r.untilDevices(t, req, 10*time.Second)
			requestedAt := req.requestedAt
			if tt.maxAge {
				// Each device check waits its backoff (60 s, then 120 s), cut to DEVICE_MAX_AGE
				// from the request: the second's next check is due when the minute is over.
				deadline := req.requestedAt.Add(time.Minute)
				waits := func(what, body string, backoff int32) readyCheck {
					t.Helper()
					most := min(backoff, int32(math.Ceil(time.Until(deadline).Seconds())))
					c := r.check(t, req.id, what, body)
					least := min(backoff, int32(math.Ceil(time.Until(deadline).Seconds())))
					if c.next == nil || c.next.DelaySeconds < least || c.next.DelaySeconds > most {
						t.Fatalf("%s: next %+v, want one due after %d to %d s (backoff %d s, DEVICE_MAX_AGE at %v)", what, c.next, least, most, backoff, deadline)
					}
					wantWaitingCheck(t, r, what, c, c.next.DelaySeconds, nil)
					return c
				}
				c := waits("the first check before DEVICE_MAX_AGE", due.MessageBody, 60)
				c = waits("the second check before DEVICE_MAX_AGE", c.next.MessageBody, 120)
				// The function's own next message, as it reads once the minute has passed.
				m := decodeMessage(t, c.next.MessageBody)
				m.RequestedAt = m.RequestedAt.Add(-time.Minute)
				if m.TriggeredAt != nil {
					triggered := m.TriggeredAt.Add(-time.Minute)
					m.TriggeredAt = &triggered
				}
				due.MessageBody, requestedAt = string(encode(t, m)), m.RequestedAt
			}
			c := r.check(t, req.id, "devices-last", due.MessageBody)
			wantReport(t, r, req, c, "devicesNotReady", "autopilot.devices.notReady", want, requestedAt)
			if tt.maxAge {
				if w := c.line["deviceWaitSeconds"].(float64); w < 60 {
					t.Errorf("deviceWaitSeconds %v after DEVICE_MAX_AGE, want at least 60", w)
				}
			}
		})
	}
}

// TestFollowToReadyDeliveredTwice: SQS delivers a message at least once, and a standard queue
// cannot deduplicate. The device check that reports, delivered twice (the same record again),
// tells the callback once per delivery; a device check that waits, delivered twice, forks the
// follow-up into two identical next checks, each of which reports. Either way the callback gets
// two posts with the same webhook-id (the follow-up's id), each signed, with the same devices, so
// a receiver that drops repeats by webhook-id acts once; each report logs devicesReady and counts
// DevicesReady 1.
func TestFollowToReadyDeliveredTwice(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	tests := []struct {
		name string
		// second is how long after the first the second serial's assignment ends; a check
		// between the two waits.
		second time.Duration
	}{
		{name: "the reporting check twice"},
		{name: "a waiting check twice: the follow-up forks", second: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newReadyRig(t, s, true, nil)
			r.e.emu.AddPendingDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: "5CG1234XYZ"}, emulator.ProfileAssignment{After: 10 * time.Second})
			r.e.emu.AddPendingDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: "PF-2AB3C"}, emulator.ProfileAssignment{After: 10*time.Second + tt.second})
			req := r.request(t, "5CG1234XYZ", "PF-2AB3C")
			due := []string{r.untilDevices(t, req, 10*time.Second).MessageBody}
			if tt.second > 0 {
				var forks []string
				for range 2 {
					c := r.check(t, req.id, "waiting", due[0])
					wantWaitingCheck(t, r, "a delivery of a waiting check", c, 60, []string{"5CG1234XYZ"})
					forks = append(forks, c.next.MessageBody)
				}
				if forks[0] != forks[1] {
					t.Errorf("the two deliveries of a waiting check sent different next checks:\n%s\n%s", forks[0], forks[1])
				}
				r.e.clock.Advance(tt.second)
				due = forks
			} else {
				due = append(due, due[0])
			}
			var lines []map[string]any
			for _, body := range due {
				c := r.check(t, req.id, "dup", body)
				if len(c.failed) != 0 || c.line["outcome"] != "devicesReady" || c.next != nil {
					t.Fatalf("a delivery of the reporting check: batchItemFailures %v, outcome %v, next %v", c.failed, c.line["outcome"], c.next)
				}
				wantFigures(t, "a delivery of the reporting check", c.line, map[string]float64{"DevicesReady": 1, "DevicesNotReady": 0})
				lines = append(lines, c.line)
			}
			if lines[0]["requestId"] == lines[1]["requestId"] {
				t.Errorf("both deliveries logged one invocation")
			}
			events := r.callbacks(t, req) // each checked: webhook-id is the follow-up's id
			if len(events) != 2 {
				t.Fatalf("the receiver got %d callbacks, want 2 (one per delivery)", len(events))
			}
			ids := map[string]bool{}
			for _, p := range r.rcv.posts() {
				ids[p.header.Get("webhook-id")] = true
			}
			if len(ids) != 1 || events[0].Type != "autopilot.devices.ready" || events[1].Type != events[0].Type ||
				readinessSummary(events[0].Data.Devices) != readinessSummary(events[1].Data.Devices) {
				t.Errorf("callbacks %+v with webhook-ids %v: want one webhook-id and the same event twice", events, ids)
			}
		})
	}
}

// TestFollowToReadyGraphUnavailable: Graph answers 503 to every device read of a device check
// (after azcore's retries): the record is listed in batchItemFailures, nothing is sent or told,
// and the line says graphUnavailable. The same record delivered again once Graph is back
// reports.
func TestFollowToReadyGraphUnavailable(t *testing.T) {
	t.Parallel()
	r := newReadyRig(t, startSQS(t), true, nil)
	for _, serial := range []string{"5CG1234XYZ", "PF-2AB3C"} {
		r.e.emu.AddPendingDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: serial}, emulator.ProfileAssignment{After: 10 * time.Second})
	}
	req := r.request(t, "5CG1234XYZ", "PF-2AB3C")
	due := r.untilDevices(t, req, 10*time.Second)

	remove := r.e.emu.AddFault(emulator.Fault{Service: emulator.Graph, Method: "GET", PathContains: "windowsAutopilotDeviceIdentities", Status: 503})
	c := r.check(t, req.id, "devices-1", due.MessageBody)
	if !slices.Equal(c.failed, []string{"devices-1"}) || c.line["outcome"] != "pending" || c.line["code"] != "graphUnavailable" || c.next != nil {
		t.Errorf("a device check during Graph 503: batchItemFailures %v, outcome %v, code %v, next %v; want the record listed, pending, graphUnavailable, nothing sent",
			c.failed, c.line["outcome"], c.line["code"], c.next)
	}
	wantFigures(t, "a device check during Graph 503", c.line, map[string]float64{"DevicesReady": 0, "DevicesNotReady": 0, "DeviceWaitSeconds": -1})
	if n := len(r.rcv.posts()); n != 0 {
		t.Errorf("the receiver got %d callbacks during Graph 503", n)
	}
	if c.reads != 8 {
		t.Errorf("%d device reads during Graph 503, want 8 (2 serials, each tried 4 times by azcore)", c.reads)
	}

	remove()
	c = r.check(t, req.id, "devices-1", due.MessageBody)
	if c.line["outcome"] != "devicesReady" || len(c.failed) != 0 || len(r.rcv.posts()) != 1 {
		t.Errorf("the record delivered again: outcome %v, batchItemFailures %v, %d callbacks; want devicesReady, told once", c.line["outcome"], c.failed, len(r.rcv.posts()))
	}
}

// TestSerialsRefusedBeforeGraph: a request with serials that cannot be followed is a 400 before
// any Graph call: without FOLLOWUP_QUEUE_URL, and with ?defer=false.
func TestSerialsRefusedBeforeGraph(t *testing.T) {
	t.Parallel()
	s := startSQS(t)
	tests := []struct {
		name, query string
		queue       bool
		wantDetail  string
	}{
		{name: "no FOLLOWUP_QUEUE_URL", wantDetail: "FOLLOWUP_QUEUE_URL"},
		{name: "defer=false", query: "defer=false", queue: true, wantDetail: "defer=false does not go with serials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			var vars map[string]string
			q := ""
			if tt.queue {
				q = s.newQueue(t)
				vars = s.vars(e, q)
			}
			fn := e.start(t, binaries.sync, vars)
			got := decodeHTTP(t, fn.invokeLogged(t, serialsRequest(t, tt.query, map[string]any{"serials": []string{"5CG1234XYZ", "PF-2AB3C"}})))
			body := got.json(t)
			if got.StatusCode != 400 || body["code"] != "badRequest" || !strings.Contains(fmt.Sprint(body["detail"]), tt.wantDetail) {
				t.Errorf("POST /sync with serials: %d %s, want 400 badRequest naming %s", got.StatusCode, got.Body, tt.wantDetail)
			}
			if graph := e.emu.Counts().Graph; sum(graph) != 0 {
				t.Errorf("Graph calls %v, want none (no sync started)", graph)
			}
			if tt.queue && len(s.sentTo(q)) != 0 {
				t.Errorf("messages sent %+v, want none", s.sentTo(q))
			}
		})
	}
}
