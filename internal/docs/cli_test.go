package docs_test

// TestCLIArguments: every az, aws and sam command in the pages' shell blocks is accepted by the
// real CLI's argument parser. Each runs signed out, in an empty home, with every proxy variable
// and AWS endpoint pointed at a closed loopback port, so nothing leaves the machine: an argument
// error fails the test; "please log in", "no credentials" or a refused connection pass, since
// they come after the arguments were accepted. A CLI that is not installed is skipped.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/docs"
)

// shellInfos are the info strings of blocks that hold commands to paste.
var shellInfos = []string{"sh", "bash", "shell"}

// argumentErrors are what the CLIs print when they refuse their arguments (argparse and knack for
// az, argparse and botocore's validation for aws, click for sam).
var argumentErrors = regexp.MustCompile(`(?i)unrecognized arguments|the following arguments are required|invalid choice|` +
	`is misspelled or not recognized|is not in the '.*' command group|expected one argument|unknown options|aws: error:|` +
	`parameter validation failed|no such option|no such command|missing option|missing argument|invalid value for`)

// unverifiable is what a CLI prints when it fails before it has judged the arguments: a broken
// install (Debian's azure-cli lacks the Key Vault data-plane SDK its keyvault secret commands load).
var unverifiable = regexp.MustCompile(`The command failed with an unexpected error|ModuleNotFoundError|Traceback \(most recent call last\)`)

// closedPort is a loopback address nothing listens on: where every request of a CLI goes.
const closedPort = "http://127.0.0.1:9"

type cliCommand struct {
	where string
	args  []string
}

func TestCLIArguments(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: each run of a CLI takes seconds")
	}
	byCLI := map[string][]cliCommand{}
	seen := map[string]bool{}
	for _, p := range load(t) {
		for _, b := range p.Blocks() {
			if !slices.Contains(shellInfos, b.Info) {
				continue
			}
			cmds, err := docs.Commands(b.Text, nil)
			if err != nil {
				t.Errorf("%s: not a shell script: %v", b.Where(), err)
				continue
			}
			for _, c := range cmds {
				cli := c.Args[0]
				if cli != "az" && cli != "aws" && cli != "sam" {
					continue
				}
				key := shape(c.Args)
				if seen[key] {
					continue
				}
				seen[key] = true
				byCLI[cli] = append(byCLI[cli], cliCommand{where: b.Where(), args: c.Args})
			}
		}
	}
	for _, cli := range []string{"az", "aws", "sam"} {
		t.Run(cli, func(t *testing.T) {
			t.Parallel()
			cmds := byCLI[cli]
			if len(cmds) == 0 {
				t.Skipf("the pages hold no %s command", cli)
			}
			path, err := exec.LookPath(cli)
			if err != nil {
				t.Skipf("%s is not installed; %d commands of the pages are not checked", cli, len(cmds))
			}
			env := cliEnv(t)
			v1 := cli == "aws" && strings.Contains(run(t, path, env, "--version").out, "aws-cli/1.")
			var (
				mu        sync.Mutex
				unchecked []string
				wg        sync.WaitGroup
				slots     = make(chan struct{}, 2)
			)
			for _, c := range cmds {
				wg.Go(func() {
					slots <- struct{}{}
					defer func() { <-slots }()
					args := c.args[1:]
					if v1 {
						args = withoutV2Options(args)
					}
					r := run(t, path, env, args...)
					switch {
					case argumentErrors.MatchString(r.out):
						t.Errorf("%s: %s refuses its arguments:\n  %s\n%s", c.where, cli, strings.Join(c.args, " "), clip(r.out))
					case unverifiable.MatchString(r.out):
						mu.Lock()
						unchecked = append(unchecked, c.where+": "+strings.Join(c.args[:min(4, len(c.args))], " "))
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			t.Logf("%s: %d commands checked, %d could not be judged by this install:\n  %s",
				cli, len(cmds)-len(unchecked), len(unchecked), strings.Join(unchecked, "\n  "))
		})
	}
}

// shape is what an argument parser judges of a command: its words and the names of its options,
// not their values (every value of the pages is a variable, a placeholder or an example). Commands
// of one shape are checked once, since each run of a CLI takes seconds.
func shape(args []string) string {
	var words []string
	for i, a := range args {
		if strings.HasPrefix(a, "-") || i == 0 || !strings.HasPrefix(args[i-1], "-") && !strings.Contains(a, "=") && isWord(a) {
			words = append(words, a)
		}
	}
	return strings.Join(words, " ")
}

// isWord tells a subcommand word (lower case letters and hyphens) from a value.
func isWord(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz-") == ""
}

// withoutV2Options drops the AWS CLI v2 global option --cli-binary-format (and its value), which
// v1 does not know: the pages are written for v2, and v1 still checks everything else.
func withoutV2Options(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--cli-binary-format" {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// cliEnv is an environment where the CLIs are signed out, remember nothing, and send every
// request to a closed loopback port.
func cliEnv(t *testing.T) []string {
	home := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8",
		"AZURE_CONFIG_DIR=" + filepath.Join(home, "azure"), "AZURE_CORE_COLLECT_TELEMETRY=false",
		"AZURE_CORE_ERROR_RECOMMENDATION=off", "AZURE_CORE_NO_COLOR=true", "AZURE_CORE_SURVEY_MESSAGE=false",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=eu-central-1", "AWS_DEFAULT_REGION=eu-central-1", "AWS_ENDPOINT_URL=" + closedPort, "AWS_PAGER=",
		"SAM_CLI_TELEMETRY=0",
	}
	for _, v := range []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY", "all_proxy"} {
		env = append(env, v+"="+closedPort)
	}
	return env
}

type result struct{ out string }

// run runs the CLI with args and returns what it printed, stdout and stderr together.
func run(t *testing.T, path string, env []string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // only ends a CLI that hangs
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	cmd.Stdin = nil
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Errorf("%s %s: no answer within 2 minutes", path, strings.Join(args, " "))
	}
	return result{out: string(out)}
}

func clip(s string) string {
	if len(s) > 1500 {
		return s[:1500] + "…"
	}
	return s
}
