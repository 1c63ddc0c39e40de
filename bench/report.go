package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// measurement is everything measured of one variant.
type measurement struct {
	cold                              []time.Duration // RIE start → first answer, per cold start
	coldHandler, coldVault, coldGraph []time.Duration // from the first invocation's log line, when written
	coldRSS                           []int64         // VmHWM after the first invocation
	warmP50, warmP99                  []time.Duration // one each per warm run
	warmRSS                           []int64         // VmHWM at the end of each warm run
	warmInvocations                   int
	vaultRequests, tokenRequests      int // during timed warm invocations
	graphRequests                     int
	coldRequests                      string // the emulator's counters for one cold start
	sizeAMD64, sizeARM64              int64
	zipAMD64, zipARM64                int64
}

func (m *measurement) readSizes(b binaries) error {
	for _, f := range []struct {
		path string
		n    *int64
	}{{b.amd64, &m.sizeAMD64}, {b.arm64, &m.sizeARM64}, {b.zipAMD64, &m.zipAMD64}, {b.zipARM64, &m.zipARM64}} {
		n, err := fileSize(f.path)
		if err != nil {
			return err
		}
		*f.n = n
	}
	return nil
}

// addCounts adds the emulator's counters of n warm invocations.
func (m *measurement) addCounts(c emulator.Counts, n int) {
	m.warmInvocations += n
	m.vaultRequests += c.VaultChallenges
	for _, k := range c.SecretReads {
		m.vaultRequests += k
	}
	for _, k := range c.Tokens {
		m.tokenRequests += k
	}
	for _, k := range c.Graph {
		m.graphRequests += k
	}
}

// describeCold summarises the emulator's counters of one cold start.
func describeCold(c emulator.Counts) string {
	sum := func(m map[string]int) (n int) {
		for _, k := range m {
			n += k
		}
		return n
	}
	return fmt.Sprintf("%d token, %d Key Vault challenge, %d secret read, %d Graph",
		sum(c.Tokens), c.VaultChallenges, sum(c.SecretReads), sum(c.Graph))
}

func (m *measurement) per100(n int) float64 {
	if m.warmInvocations == 0 {
		return 0
	}
	return float64(n) * 100 / float64(m.warmInvocations)
}

// percentile returns the nearest-rank p-th percentile of samples (which it sorts).
func percentile(samples []time.Duration, p int) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	slices.Sort(samples)
	rank := (p*len(samples) + 99) / 100 // ceil(p/100 × n)
	return samples[max(rank, 1)-1]
}

// median returns the median of xs (the mean of the middle two for an even count).
func median[T time.Duration | int64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// moduleRow is one module's share of each variant's binary.
type moduleRow struct {
	module string
	bytes  map[string]int64 // variant name → bytes
}

// moduleSizes groups each variant's linked packages by the module that provides them (from
// `go version -m`) and returns the largest modules first.
func moduleSizes(ctx context.Context, b builder, variants []*variant, linked map[string][]pkgSize) ([]moduleRow, error) {
	rows := map[string]*moduleRow{}
	for _, v := range variants {
		bin := filepath.Join(b.dir, v.name, "unstripped")
		out, err := exec.CommandContext(ctx, "go", "version", "-m", bin).Output()
		if err != nil {
			return nil, fmt.Errorf("go version -m %s: %w", bin, err)
		}
		var mods []string
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && (f[0] == "mod" || f[0] == "dep") {
				mods = append(mods, f[1])
			}
		}
		for _, p := range linked[v.name] {
			m := moduleOf(p.Pkg, mods)
			if rows[m] == nil {
				rows[m] = &moduleRow{module: m, bytes: map[string]int64{}}
			}
			rows[m].bytes[v.name] += p.Bytes
		}
	}
	list := make([]moduleRow, 0, len(rows))
	for _, r := range rows {
		list = append(list, *r)
	}
	biggest := func(r moduleRow) int64 {
		var n int64
		for _, b := range r.bytes {
			n = max(n, b)
		}
		return n
	}
	sort.Slice(list, func(i, j int) bool { return biggest(list[i]) > biggest(list[j]) })
	return list, nil
}

// moduleOf returns the module among mods that provides pkg: the longest prefix, or "std".
func moduleOf(pkg string, mods []string) string {
	if strings.HasPrefix(pkg, "(") {
		return pkg
	}
	best := ""
	for _, m := range mods {
		if (pkg == m || strings.HasPrefix(pkg, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	if best != "" {
		return best
	}
	if first, _, _ := strings.Cut(pkg, "/"); !strings.Contains(first, ".") {
		return "std"
	}
	return pkg
}

// machine are the facts about the machine a report was measured on.
type machine struct {
	cpu, kernel, goVersion string
	nproc                  int
	loadBefore, loadAfter  string // /proc/loadavg: other work on the machine blurs timings
}

func machineFacts(root string) machine {
	m := machine{nproc: runtime.NumCPU(), cpu: "unknown", kernel: "unknown", goVersion: runtime.Version()}
	cmd := exec.Command("go", "env", "GOVERSION")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		m.goVersion = strings.TrimSpace(string(out))
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(data))
	}
	m.loadBefore = loadAverage()
	return m
}

// loadAverage returns the 1-, 5- and 15-minute load averages.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// report renders a run's results.
type report struct {
	date     time.Time
	took     time.Duration
	command  string
	o        options
	machine  machine
	variants []*variant
	modules  []moduleRow
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// mib is n bytes in MiB (2²⁰ bytes), the one unit of sizes in RESULTS.md, the Makefile and the docs.
func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

// size is a file's size in bytes and in MiB: "10,027,170 bytes (9.56 MiB)".
func size(n int64) string { return fmt.Sprintf("%s bytes (%s)", thousands(n), mib(n)) }

// thousands writes n with a comma between each group of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Limits of the targets, in bytes.
const (
	maxBootstrapARM64 = 10_000_000 // the arm64 bootstrap: 9.54 MiB
	maxPeakRSS        = 30_000_000 // peak RSS: 28.61 MiB
)

// ratio formats a/b.
func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func (r report) variant(name string) *variant {
	for _, v := range r.variants {
		if v.name == name {
			return v
		}
	}
	panic("bench: no variant " + name)
}

func (r report) markdown() string {
	var w strings.Builder
	base, status, syncV, peer := r.variant("baseline"), r.variant("status"), r.variant("sync"), r.variant("peer")
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }

	p("# Benchmark results\n\n")
	p("Measured %s on %d CPUs (%s, Linux %s) with %s, in %s:\n\n",
		r.date.Format("2006-01-02 15:04 MST"), r.machine.nproc, r.machine.cpu, r.machine.kernel, r.machine.goVersion,
		r.took.Round(time.Second))
	p("```sh\n%s\n```\n\n", r.command)
	p("Load average (1, 5, 15 min) %s before and %s after the run; anything else running on the machine ", r.machine.loadBefore, r.machine.loadAfter)
	p("widens the latency figures, so compare columns of one run rather than runs of different days.\n\n")
	p("Each bootstrap is built as Lambda builds it (`CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w'`) ")
	p("and runs for linux/%s under `aws-lambda-rie` (the `tool` of go.mod) against the in-process emulator of Entra ID, ", goarchHost)
	p("Key Vault and Graph over TLS on loopback, trusting only the emulator's CA. ")
	p("Medians over %d cold starts per variant (RIE process start → first invocation answered, interleaved across variants) ", r.o.coldRuns)
	p("and %d warm run(s) of %d invocations each (after %d untimed ones; one keep-alive client; p50/p99 per run). ", r.o.warmRuns, r.o.invocations, r.o.warmup+1)
	p("Peak RSS is the bootstrap's `VmHWM` at the end of a warm run. Sizes are in bytes and MiB (1 MiB = 1,048,576 bytes).\n\n")
	p("| | baseline | status | sync | peer | status ÷ baseline | sync ÷ baseline | status ÷ peer | sync ÷ peer |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	row := func(label string, get func(*variant) float64, format func(float64) string) {
		b, s, y, q := get(base), get(status), get(syncV), get(peer)
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, format(b), format(s), format(y), format(q),
			ratio(s, b), ratio(y, b), ratio(s, q), ratio(y, q))
	}
	fms := func(x float64) string { return ms(time.Duration(x)) }
	fmib := func(x float64) string { return mib(int64(x)) }
	fsize := func(x float64) string { return size(int64(x)) }
	fcount := func(x float64) string { return fmt.Sprintf("%.1f", x) }
	row("cold start (median)", func(v *variant) float64 { return float64(median(v.m.cold)) }, fms)
	row("cold start (fastest)", func(v *variant) float64 { return float64(slices.Min(v.m.cold)) }, fms)
	row("warm p50", func(v *variant) float64 { return float64(median(v.m.warmP50)) }, fms)
	row("warm p99", func(v *variant) float64 { return float64(median(v.m.warmP99)) }, fms)
	row("peak RSS (VmHWM)", func(v *variant) float64 { return float64(median(v.m.warmRSS)) }, fmib)
	row("peak RSS after 1st invocation", func(v *variant) float64 { return float64(median(v.m.coldRSS)) }, fmib)
	row("bootstrap linux/amd64", func(v *variant) float64 { return float64(v.m.sizeAMD64) }, fsize)
	row("bootstrap linux/arm64", func(v *variant) float64 { return float64(v.m.sizeARM64) }, fsize)
	row("zip linux/arm64 (deployed)", func(v *variant) float64 { return float64(v.m.zipARM64) }, fsize)
	row("zip linux/amd64", func(v *variant) float64 { return float64(v.m.zipAMD64) }, fsize)
	row("Key Vault requests / 100 warm", func(v *variant) float64 { return v.m.per100(v.m.vaultRequests) }, fcount)
	row("token requests / 100 warm", func(v *variant) float64 { return v.m.per100(v.m.tokenRequests) }, fcount)
	row("Graph requests / 100 warm", func(v *variant) float64 { return v.m.per100(v.m.graphRequests) }, fcount)
	p("\nThe sync variant moves the emulator's clock 11 minutes before each invocation (untimed), so every POST is a ")
	p("Graph 204 answered 202. The peer does only the status read, so the ÷ peer columns compare like with like for status; ")
	p("for sync they compare footprint only.\n\n")

	p("## Targets (issue 7)\n\n| target | status | sync | met |\n|---|---|---|---|\n")
	bp50, bp99, bcold := median(base.m.warmP50), median(base.m.warmP99), median(base.m.cold)
	check := func(label string, ok func(*variant) (string, bool)) {
		s, sOK := ok(status)
		y, yOK := ok(syncV)
		met := "yes"
		switch {
		case !sOK && !yOK:
			met = "**no**"
		case !sOK:
			met = "**no** (status)"
		case !yOK:
			met = "**no** (sync)"
		}
		p("| %s | %s | %s | %s |\n", label, s, y, met)
	}
	check("warm p50 ≤ baseline + 0.5 ms", func(v *variant) (string, bool) {
		d := median(v.m.warmP50) - bp50
		return signed(d), d <= 500*time.Microsecond
	})
	check("warm p99 ≤ baseline + 2 ms", func(v *variant) (string, bool) {
		d := median(v.m.warmP99) - bp99
		return signed(d), d <= 2*time.Millisecond
	})
	check("cold start ≤ 1.5× baseline", func(v *variant) (string, bool) {
		x := float64(median(v.m.cold)) / float64(bcold)
		return fmt.Sprintf("%.2f×", x), x <= 1.5
	})
	check("arm64 bootstrap ≤ "+size(maxBootstrapARM64), func(v *variant) (string, bool) {
		return size(v.m.sizeARM64), v.m.sizeARM64 <= maxBootstrapARM64
	})
	check("peak RSS ≤ "+mib(maxPeakRSS), func(v *variant) (string, bool) {
		n := median(v.m.warmRSS)
		return mib(n), n <= maxPeakRSS
	})
	check("≥ 3× smaller than the peer (arm64 bootstrap)", func(v *variant) (string, bool) {
		x := float64(peer.m.sizeARM64) / float64(v.m.sizeARM64)
		return fmt.Sprintf("%.2f× smaller", x), x >= 3
	})
	check("≥ 3× smaller than the peer (peak RSS)", func(v *variant) (string, bool) {
		x := float64(median(peer.m.warmRSS)) / float64(median(v.m.warmRSS))
		return fmt.Sprintf("%.2f× smaller", x), x >= 3
	})
	check("0 Key Vault and token requests per warm invocation", func(v *variant) (string, bool) {
		return fmt.Sprintf("%d KV, %d token in %d", v.m.vaultRequests, v.m.tokenRequests, v.m.warmInvocations),
			v.m.vaultRequests == 0 && v.m.tokenRequests == 0
	})

	if len(status.m.coldHandler) > 0 || len(syncV.m.coldHandler) > 0 {
		p("\n## Where the cold start goes (medians)\n\n")
		p("From each function's own first invocation log line (SPEC §12): the handler's duration and, within it, ")
		p("Key Vault (its token included) and Graph (the Graph token included). The rest is process start, Go runtime ")
		p("and package init, `main`, and the RIE's own work, which the baseline pays too.\n\n")
		p("| | cold start | before the handler | handler | Key Vault | Graph | baseline cold start | requests of the first invocation |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
		for _, v := range []*variant{status, syncV} {
			if len(v.m.coldHandler) == 0 {
				continue
			}
			c, h := median(v.m.cold), median(v.m.coldHandler)
			p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", v.name, ms(c), ms(c-h), ms(h),
				ms(median(v.m.coldVault)), ms(median(v.m.coldGraph)), ms(bcold), v.m.coldRequests)
		}
	}

	p("\n## What is linked (linux/amd64, by module)\n\n")
	p("Bytes of code and data each module contributes: symbol sizes of an unstripped build (as `go tool nm -size` ")
	p("lists them) in sections that occupy the file, grouped by the modules of `go version -m`. Type descriptors, ")
	p("itabs and function metadata are their own rows; pclntab, the symbol table and DWARF are not counted.\n\n")
	p("| module | baseline | status | sync | peer |\n|---|---:|---:|---:|---:|\n")
	for i, m := range r.modules {
		if i == 15 {
			break
		}
		p("| %s | %s | %s | %s | %s |\n", m.module, bytesOrDash(m.bytes["baseline"]), bytesOrDash(m.bytes["status"]), bytesOrDash(m.bytes["sync"]), bytesOrDash(m.bytes["peer"]))
	}
	return w.String()
}

// signed formats a difference to the baseline.
func signed(d time.Duration) string {
	if d < 0 {
		return "−" + ms(-d)
	}
	return "+" + ms(d)
}

// bytesOrDash is n in bytes, or a dash for none.
func bytesOrDash(n int64) string {
	if n == 0 {
		return "–"
	}
	return thousands(n)
}
