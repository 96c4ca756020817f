package bench

import (
	"os"
	"testing"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
)

// TestMain stops the throwaway PostgreSQL cluster that the postgres cases
// of the pager storm start (internal/pgtest), after all tests and
// benchmarks.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
