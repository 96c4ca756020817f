package sqlstore

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/storetest"
)

// sqliteStore returns the restart scenarios' Open and Reopen over a SQLite
// file: each Open starts a new file, each Reopen closes the store and opens
// the same file again.
func sqliteStore() (storetest.Open, storetest.Reopen) {
	var path string
	open := func(t *testing.T) pager.Store {
		path = filepath.Join(t.TempDir(), "pager.db")
		return mustOpen(t, path)
	}
	reopen := func(t *testing.T, s pager.Store) pager.Store {
		if err := s.(*Store).Close(); err != nil {
			t.Fatal(err)
		}
		s = mustOpen(t, path)
		t.Cleanup(func() { _ = s.(*Store).Close() })
		return s
	}
	return open, reopen
}

// TestScenarios runs every storetest scenario over SQLite, with a Close
// and a fresh Open of the same file between the two pagers.
func TestScenarios(t *testing.T) {
	open, reopen := sqliteStore()
	storetest.All(t, open, reopen)
}

func loadConfig(t *testing.T, name string) *pager.Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := pager.ParseConfig(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustOpen(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
