package pager_test

import (
	"testing"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/storetest"
)

// The restart scenarios of package storetest over the memory store, which
// a new pager in the same process shares with the old one.

func memStore(*testing.T) pager.Store { return pager.NewMemStore() }

func sameStore(_ *testing.T, s pager.Store) pager.Store { return s }

// TestStoreScenarios runs every storetest scenario over the memory store.
func TestStoreScenarios(t *testing.T) { storetest.All(t, memStore, sameStore) }
