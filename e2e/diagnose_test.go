package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// TestDiagnose invokes {"action":"diagnose"} on both built functions (SPEC §14): a good
// configuration passes every check; without the Graph credential the report names the fix, and
// the checks after it are skipped. Each invocation is one log line with action diagnose; the
// suite's leak check scans the reports too.
func TestDiagnose(t *testing.T) {
	t.Parallel()
	type check struct {
		Name    string   `json:"name"`
		OK      bool     `json:"ok"`
		Code    string   `json:"code"`
		Fix     string   `json:"fix"`
		Skipped bool     `json:"skipped"`
		Roles   []string `json:"roles"`
	}
	type report struct {
		OK       bool    `json:"ok"`
		Function string  `json:"function"`
		Checks   []check `json:"checks"`
	}
	tests := []struct {
		name          string
		missingSecret bool
		wantOK        bool
		want          []string // each check as name:ok|FAIL code|skipped
	}{
		{"good configuration", false, true,
			[]string{"configuration:ok", "keyVaultToken:ok", "graphCredential:ok", "graphToken:ok", "graphRead:ok"}},
		{"no graph credential", true, false,
			[]string{"configuration:ok", "keyVaultToken:ok", "graphCredential:FAIL misconfigured", "graphToken:skipped", "graphRead:skipped"}},
	}
	for _, tt := range tests {
		for _, binary := range []string{binaries.sync, binaries.status} {
			t.Run(tt.name+" at "+filepath.Base(filepath.Dir(binary)), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				if tt.missingSecret {
					e.emu.DeleteSecret(emulator.SeedGraphCredentialSecret)
				}
				fn := e.start(t, binary, nil)
				raw := fn.invoke(t, []byte(`{"action":"diagnose"}`))
				var r report
				if err := json.Unmarshal(raw, &r); err != nil || len(r.Checks) == 0 {
					t.Fatalf("not a report: %v: %s", err, raw)
				}
				var got []string
				for _, c := range r.Checks {
					switch {
					case c.Skipped:
						got = append(got, c.Name+":skipped")
					case c.OK:
						got = append(got, c.Name+":ok")
					default:
						got = append(got, c.Name+":FAIL "+c.Code)
					}
				}
				if r.OK != tt.wantOK || r.Function != fn.kind || strings.Join(got, " ") != strings.Join(tt.want, " ") {
					t.Errorf("report ok %v function %q checks %q; want ok %v function %q checks %q\n%s", r.OK, r.Function, got, tt.wantOK, fn.kind, tt.want, raw)
				}
				if tt.missingSecret {
					if want := "az keyvault secret set --vault-name <vault> --name graph-credential --value <the Graph app's client secret>"; r.Checks[2].Fix != want {
						t.Errorf("graphCredential fix = %q, want %q", r.Checks[2].Fix, want)
					}
				} else if roles := r.Checks[3].Roles; len(roles) != 1 || roles[0] != emulator.RoleReadWriteAll {
					t.Errorf("graphToken roles = %q", roles)
				}
				waitDiagnoseLogged(t, fn, `"msg":"invocation"`)
				lines := 0
				for _, line := range strings.Split(fn.logs.String(), "\n") {
					if strings.Contains(line, `"msg":"invocation"`) {
						lines++
						if !strings.Contains(line, `"action":"diagnose"`) || !strings.Contains(line, `"source":"direct"`) {
							t.Errorf("invocation line: %s", line)
						}
					}
				}
				if lines != 1 {
					t.Errorf("%d invocation lines, want 1:\n%s", lines, fn.logs.String())
				}
			})
		}
	}
}

// waitDiagnoseLogged waits until the function's output holds want: the runtime emulator relays a
// function's log lines on their own, so one may arrive after the invocation's answer.
func waitDiagnoseLogged(t *testing.T, fn *function, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(fn.logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the function did not log %s:\n%s", want, fn.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
