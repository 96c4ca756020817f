package e2e

import (
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
)

// Failover and fencing of replicas sharing one PostgreSQL pager database
// (issue #12, acceptance 2 and 3): three replica processes, each posting
// its pages to its own path of one webhook sink, so that the sink knows
// who sent every page.

// haLease is the replicas' lease in these tests.
const haLease = 2 * time.Second

// haFailoverBound is how late a due page may be sent after the leader
// dies: the lease, one renewal interval and two seconds for the poll and
// the send.
const haFailoverBound = haLease + haLease/3 + 2*time.Second

// haKillsEnv names the variable that sets the number of kills of
// TestHAFailover (default 5; the closing note wants 100 or more).
const haKillsEnv = "WATCHDOG_HA_KILLS"

// haStorm posts new paging groups to random live replicas until stopped.
type haStorm struct {
	rs   []*haReplica
	rng  *rand.Rand
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	fired map[string]time.Time // alertname → start of its first POST
	fails []string
}

// haStartStorm fires one or two new groups every interval.
func haStartStorm(rs []*haReplica, seed uint64, every time.Duration) *haStorm {
	s := &haStorm{rs: rs, rng: rand.New(rand.NewPCG(seed, 12)), stop: make(chan struct{}), done: make(chan struct{}),
		fired: map[string]time.Time{}}
	go s.run(every)
	return s
}

func (s *haStorm) run(every time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for seq := 0; ; {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		names := make([]string, 1+s.rng.IntN(2))
		for i := range names {
			seq++
			names[i] = fmt.Sprintf("Storm%05d", seq)
		}
		s.fire(names)
	}
}

// fire posts names to live replicas in random order until one takes them;
// only alerts a replica took are expected to page.
func (s *haStorm) fire(names []string) {
	start := time.Now()
	var last error
	for time.Since(start) < 20*time.Second {
		for _, i := range s.rng.Perm(len(s.rs)) {
			h := s.rs[i].live()
			if h == nil {
				continue
			}
			if last = haPost(h, names...); last == nil {
				s.mu.Lock()
				for _, n := range names {
					s.fired[n] = start
				}
				s.mu.Unlock()
				return
			}
		}
		select {
		case <-s.stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.mu.Lock()
	s.fails = append(s.fails, fmt.Sprintf("%v: %v", names, last))
	s.mu.Unlock()
}

// snapshot returns what the storm fired so far.
func (s *haStorm) snapshot() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.fired)
}

// waitCaughtUp waits until every page of the storm due lag ago or earlier
// has arrived.
func (s *haStorm) waitCaughtUp(sink *haSink, escalate, lag, timeout time.Duration) error {
	return poll(timeout, 200*time.Millisecond, nil, func() error {
		cutoff := time.Now().Add(-lag)
		var want []string
		for n, at := range s.snapshot() {
			if at.Before(cutoff) {
				want = append(want, n+"/push")
			}
			if at.Add(escalate).Before(cutoff) {
				want = append(want, n+"/sms")
			}
		}
		if m := sink.missing(want); len(m) > 0 {
			return fmt.Errorf("%d page(s) due over %v ago not received: %s", len(m), lag, haHead(m, 10))
		}
		return nil
	})
}

// end stops the storm and returns what it fired.
func (s *haStorm) end() (map[string]time.Time, []string) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fired, s.fails
}

// haKill is one kill of TestHAFailover.
type haKill struct {
	victim   string
	at       time.Time // SIGKILL sent
	reaped   time.Time // the process was gone
	open     int       // incidents opened before (the storm resolves none)
	leader   string    // who led next
	takeover time.Duration
	logs     func() string // the new leader's log
}

// haKillCount is the number of kills: 5, or haKillsEnv.
func haKillCount(t *testing.T) int {
	t.Helper()
	v := os.Getenv(haKillsEnv)
	if v == "" {
		return 5
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", haKillsEnv, v)
	}
	return n
}

// TestHAFailover (acceptance 2): three replicas on one database under an
// escalation storm — new groups posted to live replicas all along, each
// paging level 1 at once and level 2 after escalate_after. The leader is
// SIGKILLed at random points and started again under the same name,
// haKillCount times. Every page arrives; duplicates (one idempotency key
// received more than once) never exceed the kills; a new leader takes
// over and every due page is sent within haFailoverBound. (The webhook
// body carries no idempotency key: the sink keys a page by its group and
// channel, which is one page of one incident here.) The long run:
//
//	WATCHDOG_HA_KILLS=100 go test -count=1 -timeout 30m -run '^TestHAFailover$' -v ./e2e
func TestHAFailover(t *testing.T) {
	needBinary(t)
	kills := haKillCount(t)
	dsn := pgtest.DB(t)
	sink := newHASink(t)
	const escalate = 3 * time.Second
	rs := haStartReplicas(t, func(n string) hostileConfig {
		return haReplicaConfig(n, dsn, haLease, haTwoLevel(sink, n, escalate))
	}, "a", "b", "c")
	haMustLeader(t, rs, 20*time.Second)

	seed := uint64(time.Now().UnixNano())
	t.Logf("%d kills, seed %d, lease %v, escalate_after %v; load average %s", kills, seed, haLease, escalate, haLoad())
	rng := rand.New(rand.NewPCG(seed, 1))
	storm := haStartStorm(rs, seed, 250*time.Millisecond)
	stormEnded := false
	defer func() {
		if !stormEnded {
			storm.end()
		}
	}()
	began := time.Now()
	time.Sleep(escalate + 2*time.Second) // a baseline: pages of both levels before the first kill
	var ks []haKill
	for range kills {
		// Each kill on its own: the pages the last one delayed are out.
		if err := storm.waitCaughtUp(sink, escalate, time.Second, time.Minute); err != nil {
			t.Errorf("after %d kills, the pages due are not sent: %v", len(ks), err)
			haDumpDeliveries(t, dsn)
			break
		}
		time.Sleep(time.Duration(200+rng.IntN(1500)) * time.Millisecond) // a random point of the storm
		victim := haMustLeader(t, rs, 20*time.Second)
		open := len(storm.snapshot())
		k := haKill{victim: victim.name, at: victim.kill(t), open: open}
		k.reaped = time.Now()
		restarted := make(chan error, 1)
		go func() { restarted <- victim.start() }()
		leader, seen, err := haWaitLeader(rs, 30*time.Second)
		if err != nil {
			t.Fatalf("kill %d of %s: no new leader: %v", len(ks)+1, k.victim, err)
		}
		k.leader, k.takeover, k.logs = leader.name, seen.Sub(k.at), leader.proc().logs
		if err := <-restarted; err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	fired, fails := storm.end()
	stormEnded = true
	for _, f := range fails {
		t.Errorf("no replica took alerts %s", f)
	}

	var want []string
	for n := range fired {
		want = append(want, n+"/push", n+"/sms")
	}
	if err := poll(escalate+haFailoverBound+15*time.Second, 200*time.Millisecond, nil, func() error {
		if m := sink.missing(want); len(m) > 0 {
			return fmt.Errorf("%d page(s) never received: %s", len(m), haHead(m, 20))
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	time.Sleep(time.Second) // late duplicates
	t.Logf("storm of %v: %d groups, %d pages expected, %d requests received; load average %s", time.Since(began).Round(time.Second),
		len(fired), len(want), len(sink.requests()), haLoad())
	haCheckFailover(t, sink, fired, escalate, ks)
	for _, r := range rs {
		if h := r.proc(); !h.alive() {
			t.Errorf("replica %s exited:\n%s", r.name, tail(h.logs(), 4096))
		}
	}
	haMustLeader(t, rs, 10*time.Second)
}

// haPage is one expected page and when it was first received.
type haPage struct {
	name      string // alertname/channel
	due, sent time.Time
	by        string // the replica that sent it first
}

// haPages returns the expected pages that were received.
func haPages(sink *haSink, fired map[string]time.Time, escalate time.Duration) []haPage {
	first := sink.first()
	var out []haPage
	for n, at := range fired {
		for ch, due := range map[string]time.Time{"push": at, "sms": at.Add(escalate)} {
			if r, ok := first[n+"/"+ch]; ok {
				out = append(out, haPage{name: n + "/" + ch, due: due, sent: r.At, by: r.Replica})
			}
		}
	}
	slices.SortFunc(out, func(a, b haPage) int { return a.due.Compare(b.due) })
	return out
}

// haCheckFailover asserts the duplicates and, after every kill, that the
// pages due until the next kill were all sent within haFailoverBound of
// the kill or of their due time, whichever is later; it logs the figures.
func haCheckFailover(t *testing.T, sink *haSink, fired map[string]time.Time, escalate time.Duration, ks []haKill) {
	t.Helper()
	dups, byKey := sink.duplicates()
	t.Logf("duplicates: %d (bound: %d kills)", dups, len(ks))
	if dups > len(ks) {
		var keys []string
		for k, n := range byKey {
			keys = append(keys, fmt.Sprintf("%s×%d", k, n))
		}
		slices.Sort(keys)
		t.Errorf("%d duplicate page(s), more than the %d kills: %s", dups, len(ks), haHead(keys, 30))
	}
	pages, reqs := haPages(sink, fired, escalate), sink.requests()
	var takeovers, firsts, delays, starts []time.Duration
	bySize := map[int][]time.Duration{}
	startBySize := map[int][]time.Duration{}
	for i, k := range ks {
		end := time.Now()
		if i+1 < len(ks) {
			end = ks[i+1].at
		}
		var worst time.Duration
		var wp haPage
		for _, p := range pages {
			if p.sent.Before(k.at) || !p.due.Before(end) {
				continue
			}
			if d := p.sent.Sub(later(p.due, k.at)); d > worst {
				worst, wp = d, p
			}
		}
		// The first page after the kill from another process (requests
		// still arriving from the dead one are left out), and the first
		// the new leader sent after it took the lease.
		next, took, first := time.Time{}, haLeaseTaken(k.logs(), k.at), time.Time{}
		for _, r := range reqs {
			if next.IsZero() && r.At.After(k.at) && (r.Replica != k.victim || r.At.After(k.reaped.Add(100*time.Millisecond))) {
				next = r.At
			}
			if first.IsZero() && !took.IsZero() && r.Replica == k.leader && r.At.After(took) {
				first = r.At
			}
		}
		size := k.open / 500 * 500
		takeovers, delays = append(takeovers, k.takeover), append(delays, worst)
		bySize[size] = append(bySize[size], worst)
		if !next.IsZero() {
			firsts = append(firsts, next.Sub(k.at))
		}
		if !first.IsZero() {
			starts = append(starts, first.Sub(took))
			startBySize[size] = append(startBySize[size], first.Sub(took))
		}
		if worst > haFailoverBound {
			t.Errorf("kill %d of %s (%d incidents open; %s led %v later, took the lease %v later, its first page %v after that): %s sent %v after it was due or the kill, by %s; bound %v",
				i+1, k.victim, k.open, k.leader, ms(k.takeover), ms(took.Sub(k.at)), ms(first.Sub(took)),
				wp.name, ms(worst), wp.by, haFailoverBound)
		}
	}
	t.Logf("failover, kill to the new leader seen in /metrics: p50 %v, max %v", ms(haPercentile(takeovers, 0.5)), ms(haPercentile(takeovers, 1)))
	t.Logf("failover, kill to the next page sent: p50 %v, max %v", ms(haPercentile(firsts, 0.5)), ms(haPercentile(firsts, 1)))
	t.Logf("failover, lease taken (its log) to the new leader's first page: p50 %v, max %v", ms(haPercentile(starts, 0.5)), ms(haPercentile(starts, 1)))
	t.Logf("failover, kill (or due time) to the last page due before the next kill: p50 %v, max %v (bound %v, %d kills)",
		ms(haPercentile(delays, 0.5)), ms(haPercentile(delays, 1)), haFailoverBound, len(delays))
	for _, size := range slices.Sorted(maps.Keys(bySize)) {
		d, st := bySize[size], startBySize[size]
		t.Logf("  %d+ incidents open: %d kills, kill to the last page p50 %v, max %v; lease to first page p50 %v, max %v", size, len(d),
			ms(haPercentile(d, 0.5)), ms(haPercentile(d, 1)), ms(haPercentile(st, 0.5)), ms(haPercentile(st, 1)))
	}
	var steady []time.Duration
	for _, p := range pages {
		if len(ks) == 0 || p.due.Before(ks[0].at) && p.sent.Before(ks[0].at) {
			steady = append(steady, p.sent.Sub(p.due))
		}
	}
	t.Logf("pages before the first kill (%d of %d), sent after due: p50 %v, p99 %v, max %v", len(steady), len(pages),
		ms(haPercentile(steady, 0.5)), ms(haPercentile(steady, 0.99)), ms(haPercentile(steady, 1)))
}

// haLeaseTakenRE is the log line of a replica that took the lease.
var haLeaseTakenRE = regexp.MustCompile(`(?m)^time=(\S+) level=INFO msg="pager: took the lease`)

// haLeaseTaken returns when the log says the lease was taken at or after
// since (zero if it does not).
func haLeaseTaken(logs string, since time.Time) time.Time {
	for _, m := range haLeaseTakenRE.FindAllStringSubmatch(logs, -1) {
		if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil && !at.Before(since) {
			return at
		}
	}
	return time.Time{}
}

// ms rounds d to milliseconds, for the figures.
func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// haLoad returns the machine's load averages (1, 5, 15 minutes) and its
// CPU count: the figures depend on them.
func haLoad() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return fmt.Sprintf("%s %s %s on %d CPUs", f[0], f[1], f[2], runtime.NumCPU())
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// TestHAFencedLeaderSendsNothing (acceptance 3): a leader that was paused
// or cut off from the database past its lease sends nothing afterwards,
// while the replica that took over sends the pages that fell due.
func TestHAFencedLeaderSendsNothing(t *testing.T) {
	needBinary(t)
	const escalate = 4 * time.Second
	// The paused leader is resumed while the new leader is sending
	// Paused1's level 2 (the sink holds its answer, so the delivery is
	// claimed but not recorded as sent), and the paused leader's timer for
	// it is overdue; or once the new leader has sent the pages.
	for _, tt := range []struct {
		name     string
		inFlight bool
	}{{"paused, resumed while the new leader sends", true}, {"paused, resumed after the pages were sent", false}} {
		t.Run(tt.name, func(t *testing.T) {
			dsn := pgtest.DB(t)
			sink := newHASink(t)
			rs := haStartReplicas(t, func(n string) hostileConfig {
				return haReplicaConfig(n, dsn, haLease, haTwoLevel(sink, n, escalate))
			}, "a", "b", "c")
			old := haMustLeader(t, rs, 20*time.Second)
			others := haExcept(rs, old)
			fired := haFire(t, others[0], "Paused1")
			sink.waitPages(t, []string{"Paused1/push"}, 10*time.Second)
			time.Sleep(300 * time.Millisecond) // nothing is due until Paused1's level 2
			cut := old.pause(t, false)
			leader, seen, err := haWaitLeader(others, 15*time.Second)
			if err != nil {
				t.Fatalf("replica %s paused: no other replica leads: %v", old.name, err)
			}
			t.Logf("replica %s paused; %s leads %v later", old.name, leader.name, seen.Sub(cut).Round(time.Millisecond))
			if tt.inFlight {
				sink.holdAnswers(3*time.Second, others...)
			}
			haFire(t, haExcept(others, leader)[0], "Paused2")
			sink.waitPages(t, []string{"Paused1/sms", "Paused2/push"}, 15*time.Second)
			if !tt.inFlight {
				time.Sleep(500 * time.Millisecond) // recorded as sent
			}
			resumed := old.pause(t, true)
			t.Logf("replica %s resumed %v after Paused1's level 2 was due", old.name, resumed.Sub(fired.Add(escalate)).Round(time.Millisecond))
			haWaitFollower(t, old, resumed)
			sink.waitPages(t, []string{"Paused1/sms", "Paused2/push", "Paused2/sms"}, 15*time.Second)
			time.Sleep(haLease) // room for a send the resumed replica must not make
			haCheckFenced(t, sink, old, cut, []string{"Paused1/push", "Paused1/sms", "Paused2/push", "Paused2/sms"})
			if l := haMustLeader(t, rs, 5*time.Second); l == old {
				t.Errorf("the resumed replica %s leads again", old.name)
			}
		})
	}
	t.Run("partitioned", func(t *testing.T) {
		dsn := pgtest.DB(t)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		proxy := newHAProxy(t, u.Host)
		viaProxy := *u
		viaProxy.Host = proxy.Addr()
		sink := newHASink(t)
		cfg := func(n string) hostileConfig {
			db := dsn
			if n == "a" {
				db = viaProxy.String()
			}
			return haReplicaConfig(n, db, haLease, haTwoLevel(sink, n, escalate))
		}
		// a starts alone, so that it leads.
		rs := haStartReplicas(t, cfg, "a")
		cutOff := rs[0]
		haMustLeader(t, rs, 20*time.Second)
		rs = append(rs, haStartReplicas(t, cfg, "b", "c")...)
		if l := haMustLeader(t, rs, 10*time.Second); l != cutOff {
			t.Fatalf("replica %s leads, want a", l.name)
		}
		others := haExcept(rs, cutOff)
		haFire(t, others[0], "Part1")
		sink.waitPages(t, []string{"Part1/push"}, 10*time.Second)
		time.Sleep(300 * time.Millisecond) // nothing is due until Part1's level 2
		// The partition heals while the new leader is sending Part1's
		// level 2 (claimed, not recorded as sent).
		sink.holdAnswers(3*time.Second, others...)
		cut := proxy.blackhole()
		followed, stopWatch := haWatchFollow(cutOff)
		defer stopWatch()
		leader, seen, err := haWaitLeader(others, 15*time.Second)
		if err != nil {
			t.Fatalf("replica a partitioned: no other replica leads: %v", err)
		}
		t.Logf("replica a partitioned; %s leads %v later", leader.name, seen.Sub(cut).Round(time.Millisecond))
		haFire(t, haExcept(others, leader)[0], "Part2")
		// Part1's level 2 falls due in the partitioned replica's timers too.
		sink.waitPages(t, []string{"Part1/sms", "Part2/push"}, 15*time.Second)
		// Cut off from the database, it cannot send (asserted below), but
		// does it stop reporting that it leads? Measured, not asserted: on
		// 81cfa9c it said 1 for 30 s, while its sync and tick waited out
		// three 10 s transaction timeouts, on a4d58b7 for 21 s (b led after
		// 2 s).
		select {
		case at := <-followed:
			t.Logf("replica a, partitioned, reported watchdog_pager_leader 0 %v after the partition (lease %v)",
				at.Sub(cut).Round(time.Millisecond), haLease)
		case <-time.After(time.Until(cut.Add(haFailoverBound))):
			t.Logf("replica a, partitioned, still reported watchdog_pager_leader 1 (or did not answer) %v after the partition (lease %v)",
				haFailoverBound, haLease)
		}
		stopWatch()
		healed := time.Now()
		proxy.heal()
		haWaitFollower(t, cutOff, healed)
		sink.waitPages(t, []string{"Part2/sms"}, 15*time.Second)
		time.Sleep(haLease) // room for a send the healed replica must not make
		haCheckFenced(t, sink, cutOff, cut, []string{"Part1/push", "Part1/sms", "Part2/push", "Part2/sms"})
		if l := haMustLeader(t, rs, 5*time.Second); l == cutOff {
			t.Errorf("the healed replica a leads again")
		}
	})
}

// haSteppedDown is the log line of a replica that lost the lease.
var haSteppedDown = regexp.MustCompile(`pager: stepped down`)

// haWaitFollower waits until r, paused or cut off since before, reports
// that it does not lead and logs that it stepped down, and stays alive and
// healthy.
func haWaitFollower(t *testing.T, r *haReplica, since time.Time) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		lead, err := r.leading()
		if err != nil {
			return err
		}
		if lead {
			return fmt.Errorf("replica %s still reports watchdog_pager_leader 1", r.name)
		}
		return nil
	})
	t.Logf("replica %s reports following %v after it came back", r.name, time.Since(since).Round(time.Millisecond))
	h := r.proc()
	h.waitLog(t, haSteppedDown)
	if !h.alive() {
		t.Fatalf("replica %s exited:\n%s", r.name, tail(h.logs(), 4096))
	}
	if code, body := h.get(t, "/-/healthy"); code != http.StatusOK {
		t.Errorf("replica %s: /-/healthy answered %d: %s", r.name, code, body)
	}
}

// haCheckFenced asserts that fenced sent nothing from cut on and that
// every page of want arrived exactly once, those after cut from another
// replica.
func haCheckFenced(t *testing.T, sink *haSink, fenced *haReplica, cut time.Time, want []string) {
	t.Helper()
	if sent := sink.from(fenced.name, cut); len(sent) > 0 {
		var s []string
		for _, r := range sent {
			s = append(s, fmt.Sprintf("%s at +%v", r.page(), r.At.Sub(cut).Round(time.Millisecond)))
		}
		t.Errorf("fenced replica %s sent %d page(s) after it was cut off: %s", fenced.name, len(sent), haHead(s, 20))
	}
	n := map[string]int{}
	for _, r := range sink.requests() {
		n[r.page()]++
	}
	for _, p := range want {
		if n[p] != 1 {
			t.Errorf("page %s received %d times, want once", p, n[p])
		}
	}
	if len(n) != len(want) {
		t.Errorf("pages received %v, want %v", n, want)
	}
}

// haTermRE finds the terms a replica's log says it took the lease with.
var haTermRE = regexp.MustCompile(`msg="pager: took the lease[^"]*" component=pager term=(\d+)`)

// TestHALeaseRenewedLate: the only replica is cut off from the database
// past its local deadline (lease/10 before the lease's end), and healed
// just before the lease ends in the database, so that its late renewal
// still finds the lease its own. An alert it received meanwhile (the
// write waited for the database) must page. On 81cfa9c it did not, 2 runs
// of 3: the delivery reached a worker while the local deadline had
// passed and was dropped from the outbox, and nothing queued it again
// while the term lasted (a delivery claimed just before was refused to
// the same term later) — TestHAFailover's 100-kill runs lost pages this
// way. a4d58b7 fixed it.
func TestHALeaseRenewedLate(t *testing.T) {
	needBinary(t)
	dsn := pgtest.DB(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newHAProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.Addr()
	sink := newHASink(t)
	const lease = 6 * time.Second
	rs := haStartReplicas(t, func(n string) hostileConfig {
		return haReplicaConfig(n, viaProxy.String(), lease, haTwoLevel(sink, n, time.Hour))
	}, "a")
	a := rs[0]
	haMustLeader(t, rs, 20*time.Second)
	cut := proxy.blackhole()
	time.Sleep(300 * time.Millisecond) // what was on its way lands
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ends time.Time
	if err := db.QueryRow(`SELECT expires_at FROM pager_lease`).Scan(&ends); err != nil {
		t.Fatal(err)
	}
	posted := make(chan error, 1)
	go func() { posted <- haPost(a.live(), "Renewed1") }() // waits for the database
	time.Sleep(time.Until(ends.Add(-lease / 12)))          // past the local deadline, before the end
	healed := time.Now()
	proxy.heal()
	t.Logf("partitioned for %v; healed %v before the lease's end in the database", ms(healed.Sub(cut)), ms(ends.Sub(healed)))
	if err := <-posted; err != nil {
		t.Fatal(err)
	}
	err = poll(20*time.Second, 200*time.Millisecond, nil, func() error {
		if len(sink.missing([]string{"Renewed1/push"})) > 0 {
			return errors.New("Renewed1/push: not sent")
		}
		return nil
	})
	var terms []string
	for _, m := range haTermRE.FindAllStringSubmatch(a.proc().logs(), -1) {
		terms = append(terms, m[1])
	}
	t.Logf("replica a took the lease with terms %v; stepped down %d time(s)", terms, len(haSteppedDown.FindAllString(a.proc().logs(), -1)))
	if err != nil {
		haDumpDeliveries(t, dsn)
		t.Fatal(err)
	}
}
