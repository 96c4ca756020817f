package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/internal/dburl"
	"github.com/watchdog-sre/watchdog/internal/secret"
)

// ErrPagerDB is wrapped by the errors of StorageConfig.PagerDBTarget.
var ErrPagerDB = errors.New("pager database")

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validatePagerDB checks that at most one form of the pager database is
// given, and what can be checked of each before reading secrets.
func (s *StorageConfig) validatePagerDB(r *report, path string) {
	var set []string
	for _, f := range []struct{ key, val string }{
		{"pager_db", s.PagerDB}, {"pager_db_file", s.PagerDBFile}, {"pager_db_env", s.PagerDBEnv},
	} {
		if f.val != "" {
			set = append(set, f.key)
		}
	}
	if len(set) > 1 {
		r.errorf(path+"."+set[1], "only one of %s may be set", strings.Join(set, ", "))
		return
	}
	switch {
	case dburl.IsPostgres(s.PagerDB):
		if err := checkPostgresURL(s.PagerDB); err != nil {
			r.errorf(path+".pager_db", "%s", err)
		}
	case strings.Contains(s.PagerDB, "://"):
		scheme, _, _ := strings.Cut(s.PagerDB, "://")
		r.errorf(path+".pager_db", "%s:// URLs are not supported: use a postgres:// or postgresql:// URL, or a file name for SQLite",
			scheme)
	case s.PagerDBEnv != "" && !envName.MatchString(s.PagerDBEnv):
		r.errorf(path+".pager_db_env", "%q is not an environment variable name", s.PagerDBEnv)
	}
	// With no pager_db at all, --storage.pager-db may still name one.
	sqlite := s.PagerDB != "" && !dburl.IsPostgres(s.PagerDB)
	for _, f := range []struct {
		key string
		set bool
	}{{"pager_replica", s.PagerReplica != ""}, {"pager_lease", s.PagerLease != 0}} {
		if f.set && sqlite {
			r.errorf(path+"."+f.key, "applies only to replicas sharing a PostgreSQL pager database (pager_db: postgres://…)")
		}
	}
	if s.PagerReplica != "" && !replicaName.MatchString(s.PagerReplica) {
		r.errorf(path+".pager_replica", "%q: a replica name is 1 to 128 letters, digits and . _ : -", s.PagerReplica)
	}
	if l := time.Duration(s.PagerLease); l != 0 && (l < time.Second || l > 5*time.Minute) {
		r.errorf(path+".pager_lease", "%s: the lease must be between 1s and 5m", l)
	}
}

var replicaName = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// checkPostgresURL checks that u parses, without ever quoting it (it may
// hold a password).
func checkPostgresURL(u string) error {
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return errors.New("not a valid URL (special characters in the password must be percent-encoded)")
	case p.Host == "":
		return fmt.Errorf("%s: no host", dburl.Redact(u))
	}
	return nil
}

// PagerDBTarget returns where the pager keeps its state: a file name, a
// PostgreSQL URL, or "" (memory only). The URL of pager_db_file is read
// from the file (surrounding white space trimmed), that of pager_db_env
// from getenv (os.Getenv when nil); both must be postgres:// URLs. The
// errors wrap ErrPagerDB and never quote a password.
func (s *StorageConfig) PagerDBTarget(getenv func(string) string) (string, error) {
	var u, from string
	switch {
	case s.PagerDBFile != "":
		data, err := secret.ReadFile("storage.pager_db_file", s.PagerDBFile, nil)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrPagerDB, err)
		}
		u, from = data, "storage.pager_db_file "+s.PagerDBFile
	case s.PagerDBEnv != "":
		if getenv == nil {
			getenv = os.Getenv
		}
		u, from = strings.TrimSpace(getenv(s.PagerDBEnv)), "storage.pager_db_env $"+s.PagerDBEnv
		if u == "" {
			return "", fmt.Errorf("%w: %s: the variable is not set or empty", ErrPagerDB, from)
		}
	default:
		return s.PagerDB, nil
	}
	if !dburl.IsPostgres(u) {
		return "", fmt.Errorf("%w: %s: does not hold a postgres:// or postgresql:// URL", ErrPagerDB, from)
	}
	if err := checkPostgresURL(u); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrPagerDB, from, err)
	}
	return u, nil
}
