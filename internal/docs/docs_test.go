package docs_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/autopilot-sync/autopilot-sync/internal/docs"
)

func TestSlug(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ heading, want string }{
		{"First deployment", "first-deployment"},
		{"No Azure secret in AWS (`AZURE_FEDERATED_TOKEN_SOURCE=aws-sts`)", "no-azure-secret-in-aws-azure_federated_token_sourceaws-sts"},
		{"Rotating secrets", "rotating-secrets"},
		{"1. Sign in, choose names", "1-sign-in-choose-names"},
	} {
		if got := docs.Slug(tc.heading); got != tc.want {
			t.Errorf("Slug(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
}

func TestParseHeadingsAndBlocks(t *testing.T) {
	t.Parallel()
	src := "# Title\n\n## Same\n\n## Same\n\n<!-- example demo: receiver -->\n```text\nhello\n```\n\n- item\n\n  ```sh\n  indented\n  ```\n\n[a](other.md#x) ![i](pic.png)\n"
	p := docs.Parse("page.md", []byte(src))
	for _, a := range []string{"title", "same", "same-1"} {
		if !p.HasAnchor(a) {
			t.Errorf("no anchor %q", a)
		}
	}
	var got []docs.Block
	for _, b := range p.Blocks() {
		b.Start, b.End = 0, 0
		got = append(got, b)
	}
	want := []docs.Block{
		{Page: "page.md", Line: 8, Info: "text", Example: "demo: receiver", Text: "hello\n"},
		{Page: "page.md", Line: 14, Info: "sh", Text: "indented\n", Indented: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("blocks (-want +got):\n%s", diff)
	}
	if b := p.Blocks()[0]; b.Session() != "demo" || b.Shows() != "receiver" {
		t.Errorf("session %q shows %q", b.Session(), b.Shows())
	}
	var dests []string
	for _, l := range p.Links() {
		dests = append(dests, l.Dest)
	}
	if diff := cmp.Diff([]string{"other.md#x", "pic.png"}, dests); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	out, err := docs.Rewrite([]byte(src), map[docs.Block]string{p.Blocks()[0]: "bye"})
	if err != nil {
		t.Fatal(err)
	}
	if q := docs.Parse("page.md", out).Blocks()[0].Text; q != "bye\n" {
		t.Errorf("rewritten block %q", q)
	}
	if _, err := docs.Rewrite([]byte(src), map[docs.Block]string{p.Blocks()[1]: "x"}); err == nil {
		t.Error("an indented block was rewritten")
	}
}

func TestTranscript(t *testing.T) {
	t.Parallel()
	text := "$ curl -i \\\n  http://127.0.0.1:8080/sync\nHTTP/1.1 202 Accepted\n\n{}\n$ sleep 60\n$ echo done\ndone\n"
	steps := docs.ParseTranscript(text)
	want := []docs.Step{
		{Command: "curl -i \\\n  http://127.0.0.1:8080/sync", Output: "HTTP/1.1 202 Accepted\n\n{}\n"},
		{Command: "sleep 60"},
		{Command: "echo done", Output: "done\n"},
	}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if got := docs.FormatTranscript(steps); got != text {
		t.Errorf("FormatTranscript = %q, want %q", got, text)
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, want, got string
		match           bool
	}{
		{"times, ids, ports and lengths",
			"Date: Sat, 28 Nov 2026 17:03:46 GMT\nContent-Length: 100\n{\"at\":\"2026-11-28T17:03:46Z\",\"id\":\"1e0f25f5-f490-42a2-b40e-1b0a66e50ffd\",\"url\":\"http://127.0.0.1:8080\",\"durationMs\":4}\n",
			"Date: Mon, 07 Dec 2026 10:44:53 GMT\r\nContent-Length: 170\r\n{\"at\":\"2026-12-07T10:44:53.380154447Z\",\"id\":\"7cb29849-6fd9-477b-b618-aad257cb0662\",\"url\":\"http://127.0.0.1:41234\",\"durationMs\":17}\n",
			true},
		{"a changed value", `{"retryAfterSeconds":540}`, `{"retryAfterSeconds":541}`, false},
		{"a missing header", "A: 1\nB: 2\n", "A: 1\n", false},
		{"elision", "first\n…\nlast\n", "first\nsecond\nthird\nlast\n", true},
		{"elision of nothing", "first\n…\nlast\n", "first\nlast\n", true},
		{"elision keeps the end", "first\n…\nlast\n", "first\nsecond\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := docs.Matches(tc.want, tc.got); got != tc.match {
				t.Errorf("Matches = %v, want %v\n%s\n%s", got, tc.match, docs.Normalise(tc.want), docs.Normalise(tc.got))
			}
		})
	}
	if got := docs.KeepElided("a\n…\nz\n", "a\nb\nc\nz\n"); got != "a\n…\nz\n" {
		t.Errorf("KeepElided = %q", got)
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	script := `VAULT=kv
az keyvault secret set --vault-name "$VAULT" --name webhook-token --value "$(openssl rand -hex 32)" --output none
P=$(az ad app credential reset --id "$GRAPH_APP" --query password -o tsv) && echo "$P" | wc -c  # comment
FOLLOWUP_FIRST_CHECK=3s go run ./cmd/local -sync-duration 2s
`
	cmds, err := docs.Commands(script, map[string]string{"VAULT": "kv"})
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, c := range cmds {
		got = append(got, c.Args)
	}
	want := [][]string{
		{"az", "keyvault", "secret", "set", "--vault-name", "kv", "--name", "webhook-token", "--value", docs.Placeholder, "--output", "none"},
		{"openssl", "rand", "-hex", "32"},
		{"az", "ad", "app", "credential", "reset", "--id", docs.Placeholder, "--query", "password", "-o", "tsv"},
		{"echo", docs.Placeholder},
		{"wc", "-c"},
		{"go", "run", "./cmd/local", "-sync-duration", "2s"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	if env := cmds[len(cmds)-1].Env; env["FOLLOWUP_FIRST_CHECK"] != "3s" {
		t.Errorf("env %v", env)
	}
}

// FuzzTranscript: any text parses into steps that format back to a transcript which parses
// into the same steps, and matching never panics.
func FuzzTranscript(f *testing.F) {
	f.Add("$ curl -i \\\n  http://127.0.0.1:8080/sync\nHTTP/1.1 202 Accepted\n\n{}\n$ sleep 60\n")
	f.Add("output first\n$ cmd\n…\nlast\n")
	f.Add("$ a\\\n")
	f.Fuzz(func(t *testing.T, text string) {
		steps := docs.ParseTranscript(text)
		again := docs.ParseTranscript(docs.FormatTranscript(steps))
		if diff := cmp.Diff(steps, again, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("parse(format(parse(%q))) differs (-first +again):\n%s", text, diff)
		}
		_ = docs.Matches(text, docs.FormatTranscript(steps))
		_ = docs.KeepElided(text, text)
	})
}
