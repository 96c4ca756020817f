package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPagerDBForms: each form of the pager database alone is accepted;
// two at once, another URL scheme, a bad URL or variable name is an
// error at its line, never quoting a password.
func TestPagerDBForms(t *testing.T) {
	tests := []struct {
		name, storage string
		want          string // "" for valid
	}{
		{"file", "  pager_db: state/pager.db\n", ""},
		{"url", "  pager_db: postgres://watchdog@127.0.0.1:5432/pager?sslmode=disable\n", ""},
		{"postgresql url", "  pager_db: postgresql://watchdog:pw@db/pager\n", ""},
		{"file form", "  pager_db_file: secrets/pager-url\n", ""},
		{"env form", "  pager_db_env: WATCHDOG_PAGER_DB\n", ""},
		{"two forms", "  pager_db: x.db\n  pager_db_env: X\n",
			"x.yml:4: storage.pager_db_env: only one of pager_db, pager_db_env may be set"},
		{"three forms", "  pager_db_file: f\n  pager_db: x.db\n  pager_db_env: X\n",
			"x.yml:3: storage.pager_db_file: only one of pager_db, pager_db_file, pager_db_env may be set"},
		{"other scheme", "  pager_db: mysql://u:secret@h/db\n",
			"x.yml:3: storage.pager_db: mysql:// URLs are not supported: use a postgres:// or postgresql:// URL"},
		{"bad url", "  pager_db: postgres://u:se%zzcret@h/db\n",
			"x.yml:3: storage.pager_db: not a valid URL (special characters in the password must be percent-encoded)"},
		{"no host", "  pager_db: postgres:///db\n", "x.yml:3: storage.pager_db: postgres:///db: no host"},
		{"bad env name", "  pager_db_env: 1-X\n", `x.yml:3: storage.pager_db_env: "1-X" is not an environment variable name`},
		{"replica on postgres", "  pager_db: postgres://h/db\n  pager_replica: a\n  pager_lease: 2s\n", ""},
		{"replica on a file form", "  pager_db_file: f\n  pager_replica: a-1.eu:9190\n", ""},
		{"replica on SQLite", "  pager_db: x.db\n  pager_replica: a\n",
			"x.yml:4: storage.pager_replica: applies only to replicas sharing a PostgreSQL pager database"},
		{"lease with a SQLite file", "  pager_db: state/pager.db\n  pager_lease: 2s\n",
			"x.yml:4: storage.pager_lease: applies only to replicas sharing a PostgreSQL pager database"},
		{"lease for the flag's database", "  pager_lease: 2s\n", ""},
		{"bad replica name", "  pager_db: postgres://h/db\n  pager_replica: a/b\n", `x.yml:4: storage.pager_replica: "a/b": a replica name`},
		{"lease too short", "  pager_db: postgres://h/db\n  pager_lease: 100ms\n", "x.yml:4: storage.pager_lease: 100ms: the lease must be between 1s and 5m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte("global: {}\nstorage:\n"+tt.storage), "x.yml")
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Fatalf("Parse: %v\nwant %s", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "secret"):
				t.Errorf("error quotes the password: %v", err)
			}
		})
	}
}

// TestPagerDBLoad: a URL is not taken for a path; pager_db_file is
// resolved against the configuration's directory and must be readable.
func TestPagerDBLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const url = "postgres://watchdog:s3cret@127.0.0.1:5432/pager?sslmode=disable"
	c, err := Load(write("a.yml", "storage:\n  pager_db: "+url+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Storage.PagerDBTarget(nil); got != url || err != nil {
		t.Errorf("target %q, %v; want the URL as written", got, err)
	}
	if s := c.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "watchdog:xxxxx@127.0.0.1") {
		t.Errorf("String() does not redact the password:\n%s", s)
	}
	if c.Storage.PagerDB != url {
		t.Errorf("String() changed the configuration: %q", c.Storage.PagerDB)
	}

	if _, err := Load(write("b.yml", "storage:\n  pager_db_file: missing\n")); err == nil ||
		!strings.Contains(err.Error(), "b.yml:2: storage.pager_db_file: cannot read secret file") {
		t.Errorf("missing pager_db_file: %v", err)
	}
	write("url", "  "+url+"\n")
	c, err = Load(write("c.yml", "storage:\n  pager_db_file: url\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Storage.PagerDBTarget(nil); got != url || err != nil {
		t.Errorf("pager_db_file target %q, %v", got, err)
	}
	write("url", "pager.db\n")
	if _, err := c.Storage.PagerDBTarget(nil); !errors.Is(err, ErrPagerDB) || !strings.Contains(err.Error(), "does not hold a postgres://") {
		t.Errorf("a file holding a file name: %v", err)
	}
}

// TestPagerDBEnv: the URL comes from the named variable, which must be set.
func TestPagerDBEnv(t *testing.T) {
	s := StorageConfig{PagerDBEnv: "PAGER_DB"}
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if _, err := s.PagerDBTarget(getenv); !errors.Is(err, ErrPagerDB) || !strings.Contains(err.Error(), "$PAGER_DB: the variable is not set") {
		t.Errorf("unset: %v", err)
	}
	env["PAGER_DB"] = "postgres://u:secret@/db"
	if _, err := s.PagerDBTarget(getenv); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("no host: %v", err)
	}
	env["PAGER_DB"] = "postgresql://u:secret@db:5432/pager"
	if got, err := s.PagerDBTarget(getenv); got != env["PAGER_DB"] || err != nil {
		t.Errorf("target %q, %v", got, err)
	}
}
