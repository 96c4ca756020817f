package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/pager"
)

func mustPagerConfig(t *testing.T, doc string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(doc), "w.yml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const basePager = `pager:
  users:
    - {name: alice, contact: {push: a}}
  schedules:
    - name: primary
      time_zone: UTC
      layers: [{name: l, members: [alice], rotation: daily, start: 2026-01-05T09:00}]
  escalation_policies:
    - {name: p, levels: [{targets: [user:alice]}]}
  channels:
    - {name: push, type: console}
  routes:
    - {name: all, escalation_policy: p}
`

func TestPagerConfigErrorsKeepFileLine(t *testing.T) {
	c := mustPagerConfig(t, "global: {}\npager:\n  users:\n    - {name: alice, contact: {}}\n  bogus: 1\n")
	_, err := parsePager(c, "w.yml")
	if err == nil {
		t.Fatal("bad pager section accepted")
	}
	for _, want := range []string{"w.yml:4:", "w.yml:5:", `unknown key "bogus"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if pc, err := parsePager(mustPagerConfig(t, "global: {}\n"), "w.yml"); pc != nil || err != nil {
		t.Errorf("no section: %v %v", pc, err)
	}
}

func TestPagerReload(t *testing.T) {
	pc, err := parsePager(mustPagerConfig(t, basePager), "w.yml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := newPagerRuntime(pc, pagerSetup{stdout: io.Discard, logger: slog.New(slog.DiscardHandler), ackKey: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if r.schedule("primary") == nil || r.schedule("secondary") != nil {
		t.Fatal("schedules of the first config")
	}

	renamed, err := parsePager(mustPagerConfig(t, strings.ReplaceAll(basePager, "name: primary", "name: secondary")), "w.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.check(renamed); err != nil {
		t.Fatalf("check: %v", err)
	}
	if err := r.reload(renamed); err != nil {
		t.Fatal(err)
	}
	if r.schedule("secondary") == nil || r.schedule("primary") != nil {
		t.Fatal("reload did not apply the new schedules")
	}

	more, err := parsePager(mustPagerConfig(t, strings.Replace(basePager, "    - {name: push, type: console}\n",
		"    - {name: push, type: console}\n    - {name: sms, type: console}\n", 1)), "w.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.check(more); err == nil || !strings.Contains(err.Error(), `channel "sms"`) {
		t.Fatalf("a new channel was not refused: %v", err)
	}

	// An open incident escalates along policy p: renaming it is refused,
	// by check and by reload, and the running configuration stays.
	if err := r.p.Receive(pager.Alert{Labels: map[string]string{"alertname": "x"}}); err != nil {
		t.Fatal(err)
	}
	policyRenamed, err := parsePager(mustPagerConfig(t, strings.NewReplacer("name: p,", "name: q,", "escalation_policy: p", "escalation_policy: q").Replace(basePager)), "w.yml")
	if err != nil {
		t.Fatal(err)
	}
	open, err := r.p.Incidents(pager.IncidentFilter{})
	if err != nil || len(open) != 1 {
		t.Fatalf("incidents %v %v", open, err)
	}
	want := `pager: escalation policy "p" is used by open incidents ` + open[0].ID
	if err := r.check(policyRenamed); err == nil || err.Error() != want {
		t.Fatalf("check = %v, want %s", err, want)
	}
	if err := r.reload(policyRenamed); err == nil || !strings.Contains(err.Error(), want[len("pager: "):]) {
		t.Fatalf("reload = %v", err)
	}
	if r.p.Config().Policy("p") == nil {
		t.Fatal("a refused reload switched the pager's config")
	}
}

// failingStore fails every View while fail is set, as a broken database
// would.
type failingStore struct {
	pager.Store
	fail atomic.Bool
}

func (s *failingStore) View(fn func(tx pager.ReadTx) error) error {
	if s.fail.Load() {
		return errors.New("disk I/O error")
	}
	return s.Store.View(fn)
}

// TestPagerRunFailureKeepsProcess: when the pager's Run fails, run logs
// it, marks the pager down (watchdog_pager_up 0) and tries again later
// instead of returning (which ended the whole process, scraping included);
// once the store works again the pager is up. watchdog_pager_up and
// /-/ready read r.healthy.
func TestPagerRunFailureKeepsProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := mustPagerConfig(t, basePager)
		pc, err := parsePager(c, "w.yml")
		if err != nil {
			t.Fatal(err)
		}
		store := &failingStore{Store: pager.NewMemStore()}
		store.fail.Store(true)
		var logs syncBuffer
		p, err := pager.New(pager.Options{Config: pc, Store: store})
		if err != nil {
			t.Fatal(err)
		}
		r := &pagerRuntime{p: p, store: store, log: slog.New(slog.NewTextHandler(&logs, nil))}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { r.run(ctx, 10*time.Second); close(done) }()
		synctest.Wait()
		if r.healthy() {
			t.Error("pager up after Run failed")
		}
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "disk I/O error") {
			t.Errorf("no error logged: %s", logs.String())
		}
		select {
		case <-done:
			t.Fatal("run returned after a failure")
		default:
		}
		store.fail.Store(false)
		time.Sleep(10 * time.Second) // the bubble's clock: the retry
		synctest.Wait()
		if !r.healthy() {
			t.Errorf("pager still down after the store recovered: %s", logs.String())
		}
		cancel()
		<-done
	})
}
