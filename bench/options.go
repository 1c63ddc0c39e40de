package main

// applyQuick gives -quick its fewer repetitions, for each setting the command line did not set
// (set holds the flags it did).
func (o *options) applyQuick(set map[string]bool) {
	if !o.quick {
		return
	}
	defaults := []struct {
		flag  string
		apply func()
	}{
		{"cold", func() { o.coldRuns = 5 }},
		{"warm-runs", func() { o.warmRuns = 1 }},
		{"out", func() { o.out = "" }},
		{"net-cold", func() { o.net.coldRuns = 3 }},
		{"net-n", func() { o.net.invocations = 50 }},
		{"thaw", func() { o.net.thaw = false }},
	}
	for _, d := range defaults {
		if !set[d.flag] {
			d.apply()
		}
	}
}
