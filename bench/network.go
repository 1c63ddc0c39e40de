package main

// The network-shaped part of the benchmark (issue 17): each upstream (Entra, Key Vault, Graph)
// behind its own emulator.Link, which adds a round trip on connect and half a round trip on
// each chunk in each direction, so that a cold start is counted in round trips.

import (
	"context"
	"fmt"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// upstreamNames are the upstreams in report order.
var upstreamNames = [3]string{"Entra", "Key Vault", "Graph"}

// upstreamServices are the emulator's services behind each upstream, in the same order.
var upstreamServices = [3]emulator.Service{emulator.Entra, emulator.Vault, emulator.Graph}

// upstreams are one Link per upstream, all in front of the same emulator; the functions reach
// each at its own address (AZURE_AUTHORITY_HOST, KEY_VAULT_URL, GRAPH_BASE_URL).
type upstreams struct {
	links [3]*emulator.Link
	env   []string // the variables that point the functions at the links
}

func startUpstreams(emu *emulator.Emulator) (*upstreams, error) {
	u := &upstreams{}
	for i := range u.links {
		l, err := emulator.StartLink(emu.URL(), emulator.LinkOptions{})
		if err != nil {
			u.close()
			return nil, err
		}
		u.links[i] = l
	}
	u.env = []string{
		"AZURE_AUTHORITY_HOST=https://" + u.links[0].Addr(),
		"KEY_VAULT_URL=https://" + u.links[1].Addr() + "/",
		"GRAPH_BASE_URL=https://" + u.links[2].Addr() + "/beta",
	}
	return u, nil
}

func (u *upstreams) setRTT(d time.Duration) {
	for _, l := range u.links {
		l.SetRTT(d)
	}
}

func (u *upstreams) resetAccepted() {
	for _, l := range u.links {
		l.ResetAccepted()
	}
}

func (u *upstreams) accepted() (n [3]int) {
	for i, l := range u.links {
		n[i] = l.Accepted()
	}
	return n
}

func (u *upstreams) close() {
	for _, l := range u.links {
		if l != nil {
			_ = l.Close()
		}
	}
}

// netSample is what one RTT setting measured of one variant.
type netSample struct {
	cold    []time.Duration
	warmP50 []time.Duration
	// Of the last cold start: connections each upstream accepted and requests it served, and
	// the emulator's own counters.
	conns, requests [3]int
	counts          emulator.Counts
}

// netMeasurement is one variant at RTT 0 and at the chosen RTT.
type netMeasurement struct {
	v        *variant
	at0, atN netSample
}

// networkOptions are the settings of the network part of a run.
type networkOptions struct {
	rtt         time.Duration
	coldRuns    int // cold starts per variant and RTT
	invocations int // timed warm invocations per variant and RTT
	thaw        bool
	freeze      time.Duration // of the silently dropped case: longer than the idle timeout
	// readinessOnly runs only the readiness reads of issue 23 (readiness.go) and prints them.
	readinessOnly bool
}

// measureNetwork measures vs through the links at RTT 0 and at o.rtt, cold starts interleaved
// across variants as in the loopback part.
func measureNetwork(ctx context.Context, r runner, u *upstreams, vs []*variant, o networkOptions) ([]*netMeasurement, error) {
	r.env = append(append([]string(nil), r.env...), u.env...)
	ms := make([]*netMeasurement, len(vs))
	for i, v := range vs {
		ms[i] = &netMeasurement{v: v}
	}
	rtts := []time.Duration{0, o.rtt}
	fmt.Printf("bench: RTT 0 and %v: %d cold starts and %d warm invocations per variant and RTT\n", o.rtt, o.coldRuns, o.invocations)
	// Cold starts interleaved across RTTs too, so that the machine's drift hits both alike.
	for i := 0; i < o.coldRuns; i++ {
		for _, rtt := range rtts {
			u.setRTT(rtt)
			for _, m := range ms {
				if err := r.netCold(ctx, u, m.v, m.sample(rtt)); err != nil {
					return nil, fmt.Errorf("%s: cold start at RTT %v: %w", m.v.name, rtt, err)
				}
			}
		}
	}
	for _, rtt := range rtts {
		u.setRTT(rtt)
		for _, m := range ms {
			p50, err := r.netWarm(ctx, m.v, o.invocations)
			if err != nil {
				return nil, fmt.Errorf("%s: warm at RTT %v: %w", m.v.name, rtt, err)
			}
			s := m.sample(rtt)
			s.warmP50 = append(s.warmP50, p50)
		}
	}
	return ms, nil
}

func (m *netMeasurement) sample(rtt time.Duration) *netSample {
	if rtt == 0 {
		return &m.at0
	}
	return &m.atN
}

// netCold measures one cold start of v through the links, and what it cost each upstream.
func (r runner) netCold(ctx context.Context, u *upstreams, v *variant, s *netSample) error {
	if ctx.Err() != nil {
		return errInterrupted
	}
	if v.beforeInvoke != nil {
		v.beforeInvoke()
	}
	p, err := startRIE(ctx, r.rie, v.bins.run(), r.env)
	if err != nil {
		return err
	}
	defer p.stop()
	r.emu.ResetCounts()
	u.resetAccepted()
	if _, err := p.invoke(ctx, v.event, v.wantStatus); err != nil {
		return err
	}
	s.cold = append(s.cold, time.Since(p.Started()))
	s.conns, s.counts = u.accepted(), r.emu.Counts()
	for i, svc := range upstreamServices {
		s.requests[i] = s.counts.Requests[svc]
	}
	return nil
}

// netWarm starts v, warms it up and returns the p50 of n invocations.
func (r runner) netWarm(ctx context.Context, v *variant, n int) (time.Duration, error) {
	p, err := startRIE(ctx, r.rie, v.bins.run(), r.env)
	if err != nil {
		return 0, err
	}
	defer p.stop()
	samples := make([]time.Duration, 0, n)
	for i := 0; i < n+5; i++ {
		if ctx.Err() != nil {
			return 0, errInterrupted
		}
		if v.beforeInvoke != nil {
			v.beforeInvoke()
		}
		d, err := p.invoke(ctx, v.event, v.wantStatus)
		if err != nil {
			return 0, err
		}
		if i >= 5 {
			samples = append(samples, d)
		}
	}
	return percentile(samples, 50), nil
}

// effectiveRoundTrips is (T(rtt) − T(0)) / rtt.
func effectiveRoundTrips(atN, at0, rtt time.Duration) float64 {
	if rtt <= 0 {
		return 0
	}
	return float64(atN-at0) / float64(rtt)
}
