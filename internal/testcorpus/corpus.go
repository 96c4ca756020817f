// Package testcorpus locates the shared exposition corpus that tests, fuzz seeds
// and benchmarks replay: the directory shared/corpus beside the repository
// (../shared/corpus relative to the module root, the directory holding
// go.mod). A test that needs the corpus fails with a clear message when it is
// missing instead of skipping, so a fresh clone without it cannot silently
// lose fuzz seeds, differential tests or benchmarks.
package testcorpus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// ErrMissing reports that the corpus directory or a file in it does not exist.
var ErrMissing = errors.New("shared corpus missing")

// File is one exposition file of the corpus.
type File struct {
	// Name is the file's base name, e.g. "node_exporter.prom".
	Name string
	// Data is the file's content.
	Data []byte
}

// Dir returns the absolute path of ../shared/corpus relative to the module
// root found by walking up from the working directory (a test's package
// directory). It returns an error wrapping ErrMissing when no go.mod is found
// or the directory does not exist.
func Dir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find corpus: %w", err)
	}
	root, err := moduleRoot(wd)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "corpus")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return dir, fmt.Errorf("%w: %s does not exist (the corpus lives in shared/corpus beside the repository, i.e. ../shared/corpus from %s)", ErrMissing, dir, root)
	}
	return dir, nil
}

// moduleRoot returns the nearest directory at or above dir holding go.mod.
func moduleRoot(dir string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fmt.Errorf("%w: no go.mod at or above %s", ErrMissing, dir)
		}
		d = up
	}
}

// Path returns the path of the named corpus file, failing tb when the corpus
// or the file is missing.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := Dir()
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("%v: %v", ErrMissing, err)
	}
	return p
}

// Read returns the content of the named corpus file, failing tb when the
// corpus or the file is missing.
func Read(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(Path(tb, name))
	if err != nil {
		tb.Fatalf("read corpus: %v", err)
	}
	return b
}

// All returns every exposition file of the corpus (all files but *.md),
// in name order, failing tb when the corpus is missing or holds none.
func All(tb testing.TB) []File {
	tb.Helper()
	dir, err := Dir()
	if err != nil {
		tb.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatalf("read corpus: %v", err)
	}
	var out []File
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) == ".md" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatalf("read corpus: %v", err)
		}
		out = append(out, File{Name: e.Name(), Data: b})
	}
	if len(out) == 0 {
		tb.Fatalf("%v: %s holds no exposition files", ErrMissing, dir)
	}
	return out
}
