package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Helpers for the tests of replicas sharing one PostgreSQL pager database
// (issue #12): a webhook sink that records who sent what and when,
// replica processes that can be killed, stopped and restarted under the
// same name, leader discovery through /metrics, and a TCP proxy that can
// partition one replica from the database. Every name starts with "ha".

// haRequest is one request the sink received.
type haRequest struct {
	At time.Time
	// Replica is the first path segment: each replica's channels post to
	// their own path (/a/push, /b/sms, …).
	Replica string
	// Channel is the second: push (level 1) or sms (level 2).
	Channel string
	// Alert is the alertname of the paged group.
	Alert string
	// Key is the delivery's idempotency key; the logical page when the
	// body carries none.
	Key    string
	Status string
}

// page names the logical page: the group's alertname and the channel.
func (r haRequest) page() string { return r.Alert + "/" + r.Channel }

// haSink is a webhook receiver that records every request.
type haSink struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []haRequest
	hold map[string]time.Duration // replica → how long its requests wait for the answer
}

func newHASink(t *testing.T) *haSink {
	t.Helper()
	s := &haSink{hold: map[string]time.Duration{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *haSink) serve(w http.ResponseWriter, r *http.Request) {
	req := haRequest{At: time.Now()}
	req.Replica, req.Channel, _ = strings.Cut(strings.Trim(r.URL.Path, "/"), "/")
	body, _ := io.ReadAll(r.Body)
	var p map[string]any
	_ = json.Unmarshal(body, &p)
	req.Status, _ = p["status"].(string)
	for _, f := range []string{"groupLabels", "commonLabels"} {
		if m, ok := p[f].(map[string]any); ok && req.Alert == "" {
			req.Alert, _ = m["alertname"].(string)
		}
	}
	req.Key = haKey(r.Header, p)
	if req.Key == "" {
		req.Key = req.page()
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	hold := s.hold[req.Replica]
	s.mu.Unlock()
	if hold > 0 { // the sender's delivery stays claimed and not recorded meanwhile
		select {
		case <-r.Context().Done():
		case <-time.After(hold):
		}
	}
}

// holdAnswers makes the sink answer the requests of the replicas only
// after d: their deliveries stay in flight, claimed but not recorded as
// sent, for that long.
func (s *haSink) holdAnswers(d time.Duration, replicas ...*haReplica) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range replicas {
		s.hold[r.name] = d
	}
}

// haKey finds the idempotency key of a delivery: a header, or a field of
// the JSON body.
func haKey(h http.Header, p map[string]any) string {
	if k := h.Get("Idempotency-Key"); k != "" {
		return k
	}
	for _, f := range []string{"idempotencyKey", "idempotency_key", "key"} {
		if k, ok := p[f].(string); ok && k != "" {
			return k
		}
	}
	return ""
}

// requests returns a copy of what the sink received so far.
func (s *haSink) requests() []haRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// from returns the requests replica sent at or after since.
func (s *haSink) from(replica string, since time.Time) []haRequest {
	var out []haRequest
	for _, r := range s.requests() {
		if r.Replica == replica && !r.At.Before(since) {
			out = append(out, r)
		}
	}
	return out
}

// first returns, per logical page, the first request that carried it.
func (s *haSink) first() map[string]haRequest {
	out := map[string]haRequest{}
	for _, r := range s.requests() {
		if _, ok := out[r.page()]; !ok {
			out[r.page()] = r
		}
	}
	return out
}

// missing returns the pages of want not received yet, sorted.
func (s *haSink) missing(want []string) []string {
	got := s.first()
	var out []string
	for _, p := range want {
		if _, ok := got[p]; !ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// waitPages waits until every page of want has arrived.
func (s *haSink) waitPages(t *testing.T, want []string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() error {
		if m := s.missing(want); len(m) > 0 {
			return fmt.Errorf("%d page(s) not received: %s", len(m), haHead(m, 20))
		}
		return nil
	})
}

// duplicates counts the requests beyond the first of every idempotency
// key, and returns the keys received more than once with their counts.
func (s *haSink) duplicates() (int, map[string]int) {
	n := map[string]int{}
	for _, r := range s.requests() {
		n[r.Key]++
	}
	total, dups := 0, map[string]int{}
	for k, c := range n {
		if c > 1 {
			total += c - 1
			dups[k] = c
		}
	}
	return total, dups
}

// haHead joins the first n items of list, saying how many more there are.
func haHead(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, " ")
	}
	return strings.Join(list[:n], " ") + fmt.Sprintf(" … and %d more", len(list)-n)
}

// haTwoLevel is the pager configuration of the replica tests: alice is
// pushed at once, bob gets an sms after escalate, through webhooks at
// sink/<replica>/push and /sms so that the sink knows who sent each page.
func haTwoLevel(sink *haSink, replica string, escalate time.Duration) string {
	return twoLevelPager(sink.URL+"/"+replica, escalate.String(), "")
}

// haReplica is one named replica process; it can be killed, stopped and
// started again under the same name and configuration.
type haReplica struct {
	name    string
	hc      hostileConfig
	dir     string
	control *httptest.Server

	mu    sync.Mutex
	h     *hostile // the current process; nil before the first start
	up    bool     // running and not stopped: takes requests
	runs  int
	prior string // the end of the previous run's logs
}

// haReplicaConfig is the configuration of replica name on the database
// dsn with the given lease and pager section.
func haReplicaConfig(name, dsn string, lease time.Duration, pager string) hostileConfig {
	return hostileConfig{
		Pager:   pager,
		Storage: fmt.Sprintf("pager_db: %q\npager_replica: %s\npager_lease: %s\n", dsn, name, lease),
	}
}

// newHAReplica prepares replica name (not started). The process is stopped
// when the test ends; when the test failed, the end of its logs (and of
// the run before) are printed.
func newHAReplica(t *testing.T, name string, hc hostileConfig) *haReplica {
	t.Helper()
	needBinary(t)
	r := &haReplica{name: name, hc: hc, dir: t.TempDir()}
	r.control = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "control_ok 1\n")
	}))
	t.Cleanup(func() {
		h := r.proc()
		if h != nil {
			_ = h.cmd.Process.Signal(syscall.SIGCONT)
			h.stop(10 * time.Second)
		}
		r.control.Close()
		if t.Failed() && h != nil {
			t.Logf("replica %s, run %d, stderr (last 6 KiB):\n%s", r.name, r.runs, tail(h.logs(), 6<<10))
			if r.prior != "" {
				t.Logf("replica %s, run %d, stderr (last 3 KiB):\n%s", r.name, r.runs-1, r.prior)
			}
		}
	})
	return r
}

// haStartReplicas starts one replica per name and waits until each
// serves.
func haStartReplicas(t *testing.T, cfg func(name string) hostileConfig, names ...string) []*haReplica {
	t.Helper()
	var rs []*haReplica
	for _, n := range names {
		r := newHAReplica(t, n, cfg(n))
		if err := r.start(); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

// start runs the binary (again) in a fresh directory and waits until it
// serves and has printed its API token. It may run on any goroutine.
func (r *haReplica) start() error {
	dir, err := os.MkdirTemp(r.dir, "run")
	if err != nil {
		return err
	}
	h := &hostile{dir: dir, done: make(chan struct{}), hc: r.hc, control: r.control}
	h.configPath = filepath.Join(dir, "watchdog.yml")
	if err := os.WriteFile(h.configPath, []byte(h.configText("")), 0o600); err != nil {
		return err
	}
	h.watchdog = &watchdog{stdout: newSyncBuffer(), stderr: newSyncBuffer()}
	h.cmd = exec.Command(binary, "run", "--config", h.configPath, "--web.listen-address", "127.0.0.1:0")
	h.cmd.Stdout, h.cmd.Stderr = h.watchdog.stdout, h.watchdog.stderr
	h.cmd.Dir = dir
	h.cmd.Env = append(append(os.Environ(), "WATCHDOG_TOKEN="), r.hc.Env...)
	if err := h.cmd.Start(); err != nil {
		return err
	}
	go func() { h.cmd.Wait(); close(h.done) }()
	r.mu.Lock()
	if r.h != nil {
		r.prior = tail(r.h.logs(), 3<<10)
	}
	r.h, r.runs = h, r.runs+1
	r.mu.Unlock()
	err = poll(30*time.Second, 100*time.Millisecond, h.watchdog.stdout.changed, func() error {
		if !h.alive() {
			return fmt.Errorf("exited early:\n%s%s", h.output(), tail(h.logs(), 4096))
		}
		out := h.output()
		u, tok := servingRE.FindStringSubmatch(out), tokenRE.FindStringSubmatch(out)
		if u == nil || tok == nil {
			return fmt.Errorf("no URL and token on stdout yet:\n%s", out)
		}
		h.url, h.token = u[1], tok[1]
		return nil
	})
	if err != nil {
		return fmt.Errorf("start replica %s: %w", r.name, err)
	}
	r.mu.Lock()
	r.up = true
	r.mu.Unlock()
	return nil
}

// proc returns the current process (nil before the first start).
func (r *haReplica) proc() *hostile {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.h
}

// live returns the current process when it takes requests, else nil.
func (r *haReplica) live() *hostile {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.up {
		return nil
	}
	return r.h
}

// kill SIGKILLs the process and waits for its end; it returns when the
// signal was sent.
func (r *haReplica) kill(t *testing.T) time.Time {
	t.Helper()
	r.mu.Lock()
	h := r.h
	r.up = false
	r.mu.Unlock()
	at := time.Now()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill replica %s: %v", r.name, err)
	}
	<-h.done
	return at
}

// pause sends SIGSTOP (resume false) or SIGCONT (true) and returns when
// it was sent. A paused replica takes no requests from the test.
func (r *haReplica) pause(t *testing.T, resume bool) time.Time {
	t.Helper()
	sig := syscall.SIGSTOP
	if resume {
		sig = syscall.SIGCONT
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	at := time.Now()
	if err := r.h.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to replica %s: %v", sig, r.name, err)
	}
	r.up = resume
	return at
}

// haClient is for calls to replicas that may be dead or stopped.
var haClient = &http.Client{Timeout: 2 * time.Second}

// leading reads watchdog_pager_leader from the process's /metrics.
func (r *haReplica) leading() (bool, error) {
	h := r.live()
	if h == nil {
		return false, fmt.Errorf("replica %s is down", r.name)
	}
	resp, err := haClient.Get(h.url + "/metrics")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, "watchdog_pager_leader")
		if !ok || (!strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "{")) {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		return v == 1, err
	}
	return false, fmt.Errorf("replica %s: no watchdog_pager_leader in /metrics", r.name)
}

// haLeaders returns the live replicas of rs that report leading.
func haLeaders(rs []*haReplica) []*haReplica {
	var out []*haReplica
	for _, r := range rs {
		if ok, err := r.leading(); err == nil && ok {
			out = append(out, r)
		}
	}
	return out
}

// haWaitLeader polls every 100 ms until exactly one of rs reports leading
// and returns it with the time it was seen.
func haWaitLeader(rs []*haReplica, timeout time.Duration) (*haReplica, time.Time, error) {
	var leader *haReplica
	var seen time.Time
	err := poll(timeout, 100*time.Millisecond, nil, func() error {
		ls := haLeaders(rs)
		seen = time.Now()
		if len(ls) != 1 {
			var names []string
			for _, l := range ls {
				names = append(names, l.name)
			}
			return fmt.Errorf("%d replica(s) leading %v, want one", len(ls), names)
		}
		leader = ls[0]
		return nil
	})
	return leader, seen, err
}

// haMustLeader is haWaitLeader failing the test.
func haMustLeader(t *testing.T, rs []*haReplica, timeout time.Duration) *haReplica {
	t.Helper()
	l, _, err := haWaitLeader(rs, timeout)
	if err != nil {
		t.Fatalf("no single leader after %v: %v", timeout, err)
	}
	return l
}

// haWatchFollow polls r's leader gauge every 100 ms until r reports that
// it does not lead (a call that fails or times out does not count); the
// channel then yields when it was seen. stop ends the polling.
func haWatchFollow(r *haReplica) (seen <-chan time.Time, stop func()) {
	ch, quit := make(chan time.Time, 1), make(chan struct{})
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if lead, err := r.leading(); err == nil && !lead {
				ch <- time.Now()
				return
			}
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return ch, func() { once.Do(func() { close(quit) }) }
}

// haExcept returns rs without x.
func haExcept(rs []*haReplica, x *haReplica) []*haReplica {
	return slices.DeleteFunc(slices.Clone(rs), func(r *haReplica) bool { return r == x })
}

// haPost posts one paging alert per name to the process's receiver.
func haPost(h *hostile, names ...string) error {
	var b bytes.Buffer
	b.WriteString("[")
	for i, n := range names {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"labels":{"alertname":%q,"severity":"page"},"annotations":{"summary":"replica test"}}`, n)
	}
	b.WriteString("]")
	req, err := http.NewRequest(http.MethodPost, h.url+"/api/v2/alerts", &b)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /api/v2/alerts: %d %s", resp.StatusCode, body)
	}
	return nil
}

// haFire posts the alerts to replica r, failing the test on an error.
func haFire(t *testing.T, r *haReplica, names ...string) time.Time {
	t.Helper()
	h := r.live()
	if h == nil {
		t.Fatalf("replica %s is down", r.name)
	}
	at := time.Now()
	if err := haPost(h, names...); err != nil {
		t.Fatalf("replica %s: %v", r.name, err)
	}
	return at
}

// haProxy is a TCP proxy to one address that can black-hole its traffic:
// nothing is forwarded in either direction and no connection is closed,
// so the client's connections hang as in a network partition. Healing
// forwards what was held and everything after.
type haProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	open   chan struct{} // closed while traffic flows
	conns  []net.Conn
	closed bool
}

// newHAProxy listens on a free loopback port and forwards to target.
func newHAProxy(t *testing.T, target string) *haProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &haProxy{ln: ln, target: target, open: make(chan struct{})}
	close(p.open)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *haProxy) Addr() string { return p.ln.Addr().String() }

func (p *haProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, up) {
			return
		}
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *haProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	p.conns = append(p.conns, cs...)
	return true
}

// pipe copies src to dst, holding each chunk while the proxy black-holes.
func (p *haProxy) pipe(src, dst net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			<-p.flowing()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *haProxy) flowing() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

// blackhole stops forwarding; it returns when it did.
func (p *haProxy) blackhole() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default:
	}
	return time.Now()
}

// heal forwards again.
func (p *haProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

func (p *haProxy) close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.mu.Unlock()
	p.heal()
	p.ln.Close()
	for _, c := range conns {
		c.Close()
	}
}

// haDumpDeliveries logs the lease and the pending deliveries of the pager
// database dsn, to tell why a page was not sent.
func haDumpDeliveries(t *testing.T, dsn string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Logf("open the pager database: %v", err)
		return
	}
	defer db.Close()
	var b strings.Builder
	for _, q := range []string{
		`SELECT holder, instance, token, expires_at, expires_at > clock_timestamp() FROM pager_lease`,
		`SELECT key, status, claim_token, sent_attempts, sent_error FROM deliveries WHERE status = 'pending' ORDER BY key LIMIT 50`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", q, err)
			continue
		}
		cols, _ := rows.Columns()
		fmt.Fprintf(&b, "%s\n", strings.Join(cols, " | "))
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				fmt.Fprintf(&b, "scan: %v\n", err)
				break
			}
			for i, v := range vals {
				if i > 0 {
					b.WriteString(" | ")
				}
				fmt.Fprint(&b, v)
			}
			b.WriteString("\n")
		}
		rows.Close()
	}
	t.Logf("pager database:\n%s", b.String())
}

// haPercentile returns the q-quantile (0..1) of ds by the nearest rank.
func haPercentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
