package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/sqlstore"
)

// amJSON indents an Alertmanager answer for a golden file.
func amJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("not JSON: %v: %.300s", err, b)
	}
	return append(out.Bytes(), '\n')
}

// TestAlertmanagerAPI walks the Alertmanager API v2 over a real pager:
// alerts and groups of an open incident in Alertmanager's shapes (golden
// files), a silence created, read, updated in place and replaced, that
// suppresses the alert; the filters; expiry; status and receivers.
func TestAlertmanagerAPI(t *testing.T) {
	srv, p, clk := newPagerServer(t)
	if r := doJSON(t, srv, "POST", "/api/v2/alerts", loginAlert, true); r.code != 200 {
		t.Fatalf("post alert: %d %s", r.code, r.body)
	}
	get := func(path string, code int) []byte {
		t.Helper()
		r := doJSON(t, srv, "GET", path, "", false)
		if r.code != code {
			t.Fatalf("GET %s: %d %s, want %d", path, r.code, r.body, code)
		}
		if ct := r.hdr.Get("Content-Type"); code == 200 && ct != "application/json" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		return r.body
	}
	count := func(path string) int {
		t.Helper()
		var list []json.RawMessage
		if err := json.Unmarshal(get(path, 200), &list); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return len(list)
	}
	checkGoldenText(t, "am_alerts.json", amJSON(t, get("/api/v2/alerts", 200)))
	checkGoldenText(t, "am_groups.json", amJSON(t, get("/api/v2/alerts/groups", 200)))
	checkGoldenText(t, "am_receivers.json", amJSON(t, get("/api/v2/receivers", 200)))

	q := url.QueryEscape
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"filter=" + q(`alertname="LoginErrors"`), 1},
		{"filter=" + q(`alertname=LoginErrors`) + "&filter=" + q(`job=~"sh.*"`), 1},
		{"filter=" + q(`alertname="Other"`), 0},
		{"filter=" + q(`job!="shop"`), 0},
		{"receiver=pag.*", 1},
		{"receiver=other", 0},
		{"active=false", 0},
		{"silenced=false&inhibited=false", 1},
	} {
		if got := count("/api/v2/alerts?" + tc.query); got != tc.want {
			t.Errorf("alerts?%s: %d alerts, want %d", tc.query, got, tc.want)
		}
	}
	tooMany := strings.Repeat("filter="+q(`a="b"`)+"&", maxAMFilters+1)
	for _, bad := range []string{"filter=" + q(`job=~"("`), "filter=" + q(`{a="b"}`), "active=maybe", "receiver=" + q("("),
		tooMany, "receiver=" + strings.Repeat("a", maxAMReceiverRegex+1), "filter=" + q(`a="`+strings.Repeat("x", 17<<10)+`"`)} {
		body := get("/api/v2/alerts?"+bad, 400)
		get("/api/v2/alerts/groups?"+bad, 400)
		var msg string
		if err := json.Unmarshal(body, &msg); err != nil || msg == "" {
			t.Errorf("alerts?%s: error body %s is not a JSON string", bad, body)
		}
	}

	// A silence: refused without the token, created with it.
	sil := `{"matchers":[{"name":"alertname","value":"LoginErrors","isRegex":false,"isEqual":true}],
	  "startsAt":"2026-03-02T10:00:00Z","endsAt":"2026-03-02T12:00:00Z","createdBy":"alice","comment":"deploy"}`
	if r := doJSON(t, srv, "POST", "/api/v2/silences", sil, false); r.code != http.StatusUnauthorized {
		t.Fatalf("silence without token: %d %s", r.code, r.body)
	}
	r := doJSON(t, srv, "POST", "/api/v2/silences", sil, true)
	var created struct{ SilenceID string }
	if err := json.Unmarshal(r.body, &created); r.code != 200 || err != nil || created.SilenceID == "" {
		t.Fatalf("create silence: %d %s", r.code, r.body)
	}
	id := created.SilenceID
	checkGoldenText(t, "am_silence.json", amJSON(t, get("/api/v2/silence/"+id, 200)))
	if got := count("/api/v2/alerts?silenced=false"); got != 0 {
		t.Errorf("silenced=false lists %d alerts, want 0", got)
	}
	var alerts []amAlert
	if err := json.Unmarshal(get("/api/v2/alerts", 200), &alerts); err != nil || len(alerts) != 1 ||
		alerts[0].Status.State != "suppressed" || len(alerts[0].Status.SilencedBy) != 1 || alerts[0].Status.SilencedBy[0] != id {
		t.Fatalf("silenced alert: %+v, %v", alerts, err)
	}
	if got := count("/api/v2/silences?filter=" + q(`alertname="LoginErrors"`)); got != 1 {
		t.Errorf("silences filtered by alertname: %d, want 1", got)
	}
	if got := count("/api/v2/silences?filter=" + q(`job="shop"`)); got != 0 {
		t.Errorf("silences filtered by job: %d, want 0", got)
	}
	for query, want := range map[string]int{
		"filter=" + q(`alertname=~"LoginErrors"`): 0, // a filter names a matcher exactly, as in Alertmanager
		"filter=" + q(`alertname!="LoginErrors"`): 0,
		"active=false":                0,
		"expired=false&pending=false": 1,
	} {
		if got := count("/api/v2/silences?" + query); got != want {
			t.Errorf("silences?%s: %d, want %d", query, got, want)
		}
	}
	get("/api/v2/silences?pending=sometimes", 400)

	// Update in place (a new comment) keeps the id; new matchers replace it.
	upd := strings.Replace(strings.Replace(sil, `"deploy"`, `"longer deploy"`, 1), "{", `{"id":"`+id+`",`, 1)
	r = doJSON(t, srv, "POST", "/api/v2/silences", upd, true)
	if err := json.Unmarshal(r.body, &created); r.code != 200 || err != nil || created.SilenceID != id {
		t.Fatalf("update in place: %d %s, want id %s", r.code, r.body, id)
	}
	repl := strings.Replace(upd, `"LoginErrors"`, `"Login.*","isRegex":true,"x":1`, 1)
	repl = strings.Replace(repl, `"isRegex":false,`, "", 1)
	r = doJSON(t, srv, "POST", "/api/v2/silences", repl, true)
	if err := json.Unmarshal(r.body, &created); r.code != 200 || err != nil || created.SilenceID == id {
		t.Fatalf("replace: %d %s, want a new id", r.code, r.body)
	}
	var old amSilence
	if err := json.Unmarshal(get("/api/v2/silence/"+id, 200), &old); err != nil || old.Status.State != "expired" || old.Comment != "longer deploy" {
		t.Fatalf("replaced silence: %+v, %v", old, err)
	}
	if r := doJSON(t, srv, "POST", "/api/v2/silences", strings.Replace(sil, "{", `{"id":"nope",`, 1), true); r.code != 404 {
		t.Errorf("update of an unknown id: %d %s, want 404", r.code, r.body)
	}
	for _, bad := range []string{`{"matchers":[],"endsAt":"2026-03-02T12:00:00Z"}`,
		`{"matchers":[{"name":"a","value":".*","isRegex":true}],"endsAt":"2026-03-02T12:00:00Z"}`,
		`{"matchers":[{"name":"a","value":"(","isRegex":true}],"endsAt":"2026-03-02T12:00:00Z"}`,
		`{"matchers":[{"name":"","value":"x"}],"endsAt":"2026-03-02T12:00:00Z"}`, `[`} {
		if r := doJSON(t, srv, "POST", "/api/v2/silences", bad, true); r.code != 400 {
			t.Errorf("bad silence %s: %d %s, want 400", bad, r.code, r.body)
		}
	}

	// Expire both: the alert is active again.
	clk.advance(time.Minute)
	if r := doJSON(t, srv, "DELETE", "/api/v2/silence/"+created.SilenceID, "", false); r.code != http.StatusUnauthorized {
		t.Fatalf("expire without token: %d", r.code)
	}
	if r := doJSON(t, srv, "DELETE", "/api/v2/silence/"+created.SilenceID, "", true); r.code != 200 {
		t.Fatalf("expire: %d %s", r.code, r.body)
	}
	if r := doJSON(t, srv, "DELETE", "/api/v2/silence/nope", "", true); r.code != 404 {
		t.Errorf("expire unknown: %d %s", r.code, r.body)
	}
	get("/api/v2/silence/nope", 404)
	if got := count("/api/v2/alerts?silenced=false"); got != 1 {
		t.Errorf("after expiry silenced=false lists %d alerts, want 1", got)
	}
	sils, err := p.Silences()
	if err != nil || len(sils) != 2 {
		t.Fatalf("pager silences: %v, %v", sils, err)
	}
	for _, s := range sils {
		if s.Active(clk.now()) {
			t.Errorf("silence %s still active", s.ID)
		}
	}

	var st amStatus
	if err := json.Unmarshal(get("/api/v2/status", 200), &st); err != nil {
		t.Fatal(err)
	}
	if st.Cluster.Status != "disabled" || st.VersionInfo.Version == "" || !strings.Contains(st.Config["original"], "receiver: pages") ||
		!st.Uptime.Equal(pagerEpoch) {
		t.Errorf("status: %+v", st)
	}
}

// TestAlertmanagerSilenceSurvivesRestart: a silence created through
// POST /api/v2/silences is in the pager's SQLite database before the
// answer; a new pager on the same file lists it and it mutes the next
// alert it matches (the incident opens suppressed and pages nobody).
func TestAlertmanagerSilenceSurvivesRestart(t *testing.T) {
	data, err := os.ReadFile("testdata/pager.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pager.ParseConfig("testdata/pager.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(t.TempDir(), "pager.db")
	clk := &clock{t: pagerEpoch}
	start := func() (*httptest.Server, *pager.Pager, *sqlstore.Store) {
		store, err := sqlstore.Open(dbPath, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := pager.New(pager.Options{Config: cfg, Store: store, Now: clk.now, AckKey: []byte("k")})
		if err != nil {
			t.Fatal(err)
		}
		srv, h := newTestServer(t, Options{Token: pagerToken, Now: clk.now})
		h.EnablePager(PagerOptions{Pager: p})
		return srv, p, store
	}
	srv, _, store := start()
	r := doJSON(t, srv, "POST", "/api/v2/silences", `{"matchers":[{"name":"job","value":"sh.*","isRegex":true}],
	  "startsAt":"2026-03-02T10:00:00Z","endsAt":"2026-03-02T12:00:00Z","createdBy":"alice","comment":"deploy"}`, true)
	var created struct{ SilenceID string }
	if err := json.Unmarshal(r.body, &created); r.code != 200 || err != nil || created.SilenceID == "" {
		t.Fatalf("create silence: %d %s", r.code, r.body)
	}
	srv.Close()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	clk.advance(10 * time.Minute)
	srv, p, store := start()
	defer store.Close()
	var sils []amSilence
	if r := doJSON(t, srv, "GET", "/api/v2/silences", "", false); json.Unmarshal(r.body, &sils) != nil || len(sils) != 1 ||
		sils[0].ID != created.SilenceID || sils[0].Status.State != "active" || sils[0].Matchers[0].Value != "sh.*" || !sils[0].Matchers[0].IsRegex {
		t.Fatalf("after the restart: %d %s", r.code, r.body)
	}
	if r := doJSON(t, srv, "POST", "/api/v2/alerts", loginAlert, true); r.code != 200 {
		t.Fatalf("post alert: %d %s", r.code, r.body)
	}
	list, err := p.Incidents(pager.IncidentFilter{})
	if err != nil || len(list) != 1 || !list[0].Suppressed || list[0].Alerts[0].SuppressedBy != "silence:"+created.SilenceID {
		t.Fatalf("incidents after the restart: %+v, %v; want one suppressed by %s", list, err, created.SilenceID)
	}
	_, tl, err := p.Incident(list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tl {
		if e.Kind == pager.EntryNotify {
			t.Errorf("the silenced incident paged: %+v", e)
		}
	}
}
