package e2e

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// leaks gathers, across the whole package run, every function's log and every invocation's
// answer, and every secret and token the emulators knew; TestMain checks after m.Run that no
// secret appears anywhere (SPEC §4, §12: no secret, token or signature is ever logged or
// returned).
var leaks leakCollector

// secretValue is one secret and what it is (named in a failure; the value never is).
type secretValue struct {
	kind  string
	value string
}

type leakCollector struct {
	mu      sync.Mutex
	logs    []capturedLog
	answers []capturedAnswer
	secrets []ownedSecret
}

type capturedLog struct {
	where string
	buf   interface{ String() string }
}

type capturedAnswer struct {
	where string
	body  string
}

type ownedSecret struct {
	secretValue
	owner string // the test whose emulator knew it
}

func (c *leakCollector) addLog(where string, buf interface{ String() string }) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs = append(c.logs, capturedLog{where: where, buf: buf})
}

func (c *leakCollector) addAnswer(where string, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answers = append(c.answers, capturedAnswer{where: where, body: string(body)})
}

func (c *leakCollector) addSecrets(owner string, secrets []secretValue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range secrets {
		c.secrets = append(c.secrets, ownedSecret{secretValue: s, owner: owner})
	}
}

// leak is one secret found where it must not be.
type leak struct {
	kind, owner, where string
}

func (l leak) String() string {
	return fmt.Sprintf("%s known to the emulator of %s appears in %s", l.kind, l.owner, l.where)
}

// leakStats are the figures of one check.
type leakStats struct {
	secrets, tokens, logs, logLines, answers int
}

// scan looks for every secret in every log and answer collected so far.
func (c *leakCollector) scan() ([]leak, leakStats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var st leakStats
	seen := map[string]bool{}
	var secrets []ownedSecret
	for _, s := range c.secrets {
		// Values too short to be secrets would only find noise; the emulator's are 32+ hex digits.
		if len(s.value) < 8 || seen[s.value] {
			continue
		}
		seen[s.value] = true
		secrets = append(secrets, s)
		if s.kind == "access token" {
			st.tokens++
		} else {
			st.secrets++
		}
	}
	var found []leak
	look := func(where, text string) {
		for _, s := range secrets {
			if strings.Contains(text, s.value) {
				found = append(found, leak{kind: s.kind, owner: s.owner, where: where})
			}
		}
	}
	for _, l := range c.logs {
		text := l.buf.String()
		st.logs++
		st.logLines += strings.Count(text, "\n")
		look("the log of "+l.where, text)
	}
	for _, a := range c.answers {
		st.answers++
		look("an answer in "+a.where, a.body)
	}
	return found, st
}

// check reports the leaks found to w and whether there were none; verbose also reports the figures.
func (c *leakCollector) check(w io.Writer, verbose bool) bool {
	found, st := c.scan()
	for _, l := range found {
		fmt.Fprintf(w, "LEAK: %s\n", l)
	}
	if len(found) > 0 || verbose {
		fmt.Fprintf(w, "leak check: %d secrets and %d access tokens against %d log lines of %d function processes and %d invocation answers: %d leaks\n",
			st.secrets, st.tokens, st.logLines, st.logs, st.answers, len(found))
	}
	if st.secrets == 0 && st.logs > 0 {
		fmt.Fprintln(w, "leak check: no secret was collected; the check itself is broken")
		return false
	}
	return len(found) == 0
}

// TestLeakCheckFindsPlantedSecrets proves that the package-wide check can fail: a token in a log
// and a client secret in an answer are found and named by kind and place, never by value.
func TestLeakCheckFindsPlantedSecrets(t *testing.T) {
	t.Parallel()
	const (
		token  = "emu.0123456789abcdef0123456789abcdef"
		secret = "emu-graph-fedcba9876543210"
	)
	var c leakCollector
	c.addSecrets("TestX", []secretValue{{kind: "access token", value: token}, {kind: "Key Vault secret graph-credential", value: secret}, {kind: "short", value: "abc"}})
	var logs strings.Builder
	fmt.Fprintf(&logs, "{\"msg\":\"invocation\",\"authorization\":\"Bearer %s\"}\n{\"msg\":\"fine\"}\n", token)
	c.addLog("TestY (sync function)", &logs)
	c.addAnswer("TestZ", []byte(`{"detail":"abc `+secret+`"}`))
	c.addAnswer("TestZ", []byte(`{"detail":"nothing here"}`))

	found, st := c.scan()
	want := []string{
		"access token known to the emulator of TestX appears in the log of TestY (sync function)",
		"Key Vault secret graph-credential known to the emulator of TestX appears in an answer in TestZ",
	}
	var got []string
	for _, l := range found {
		got = append(got, l.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st.secrets != 1 || st.tokens != 1 || st.logLines != 2 || st.answers != 2 {
		t.Errorf("stats = %+v", st)
	}
	var report strings.Builder
	if c.check(&report, false) {
		t.Error("check passed with leaks")
	}
	if strings.Contains(report.String(), token) || strings.Contains(report.String(), secret) {
		t.Errorf("the report quotes a secret:\n%s", report.String())
	}
}
