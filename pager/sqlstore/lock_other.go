//go:build !unix

package sqlstore

import (
	"errors"
	"os"
)

// errWouldBlock: the lock is held elsewhere.
var errWouldBlock = errors.New("lock held")

// tryLock is a no-op where flock is not available: the database is not
// protected against a second process.
func tryLock(*os.File) error { return nil }
