package testcorpus

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirFindsSharedCorpusBesideModule(t *testing.T) {
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if got := filepath.Base(filepath.Dir(dir)) + "/" + filepath.Base(dir); got != "shared/corpus" {
		t.Fatalf("Dir() = %s, want …/shared/corpus", dir)
	}
	files := All(t)
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
		if len(f.Data) == 0 || strings.HasSuffix(f.Name, ".md") {
			t.Errorf("file %s: %d bytes", f.Name, len(f.Data))
		}
	}
	if len(Read(t, "node_exporter.prom")) == 0 {
		t.Fatal("node_exporter.prom is empty")
	}
	t.Logf("corpus %s: %v", dir, names)
}

func TestDirMissing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(root string)
		want  string
	}{
		{"no go.mod", func(string) {}, "no go.mod"},
		{"no shared dir", func(root string) {
			if err := os.WriteFile(filepath.Join(root, "repo", "go.mod"), []byte("module x\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			pkg := filepath.Join(root, "repo", "pkg")
			if err := os.MkdirAll(pkg, 0o755); err != nil {
				t.Fatal(err)
			}
			tc.setup(root)
			t.Chdir(pkg)
			_, err := Dir()
			if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Dir() error = %v, want ErrMissing mentioning %q", err, tc.want)
			}
		})
	}
}
