package main

// Readiness reads in round trips (issue 23): a warm GET /status?serial=… of 1 and of 20 serials,
// and a warm device check of a follow-up of 20 serials, through the forwarders of the network
// part, at RTT 0 and at -rtt. A function reads every serial at once, one Graph request each:
// over one HTTP/2 connection they cost one round trip together, not one each.

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/awssqs"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
)

// readinessSerials are the serials the readiness reads ask for: the emulator lists each as a
// device whose profile is assigned, so every read answers "assigned" at once. None is a
// substring of another, so that Graph's contains() finds exactly one device per serial.
func readinessSerials(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("5CG%04dRDY", i+1)
	}
	return out
}

// The follow-up queue the device check's record comes from. Nothing is sent to it (a check whose
// serials are all final ends the follow-up), and AWS_ENDPOINT_URL_SQS points at a closed
// loopback port, so that a send, were there one, would fail rather than leave the machine.
const (
	readinessQueueURL    = "https://sqs.eu-west-1.amazonaws.com/123456789012/autopilot-sync-followup"
	readinessQueueRegion = "eu-west-1"
)

// readinessCase is one warm readiness read: an event sent again and again to one function.
type readinessCase struct {
	name    string
	v       *variant // whose bootstrap answers
	serials int
	env     []string // added to the function's environment
	event   []byte
	// check says whether an answer is the one expected: every serial read, and assigned.
	check func(answer []byte) error
}

// readinessSample is one case at one RTT: the p50 of the timed invocations, and what they cost
// Graph in all (requests the emulator served, connections its forwarder accepted); warmupConns
// are the connections to Graph the untimed invocations opened, the first (cold) one included.
type readinessSample struct {
	p50         time.Duration
	invocations int
	requests    int
	conns       int
	warmupConns int
}

// readinessMeasurement is one case at RTT 0 and at the chosen RTT.
type readinessMeasurement struct {
	c        readinessCase
	at0, atN readinessSample
}

// readinessCases are the status reads of 1 and of 20 serials and the sync function's device
// check of 20, built from the status and sync variants.
func readinessCases(status, sync *variant) ([]readinessCase, error) {
	var cases []readinessCase
	for _, n := range []int{1, followup.MaxSerials} {
		ev, err := statusSerialsEvent(readinessSerials(n))
		if err != nil {
			return nil, err
		}
		cases = append(cases, readinessCase{name: fmt.Sprintf("GET /status?serial=… (%d)", n), v: status, serials: n,
			event: ev, check: func(answer []byte) error { return checkStatusAnswer(answer, n) }})
	}
	ev, err := deviceCheckEvent(readinessSerials(followup.MaxSerials), time.Now())
	if err != nil {
		return nil, err
	}
	cases = append(cases, readinessCase{name: fmt.Sprintf("device check, SQS (%d)", followup.MaxSerials), v: sync,
		serials: followup.MaxSerials, event: ev, check: checkSQSAnswer,
		env: []string{"FOLLOWUP_QUEUE_URL=" + readinessQueueURL, "AWS_REGION=" + readinessQueueRegion,
			"AWS_ENDPOINT_URL_SQS=http://127.0.0.1:1"}})
	return cases, nil
}

// statusSerialsEvent is the sample HTTP API event of GET /status with ?serial=<list>.
func statusSerialsEvent(list []string) ([]byte, error) {
	raw, err := fs.ReadFile(autopilotsync.SampleEvents, "httpapi-status.json")
	if err != nil {
		return nil, err
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	v := strings.Join(list, ",")
	ev.RawQueryString = "serial=" + v
	ev.QueryStringParameters = map[string]string{"serial": v}
	return json.Marshal(ev)
}

// deviceCheckEvent is an SQS record of a follow-up in its device checks (SPEC §15): the sync
// requested ten minutes before now has completed, and no serial is final yet, so the check
// reads them all; with no targets, the check that finds them all assigned ends the follow-up.
func deviceCheckEvent(list []string, now time.Time) ([]byte, error) {
	m := followup.New(followup.NewID(), "", now.Add(-10*time.Minute), followup.Targets{})
	m.Serials = list
	m.Devices = &followup.DeviceChecks{SyncResult: autopilot.Completed}
	body, err := m.Encode()
	if err != nil {
		return nil, err
	}
	arn, err := awssqs.QueueARN(readinessQueueURL, readinessQueueRegion)
	if err != nil {
		return nil, err
	}
	return json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: "readiness-1", Body: string(body),
		EventSource: "aws:sqs", EventSourceARN: arn, AWSRegion: readinessQueueRegion}}})
}

// checkStatusAnswer accepts an HTTP 200 whose document has n serials, each assigned.
func checkStatusAnswer(answer []byte, n int) error {
	var a struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	var doc struct {
		Devices []autopilot.Readiness `json:"devices"`
	}
	if err := json.Unmarshal(answer, &a); err != nil || a.StatusCode != 200 || json.Unmarshal([]byte(a.Body), &doc) != nil {
		return fmt.Errorf("want an HTTP 200 with a readiness document, got %.300s", answer)
	}
	if got := autopilot.Ready(doc.Devices); len(doc.Devices) != n || got != n {
		return fmt.Errorf("want %d serials, all assigned; got %d serials, %d assigned", n, len(doc.Devices), got)
	}
	return nil
}

// checkSQSAnswer accepts an SQS batch answer without failures.
func checkSQSAnswer(answer []byte) error {
	var a events.SQSEventResponse
	if err := json.Unmarshal(answer, &a); err != nil || strings.Contains(string(answer), "errorMessage") || len(a.BatchItemFailures) != 0 {
		return fmt.Errorf("want an SQS answer without failures, got %.300s", answer)
	}
	return nil
}

// addReadinessDevices lists every serial a case asks for in the seeded tenant, assigned.
func addReadinessDevices(emu *emulator.Emulator) {
	for _, s := range readinessSerials(followup.MaxSerials) {
		emu.AddDevice(emulator.SeedTenantID, emulator.Device{SerialNumber: s, GroupTag: "Bench",
			DeploymentProfileAssignmentStatus: "assignedInSync", DeploymentProfileAssignedDateTime: time.Now().Add(-time.Hour)})
	}
}

// measureReadiness measures every case through the links at RTT 0 and at o.rtt: one process per
// case and RTT, warmed up, then o.invocations timed invocations.
func measureReadiness(ctx context.Context, r runner, u *upstreams, cases []readinessCase, o networkOptions) ([]*readinessMeasurement, error) {
	addReadinessDevices(r.emu)
	base := append(append([]string(nil), r.env...), u.env...)
	fmt.Printf("bench: readiness reads at RTT 0 and %v: %d warm invocations per case and RTT\n", o.rtt, o.invocations)
	ms := make([]*readinessMeasurement, len(cases))
	for i, c := range cases {
		ms[i] = &readinessMeasurement{c: c}
		for _, rtt := range []time.Duration{0, o.rtt} {
			u.setRTT(rtt)
			s := &ms[i].at0
			if rtt > 0 {
				s = &ms[i].atN
			}
			var err error
			if *s, err = r.readinessWarm(ctx, u, c, append(append([]string(nil), base...), c.env...), o.invocations); err != nil {
				return nil, fmt.Errorf("%s at RTT %v: %w", c.name, rtt, err)
			}
		}
	}
	return ms, nil
}

// readinessWarm starts c's function, warms it up with 5 untimed invocations after the cold one
// and returns the p50 of n more, with the Graph requests and connections they cost.
func (r runner) readinessWarm(ctx context.Context, u *upstreams, c readinessCase, env []string, n int) (readinessSample, error) {
	u.resetAccepted()
	p, err := startRIE(ctx, r.rie, c.v.bins.run(), env)
	if err != nil {
		return readinessSample{}, err
	}
	defer p.stop()
	invoke := func() (time.Duration, error) {
		started := time.Now()
		answer, err := p.Invoke(ctx, c.event)
		took := time.Since(started)
		switch {
		case ctx.Err() != nil:
			return 0, errInterrupted
		case err != nil:
			return 0, err
		}
		if err := c.check(answer); err != nil {
			return 0, fmt.Errorf("%w\n%s", err, p.Output().Tail(16<<10))
		}
		return took, nil
	}
	for range 5 {
		if _, err := invoke(); err != nil {
			return readinessSample{}, err
		}
	}
	warmupConns := u.accepted()[2]
	r.emu.ResetCounts()
	u.resetAccepted()
	samples := make([]time.Duration, 0, n)
	for range n {
		d, err := invoke()
		if err != nil {
			return readinessSample{}, err
		}
		samples = append(samples, d)
	}
	return readinessSample{p50: percentile(samples, 50), invocations: n,
		requests: r.emu.Counts().Requests[emulator.Graph], conns: u.accepted()[2], warmupConns: warmupConns}, nil
}

// measureReadinessOf measures the readiness cases of status and sync and renders them.
func measureReadinessOf(ctx context.Context, r runner, u *upstreams, status, sync *variant, o networkOptions) (string, error) {
	cases, err := readinessCases(status, sync)
	if err != nil {
		return "", err
	}
	ms, err := measureReadiness(ctx, r, u, cases, o)
	if err != nil {
		return "", err
	}
	return readinessMarkdown(o, ms), nil
}

// runReadinessOnly is -readiness-only: it builds the RIE and the status and sync bootstraps,
// measures only the readiness reads and prints them.
func runReadinessOnly(ctx context.Context, o options, root, work string, clock *emulator.ManualClock, status, sync *variant) error {
	if o.net.rtt <= 0 {
		return fmt.Errorf("-readiness-only needs an -rtt above 0")
	}
	b := builder{root: root, dir: work, log: os.Stdout}
	rie, err := b.buildRIE(ctx)
	if err != nil {
		return err
	}
	for _, v := range []*variant{status, sync} {
		if v.bins, err = b.buildVariant(ctx, v); err != nil {
			return err
		}
	}
	emu, env, err := startEmulator(clock, work)
	if err != nil {
		return err
	}
	defer emu.Close()
	u, err := startUpstreams(emu)
	if err != nil {
		return err
	}
	defer u.close()
	md, err := measureReadinessOf(ctx, runner{rie: rie, env: env, emu: emu, o: o}, u, status, sync, o.net)
	if err != nil {
		return err
	}
	fmt.Printf("\nCommand: `%s`\n%s", commandLine(), md)
	return nil
}
