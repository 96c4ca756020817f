package storetest

import "testing"

// scenarios are every scenario of this package, by name.
var scenarios = []struct {
	name string
	run  func(*testing.T, Open, Reopen)
}{
	{"Restart", Restart},
	{"RestartPendingOutbox", RestartPendingOutbox},
	{"RestartResponders", RestartResponders},
	{"AckLinkIdentity", AckLinkIdentity},
	{"StatusUpdates", StatusUpdates},
	{"Maintenance", Maintenance},
	{"MaintenanceEnd", MaintenanceEnd},
	{"ActionItemReminders", ActionItemReminders},
	{"Subscribers", Subscribers},
}

// All runs every scenario of this package over the store of open and
// reopen, each as a subtest named after its function.
func All(t *testing.T, open Open, reopen Reopen) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, open, reopen) })
	}
}
