package main

// Thawed connections (issue 17, item 3): the first invocation after a Lambda environment thaws,
// measured with the bootstrap stopped (SIGSTOP, as Lambda's freezer stops it) while its pooled
// connections are closed, or silently dropped for longer than the transport's idle timeout.

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// thawCase is one way the network treats pooled connections while the function is frozen.
type thawCase struct {
	name   string
	freeze time.Duration // how long the function stays stopped after the fault, at least
	fault  func(*upstreams)
}

// thawResult is the first invocation after one thaw.
type thawResult struct {
	thawCase, variant string
	took              time.Duration // SIGCONT → answer
	err               error
	conns, requests   [3]int // new connections per upstream and requests they served
}

func thawCases(freeze time.Duration) []thawCase {
	return []thawCase{
		{name: "closed while frozen (FIN)", fault: func(u *upstreams) {
			for _, l := range u.links {
				l.CloseFlows()
			}
		}},
		{name: fmt.Sprintf("silently dropped, frozen %v", freeze), freeze: freeze, fault: func(u *upstreams) {
			for _, l := range u.links {
				l.Blackhole()
			}
		}},
	}
}

// measureThaw runs each case for each variant: warm the function up through the links at rtt,
// stop its bootstrap, apply the fault, wait, then send an invocation and resume the bootstrap.
// The variants of one case share the freeze.
func measureThaw(ctx context.Context, r runner, u *upstreams, vs []*variant, rtt time.Duration, cases []thawCase) ([]thawResult, error) {
	r.env = append(append([]string(nil), r.env...), u.env...)
	u.setRTT(rtt)
	var results []thawResult
	for _, c := range cases {
		fmt.Printf("bench: thaw: %s\n", c.name)
		procs := make([]*running, len(vs))
		for i, v := range vs {
			p, err := startRIE(ctx, r.rie, v.bins.run(), r.env)
			if err != nil {
				return nil, err
			}
			defer p.stop()
			for range 3 {
				if v.beforeInvoke != nil {
					v.beforeInvoke()
				}
				if _, err := p.invoke(ctx, v.event, v.wantStatus); err != nil {
					return nil, fmt.Errorf("%s: warm-up: %w", v.name, err)
				}
			}
			procs[i] = p
		}
		pids := make([]int, len(procs))
		for i, p := range procs {
			pid, err := p.BootstrapPID()
			if err != nil {
				return nil, err
			}
			pids[i] = pid
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				return nil, fmt.Errorf("SIGSTOP %d: %w", pid, err)
			}
		}
		c.fault(u)
		select {
		case <-time.After(c.freeze):
		case <-ctx.Done():
			return nil, errInterrupted
		}
		for i, v := range vs {
			results = append(results, r.thawOne(ctx, u, v, procs[i], pids[i], c.name))
		}
		for _, p := range procs {
			p.stop()
		}
	}
	return results, nil
}

// thawOne sends v an invocation while its bootstrap is stopped, resumes it and waits for the
// answer, as Lambda delivers the next event to an environment it thaws.
func (r runner) thawOne(ctx context.Context, u *upstreams, v *variant, p *running, pid int, name string) thawResult {
	res := thawResult{thawCase: name, variant: v.name}
	if v.beforeInvoke != nil {
		v.beforeInvoke()
	}
	r.emu.ResetCounts()
	u.resetAccepted()
	done := make(chan error, 1)
	go func() {
		_, err := p.invoke(ctx, v.event, v.wantStatus)
		done <- err
	}()
	// Let the RIE hand the event to the stopped bootstrap's socket before it resumes (the
	// benchmark may wait; tests never do).
	time.Sleep(20 * time.Millisecond)
	resumed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		res.err = fmt.Errorf("SIGCONT %d: %w", pid, err)
		return res
	}
	res.err = <-done
	res.took = time.Since(resumed)
	res.conns = u.accepted()
	counts := r.emu.Counts()
	for i, svc := range upstreamServices {
		res.requests[i] = counts.Requests[svc]
	}
	return res
}
