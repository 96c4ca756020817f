package ruletest

import (
	"math"
	"time"

	"github.com/watchdog-sre/watchdog/rules"
	"github.com/watchdog-sre/watchdog/tsdb"
)

// tsdbStore is the test fixture's Store: the watchdog's own store, as
// `watchdog test` gives it.
type tsdbStore struct{ *tsdb.DB }

func (s tsdbStore) Appender() rules.Appender { return s.DB.Appender() }

// NewTSDBStore opens an empty tsdbStore; the tests (also those of package
// ruletest_test) pass it as Options.NewStore.
func NewTSDBStore() (Store, error) {
	db, err := tsdb.Open(tsdb.Options{Retention: time.Duration(math.MaxInt64)})
	if err != nil {
		return nil, err
	}
	return tsdbStore{db}, nil
}
