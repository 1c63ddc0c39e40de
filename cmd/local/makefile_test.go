package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestMakeHelp: `make help` lists every target documented by a `## target: description` comment
// of the Makefile, with its description, and each such target is a rule of the Makefile.
func TestMakeHelp(t *testing.T) {
	t.Parallel()
	makePath, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed")
	}
	const makefile = "../../Makefile"
	src, err := os.ReadFile(makefile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(makePath, "--no-print-directory", "-s", "-f", makefile, "help")
	cmd.Env = withoutMake(os.Environ()) // as if typed, also when the tests run under make
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	help := string(out)
	documented := regexp.MustCompile(`(?m)^## ([^:\n]+): (.+)$`).FindAllStringSubmatch(string(src), -1)
	if len(documented) < 5 {
		t.Fatalf("the Makefile documents %d targets: this test reads it wrong", len(documented))
	}
	for _, d := range documented {
		targets, description := d[1], d[2]
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(targets) + ` +` + regexp.QuoteMeta(description) + `$`).MatchString(help) {
			t.Errorf("make help lacks the row of %s: %s\n%s", targets, description, help)
		}
		for _, target := range strings.Split(targets, " / ") {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).MatchString(string(src)) {
				t.Errorf("%s is documented but is no rule of the Makefile", target)
			}
		}
	}
}

// withoutMake returns env without what a make running the tests passes to its children.
func withoutMake(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "MAKEFLAGS=") && !strings.HasPrefix(kv, "MFLAGS=") && !strings.HasPrefix(kv, "MAKELEVEL=") {
			out = append(out, kv)
		}
	}
	return out
}
