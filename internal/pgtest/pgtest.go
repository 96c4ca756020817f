// Package pgtest gives tests a fresh PostgreSQL database each.
//
// The server is WATCHDOG_TEST_POSTGRES_URL when that is set (a URL of a
// role that may CREATE DATABASE). Otherwise, when PostgreSQL's server
// programs are installed (initdb and postgres on PATH or under Debian's
// /usr/lib/postgresql/*/bin), the first test that asks starts a throwaway
// cluster: initdb into a temporary directory, a free port on 127.0.0.1,
// the unix socket in that directory, fsync off. As root it runs the server
// as the unprivileged "postgres" user (PostgreSQL refuses to run as root).
// Main stops it and removes the directory when the tests end; the server
// is also killed if the test binary dies (parent-death signal).
//
// Restartable gives one test a cluster of its own that it may stop and
// start again, to see what its clients do while the database is down.
//
// Without either, tests that ask for a database skip with a message that
// says how to install PostgreSQL.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// EnvURL names the environment variable of an existing server's URL.
const EnvURL = "WATCHDOG_TEST_POSTGRES_URL"

// SkipMessage is why tests skip when there is no PostgreSQL.
const SkipMessage = "SKIP: PostgreSQL not installed: apt-get install postgresql (or set " + EnvURL + ")"

var (
	once    sync.Once
	base    string // the admin URL; "" when unavailable
	skipMsg string // why base is ""
	fatal   error  // a server that was there but failed to start
	cluster *server
	dbSeq   atomic.Int64
)

// Main runs the tests and then stops the cluster this package started, if
// any. Every test package that calls Server or DB calls it from TestMain:
// os.Exit(pgtest.Main(m)); without it the server only stops when the test
// binary exits, and its directory stays.
func Main(m *testing.M) int {
	code := m.Run()
	if cluster != nil {
		cluster.stop()
	}
	return code
}

// Server returns the URL of the admin database of the test server,
// starting the throwaway cluster on first use. It skips t when PostgreSQL
// is not installed and fails it when the cluster does not start.
func Server(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	switch {
	case fatal != nil:
		t.Fatalf("pgtest: %v", fatal)
	case base == "":
		t.Skip(skipMsg)
	}
	return base
}

// DB creates a new, empty database for t and returns its URL. It is
// dropped when t ends (a throwaway cluster is removed whole anyway).
func DB(t testing.TB) string {
	t.Helper()
	admin := Server(t)
	name := fmt.Sprintf("wdtest_%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := exec1(admin, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := exec1(admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// exec1 runs one statement on a connection of its own.
func exec1(dsn, stmt string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

func setup() {
	if u := os.Getenv(EnvURL); u != "" {
		base = u
		return
	}
	bin := findBin()
	if bin == "" {
		skipMsg = SkipMessage
		return
	}
	s, err := start(bin)
	if err != nil {
		fatal = err
		return
	}
	cluster = s
	base = s.url
}

// findBin returns the directory of initdb and postgres, or "".
func findBin() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first.
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// server is a throwaway cluster: its directory, port and, while it runs,
// its postgres process.
type server struct {
	bin  string
	dir  string
	port int
	cred *syscall.Credential
	url  string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// start creates a cluster and runs it.
func start(bin string) (*server, error) {
	s, err := create(bin)
	if err != nil {
		return nil, err
	}
	if err := s.run(); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	return s, nil
}

// create runs initdb into a new temporary directory and picks a free port.
func create(bin string) (*server, error) {
	dir, err := os.MkdirTemp("", "watchdog-pgtest-")
	if err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust",
		"--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &server{bin: bin, dir: dir, port: port, cred: cred,
		url: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}, nil
}

// run starts postgres on the cluster's directory and port and waits until
// it accepts connections. The server log is appended to, so that a
// restarted server's log follows the earlier one's.
func (s *server) run() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.dir, "data"), "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200")
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// SIGQUIT is PostgreSQL's immediate shutdown: no server outlives a
	// test binary that dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	done := s.done
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	if err := s.waitReady(); err != nil {
		s.halt()
		return err
	}
	return nil
}

// waitReady polls until the server accepts connections (at most 60s).
func (s *server) waitReady() error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := exec1(s.url, "SELECT 1")
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
			return fmt.Errorf("postgres exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within 60s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// halt shuts the running server down fast (SIGINT: connections are
// closed, then SIGKILL after 20s) and waits for it to exit; the directory
// stays. It does nothing when the server is not running.
func (s *server) halt() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// stop halts the server and removes its directory.
func (s *server) stop() {
	s.halt()
	os.RemoveAll(s.dir)
}

// credential returns nil when not root; as root, the "postgres" user (or
// "nobody") to run initdb and the server as, after giving it dir.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Standalone is Server for a program that is not a test (the storm
// benchmark, bench/storm): it returns EnvURL when set, else starts a
// throwaway cluster as Server does. stop shuts down and removes what it
// started (it does nothing for EnvURL). ErrNoPostgres when PostgreSQL is
// not installed.
func Standalone() (admin string, stop func(), err error) {
	if u := os.Getenv(EnvURL); u != "" {
		return u, func() {}, nil
	}
	bin := findBin()
	if bin == "" {
		return "", nil, ErrNoPostgres
	}
	s, err := start(bin)
	if err != nil {
		return "", nil, err
	}
	return s.url, s.stop, nil
}

// ErrNoPostgres: PostgreSQL's server programs are not installed.
var ErrNoPostgres = errors.New(SkipMessage)

// CreateDB creates database name on the server of the admin URL and
// returns its URL.
func CreateDB(admin, name string) (string, error) {
	if err := exec1(admin, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}
