package e2e

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
)

// pgIncident is what the test reads of an incident.
type pgIncident struct {
	ID       string    `json:"id"`
	Status   string    `json:"status"`
	AckedBy  string    `json:"acknowledgedBy"`
	Timeline []pgEntry `json:"timeline"`
}

// pgEntry is a timeline entry.
type pgEntry struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// pgIncident returns the incident with id, with its timeline.
func (h *hostile) pgIncident(t *testing.T, id string) pgIncident {
	t.Helper()
	var one struct {
		Data pgIncident `json:"data"`
	}
	code, body := h.get(t, "/api/v1/pager/incidents/"+id)
	if err := json.Unmarshal(body, &one); code != http.StatusOK || err != nil {
		t.Fatalf("incident %s: %d %s (%v)", id, code, body, err)
	}
	return one.Data
}

// openIDs returns the IDs of the open incidents.
func (h *hostile) openIDs(t *testing.T) []string {
	t.Helper()
	var list struct {
		Data []pgIncident `json:"data"`
	}
	code, body := h.get(t, "/api/v1/pager/incidents?status=open")
	if err := json.Unmarshal(body, &list); code != http.StatusOK || err != nil {
		t.Fatalf("open incidents: %d %s (%v)", code, body, err)
	}
	var ids []string
	for _, inc := range list.Data {
		ids = append(ids, inc.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestPostgresStoreRestart runs the binary with storage.pager_db set to a
// PostgreSQL URL: one incident is acknowledged, another escalates. The
// process is SIGKILLed before the escalation is due and started again on
// the same database (this time with the URL in pager_db_env): both
// incidents, the acknowledgement and the timelines are there, the second
// incident's next level (bob's sms) is paged once, nothing is paged twice,
// and the password never appears in the output.
func TestPostgresStoreRestart(t *testing.T) {
	parallel(t, 15*time.Second)
	needBinary(t)
	dsn := pgtest.DB(t)
	secret := ""
	if u, err := url.Parse(dsn); err == nil {
		if p, ok := u.User.Password(); ok {
			secret = p
		} else if os.Getenv(pgtest.EnvURL) == "" { // the throwaway cluster trusts, and ignores it
			secret = "e2e-s3cret"
			u.User = url.UserPassword(u.User.Username(), secret)
			dsn = u.String()
		}
	}
	hook := newHookServer(t)
	hc := hostileConfig{Pager: twoLevelPager(hook.URL, "8s", ""), Storage: "pager_db: " + dsn, MaxRSSMiB: 128}
	h := startHostile(t, hc)
	h.waitLog(t, regexp.MustCompile(`pager: PostgreSQL store`))

	h.fire(t, "PGAcked")
	hook.waitHit(t, "/push", 1, 15*time.Second)
	acked := h.openIDs(t)
	if len(acked) != 1 {
		t.Fatalf("open incidents %v, want 1", acked)
	}
	if code, body := h.post(t, "/api/v1/pager/incidents/"+acked[0]+"/ack", "application/json", []byte(`{"by":"alice-e2e"}`), true); code != http.StatusOK {
		t.Fatalf("ack: %d %s", code, body)
	}
	h.fire(t, "PGEscalates")
	hook.waitHit(t, "/push", 2, 15*time.Second)
	ids := h.openIDs(t)
	if len(ids) != 2 {
		t.Fatalf("open incidents %v, want 2", ids)
	}
	escalates := ids[0]
	if escalates == acked[0] {
		escalates = ids[1]
	}
	before := map[string]pgIncident{acked[0]: h.pgIncident(t, acked[0]), escalates: h.pgIncident(t, escalates)}
	if hook.count("/sms") != 0 {
		t.Fatal("bob was paged before the kill: escalate_after is too short for this machine")
	}
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-h.done
	logs := h.output() + h.logs()

	hc2 := hc
	hc2.Storage, hc2.Env = "pager_db_env: WATCHDOG_PAGER_DB", []string{"WATCHDOG_PAGER_DB=" + dsn}
	h2 := startHostile(t, hc2)
	h2.waitLog(t, regexp.MustCompile(`pager: PostgreSQL store`))
	if got := h2.openIDs(t); !slices.Equal(got, ids) {
		t.Fatalf("open incidents after the restart %v, want %v", got, ids)
	}
	inc := h2.pgIncident(t, acked[0])
	if inc.Status != "acknowledged" || inc.AckedBy != "alice-e2e" {
		t.Errorf("acknowledged incident after the restart: status %q by %q", inc.Status, inc.AckedBy)
	}
	for id, old := range before {
		now := h2.pgIncident(t, id)
		if len(now.Timeline) < len(old.Timeline) || fmt.Sprint(now.Timeline[:len(old.Timeline)]) != fmt.Sprint(old.Timeline) {
			t.Errorf("%s: timeline before the kill\n%+v\nis not kept in\n%+v", id, old.Timeline, now.Timeline)
		}
	}
	hook.waitHit(t, "/sms", 1, 30*time.Second)
	eventually(t, 10*time.Second, func() error {
		if inc := h2.pgIncident(t, escalates); !inc.hasEntry("escalated", "bob") {
			return fmt.Errorf("no escalation to bob on the timeline: %+v", inc.Timeline)
		}
		return nil
	})
	if n, m := hook.count("/push"), hook.count("/sms"); n != 2 || m != 1 {
		t.Errorf("pages: %d push, %d sms; want 2 and 1 (nothing twice)", n, m)
	}
	if entries, err := os.ReadDir(h.dir); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "postgres") {
				t.Errorf("a file %s was created: the URL was taken for a file name", filepath.Join(h.dir, e.Name()))
			}
		}
	}
	h2.assertHealthy(t)
	logs += h2.output() + h2.logs()
	if secret != "" && strings.Contains(logs, secret) {
		t.Error("the database password appears in the output")
	}
}

func (inc pgIncident) hasEntry(kind, text string) bool {
	return slices.ContainsFunc(inc.Timeline, func(e pgEntry) bool { return e.Kind == kind && strings.Contains(e.Text, text) })
}

// TestPostgresStoreRefusals: the binary refuses to start, with a clear
// error and never the password, when the URL's variable is not set, the
// server cannot be reached, or the database has a newer schema.
func TestPostgresStoreRefusals(t *testing.T) {
	parallel(t, 10*time.Second)
	needBinary(t)
	newer := func(t *testing.T) string {
		dsn := pgtest.DB(t)
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE TABLE watchdog_pager_schema (version int); INSERT INTO watchdog_pager_schema VALUES (99)"); err != nil {
			t.Fatal(err)
		}
		return "pager_db: " + dsn
	}
	tests := []struct {
		name    string
		storage func(t *testing.T) string
		want    []string
	}{
		{"variable not set", func(*testing.T) string { return "pager_db_env: WATCHDOG_E2E_UNSET_PAGER_DB" },
			[]string{"storage.pager_db_env $WATCHDOG_E2E_UNSET_PAGER_DB: the variable is not set or empty"}},
		{"unreachable", func(*testing.T) string {
			return "pager_db: postgres://watchdog:e2e-s3cret@127.0.0.1:1/pager?sslmode=disable&connect_timeout=2"
		}, []string{"open pager database", "postgres://watchdog:xxxxx@127.0.0.1:1/pager"}},
		{"newer schema", newer, []string{"unsupported schema version: database has version 99"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h := &hostile{dir: dir, hc: hostileConfig{Pager: twoLevelPager("http://127.0.0.1:1", "8s", ""), Storage: tt.storage(t)}}
			h.control = &httptest.Server{URL: "http://127.0.0.1:1"} // configText reads only its URL
			cfg := filepath.Join(dir, "watchdog.yml")
			if err := os.WriteFile(cfg, []byte(h.configText("")), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stderr := runToExit(t, dir, nil, "run", "--config", cfg, "--web.listen-address", "127.0.0.1:0")
			if code == 0 {
				t.Fatal("exit 0")
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("error lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "e2e-s3cret") {
				t.Errorf("the password is printed:\n%s", stderr)
			}
		})
	}
}

// TestPostgresReplicasOneEscalator: two watchdogs on one PostgreSQL
// database both start; exactly one holds the lease and sends; an alert
// posted to either pages once; when the leader stops, the other takes
// over at once (the leader gives the lease up) and sends the level-2 page,
// once.
func TestPostgresReplicasOneEscalator(t *testing.T) {
	parallel(t, 15*time.Second)
	hook := newHookServer(t)
	dsn := pgtest.DB(t)
	hc := hostileConfig{Pager: twoLevelPager(hook.URL, "8s", ""), Storage: "pager_db: " + dsn + "\npager_lease: 2s", MaxRSSMiB: 96}
	a := startHostile(t, hc)
	b := startHostile(t, hc)
	var leader, follower *hostile
	eventually(t, 10*time.Second, func() error {
		la, _ := a.metric(t, "watchdog_pager_leader")
		lb, _ := b.metric(t, "watchdog_pager_leader")
		switch {
		case la+lb != 1:
			return fmt.Errorf("leaders: a %v, b %v", la, lb)
		case la == 1:
			leader, follower = a, b
		default:
			leader, follower = b, a
		}
		return nil
	})
	follower.fire(t, "TwoReplicas") // accepted by the follower, sent by the leader
	hook.waitHit(t, "/push", 1, 15*time.Second)
	if _, clean := leader.stop(10 * time.Second); !clean {
		t.Fatal("the leader did not stop cleanly")
	}
	hook.waitHit(t, "/sms", 1, 20*time.Second)
	follower.waitGauge(t, "watchdog_pager_leader", 1, 5*time.Second)
	if n := hook.count("/push"); n != 1 {
		t.Errorf("alice pushed %d times, want once", n)
	}
	if n := hook.count("/sms"); n != 1 {
		t.Errorf("bob's level-2 page sent %d times, want once", n)
	}
	follower.assertHealthy(t)
}

// TestPostgresStoreFencedOff: when the lease is taken from the leader
// (here by hand, as a replica that took over would), the leader steps down
// and sends nothing more: the level-2 page falls due while another holder
// has the lease and nobody sends it; when that lease ends, the watchdog
// takes it anew (a new token) and sends the page, once.
func TestPostgresStoreFencedOff(t *testing.T) {
	parallel(t, 20*time.Second)
	hook := newHookServer(t)
	dsn := pgtest.DB(t)
	hc := hostileConfig{Pager: twoLevelPager(hook.URL, "6s", ""), Storage: "pager_db: " + dsn + "\npager_lease: 2s", MaxRSSMiB: 64}
	a := startHostile(t, hc)
	a.waitGauge(t, "watchdog_pager_leader", 1, 10*time.Second)
	a.fire(t, "Fenced")
	hook.waitHit(t, "/push", 1, 15*time.Second)

	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`UPDATE pager_lease SET holder = 'intruder', instance = 'x', token = token + 1,
		expires_at = clock_timestamp() + interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	a.waitGauge(t, "watchdog_pager_leader", 0, 10*time.Second)
	a.waitLog(t, regexp.MustCompile("stepped down"))
	// Level 2 is due 6 s after the push; wait past it with nobody leading.
	deadline := time.Now().Add(8 * time.Second)
	eventually(t, 10*time.Second, func() error {
		if time.Now().Before(deadline) {
			return errors.New("waiting past the level-2 due time")
		}
		return nil
	})
	if n := hook.count("/sms"); n != 0 {
		t.Fatalf("level 2 sent %d times while another replica held the lease", n)
	}
	if _, err := admin.Exec(`UPDATE pager_lease SET expires_at = clock_timestamp()`); err != nil {
		t.Fatal(err)
	}
	hook.waitHit(t, "/sms", 1, 10*time.Second)
	var token int64
	if err := admin.QueryRow(`SELECT token FROM pager_lease`).Scan(&token); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.metric(t, "watchdog_pager_lease_token"); int64(got) != token {
		t.Errorf("lease token %v, the database has %d", got, token)
	}
	if n := hook.count("/sms"); n != 1 {
		t.Errorf("bob's level-2 page sent %d times, want once", n)
	}
	if n := hook.count("/push"); n != 1 {
		t.Errorf("alice pushed %d times, want once", n)
	}
	a.assertHealthy(t)
}

// waitGauge waits until series equals want.
func (h *hostile) waitGauge(t *testing.T, series string, want float64, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() error {
		if v, ok := h.metric(t, series); !ok || v != want {
			return fmt.Errorf("%s = %v (found %v), want %v", series, v, ok, want)
		}
		return nil
	})
}
