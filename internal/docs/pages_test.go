package docs_test

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/docs"
)

// root is the repository, from this package's directory.
var root = filepath.Join("..", "..")

func load(t *testing.T) []docs.Page {
	t.Helper()
	pages, err := docs.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 2 {
		t.Fatalf("found %d pages, want README.md and the pages of docs/", len(pages))
	}
	return pages
}

// TestReadmeShort: the README is a front page, not the manual.
func TestReadmeShort(t *testing.T) {
	t.Parallel()
	const most = 250
	if n := load(t)[0].Lines(); n > most {
		t.Errorf("README.md has %d lines, want at most %d: move the detail to a page of docs/", n, most)
	}
}

// internalRefs are references a reader of the repository cannot follow: the specification's
// sections and the project's issue numbers.
var internalRefs = regexp.MustCompile(`(?i)SPEC\s*§|§\s*\d|\bissues?\s+#?\d+|\(#\d+\)`)

// TestNoInternalReferences: user docs speak of the product.
func TestNoInternalReferences(t *testing.T) {
	t.Parallel()
	for _, p := range load(t) {
		for i, line := range strings.Split(string(p.Source), "\n") {
			if m := internalRefs.FindString(line); m != "" {
				t.Errorf("%s:%d: %q names a specification section or an issue; say what it means instead", p.Path, i+1, m)
			}
		}
	}
}

// TestLinks: every relative link between the pages, and to the repository's files, resolves,
// and so does its #anchor.
func TestLinks(t *testing.T) {
	t.Parallel()
	pages := load(t)
	byPath := map[string]docs.Page{}
	for _, p := range pages {
		byPath[p.Path] = p
	}
	for _, p := range pages {
		for _, l := range p.Links() {
			dest := l.Dest
			if dest == "" || strings.Contains(dest, "://") || strings.HasPrefix(dest, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(dest, "#")
			target := p.Path
			if file != "" {
				target = path.Clean(path.Join(path.Dir(p.Path), file))
				if strings.HasPrefix(target, "../") {
					t.Errorf("%s:%d: %s leaves the repository", p.Path, l.Line, dest)
					continue
				}
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(target))); err != nil {
					t.Errorf("%s:%d: %s: no such file %s", p.Path, l.Line, dest, target)
					continue
				}
			}
			if anchor == "" {
				continue
			}
			to, ok := byPath[target]
			if !ok {
				if strings.HasSuffix(target, ".md") {
					src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(target)))
					if err != nil {
						t.Fatal(err)
					}
					to = docs.Parse(target, src)
				} else {
					t.Errorf("%s:%d: %s: an anchor into a file that is not Markdown", p.Path, l.Line, dest)
					continue
				}
			}
			if !to.HasAnchor(anchor) {
				t.Errorf("%s:%d: %s: %s has no heading or id %q", p.Path, l.Line, dest, target, anchor)
			}
		}
	}
}

// TestExampleBlocks: every example block can be run and rewritten: it is not indented, and a
// transcript starts with a command.
func TestExampleBlocks(t *testing.T) {
	t.Parallel()
	n := 0
	for _, p := range load(t) {
		for _, b := range p.Blocks() {
			if b.Example == "" {
				continue
			}
			n++
			if b.Indented {
				t.Errorf("%s: an example block must not be indented (in a list or quote): the test that runs it rewrites it", b.Where())
			}
			if b.Shows() == "" && !strings.HasPrefix(b.Text, "$ ") {
				t.Errorf("%s: a transcript starts with a line \"$ command\"", b.Where())
			}
		}
	}
	if n == 0 {
		t.Error("no example block: the docs show no answer of the product that a test checks")
	}
}

// TestQuotes: a passage a page quotes from another file (figures of bench/RESULTS.md) is in
// that file as the page shows it, line by line.
func TestQuotes(t *testing.T) {
	t.Parallel()
	for _, p := range load(t) {
		for _, q := range p.Quotes() {
			src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(q.File)))
			if err != nil {
				t.Errorf("%s:%d: %v", q.Page, q.Line, err)
				continue
			}
			if q.Text == "" {
				t.Errorf("%s:%d: a quote comment with nothing after it", q.Page, q.Line)
			}
			for _, line := range strings.Split(q.Text, "\n") {
				if !strings.Contains(string(src), line) {
					t.Errorf("%s:%d: %s no longer says %q; quote it again from the file", q.Page, q.Line, q.File, line)
				}
			}
		}
	}
}

// TestLayout: the contributors' page lists every package under internal/, and names none that is
// gone, so the layout it shows is the repository's.
func TestLayout(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join(root, "docs", "contributing.md"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(src)
	entries, err := os.ReadDir(filepath.Join(root, "internal"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !strings.Contains(page, "`internal/"+e.Name()+"`") {
			t.Errorf("docs/contributing.md: the layout lacks `internal/%s`", e.Name())
		}
	}
	for _, m := range regexp.MustCompile("`internal/([a-z0-9]+)`").FindAllStringSubmatch(page, -1) {
		if _, err := os.Stat(filepath.Join(root, "internal", m[1])); err != nil {
			t.Errorf("docs/contributing.md names `internal/%s`, which does not exist", m[1])
		}
	}
}
