package main

import (
	"fmt"
	"strings"
)

// targetReadinessRoundTrips is issue 23's target for a warm readiness read of 1 and of 20 serials.
const targetReadinessRoundTrips = 1.5

// readinessMarkdown renders the readiness reads.
func readinessMarkdown(o networkOptions, ms []*readinessMeasurement) string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	rtt := o.rtt
	p("\n## Readiness reads in round trips (issue 23)\n\n")
	p("Warm readiness reads through the same forwarders: the status function's `GET /status?serial=…` ")
	p("of 1 and of 20 serials, and the sync function's device check of a follow-up of 20 serials (an SQS ")
	p("record of a follow-up whose sync has completed, SPEC §15). The emulator lists every serial as a ")
	p("device whose profile is assigned, so each read answers at once and the check ends the follow-up ")
	p("(it has no targets, so it delivers and sends nothing). One process per case and RTT; warm p50 of ")
	p("%d invocations after 5 untimed ones. Effective round trips are `(T(%v) − T(0)) / %v`. Graph ", o.invocations, rtt, rtt)
	p("requests and new Graph connections are those of the timed invocations at RTT %v, counted by the ", rtt)
	p("emulator and by Graph's forwarder, and the warm-up's Graph connections those the first 6 (untimed) ")
	p("invocations opened, the cold one included. A function reads every serial at once, one Graph request ")
	p("each, over the one HTTP/2 connection it keeps to Graph; on a cold start, net/http dials for every ")
	p("request that finds no connection while it cannot know yet that Graph speaks HTTP/2, hands the first ")
	p("HTTP/2 connection to all of them and closes the others once their handshakes end. The wall time at RTT %v over %v includes this ", rtt, rtt)
	p("machine's CPU time, which the RTT 0 column shows (the emulator's and the forwarders' included, ")
	p("all on the same 2 cores): the effective round trips subtract it.\n\n")
	p("| | warm p50, RTT 0 | warm p50, RTT %v | warm round trips | wall ÷ RTT | Graph requests per invocation | new Graph connections in %d invocations | warm-up's Graph connections |\n", rtt, o.invocations)
	p("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, m := range ms {
		s := m.atN
		p("| %s | %s | %s | **%.2f** | %.2f | %s | %d | %d |\n", m.c.name, ms0(m.at0.p50), ms0(s.p50),
			effectiveRoundTrips(s.p50, m.at0.p50, rtt), float64(s.p50)/float64(rtt),
			perInvocation(s.requests, s.invocations), s.conns, s.warmupConns)
	}
	p("\n| target (issue 23) | %s | met |\n|---|%s---|\n", strings.Join(caseNames(ms), " | "), strings.Repeat("---|", len(ms)))
	var cells []string
	met := true
	for _, m := range ms {
		x := effectiveRoundTrips(m.atN.p50, m.at0.p50, rtt)
		cells = append(cells, fmt.Sprintf("%.2f", x))
		met = met && x <= targetReadinessRoundTrips
	}
	p("| warm ≤ %.1f round trips | %s | %s |\n", targetReadinessRoundTrips, strings.Join(cells, " | "), yesNo(met))
	return w.String()
}

func caseNames(ms []*readinessMeasurement) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.c.name
	}
	return out
}

// perInvocation is n ÷ invocations with one decimal.
func perInvocation(n, invocations int) string {
	if invocations == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", float64(n)/float64(invocations))
}
