package main

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/rie"
)

// lambdaFlags are the build flags of SPEC §2 (and the Makefile): no RPC shim, reproducible paths,
// no symbol table or DWARF.
var lambdaFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// binaries are the files one variant's build produced.
type binaries struct {
	amd64, arm64       string // stripped bootstraps
	zipAMD64, zipARM64 string // each holding only bootstrap
}

// builder builds into dir with the go command of the repository at root.
type builder struct {
	root, dir string
	log       io.Writer
}

// goBuild runs `go build` in moduleDir for goarch with extra arguments, as Lambda builds do.
func (b builder) goBuild(ctx context.Context, moduleDir, goarch, out, pkg string, flags ...string) error {
	args := append([]string{"build", "-o", out}, flags...)
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleDir
	// GOWORK=off: the peer is its own module and must resolve only its own go.mod.
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0", "GOWORK=off")
	started := time.Now()
	out2, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s (linux/%s) in %s: %v\n%s", pkg, goarch, moduleDir, err, out2)
	}
	fmt.Fprintf(b.log, "  built %-22s linux/%-5s %-10s %5.1fs\n", pkg, goarch, flavour(flags), time.Since(started).Seconds())
	return nil
}

// flavour names a build in the progress log.
func flavour(flags []string) string {
	for _, f := range flags {
		if f == "-ldflags=-s -w" {
			return "stripped"
		}
	}
	return "unstripped"
}

// buildRIE builds the Lambda Runtime Interface Emulator from the tool declared in go.mod.
func (b builder) buildRIE(ctx context.Context) (string, error) {
	out := filepath.Join(b.dir, "aws-lambda-rie")
	if err := b.goBuild(ctx, b.root, goarchHost, out, rie.Tool, "-trimpath"); err != nil {
		return "", err
	}
	return out, nil
}

// buildVariant builds v's bootstrap stripped for amd64 (run here) and arm64 (deployed; measured
// for size only) and zips each.
func (b builder) buildVariant(ctx context.Context, v *variant) (binaries, error) {
	var bins binaries
	moduleDir := filepath.Join(b.root, v.moduleDir)
	for _, arch := range []struct {
		goarch   string
		bin, zip *string
	}{{"amd64", &bins.amd64, &bins.zipAMD64}, {"arm64", &bins.arm64, &bins.zipARM64}} {
		dir := filepath.Join(b.dir, v.name, arch.goarch)
		*arch.bin = filepath.Join(dir, "bootstrap")
		if err := b.goBuild(ctx, moduleDir, arch.goarch, *arch.bin, v.pkg, lambdaFlags...); err != nil {
			return bins, err
		}
		*arch.zip = filepath.Join(b.dir, v.name, "bootstrap-"+arch.goarch+".zip")
		if err := zipBootstrap(*arch.zip, *arch.bin); err != nil {
			return bins, err
		}
	}
	return bins, nil
}

// zipBootstrap writes a deployment package holding only bin, named bootstrap, executable,
// deflated, with a fixed timestamp (as `make package` does).
func zipBootstrap(zipPath, bin string) error {
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(zipPath, buf.Bytes(), 0o644)
}

// fileSize returns the size of path in bytes.
func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// pkgSize is the number of bytes of symbols one package contributes to a binary.
type pkgSize struct {
	Pkg   string
	Bytes int64
}

// linkedPackages builds v unstripped for amd64 and returns the packages linked into it, largest
// first, by the sizes of their symbols in the ELF symbol table (what `go tool nm -size` lists),
// counting only sections that occupy the file: zero-initialised memory (.bss, .noptrbss, such as
// the FIPS DRBG's 32 MiB buffer) costs no bytes in the package. Runtime type descriptors and
// linker tables are grouped under their own names; the symbol table and DWARF, which -s -w drop,
// are not counted.
func (b builder) linkedPackages(ctx context.Context, v *variant) ([]pkgSize, error) {
	bin := filepath.Join(b.dir, v.name, "unstripped")
	if err := b.goBuild(ctx, filepath.Join(b.root, v.moduleDir), "amd64", bin, v.pkg, "-tags", "lambda.norpc", "-trimpath"); err != nil {
		return nil, err
	}
	f, err := elf.Open(bin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("symbols of %s: %w", bin, err)
	}
	sizes := map[string]int64{}
	for _, s := range syms {
		if s.Size == 0 || int(s.Section) <= 0 || int(s.Section) >= len(f.Sections) ||
			f.Sections[s.Section].Type == elf.SHT_NOBITS {
			continue
		}
		sizes[symbolPackage(s.Name)] += int64(s.Size)
	}
	list := make([]pkgSize, 0, len(sizes))
	for p, n := range sizes {
		list = append(list, pkgSize{p, n})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Bytes > list[j].Bytes })
	return list, nil
}

// symbolPackage returns the import path a symbol name belongs to.
func symbolPackage(sym string) string {
	switch {
	case strings.HasPrefix(sym, "type:"), strings.HasPrefix(sym, "go:itab"):
		return "(type descriptors and itabs)"
	case strings.HasPrefix(sym, "go:"), strings.HasPrefix(sym, "runtime."):
		if strings.HasPrefix(sym, "runtime.") {
			return "runtime"
		}
		return "(linker data: func metadata, strings)"
	}
	// Generic instantiations carry their type arguments in brackets: cut them off first.
	if i := strings.IndexByte(sym, '['); i >= 0 {
		sym = sym[:i]
	}
	slash := strings.LastIndexByte(sym, '/')
	if dot := strings.IndexByte(sym[slash+1:], '.'); dot >= 0 {
		return sym[:slash+1+dot]
	}
	return sym
}
