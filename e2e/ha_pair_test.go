package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
)

// haPairRules fire one paging alert on every evaluation of both replicas.
const haPairRules = `groups:
  - name: ha
    rules:
      - alert: CheckoutDown
        expr: 'vector(1)'
        labels: {severity: page}
        annotations: {summary: checkout is down}
`

// TestHAPair (issue #12, HA rule pairs): two watchdogs evaluate the same
// rule, as Prometheus users run HA pairs, each with its own replica
// external label. Replica a runs the pager; replica b sends its alerts to
// a's Alertmanager-compatible receiver with a's token. The pager drops the
// replica label: one incident with one alert, one page.
func TestHAPair(t *testing.T) {
	parallel(t, 5*time.Second)
	hook := newHookServer(t)
	a := startHostile(t, hostileConfig{
		Rules:          map[string]string{"ha.yml": haPairRules},
		Pager:          twoLevelPager(hook.URL, "1h", "replica_labels: [replica]\n"),
		ExternalLabels: map[string]string{"replica": "a"},
		MaxRSSMiB:      64,
	})
	tokenFile := filepath.Join(t.TempDir(), "a.token")
	if err := os.WriteFile(tokenFile, []byte(a.token), 0o600); err != nil {
		t.Fatal(err)
	}
	b := startHostile(t, hostileConfig{
		Rules:          map[string]string{"ha.yml": haPairRules},
		ExternalLabels: map[string]string{"replica": "b"},
		Extra: fmt.Sprintf(`alerting:
  alertmanagers:
    - static_configs: [{targets: [%q]}]
      authorization: {credentials_file: %q}
`, strings.TrimPrefix(a.url, "http://"), tokenFile),
		MaxRSSMiB: 64,
	})
	hook.waitHit(t, "/push", 1, 15*time.Second)
	// b's copies reach a: its sender counts them sent.
	eventually(t, 15*time.Second, func() error {
		url := strings.TrimPrefix(a.url, "http://")
		if v, ok := b.metric(t, fmt.Sprintf(`watchdog_alertmanager_alerts_sent_total{alertmanager="http://%s"}`, url)); !ok || v < 1 {
			return fmt.Errorf("replica b sent %v alerts to a (present %v)", v, ok)
		}
		return nil
	})
	code, body := a.get(t, "/api/v1/pager/incidents")
	if code != http.StatusOK || strings.Count(string(body), `"id":"inc-`) != 1 {
		t.Fatalf("incidents: %d %s, want exactly one", code, body)
	}
	inc := a.openIncident(t)
	if inc.has("", "replica") {
		t.Errorf("the replica label reached the incident: %+v", inc.Timeline)
	}
	_, detail := a.get(t, "/api/v1/pager/incidents/"+inc.ID)
	if strings.Contains(string(detail), `"replica"`) || strings.Count(string(detail), `"fingerprint"`) != 1 {
		t.Errorf("incident %s: want one alert without the replica label: %s", inc.ID, detail)
	}
	if n := hook.count("/push"); n != 1 {
		t.Errorf("alice was pushed %d times, want once", n)
	}
	a.assertHealthy(t)
	b.assertHealthy(t)
}

// TestHAPairPostgres (issue #12, acceptance 4): the same pair as TestHAPair,
// but each watchdog runs its own pager as a replica of one PostgreSQL
// database, as a three-replica installation does: both evaluate the rule
// and receive their own copy of the alert; one incident with one alert,
// one page sequence, sent by whichever replica leads.
func TestHAPairPostgres(t *testing.T) {
	parallel(t, 10*time.Second)
	hook := newHookServer(t)
	dsn := pgtest.DB(t)
	start := func(name string) *hostile {
		return startHostile(t, hostileConfig{
			Rules:          map[string]string{"ha.yml": haPairRules},
			Pager:          twoLevelPager(hook.URL, "1h", "replica_labels: [replica]\n"),
			ExternalLabels: map[string]string{"replica": name},
			Storage:        "pager_db: " + dsn + "\npager_replica: " + name + "\npager_lease: 2s",
			MaxRSSMiB:      96,
		})
	}
	a, b := start("a"), start("b")
	hook.waitHit(t, "/push", 1, 15*time.Second)
	// Both replicas have received their copies.
	for _, h := range []*hostile{a, b} {
		h.waitMetric(t, "watchdog_pager_alerts_received_total", 1, 15*time.Second)
	}
	for _, h := range []*hostile{a, b} {
		code, body := h.get(t, "/api/v1/pager/incidents")
		if code != http.StatusOK || strings.Count(string(body), `"id":"inc-`) != 1 {
			t.Fatalf("incidents seen by %s: %d %s, want exactly one", h.url, code, body)
		}
	}
	inc := a.openIncident(t)
	_, detail := b.get(t, "/api/v1/pager/incidents/"+inc.ID)
	if strings.Contains(string(detail), `"replica"`) || strings.Count(string(detail), `"fingerprint"`) != 1 {
		t.Errorf("incident %s: want one alert without the replica label: %s", inc.ID, detail)
	}
	if n := hook.count("/push"); n != 1 {
		t.Errorf("alice was pushed %d times, want once", n)
	}
	a.assertHealthy(t)
	b.assertHealthy(t)
}
