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

func TestRestart(t *testing.T) { storetest.Restart(t, memStore, sameStore) }

func TestRestartPendingOutbox(t *testing.T) {
	storetest.RestartPendingOutbox(t, memStore, sameStore)
}

func TestAckLinkIdentity(t *testing.T) { storetest.AckLinkIdentity(t, memStore, sameStore) }

func TestRestartResponders(t *testing.T) { storetest.RestartResponders(t, memStore, sameStore) }

func TestStatusUpdates(t *testing.T) { storetest.StatusUpdates(t, memStore, sameStore) }

func TestMaintenance(t *testing.T) { storetest.Maintenance(t, memStore, sameStore) }

func TestMaintenanceEnd(t *testing.T) { storetest.MaintenanceEnd(t, memStore, sameStore) }

func TestActionItemReminders(t *testing.T) {
	storetest.ActionItemReminders(t, memStore, sameStore)
}

func TestStoreSubscribers(t *testing.T) { storetest.Subscribers(t, memStore, sameStore) }
