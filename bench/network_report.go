package main

import (
	"fmt"
	"strings"
	"time"
)

// floorRoundTrips is issue 17's floor for a client on azidentity/MSAL and azsecrets: one
// handshake to Entra (2), discovery and token for the Key Vault reader (2), the secret with the
// vault's handshake already done (1), discovery and token for the Graph app (2), Graph with its
// handshake already done (1).
const floorRoundTrips = 8

// Targets of issue 17.
const (
	targetColdRoundTrips = 8.5
	targetWarmRoundTrips = 1.3
)

// networkMarkdown renders the network part of a run.
func networkMarkdown(o networkOptions, ms []*netMeasurement, thaw []thawResult) string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	rtt := o.rtt
	p("\n## Counted in round trips (issue 17)\n\n")
	p("Each upstream (Entra ID, Key Vault, Graph) sits behind its own forwarder (`emulator.Link`, one loopback ")
	p("address each, all in front of the same emulator) that adds one round trip on connect and half a round trip ")
	p("on each chunk in each direction. Medians of %d cold starts per variant and RTT, interleaved; warm p50 of ", o.coldRuns)
	p("%d invocations after 5 untimed ones. Effective round trips are `(T(%v) − T(0)) / %v`; the RTT 0 ", o.invocations, rtt, rtt)
	p("figures go through the same forwarders. Connections and requests are those of the last cold start, ")
	p("counted by the forwarders and the emulator.\n\n")
	p("| | cold start, RTT 0 | cold start, RTT %v | cold round trips | warm p50, RTT 0 | warm p50, RTT %v | warm round trips | connections: Entra, Key Vault, Graph | requests: Entra, Key Vault, Graph | of which |\n", rtt, rtt)
	p("|---|---:|---:|---:|---:|---:|---:|---|---|---|\n")
	for _, m := range ms {
		c0, cN := median(m.at0.cold), median(m.atN.cold)
		w0, wN := median(m.at0.warmP50), median(m.atN.warmP50)
		s := m.atN
		p("| %s | %s | %s | **%.1f** | %s | %s | **%.2f** | %s | %s | %s |\n", m.v.name, ms0(c0), ms0(cN),
			effectiveRoundTrips(cN, c0, rtt), ms0(w0), ms0(wN), effectiveRoundTrips(wN, w0, rtt),
			triple(s.conns), triple(s.requests), ofWhich(s))
	}
	p("| floor (issue 17) | | | %d | | | 1 | 1, 1, 1 | 4, 2, 1 | |\n", floorRoundTrips)

	p("\n| target (issue 17) | status | sync | met |\n|---|---|---|---|\n")
	for _, t := range []struct {
		label string
		get   func(*netMeasurement) float64
		limit float64
	}{
		{fmt.Sprintf("cold ≤ %.1f round trips", targetColdRoundTrips), func(m *netMeasurement) float64 {
			return effectiveRoundTrips(median(m.atN.cold), median(m.at0.cold), rtt)
		}, targetColdRoundTrips},
		{fmt.Sprintf("warm ≤ %.1f round trips", targetWarmRoundTrips), func(m *netMeasurement) float64 {
			return effectiveRoundTrips(median(m.atN.warmP50), median(m.at0.warmP50), rtt)
		}, targetWarmRoundTrips},
	} {
		var cells []string
		met := true
		for _, name := range []string{"status", "sync"} {
			for _, m := range ms {
				if m.v.name == name {
					x := t.get(m)
					cells = append(cells, fmt.Sprintf("%.2f", x))
					met = met && x <= t.limit
				}
			}
		}
		p("| %s | %s | %s |\n", t.label, strings.Join(cells, " | "), yesNo(met))
	}

	if len(thaw) > 0 {
		p("\n### The first invocation after a thaw (RTT %v)\n\n", rtt)
		p("Each function is warmed up through the forwarders, its bootstrap stopped with SIGSTOP (as Lambda's ")
		p("freezer stops it), its pooled connections closed by the forwarders (a FIN to the client) or silently ")
		p("dropped (every byte swallowed, no FIN, no RST) for longer than the idle timeout of its transports (90 s); ")
		p("then an invocation is sent, the bootstrap resumed 20 ms later with SIGCONT, and the time from SIGCONT to ")
		p("the answer measured. Target: success within 1.5 s, no 5xx.\n\n")
		p("| case | function | SIGCONT → answer | answer | new connections: Entra, Key Vault, Graph | requests: Entra, Key Vault, Graph | met |\n")
		p("|---|---|---:|---|---|---|---|\n")
		for _, t := range thaw {
			answer := "as expected"
			if t.err != nil {
				answer = "**failed**: " + firstLine(t.err.Error())
			}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", t.thawCase, t.variant, ms0(t.took), answer,
				triple(t.conns), triple(t.requests), yesNo(t.err == nil && t.took <= 1500*time.Millisecond))
		}
	}
	return w.String()
}

func ms0(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func triple(n [3]int) string { return fmt.Sprintf("%d, %d, %d", n[0], n[1], n[2]) }

// ofWhich splits a cold start's requests into their kinds.
func ofWhich(s netSample) string {
	tokens := 0
	for _, n := range s.counts.Tokens {
		tokens += n
	}
	reads := 0
	for _, n := range s.counts.SecretReads {
		reads += n
	}
	return fmt.Sprintf("%d discovery + %d token; %d challenge + %d read", s.requests[0]-tokens, tokens, s.counts.VaultChallenges, reads)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
