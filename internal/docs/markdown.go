// Package docs reads the repository's Markdown pages (README.md and docs/) for the tests that keep
// them honest: their fenced code blocks, the example blocks among them, their links and the
// anchors their headings make. Pages are parsed with goldmark, a CommonMark parser, so a block,
// link or heading is what GitHub would show.
//
// It never runs the product and never writes a file by itself: the tests that run the examples
// (cmd/local) hand Rewrite the new text of a block, and it returns the page's new source.
package docs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// Page is one Markdown file of the repository.
type Page struct {
	// Path is the file's path relative to the repository root, with forward slashes.
	Path   string
	Source []byte
	blocks []Block
	links  []Link
	heads  []string // heading slugs, in order, with GitHub's -1, -2 for repeats
	ids    []string // explicit ids: <a id="…"> and <a name="…">
}

// Block is a fenced code block of a page.
type Block struct {
	Page string
	// Line is the 1-based line of the opening fence.
	Line int
	// Info is the fence's info string ("console", "sh", "json", …).
	Info string
	// Example is the marker of the HTML comment right before the block, without "example":
	// "walkthrough" for <!-- example walkthrough -->, "followup: receiver" for
	// <!-- example followup: receiver -->; empty when the block is no example.
	Example string
	// Text is the block's content; Start and End are its byte offsets in the page's source.
	Text       string
	Start, End int
	// Indented tells a block inside a list item or quote, whose lines Rewrite cannot replace.
	Indented bool
}

// Session is the name of the example session the block belongs to ("walkthrough" for
// "walkthrough" and for "walkthrough: receiver").
func (b Block) Session() string {
	name, _, _ := strings.Cut(b.Example, ":")
	return strings.TrimSpace(name)
}

// Shows is what an example block shows besides a transcript ("receiver" for
// "followup: receiver"); empty for a transcript.
func (b Block) Shows() string {
	_, shows, _ := strings.Cut(b.Example, ":")
	return strings.TrimSpace(shows)
}

// Where names the block for a test failure: page and line.
func (b Block) Where() string { return fmt.Sprintf("%s:%d", b.Page, b.Line) }

// Link is a link or image destination of a page.
type Link struct {
	Page string
	Line int
	Dest string
}

// Load reads README.md and every .md file under docs/ of the repository at root, in a stable
// order: README.md first, then docs/ by path.
func Load(root string) ([]Page, error) {
	paths := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	slices.Sort(paths[1:])
	pages := make([]Page, 0, len(paths))
	for _, p := range paths {
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			return nil, err
		}
		pages = append(pages, Parse(p, src))
	}
	return pages, nil
}

// Parse reads one page's source.
func Parse(path string, src []byte) Page {
	p := Page{Path: path, Source: src}
	md := goldmark.New(goldmark.WithExtensions(extension.GFM))
	doc := md.Parser().Parse(text.NewReader(src))
	seen := map[string]int{}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.FencedCodeBlock:
			p.blocks = append(p.blocks, p.block(n))
		case *ast.Heading:
			slug := Slug(string(plainText(n, src)))
			if k := seen[slug]; k > 0 {
				seen[slug]++
				slug = fmt.Sprintf("%s-%d", slug, k)
			} else {
				seen[slug] = 1
			}
			p.heads = append(p.heads, slug)
		case *ast.Link:
			p.links = append(p.links, Link{Page: path, Line: p.lineOfNode(n), Dest: string(n.Destination)})
		case *ast.Image:
			p.links = append(p.links, Link{Page: path, Line: p.lineOfNode(n), Dest: string(n.Destination)})
		case *ast.RawHTML, *ast.HTMLBlock:
			p.ids = append(p.ids, htmlIDs(rawText(n, src))...)
		}
		return ast.WalkContinue, nil
	})
	return p
}

var (
	exampleComment = regexp.MustCompile(`^<!--\s*example\s+(.+?)\s*-->\s*$`)
	htmlID         = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
)

func (p *Page) block(n *ast.FencedCodeBlock) Block {
	b := Block{Page: p.Path}
	if n.Info != nil {
		b.Info = strings.TrimSpace(string(n.Info.Segment.Value(p.Source)))
	}
	lines := n.Lines()
	if lines.Len() > 0 {
		b.Start, b.End = lines.At(0).Start, lines.At(lines.Len()-1).Stop
		for i := range lines.Len() {
			if lines.At(i).Padding > 0 {
				b.Indented = true
			}
		}
	} else {
		// An empty block: its content would start after the opening fence's line.
		b.Start = lineEnd(p.Source, n.Info.Segment.Stop)
		b.End = b.Start
	}
	b.Text = string(p.Source[b.Start:b.End])
	b.Line = p.line(b.Start) - 1
	if _, ok := n.Parent().(*ast.Document); !ok {
		b.Indented = true
	}
	if prev, ok := n.PreviousSibling().(*ast.HTMLBlock); ok {
		if m := exampleComment.FindStringSubmatch(strings.TrimSpace(rawText(prev, p.Source))); m != nil {
			b.Example = m[1]
		}
	}
	return b
}

// Blocks returns the page's fenced code blocks, in order.
func (p Page) Blocks() []Block { return p.blocks }

// Links returns the page's link and image destinations, in order.
func (p Page) Links() []Link { return p.links }

// HasAnchor reports whether #anchor lands somewhere on the page: a heading's slug as GitHub
// makes it, or an explicit <a id> or <a name>.
func (p Page) HasAnchor(anchor string) bool {
	return slices.Contains(p.heads, anchor) || slices.Contains(p.ids, anchor)
}

// Lines is the page's number of lines.
func (p Page) Lines() int { return bytes.Count(p.Source, []byte("\n")) }

// Slug is GitHub's anchor for a heading's text: lower case, spaces as hyphens, every character
// but letters, digits, hyphens and underscores dropped.
func Slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Rewrite returns src with the content of each block replaced by its new text (ending in a
// newline). Blocks must be of the page src is the source of; indented blocks cannot be
// rewritten.
func Rewrite(src []byte, replace map[Block]string) ([]byte, error) {
	blocks := make([]Block, 0, len(replace))
	for b := range replace {
		if b.Indented {
			return nil, fmt.Errorf("%s: an example block must not be indented (in a list or quote)", b.Where())
		}
		blocks = append(blocks, b)
	}
	slices.SortFunc(blocks, func(a, b Block) int { return b.Start - a.Start }) // from the end
	out := slices.Clone(src)
	for _, b := range blocks {
		text := replace[b]
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		out = slices.Concat(out[:b.Start], []byte(text), out[b.End:])
	}
	return out, nil
}

func (p *Page) line(offset int) int { return bytes.Count(p.Source[:offset], []byte("\n")) + 1 }

// lineOfNode is the line of an inline node: that of its first text, or of its parent's.
func (p *Page) lineOfNode(n ast.Node) int {
	for c := n; c != nil; c = c.Parent() {
		if t, ok := c.(*ast.Text); ok {
			return p.line(t.Segment.Start)
		}
		if c.Type() == ast.TypeBlock && c.Lines().Len() > 0 {
			return p.line(c.Lines().At(0).Start)
		}
		if fc := c.FirstChild(); fc != nil {
			if t, ok := fc.(*ast.Text); ok {
				return p.line(t.Segment.Start)
			}
		}
	}
	return 0
}

func lineEnd(src []byte, from int) int {
	if i := bytes.IndexByte(src[from:], '\n'); i >= 0 {
		return from + i + 1
	}
	return len(src)
}

// plainText is a heading's text as GitHub slugs it: text and code spans, no markup.
func plainText(n ast.Node, src []byte) []byte {
	var out []byte
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			out = append(out, c.Segment.Value(src)...)
		case *ast.String:
			out = append(out, c.Value...)
		case *ast.CodeSpan:
			for t := c.FirstChild(); t != nil; t = t.NextSibling() {
				if tx, ok := t.(*ast.Text); ok {
					out = append(out, tx.Segment.Value(src)...)
				}
			}
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return out
}

func rawText(n ast.Node, src []byte) string {
	var b strings.Builder
	switch n := n.(type) {
	case *ast.RawHTML:
		for i := range n.Segments.Len() {
			s := n.Segments.At(i)
			b.Write(s.Value(src))
		}
	case *ast.HTMLBlock:
		for i := range n.Lines().Len() {
			s := n.Lines().At(i)
			b.Write(s.Value(src))
		}
		if n.HasClosure() {
			b.Write(n.ClosureLine.Value(src))
		}
	}
	return b.String()
}

func htmlIDs(html string) []string {
	var ids []string
	for _, m := range htmlID.FindAllStringSubmatch(html, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// Quote is a passage of a page that copies another file of the repository: the lines after a
// comment <!-- quote PATH --> up to the next blank line. A figure a page quotes from
// bench/RESULTS.md is checked this way, since the benchmark is too slow for go test.
type Quote struct {
	Page string
	Line int
	// File is the quoted file's path relative to the repository root.
	File string
	Text string
}

var quoteComment = regexp.MustCompile(`^<!--\s*quote\s+(\S+)\s*-->\s*$`)

// Quotes returns the page's quotes, in order.
func (p Page) Quotes() []Quote {
	var out []Quote
	lines := strings.Split(string(p.Source), "\n")
	for i := 0; i < len(lines); i++ {
		m := quoteComment.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		q := Quote{Page: p.Path, Line: i + 1, File: m[1]}
		var text []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			text = append(text, lines[i])
		}
		q.Text = strings.Join(text, "\n")
		out = append(out, q)
	}
	return out
}
