package sqlstore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/channel"
)

// Crash test environment. TestCrash re-executes the test binary with
// crashChildEnv set (to the work directory) and crashRunEnv (the run
// number); TestCrashChild is then the child. WATCHDOG_CRASH_KILLS and
// WATCHDOG_CRASH_SEED override the number of kill points and the seed.
const (
	crashChildEnv = "WATCHDOG_SQLSTORE_CRASH_DIR"
	crashRunEnv   = "WATCHDOG_SQLSTORE_CRASH_RUN"
	crashKillsEnv = "WATCHDOG_CRASH_KILLS"
	crashSeedEnv  = "WATCHDOG_CRASH_SEED"
)

// crashAlerts are the alerts the child receives at every start (Receive
// is idempotent for alerts already in an open incident): one incident
// each, six pages each (push, sms, voice, twice).
var crashAlerts = []string{"DiskFull", "HighLatency", "NodeDown"}

// crashLatency is how long the simulated provider takes to answer after
// it has accepted (logged) a page: the window in which a kill makes the
// pager send the page again.
const crashLatency = 100 * time.Millisecond

// fileChannel is a channel that records each page by appending
// "RUN KEY\n" to a file and fsyncing it before reporting success.
//
// channel.Message does not carry the delivery's idempotency key, so the
// channel looks it up: the oldest pending delivery of the incident for
// this recipient and method. With Options.Workers = 1 that is exactly the
// delivery being sent (the outbox is sent in CreatedAt, Key order, and the
// previous one is marked sent before the next is handed out).
type fileChannel struct {
	name  string
	run   string
	store pager.Store
	mu    *sync.Mutex
	f     *os.File
}

func (c fileChannel) Name() string { return c.name }

func (c fileChannel) Send(ctx context.Context, m channel.Message) (bool, error) {
	var key string
	err := c.store.View(func(tx pager.ReadTx) error {
		ds, err := tx.Deliveries(pager.DeliveryFilter{IncidentID: m.IncidentID, Status: pager.DeliveryPending})
		for _, d := range ds {
			if d.Kind == pager.KindNotify && d.Channel == c.name && d.User == m.Recipient.Name {
				key = d.Key
				break
			}
		}
		return err
	})
	if err != nil || key == "" {
		return false, fmt.Errorf("no pending delivery for %s %s %s: %v", m.IncidentID, c.name, m.Recipient.Name, err)
	}
	c.mu.Lock()
	_, err = c.f.WriteString(c.run + " " + key + "\n")
	if err == nil {
		err = c.f.Sync()
	}
	c.mu.Unlock()
	if err != nil {
		return true, err
	}
	t := time.NewTimer(crashLatency)
	defer t.Stop()
	select {
	case <-t.C:
		return false, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

// TestCrashChild is the child process of TestCrash: a real Pager over the
// SQLite store that pages through fileChannel and exits once every
// incident's policy is exhausted and nothing is pending.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("child process of TestCrash")
	}
	store, err := Open(filepath.Join(dir, "pager.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "pages.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	mu := &sync.Mutex{}
	chans := map[string]channel.Channel{}
	for _, n := range []string{"push", "sms", "voice"} {
		chans[n] = fileChannel{name: n, run: os.Getenv(crashRunEnv), store: store, mu: mu, f: f}
	}
	p, err := pager.New(pager.Options{Config: loadConfig(t, "crash.yaml"), Store: store, Channels: chans, Workers: 1,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var alerts []pager.Alert
	for _, name := range crashAlerts {
		alerts = append(alerts, pager.Alert{Labels: map[string]string{"alertname": name}})
	}
	if err := p.Receive(alerts...); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			t.Fatalf("Run: %v", err)
		case <-tick.C:
		}
		if ok, err := crashComplete(store); err != nil {
			t.Fatal(err)
		} else if ok {
			break
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	if err := errors.Join(f.Close(), store.Close()); err != nil {
		t.Fatal(err)
	}
}

// crashComplete reports whether every alert has an incident whose policy
// is exhausted and no delivery is pending.
func crashComplete(s pager.Store) (bool, error) {
	ok := false
	err := s.View(func(tx pager.ReadTx) error {
		sts, err := tx.Incidents(pager.IncidentFilter{})
		if err != nil || len(sts) != len(crashAlerts) {
			return err
		}
		for _, st := range sts {
			if !st.Exhausted {
				return nil
			}
		}
		pending, err := tx.Deliveries(pager.DeliveryFilter{Status: pager.DeliveryPending})
		ok = len(pending) == 0
		return err
	})
	return ok, err
}

// TestCrash runs the child, SIGKILLs it after a random delay, restarts
// it, kill after kill, then lets it run to completion, and checks the
// page log: every page of every incident sent, duplicates only where a
// kill hit a page in flight. With Workers = 1 that is at most two per kill:
// the page being sent, and the one sent just before it if the recorder,
// which commits results asynchronously and in batches, had not committed
// it yet (rare on a quiet machine; seen under -race on a loaded one).
func TestCrash(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("in the child")
	}
	kills := 15
	if testing.Short() {
		kills = 5
	}
	if v := os.Getenv(crashKillsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("%s=%q: want a number", crashKillsEnv, v)
		}
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(crashSeedEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want a number", crashSeedEnv, v)
		}
		seed = n
	}
	t.Logf("seed %d (%s=%d to repeat), %d kill points", seed, crashSeedEnv, seed, kills)
	rng := rand.New(rand.NewPCG(seed, 0))
	// Spread the kills over the ~16s the escalation takes.
	maxDelay := min(max(20*time.Second/time.Duration(max(kills, 1)), 300*time.Millisecond), 1500*time.Millisecond)

	dir := t.TempDir()
	killed := 0 // runs ended by SIGKILL
	finished := false
	for run := 0; run < kills && !finished; run++ {
		c := startChild(t, dir, run)
		delay := time.Duration(rng.Int64N(int64(maxDelay)))
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
			if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-c.done
			killed++
			t.Logf("run %d: SIGKILL after %v", run, delay)
		case err := <-c.done:
			timer.Stop()
			if err != nil {
				t.Fatalf("run %d exited before the kill: %v\n%s", run, err, c.output())
			}
			finished = true // escalation complete already
			t.Logf("run %d: completed before the kill at %v", run, delay)
		}
	}
	if !finished {
		c := startChild(t, dir, kills)
		deadline := time.NewTimer(2 * time.Minute)
		defer deadline.Stop()
		select {
		case err := <-c.done:
			if err != nil {
				t.Fatalf("final run: %v\n%s", err, c.output())
			}
		case <-deadline.C:
			c.cmd.Process.Signal(syscall.SIGKILL)
			<-c.done
			t.Fatalf("final run did not complete\n%s", c.output())
		}
	}
	checkCrashLog(t, dir, killed)
}

type child struct {
	cmd  *exec.Cmd
	out  *os.File
	done chan error
}

func startChild(t *testing.T, dir string, run int) *child {
	t.Helper()
	out, err := os.Create(filepath.Join(dir, fmt.Sprintf("child-%03d.log", run)))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashRunEnv+"="+strconv.Itoa(run))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		out.Close()
		c.done <- err
	}()
	return c
}

func (c *child) output() string {
	b, _ := os.ReadFile(c.out.Name())
	return string(b)
}

// checkCrashLog compares the page log with the incidents in the store.
func checkCrashLog(t *testing.T, dir string, killed int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "pages.log"))
	if err != nil {
		t.Fatal(err)
	}
	type page struct {
		run  int
		key  string
		last bool // among the inFlight last lines its run wrote
	}
	// inFlight is how many of a run's last pages a kill can leave sent but
	// not recorded (see TestCrash).
	const inFlight = 2
	var pages []page
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		runStr, key, ok := strings.Cut(sc.Text(), " ")
		run, err := strconv.Atoi(runStr)
		if !ok || err != nil {
			t.Fatalf("bad log line %q", sc.Text())
		}
		pages = append(pages, page{run: run, key: key})
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("log ends in a partial line")
	}
	for i := range pages { // the last inFlight pages of every run
		for j := i + 1; j <= i+inFlight; j++ {
			if j == len(pages) || pages[j].run != pages[i].run {
				pages[i].last = true
				break
			}
		}
	}

	s := mustOpen(t, filepath.Join(dir, "pager.db"))
	defer s.Close()
	expected := map[string]bool{}
	view(t, s, func(tx pager.ReadTx) error {
		sts, err := tx.Incidents(pager.IncidentFilter{})
		if err != nil {
			return err
		}
		if len(sts) != len(crashAlerts) {
			t.Errorf("%d incidents, want %d", len(sts), len(crashAlerts))
		}
		for _, st := range sts {
			if !st.Exhausted {
				t.Errorf("%s not exhausted", st.ID)
			}
			for r := range 2 {
				for step := range 3 {
					expected[fmt.Sprintf("%s/e1/l0/r%d/oncall/s%d", st.ID, r, step)] = true
				}
			}
		}
		ds, err := tx.Deliveries(pager.DeliveryFilter{})
		for _, d := range ds {
			if !expected[d.Key] || d.Status != pager.DeliverySent {
				t.Errorf("delivery %s: %s (expected: %v)", d.Key, d.Status, expected[d.Key])
			}
		}
		if len(ds) != len(expected) {
			t.Errorf("%d deliveries in the store, want %d", len(ds), len(expected))
		}
		return err
	})

	seen := map[string][]page{}
	for _, p := range pages {
		if !expected[p.key] {
			t.Errorf("unexpected page %s (run %d)", p.key, p.run)
		}
		seen[p.key] = append(seen[p.key], p)
	}
	dups := 0
	for k := range expected {
		ps := seen[k]
		if len(ps) == 0 {
			t.Errorf("page %s never sent", k)
			continue
		}
		dups += len(ps) - 1
		// Every send but the last must have been cut short by a kill:
		// among the last pages its run logged, in a different run.
		for i, p := range ps[:len(ps)-1] {
			if !p.last || p.run == ps[i+1].run {
				t.Errorf("page %s sent again (runs %d and %d) but was not in flight at a kill", k, p.run, ps[i+1].run)
			}
		}
	}
	if dups > inFlight*killed {
		t.Errorf("%d duplicate pages for %d kills", dups, killed)
	}
	t.Logf("kill points %d; pages expected %d, log lines %d, distinct sent %d, duplicated %d",
		killed, len(expected), len(pages), len(seen), dups)
}
