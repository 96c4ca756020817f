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

// TestRestart is the restart scenario over SQLite, with a Close and a fresh
// Open between the two pagers.
func TestRestart(t *testing.T) {
	open, reopen := sqliteStore()
	storetest.Restart(t, open, reopen)
}

// TestRestartPendingOutbox: deliveries committed before Run ever started
// go out once when it starts, also after a reopen.
func TestRestartPendingOutbox(t *testing.T) {
	open, reopen := sqliteStore()
	storetest.RestartPendingOutbox(t, open, reopen)
}

// TestRestartResponders: added responders and their pending notifications
// survive a reopen of the SQLite store.
func TestRestartResponders(t *testing.T) {
	open, reopen := sqliteStore()
	storetest.RestartResponders(t, open, reopen)
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

// TestAckLinkIdentity: links survive a reopen (the UID is stored) and are
// refused over a new database.
func TestAckLinkIdentity(t *testing.T) {
	open, reopen := sqliteStore()
	storetest.AckLinkIdentity(t, open, reopen)
}

// TestStatusUpdates: public status updates survive a reopen of the SQLite
// store (schema migration 5).
func TestStatusUpdates(t *testing.T) {
	open, reopen := sqliteStore()
	storetest.StatusUpdates(t, open, reopen)
}

// TestMaintenance: maintenance windows and their silences survive a
// reopen of the SQLite store (schema migration 6).
func TestMaintenance(t *testing.T) {
	open, reopen := sqliteStore()
	storetest.Maintenance(t, open, reopen)
}

// TestMaintenanceEnd: windows ended early stay ended across a reopen.
func TestMaintenanceEnd(t *testing.T) {
	open, reopen := sqliteStore()
	storetest.MaintenanceEnd(t, open, reopen)
}

// TestActionItemReminders: the reminders sent of overdue action items
// survive a reopen of the SQLite store (schema migration 9).
func TestActionItemReminders(t *testing.T) {
	open, reopen := sqliteStore()
	storetest.ActionItemReminders(t, open, reopen)
}

// TestSubscribers: status page subscribers, their events and outbox on
// the SQLite store (schema migration 9), across a reopen.
func TestSubscribers(t *testing.T) {
	open, reopen := sqliteStore()
	storetest.Subscribers(t, open, reopen)
}
