package pgtest

import (
	"context"
	"database/sql"
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestDB: two databases are distinct and writable.
func TestDB(t *testing.T) {
	a, b := DB(t), DB(t)
	if a == b {
		t.Fatalf("same database twice: %s", a)
	}
	for _, dsn := range []string{a, b} {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, "CREATE TABLE t (x int)"); err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
	}
}

// TestRestartable: a restartable cluster refuses connections while
// stopped and keeps its data across a restart on the same URL.
func TestRestartable(t *testing.T) {
	c := Restartable(t)
	url := c.URL()
	steps := []struct {
		name string
		act  func()
		stmt string
		ok   bool
	}{
		{"create", func() {}, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)", true},
		{"stopped", func() { c.Stop(t) }, "SELECT 1", false},
		{"stopped twice", func() { c.Stop(t) }, "SELECT 1", false},
		{"restarted", func() { c.Start(t) }, "SELECT 1/(SELECT count(*) FROM kept WHERE x = 42)", true},
		{"started twice", func() { c.Start(t) }, "SELECT 1/(SELECT count(*) FROM kept WHERE x = 42)", true},
	}
	for _, s := range steps {
		s.act()
		if c.URL() != url {
			t.Fatalf("%s: URL changed from %s to %s", s.name, url, c.URL())
		}
		err := exec1(url, s.stmt)
		if (err == nil) != s.ok {
			t.Fatalf("%s: %q: err=%v, want success=%v", s.name, s.stmt, err, s.ok)
		}
	}
}
