package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
)

// envHAOutage sets TestHAOutage's database outage (a Go duration such as
// 8s, to shorten it locally).
const envHAOutage = "WATCHDOG_HA_OUTAGE"

// haOutage is how long TestHAOutage stops PostgreSQL: 30 s (issue #12,
// acceptance 5) unless WATCHDOG_HA_OUTAGE says otherwise.
func haOutage(t *testing.T) time.Duration {
	v := os.Getenv(envHAOutage)
	if v == "" {
		return 30 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration such as 8s", envHAOutage, v)
	}
	return d
}

// pageSink is a webhook receiver that counts the pages of every alertname
// (the Alertmanager-style body's commonLabels).
type pageSink struct {
	*httptest.Server
	mu    sync.Mutex
	pages map[string]int
}

func newPageSink(t *testing.T) *pageSink {
	t.Helper()
	s := &pageSink{pages: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			CommonLabels map[string]string `json:"commonLabels"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.pages[r.URL.Path+" "+body.CommonLabels["alertname"]]++
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

// count is how often alertname was paged on path (such as "/push").
func (s *pageSink) count(path, alertname string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pages[path+" "+alertname]
}

// kinds is how many (path, alertname) pairs were paged.
func (s *pageSink) kinds() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pages)
}

func (s *pageSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.pages)
}

// outageRules fire DuringOutage while the flag target says so.
const outageRules = `groups:
  - name: outage
    rules:
      - alert: DuringOutage
        expr: 'outage_flag > 0'
        labels: {severity: page}
        annotations: {summary: raised while the pager database was down}
`

// TestHAOutage (issue #12, acceptance 5): two replicas share a PostgreSQL
// pager database; the cluster view and gauges show both. An incident is
// paged and acknowledged; then PostgreSQL is stopped for 30 s (or
// WATCHDOG_HA_OUTAGE). Meanwhile both replicas stay alive, go on scraping
// and evaluating (a rule starts firing), accept POSTed alerts with 200
// (queued in memory), answer /metrics without waiting on the database and
// /-/ready with 503 naming the pager. Once PostgreSQL is back, the alerts that arrived
// meanwhile become incidents and are paged once each, the acknowledged
// incident is still acknowledged and was not paged again, and /-/ready is
// 200 again.
func TestHAOutage(t *testing.T) {
	parallel(t, 55*time.Second)
	needBinary(t)
	outage := haOutage(t)
	pg := pgtest.Restartable(t)
	sink := newPageSink(t)
	var flag atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE outage_flag gauge\noutage_flag %d\n", flag.Load())
	}))
	t.Cleanup(target.Close)

	var replicas []*hostile
	for _, name := range []string{"a", "b"} {
		h := startHostile(t, hostileConfig{
			Scrape:    "- job_name: flag\n  static_configs: [{targets: ['" + strings.TrimPrefix(target.URL, "http://") + "']}]\n",
			Rules:     map[string]string{"outage.yml": outageRules},
			Pager:     twoLevelPager(sink.URL, "1h", ""),
			Storage:   "pager_db: " + pg.URL() + "\npager_replica: " + name + "\npager_lease: 2s",
			MaxRSSMiB: 128,
		})
		h.waitLog(t, regexp.MustCompile(`pager: PostgreSQL store`))
		replicas = append(replicas, h)
	}
	a, b := replicas[0], replicas[1]
	waitReady := func(h *hostile, want int, timeout time.Duration) {
		t.Helper()
		eventually(t, timeout, func() error {
			if code, body := h.get(t, "/-/ready"); code != want || (want != http.StatusOK && !strings.Contains(strings.ToLower(string(body)), "pager")) {
				return fmt.Errorf("/-/ready of %s: %d %q, want %d (naming the pager when not ready)", h.url, code, body, want)
			}
			return nil
		})
	}
	for _, h := range replicas {
		waitReady(h, http.StatusOK, 30*time.Second)
	}
	// The cluster view: two replicas alive, one of them leading.
	for _, h := range replicas {
		h.waitMetric(t, "watchdog_pager_replicas", 2, 15*time.Second)
		if v, ok := h.metric(t, "watchdog_pager_lease_expiry_timestamp_seconds"); !ok || v < float64(time.Now().Add(-time.Minute).Unix()) {
			t.Errorf("watchdog_pager_lease_expiry_timestamp_seconds on %s = %v (present %v), want a recent time", h.url, v, ok)
		}
	}
	var view struct {
		Data struct {
			Replica  string `json:"replica"`
			Leader   string `json:"leader"`
			Replicas []struct {
				Name  string `json:"name"`
				Alive bool   `json:"alive"`
			} `json:"replicas"`
		} `json:"data"`
	}
	if code, body := b.get(t, "/api/v1/pager/cluster"); code != http.StatusOK || json.Unmarshal(body, &view) != nil ||
		view.Data.Replica != "b" || (view.Data.Leader != "a" && view.Data.Leader != "b") || len(view.Data.Replicas) != 2 {
		t.Errorf("GET /api/v1/pager/cluster on b: %d %s, want b among two replicas, one leading", code, body)
	}
	if code, body := b.get(t, "/"); code != http.StatusOK || !regexp.MustCompile(`(?s)id="pager-cluster".*Pager replicas: .*this process`).Match(body) {
		t.Errorf("the console's overview on b: %d, no replica line naming this process", code)
	}

	// Before the outage: an incident, paged once, acknowledged through the
	// other replica.
	a.fire(t, "BeforeOutage")
	eventually(t, 20*time.Second, func() error {
		if n := sink.count("/push", "BeforeOutage"); n < 1 {
			return fmt.Errorf("BeforeOutage not paged yet: %s", sink)
		}
		return nil
	})
	ids := a.openIDs(t)
	if len(ids) != 1 {
		t.Fatalf("open incidents %v, want 1", ids)
	}
	acked := ids[0]
	if code, body := b.post(t, "/api/v1/pager/incidents/"+acked+"/ack", "application/json", []byte(`{"by":"alice-e2e"}`), true); code != http.StatusOK {
		t.Fatalf("ack through replica b: %d %s", code, body)
	}

	// The outage.
	scrapes := a.controlHit.Load()
	pg.Stop(t)
	down := time.Now()
	t.Logf("PostgreSQL stopped for %s", outage)
	flag.Store(1)
	for _, p := range []struct {
		h    *hostile
		name string
	}{{a, "PostedToA"}, {b, "PostedToB"}} {
		body := fmt.Sprintf(`[{"labels":{"alertname":%q,"severity":"page"},"annotations":{"summary":"posted during the outage"}}]`, p.name)
		if code, resp := p.h.post(t, "/api/v2/alerts", "application/json", []byte(body), true); code != http.StatusOK ||
			!strings.Contains(string(resp), `"queued":true`) {
			t.Fatalf("POST /api/v2/alerts to %s during the outage: %d %s, want 200 and queued", p.h.url, code, resp)
		}
	}
	for _, h := range replicas {
		start := time.Now()
		if _, ok := h.metric(t, "watchdog_pager_replicas"); !ok {
			t.Errorf("/metrics of %s lacks watchdog_pager_replicas during the outage", h.url)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("/metrics of %s took %s during the outage: it waits on the database", h.url, took)
		}
	}
	for _, h := range replicas {
		waitReady(h, http.StatusServiceUnavailable, outage)
	}
	// Rules go on: DuringOutage fires on both replicas (ALERTS is written to
	// the in-memory TSDB), and the control target is scraped.
	for _, h := range replicas {
		eventually(t, outage, func() error {
			code, body := h.get(t, "/api/v1/query?query=ALERTS%7Balertname%3D%22DuringOutage%22%2Calertstate%3D%22firing%22%7D")
			if code != http.StatusOK || !strings.Contains(string(body), `"value":[`) {
				return fmt.Errorf("DuringOutage is not firing on %s: %d %s", h.url, code, body)
			}
			return nil
		})
	}
	if a.controlHit.Load() <= scrapes {
		t.Errorf("the control target was not scraped during the outage")
	}
	for _, h := range replicas {
		if !h.alive() {
			t.Fatalf("replica %s exited during the outage:\n%s", h.url, tail(h.logs(), 4096))
		}
	}
	if n := sink.kinds(); n != 1 {
		t.Errorf("pages during the outage: %s, want only BeforeOutage's", sink)
	}
	time.Sleep(time.Until(down.Add(outage)))
	pg.Start(t)
	back := time.Now()
	t.Logf("PostgreSQL back after %s", back.Sub(down).Round(time.Millisecond))

	// After: every alert of the outage is an incident and paged; the
	// acknowledgement holds; both replicas are ready again.
	eventually(t, 90*time.Second, func() error {
		for _, name := range []string{"PostedToA", "PostedToB", "DuringOutage"} {
			if sink.count("/push", name) < 1 {
				return fmt.Errorf("%s not paged yet: %s", name, sink)
			}
		}
		return nil
	})
	t.Logf("every alert of the outage paged %s after PostgreSQL came back", time.Since(back).Round(time.Millisecond))
	for _, h := range replicas {
		waitReady(h, http.StatusOK, 30*time.Second)
	}
	open := a.openIDs(t)
	if len(open) != 4 || !slices.Contains(open, acked) {
		t.Errorf("open incidents after the outage %v, want 4 with %s", open, acked)
	}
	for _, h := range replicas {
		inc := h.pgIncident(t, acked)
		if inc.Status != "acknowledged" || inc.AckedBy != "alice-e2e" {
			t.Errorf("incident %s on %s after the outage: status %q by %q, want acknowledged by alice-e2e", acked, h.url, inc.Status, inc.AckedBy)
		}
	}
	for _, name := range []string{"BeforeOutage", "PostedToA", "PostedToB", "DuringOutage"} {
		if n := sink.count("/push", name); n != 1 {
			t.Errorf("%s paged %d times, want once: %s", name, n, sink)
		}
	}
	for _, h := range replicas {
		h.assertHealthy(t)
	}
}
