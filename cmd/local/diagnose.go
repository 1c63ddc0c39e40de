package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/diagnose"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/jsonenc"
)

// diagnoseFlags are the flags of -diagnose (SPEC §14): run the checks of the diagnose action with
// the configuration in the environment, print the report, and exit.
type diagnoseFlags struct {
	enabled, asJSON *bool
	function        *string
}

// addDiagnoseFlags adds -diagnose, -json and -function to fs.
func addDiagnoseFlags(fs *flag.FlagSet) *diagnoseFlags {
	return &diagnoseFlags{
		enabled: fs.Bool("diagnose", false, "check every link of the chain (Entra ID, Key Vault, Graph) with the configuration in the environment, print what to fix, and exit: status 0 when every check passes, 1 otherwise"),
		asJSON:  fs.Bool("json", false, "with -diagnose: print the report as JSON, as the functions answer {\"action\":\"diagnose\"}"),
		function: fs.String("function", string(diagnose.FunctionSync),
			"with -diagnose: the function whose Graph permission is checked, sync (ReadWrite.All) or status (Read.All)"),
	}
}

// requested reports whether -diagnose was given.
func (d *diagnoseFlags) requested() bool { return *d.enabled }

// givenWithout returns the flags of d given in fs (parsed) without -diagnose, which alone reads
// them, as -json, -function.
func (d *diagnoseFlags) givenWithout(fs *flag.FlagSet) []string {
	if *d.enabled {
		return nil
	}
	var given []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "json" || f.Name == "function" {
			given = append(given, "-"+f.Name)
		}
	})
	return given
}

// errChecksFailed is what run returns when a check failed: the process exits with status 1.
type errChecksFailed struct{ failed []string }

func (e *errChecksFailed) Error() string {
	return "diagnose: " + plural(len(e.failed), "check") + " failed: " + strings.Join(e.failed, ", ")
}

// run diagnoses the function of -function with d's checks and prints the report to stdout, as a
// table or as JSON; emu is the embedded emulator the checks talk to, nil with a real
// configuration. It returns *errChecksFailed when a check failed.
func (d *diagnoseFlags) run(ctx context.Context, stdout io.Writer, deps api.Deps, emu *emulator.Emulator) error {
	fn := autopilot.Function(*d.function)
	if fn != diagnose.FunctionSync && fn != diagnose.FunctionStatus {
		return fmt.Errorf("-function %q: want sync or status", *d.function)
	}
	if deps.Diagnose == nil {
		return errors.New("diagnose: not wired")
	}
	report := deps.Diagnose(ctx, fn, deps.Err)
	if *d.asJSON {
		out, err := jsonenc.Indent(report)
		if err != nil {
			return err
		}
		if _, err := stdout.Write(out); err != nil {
			return err
		}
	} else {
		where := "the configuration in the environment"
		if emu != nil {
			where = "the embedded emulator at " + emu.URL() + " (set KEY_VAULT_URL and the rest of the configuration to check a real deployment)"
		}
		fmt.Fprintf(stdout, "Diagnose of the %s function, with %s.\n\n", fn, where)
		printTable(stdout, report)
	}
	if !report.OK {
		return &errChecksFailed{failed: report.Failed()}
	}
	return nil
}

// row is one line of the table: a check, or a tenant's check under the tenants check.
type row struct {
	name  string
	check diagnose.Check
}

// printTable writes the report as a table: each check's name, ok, FAIL or skipped, its ms and
// code; under a failed check its detail and fix; under graphToken the token's roles.
func printTable(w io.Writer, r diagnose.Report) {
	var rows []row
	for _, c := range r.Checks {
		rows = append(rows, row{c.Name, c})
		for _, t := range c.Tenants {
			for _, tc := range t.Checks {
				rows = append(rows, row{"  " + t.Name + "/" + tc.Name, tc})
			}
		}
	}
	width := len("CHECK")
	for _, rw := range rows {
		width = max(width, len(rw.name))
	}
	line := func(name, result, ms, code string) {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%-*s  %-7s  %6s  %s", width, name, result, ms, code), " "))
	}
	line("CHECK", "RESULT", "MS", "CODE")
	for _, rw := range rows {
		c := rw.check
		indent := strings.Repeat(" ", len(rw.name)-len(strings.TrimLeft(rw.name, " "))+4)
		switch {
		case c.Skipped:
			line(rw.name, "skipped", "", "")
			continue
		case c.OK:
			line(rw.name, "ok", strconv.FormatInt(c.Ms, 10), "")
		default:
			line(rw.name, "FAIL", strconv.FormatInt(c.Ms, 10), string(c.Code))
		}
		if c.Roles != nil {
			roles := strings.Join(c.Roles, ", ")
			if roles == "" {
				roles = "(none)"
			}
			fmt.Fprintf(w, "%sroles:  %s\n", indent, roles)
		}
		if c.Detail != "" {
			fmt.Fprintf(w, "%sdetail: %s\n", indent, c.Detail)
		}
		if c.Fix != "" {
			fmt.Fprintf(w, "%sfix:    %s\n", indent, c.Fix)
		}
	}
	fmt.Fprintln(w)
	if failed := r.Failed(); len(failed) > 0 {
		fmt.Fprintf(w, "%s failed: %s. Fix the first one and run diagnose again: the checks after it may depend on it.\n",
			plural(len(failed), "check"), strings.Join(failed, ", "))
		return
	}
	fmt.Fprintf(w, "All %s passed.\n", plural(len(rows), "check"))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
