package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/flowtest"
)

// deferOptions are the command-line settings of the deferred-syncs section (issue 22).
type deferOptions struct {
	requests int
	seed     uint64
	only     bool
}

// register adds the section's flags to fs.
func (d *deferOptions) register(fs *flag.FlagSet) {
	fs.IntVar(&d.requests, "defer-requests", 1000, "deferred syncs: requests at random seconds of one simulated hour")
	fs.Uint64Var(&d.seed, "defer-seed", 22, "deferred syncs: seed of the arrivals (math/rand/v2 PCG)")
	fs.BoolVar(&d.only, "defer-only", false, "run only the deferred-syncs simulation (seconds, no builds) and replace its section of -out")
}

// deferSyncDurations are how long the emulator's syncs run in the simulations: its default, and
// a slow tenant's.
var deferSyncDurations = []time.Duration{90 * time.Second, 5 * time.Minute}

// deferHeading starts the section; -defer-only replaces the section it starts in -out.
const deferHeading = "## Deferred syncs: "

// runDeferrals simulates the deferred requests for each sync duration and returns the section's
// markdown. With -defer-only it also prints it, writes it into the file out (relative to root;
// "" writes nothing) in place of the section already there, and reports done: nothing else is
// to run.
func runDeferrals(ctx context.Context, o deferOptions, out, root, command string) (md string, done bool, err error) {
	if o.requests < 1 {
		return "", false, fmt.Errorf("-defer-requests must be at least 1")
	}
	fmt.Printf("bench: deferred syncs, %d requests in one simulated hour, seed %d\n", o.requests, o.seed)
	loadBefore := loadAverage()
	var figures []simFigures
	for _, d := range deferSyncDurations {
		f, err := simulateDeferrals(ctx, simSpec{Requests: o.requests, Window: time.Hour, Seed: o.seed, SyncDuration: d})
		if err != nil {
			return "", false, fmt.Errorf("deferred syncs, syncs of %v: %w", d, err)
		}
		figures = append(figures, f)
	}
	md = deferMarkdown(figures, command, loadBefore, loadAverage())
	if !o.only {
		return md, false, nil
	}
	fmt.Println()
	fmt.Print(md)
	if out == "" {
		return md, true, nil
	}
	path := filepath.Join(root, out)
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return "", true, err
	}
	if err := os.WriteFile(path, []byte(replaceSection(string(old), md)), 0o644); err != nil {
		return "", true, err
	}
	fmt.Printf("\nbench: wrote the deferred-syncs section of %s\n", path)
	return md, true, nil
}

// replaceSection returns doc with its deferred-syncs section (from deferHeading to the next
// "## " heading) replaced by section, or with section appended; one blank line stands before
// each heading.
func replaceSection(doc, section string) string {
	section = strings.Trim(section, "\n") + "\n"
	before, after := doc, ""
	if start := strings.Index("\n"+doc, "\n"+deferHeading); start >= 0 { // a heading starts a line
		before = doc[:start]
		rest := doc[start+len(deferHeading):]
		if end := strings.Index(rest, "\n## "); end >= 0 {
			after = rest[end+1:]
		}
	}
	out := section
	if before = strings.TrimRight(before, "\n"); before != "" {
		out = before + "\n\n" + section
	}
	if after != "" {
		out += "\n" + after
	}
	return out
}

// deferMarkdown renders the simulations, one column per sync duration.
func deferMarkdown(fs []simFigures, command, loadBefore, loadAfter string) string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	spec := fs[0].Spec
	p("\n%s%s requests in one hour (issue 22)\n\n", deferHeading, thousands(int64(spec.Requests)))
	p("`%s`, %s; seed %d; load average %s before, %s after. ", command, time.Now().UTC().Format("2006-01-02 15:04 UTC"), spec.Seed, loadBefore, loadAfter)
	p("The real sync function, wired as its main wires it (`config.Load`, `wiring.Build`, `wiring.WithFollowUp`; ")
	p("`SYNC_WHEN_BUSY=defer`, `FOLLOWUP_FIRST_CHECK` 60 s), against the emulator over TLS on loopback, all on one ")
	p("manual clock. %s `POST /sync` requests, each with a `callbackUrl`, arrive through the function's HTTP handler ", thousands(int64(spec.Requests)))
	p("at uniformly random whole seconds of one hour (`math/rand/v2` PCG). The follow-up queue is the simulation's: ")
	p("a message is due at now + its delay rounded up to whole seconds (SQS's `DelaySeconds`); every message due at ")
	p("the same second is handed to the function at once, each as its own SQS invocation in its own goroutine, so ")
	p("the checks race at Graph (the worst case: SQS spreads such deliveries over a second or more); ")
	p("`batchItemFailures` come back after 30 s. The clock then jumps to the next event, until every follow-up ")
	p("has ended (requests of the last minutes are served after the hour). A request's wait is from its arrival ")
	p("to the trigger of the sync whose end its callback reports. The arrivals are fixed by the seed; which of the ")
	p("requests and checks that meet at one second reaches Graph first is up to goroutine scheduling, so the split ")
	p("of 204s, 409s and 429s, and the waits, vary a little from run to run.\n\n")

	header := func(first, align string) {
		p("| %s |", first)
		for _, f := range fs {
			p(" sync runs %v |", f.Spec.SyncDuration)
		}
		p("\n|---|%s\n", strings.Repeat(align+"|", len(fs)))
	}
	header("", "---:")
	row := func(label string, cell func(simFigures) string) {
		p("| %s |", label)
		for _, f := range fs {
			p(" %s |", cell(f))
		}
		p("\n")
	}
	row("requests (callbacks)", func(f simFigures) string { return thousands(int64(f.Requests)) })
	row("answered 202 started, 202 deferred", func(f simFigures) string {
		return fmt.Sprintf("%d, %d", f.Answered["started"], f.Answered["deferred"])
	})
	row("**Graph sync calls accepted (204)**", func(f simFigures) string {
		return fmt.Sprintf("**%d** (%d in the hour, %d after)", f.accepted(), f.InWindow, len(f.Triggers)-f.InWindow)
	})
	row("… asked by a request, by a check", func(f simFigures) string {
		return fmt.Sprintf("%d, %d", f.answered(flowtest.FromRequest, http.StatusNoContent), f.answered(flowtest.FromCheck, http.StatusNoContent))
	})
	row("most accepted in any hour", func(f simFigures) string { return fmt.Sprint(f.MaxPerHour) })
	row("409 answered to requests, to checks", func(f simFigures) string {
		return fmt.Sprintf("%d, %d", f.answered(flowtest.FromRequest, http.StatusConflict), f.answered(flowtest.FromCheck, http.StatusConflict))
	})
	row("429 answered to requests, to checks", func(f simFigures) string {
		return fmt.Sprintf("%d, %d", f.answered(flowtest.FromRequest, http.StatusTooManyRequests), f.answered(flowtest.FromCheck, http.StatusTooManyRequests))
	})
	row("requests merged into a later trigger (no sync call of their own)", func(f simFigures) string { return fmt.Sprint(f.Checks["merged"]) })
	row("checks: started, merged, deferred again, pending, ended", func(f simFigures) string {
		c := f.Checks
		ended := c["completed"] + c["failed"] + c["timedOut"] + c["error"]
		return fmt.Sprintf("%d, %d, %d, %d, %d", c["started"], c["merged"], c["deferred"], c["pending"], ended)
	})
	row("follow-ups ended: completed, failed, timedOut, error", func(f simFigures) string {
		o := f.Outcomes
		return fmt.Sprintf("%d, %d, %d, %d", o["completed"], o["failed"], o["timedOut"], o["error"])
	})
	row("requests told nothing, told twice, served by an earlier sync", func(f simFigures) string {
		return fmt.Sprintf("%d, %d, %d", f.Missing, f.Repeated, f.Early)
	})
	row("wait, request → start of its sync: p50, p99", func(f simFigures) string {
		return fmt.Sprintf("%v, %v", percentile(f.Waits, 50), percentile(f.Waits, 99))
	})
	row("**longest wait**", func(f simFigures) string { return fmt.Sprintf("**%v**", f.longest()) })
	row("simulated span (first request → last check)", func(f simFigures) string {
		return f.LastEvent.Sub(simStart).Round(time.Second).String()
	})
	row("wall time of the simulation", func(f simFigures) string { return f.Wall.Round(10 * time.Millisecond).String() })

	p("\n")
	header("target (issue 22)", "---")
	row(fmt.Sprintf("≤ %d accepted syncs in any hour", maxSyncsPerHour), func(f simFigures) string { return yesNo(f.MaxPerHour <= maxSyncsPerHour) })
	row(fmt.Sprintf("every wait ≤ %v (10 min + one check interval)", maxDeferredWait), func(f simFigures) string {
		return yesNo(f.longest() <= maxDeferredWait)
	})
	row("every request told once: completed, by a sync at or after it", func(f simFigures) string {
		return yesNo(f.Outcomes["completed"] == f.Requests && f.Repeated == 0 && f.Early == 0 && f.Unmatched == 0)
	})
	return w.String()
}
