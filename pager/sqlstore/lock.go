package sqlstore

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrLocked: another Store (in this or another process) holds the
// database's lock file. Two processes on one SQLite pager database would
// both accept alerts, and neither would escalate the incidents the other
// opened once it died; a database shared by replicas is PostgreSQL's job.
var ErrLocked = errors.New("in use by another watchdog")

// lockSuffix names the lock file beside the database: pager.db.lock.
const lockSuffix = ".lock"

// fileLock is an exclusive advisory lock (flock) on the database's
// sidecar lock file, held for the life of the Store. The kernel releases
// it when the holder's last descriptor closes, so a process killed with
// SIGKILL leaves the file behind, but not the lock: a restart after a
// crash is not refused. flock belongs to the open file description, so a
// second Open within the same process conflicts too.
//
// The file holds the holder's PID, for the error the next process shows.
// It is never removed: removing it while another process waits on it
// would let two processes lock two different files of the same name.
type fileLock struct {
	f *os.File
}

// acquireLock takes the lock for the database at abs, or returns an error
// wrapping ErrLocked that names the database and, when the file tells,
// the holder's PID.
func acquireLock(abs string) (*fileLock, error) {
	name := abs + lockSuffix
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := tryLock(f); err != nil {
		pid := readPID(f)
		f.Close()
		if !errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		holder := "another process"
		if pid > 0 {
			holder = "pid " + strconv.Itoa(pid)
		}
		return nil, fmt.Errorf("pager database %s is %w (%s); two processes cannot share a SQLite pager database "+
			"— use PostgreSQL for replicas", abs, ErrLocked, holder)
	}
	// The PID is informational: failing to record it does not fail Open.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &fileLock{f: f}, nil
}

// readPID returns the PID recorded in the lock file, 0 when there is none.
func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// release drops the lock. Safe on a nil lock.
func (l *fileLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor drops the flock
	l.f = nil
	return err
}
