package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/diagnose"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// runDiagnose runs the command with args, on emu when KEY_VAULT_URL is not in env, and returns
// its stdout and error.
func runDiagnose(t *testing.T, emu *emulator.Emulator, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr lockedBuffer
	l := local{getenv: func(k string) string { return env[k] }, stdout: &stdout, stderr: &stderr, emu: emu, timeouts: defaultTimeouts}
	err := l.run(context.Background(), args)
	return stdout.String(), err
}

var (
	spaces  = regexp.MustCompile(` +`)
	millis  = regexp.MustCompile(`(?m)^(\S+ (?:ok|FAIL)) \d+`)
	emuAddr = regexp.MustCompile(`https://127\.0\.0\.1:\d+`)
)

// normalized makes a table comparable: one space between columns, every ms 0, the emulator's
// address fixed.
func normalized(table string) string {
	table = spaces.ReplaceAllString(table, " ")
	table = millis.ReplaceAllString(table, "$1 0")
	return emuAddr.ReplaceAllString(table, "https://127.0.0.1:PORT")
}

func TestDiagnoseTable(t *testing.T) {
	t.Parallel()
	emu, _ := emutest.Start(t, emulator.Options{})
	out, err := runDiagnose(t, emu, nil, "-diagnose")
	if err != nil {
		t.Fatalf("-diagnose on a good emulator: %v", err)
	}
	want := `Diagnose of the sync function, with the embedded emulator at https://127.0.0.1:PORT (set KEY_VAULT_URL and the rest of the configuration to check a real deployment).

CHECK RESULT MS CODE
configuration ok 0
keyVaultToken ok 0
graphCredential ok 0
graphToken ok 0
 roles: DeviceManagementServiceConfig.ReadWrite.All
graphRead ok 0

All 5 checks passed.
`
	if got := normalized(out); got != want {
		t.Errorf("table\n got:\n%s\nwant:\n%s", got, want)
	}

	emu.SetAppRoles(emulator.SeedTenantID, emulator.SeedGraphClientID, nil)
	out, err = runDiagnose(t, emu, nil, "-diagnose", "-function", "status")
	var failed *errChecksFailed
	if !errors.As(err, &failed) || err.Error() != "diagnose: 1 check failed: graphToken" {
		t.Errorf("error = %v, want the failed graphToken", err)
	}
	want = `Diagnose of the status function, with the embedded emulator at https://127.0.0.1:PORT (set KEY_VAULT_URL and the rest of the configuration to check a real deployment).

CHECK RESULT MS CODE
configuration ok 0
keyVaultToken ok 0
graphCredential ok 0
graphToken FAIL 0 graphPermissionDenied
 roles: (none)
 detail: The Graph app's token has no roles: it lacks DeviceManagementServiceConfig.Read.All (or DeviceManagementServiceConfig.ReadWrite.All), which the status function needs.
 fix: az ad app permission add --id 00000000-0000-4000-8000-0000000000a0 --api 00000003-0000-0000-c000-000000000000 --api-permissions 06a5fe6d-c49d-46a7-b082-56b1b14103c7=Role && az ad app permission admin-consent --id 00000000-0000-4000-8000-0000000000a0 (DeviceManagementServiceConfig.Read.All; a token issued before the consent lacks the role until it expires, up to about an hour)
graphRead skipped

1 check failed: graphToken. Fix the first one and run diagnose again: the checks after it may depend on it.
`
	if got := normalized(out); got != want {
		t.Errorf("table\n got:\n%s\nwant:\n%s", got, want)
	}
}

func TestDiagnoseJSON(t *testing.T) {
	t.Parallel()
	emu, _ := emutest.Start(t, emulator.Options{})
	emu.DeleteSecret(emulator.SeedGraphCredentialSecret)
	out, err := runDiagnose(t, emu, nil, "-diagnose", "-json")
	var failed *errChecksFailed
	if !errors.As(err, &failed) || !slices.Equal(failed.failed, []string{"graphCredential"}) {
		t.Errorf("error = %v, want the failed graphCredential", err)
	}
	var r diagnose.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-json output is not the report: %v\n%s", err, out)
	}
	var names []string
	for _, c := range r.Checks {
		names = append(names, c.Name)
	}
	if want := []string{"configuration", "keyVaultToken", "graphCredential", "graphToken", "graphRead"}; r.OK || r.Function != "sync" || !slices.Equal(names, want) {
		t.Errorf("report ok %v function %q checks %q; want a failed sync report with %q", r.OK, r.Function, names, want)
	}
	if c := r.Checks[2]; c.Code != problem.Misconfigured ||
		c.Fix != "az keyvault secret set --vault-name <vault> --name graph-credential --value <the Graph app's client secret>" {
		t.Errorf("graphCredential = %+v", c)
	}
	if !strings.Contains(out, `"fix": "az keyvault secret set --vault-name <vault>`) {
		t.Errorf("the JSON escapes the fix's <, > and &:\n%s", out)
	}
}

// TestDiagnoseRealConfiguration: with KEY_VAULT_URL set, -diagnose checks the configuration of
// the environment, and no emulator is involved.
func TestDiagnoseRealConfiguration(t *testing.T) {
	t.Parallel()
	t.Run("broken", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"KEY_VAULT_URL": "https://contoso-kv.vault.azure.net/", "AZURE_TENANT_ID": emulator.SeedTenantID, "AZURE_CLIENT_ID": emulator.SeedBootstrapClientID}
		out, err := runDiagnose(t, nil, env, "-diagnose")
		if err == nil || err.Error() != "diagnose: 1 check failed: configuration" {
			t.Errorf("error = %v", err)
		}
		for _, want := range []string{
			"with the configuration in the environment.",
			"configuration FAIL 0 misconfigured",
			" fix: sam deploy --parameter-overrides AzureClientSecret=<value> (locally: export AZURE_CLIENT_SECRET=<value>); sam deploy --parameter-overrides GraphClientId=<value> (locally: export GRAPH_CLIENT_ID=<value>)",
			"keyVaultToken skipped",
		} {
			if !strings.Contains(normalized(out), want) {
				t.Errorf("table lacks %q:\n%s", want, out)
			}
		}
	})
}

func TestDiagnoseBadFunction(t *testing.T) {
	t.Parallel()
	emu, _ := emutest.Start(t, emulator.Options{})
	if _, err := runDiagnose(t, emu, nil, "-diagnose", "-function", "both"); err == nil || !strings.Contains(err.Error(), `-function "both"`) {
		t.Errorf("error = %v", err)
	}
}

// TestDiagnoseExitStatus runs the command's main in a child process: exit status 0 when every
// check passes, 1 otherwise.
func TestDiagnoseExitStatus(t *testing.T) {
	t.Parallel()
	if os.Getenv("LOCAL_DIAGNOSE_CHILD") != "" {
		t.Skip("the child process")
	}
	tests := []struct {
		name string
		env  []string
		want int
	}{
		{"all pass on the embedded emulator", nil, 0},
		{"the configuration fails", []string{"KEY_VAULT_URL=https://contoso-kv.vault.azure.net/"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestDiagnoseChild$", "-test.count=1")
			cmd.Env = append([]string{"LOCAL_DIAGNOSE_CHILD=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, tt.env...)
			out, err := cmd.CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.want {
				t.Errorf("exit status %d, want %d:\n%s", code, tt.want, out)
			}
		})
	}
}

// TestDiagnoseChild is main with -diagnose, in the child process of TestDiagnoseExitStatus.
func TestDiagnoseChild(t *testing.T) {
	if os.Getenv("LOCAL_DIAGNOSE_CHILD") == "" {
		t.Skip("run by TestDiagnoseExitStatus")
	}
	os.Args = []string{"local", "-diagnose"}
	main()
}
