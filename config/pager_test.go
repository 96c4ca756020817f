package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPagerSectionKeptAsNode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.yml")
	doc := "global: {}\nstorage:\n  pager_db: state/pager.db\npager:\n  users:\n    - name: alice\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Pager.Node == nil || c.Pager.Node.Line != 5 {
		t.Fatalf("pager node %+v, want the mapping at line 5", c.Pager.Node)
	}
	if want := filepath.Join(dir, "state/pager.db"); c.Storage.PagerDB != want {
		t.Errorf("pager_db %q, want %q", c.Storage.PagerDB, want)
	}
	none, err := Parse([]byte("global: {}\n"), "x.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !none.Pager.IsZero() {
		t.Error("a file without a pager section has one")
	}
}
