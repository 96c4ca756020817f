package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

var _ Pager = (*pager.Pager)(nil)

// clock is a settable clock shared by the pager and the handler.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const pagerToken = "secret"

var pagerEpoch = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// newPagerServer serves the paging API over a real pager (memory store,
// fake clock, no Run: nothing is delivered, the timeline records pages).
func newPagerServer(t *testing.T) (*httptest.Server, *pager.Pager, *clock) {
	t.Helper()
	data, err := os.ReadFile("testdata/pager.yml")
	if err != nil {
		t.Fatal(err)
	}
	return newPagerServerConfig(t, "testdata/pager.yml", data)
}

// newPagerServerConfig is newPagerServer with the given configuration.
func newPagerServerConfig(t *testing.T, file string, data []byte) (*httptest.Server, *pager.Pager, *clock) {
	t.Helper()
	cfg, err := pager.ParseConfig(file, data)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: pagerEpoch}
	p, err := pager.New(pager.Options{Config: cfg, Now: clk.now, AckKey: []byte("test-key"), ExternalURL: "http://wd.test"})
	if err != nil {
		t.Fatal(err)
	}
	srv, h := newTestServer(t, Options{Token: pagerToken, Now: clk.now})
	h.EnablePager(PagerOptions{Pager: p, Schedules: cfg.Schedule})
	return srv, p, clk
}

func doJSON(t *testing.T, srv *httptest.Server, method, path, body string, token bool) response {
	t.Helper()
	var r *strings.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, nilIfEmpty(r))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token {
		req.Header.Set("Authorization", "Bearer "+pagerToken)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, body: b.Bytes(), hdr: resp.Header}
}

func nilIfEmpty(r *strings.Reader) interface {
	Read([]byte) (int, error)
} {
	if r == nil {
		return nil
	}
	return r
}

// checkGoldenText compares got with testdata/name, rewriting it under -update.
func checkGoldenText(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("response differs from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

const loginAlert = `[{"labels":{"alertname":"LoginErrors","severity":"page","job":"shop"},
  "annotations":{"summary":"login errors at 12%","runbook_url":"https://runbooks.test/login"},
  "startsAt":"2026-03-02T09:58:00Z","generatorURL":"http://wd.test/graph?g0.expr=x"}]`

// TestPagerAPIGolden walks one incident through its life over the API; each
// step's response is a golden file testdata/pager_<step>.json.
func TestPagerAPIGolden(t *testing.T) {
	srv, _, clk := newPagerServer(t)
	steps := []struct {
		name    string
		advance time.Duration
		method  string
		path    string
		body    string
		token   bool // send the bearer token
		code    int
	}{
		{"receive", 0, "POST", "/api/v2/alerts", loginAlert, true, 200},
		{"incidents", 0, "GET", "/api/v1/pager/incidents", "", false, 200},
		{"incidents_resolved_none", 0, "GET", "/api/v1/pager/incidents?status=resolved", "", false, 200},
		{"incidents_bad_status", 0, "GET", "/api/v1/pager/incidents?status=sleeping", "", false, 400},
		{"incidents_bad_limit", 0, "GET", "/api/v1/pager/incidents?limit=-1", "", false, 400},
		{"incident", 90 * time.Second, "GET", "/api/v1/pager/incidents/inc-1", "", false, 200},
		{"incident_unknown", 0, "GET", "/api/v1/pager/incidents/inc-99", "", false, 404},
		{"ack_no_token", 0, "POST", "/api/v1/pager/incidents/inc-1/ack", "", false, 401},
		{"ack_unknown", 0, "POST", "/api/v1/pager/incidents/inc-99/ack", "", true, 404},
		{"ack_bad_body", 0, "POST", "/api/v1/pager/incidents/inc-1/ack", `{"by":42}`, true, 400},
		{"ack_unknown_field", 0, "POST", "/api/v1/pager/incidents/inc-1/ack", `{"who":"alice"}`, true, 400},
		{"ack", 30 * time.Second, "POST", "/api/v1/pager/incidents/inc-1/ack", `{"by":"bob"}`, true, 200},
		{"ack_again", 0, "POST", "/api/v1/pager/incidents/inc-1/ack", `{"by":"bob"}`, true, 409},
		{"note", 0, "POST", "/api/v1/pager/incidents/inc-1/note", `{"by":"bob","text":"rolled back deploy 42"}`, true, 200},
		{"note_empty", 0, "POST", "/api/v1/pager/incidents/inc-1/note", `{"text":"  "}`, true, 400},
		{"snooze_missing", 0, "POST", "/api/v1/pager/incidents/inc-1/snooze", `{}`, true, 400},
		{"snooze_past", 0, "POST", "/api/v1/pager/incidents/inc-1/snooze", `{"until":"2026-03-01T00:00:00Z"}`, true, 400},
		{"snooze", 0, "POST", "/api/v1/pager/incidents/inc-1/snooze", `{"by":"bob","duration":"10m"}`, true, 200},
		{"reassign_unknown_user", 0, "POST", "/api/v1/pager/incidents/inc-1/reassign", `{"user":"mallory"}`, true, 400},
		{"reassign", 0, "POST", "/api/v1/pager/incidents/inc-1/reassign", `{"by":"bob","user":"alice"}`, true, 200},
		{"escalate", time.Minute, "POST", "/api/v1/pager/incidents/inc-1/escalate", `{"by":"alice"}`, true, 200},
		{"resolve", 4 * time.Minute, "POST", "/api/v1/pager/incidents/inc-1/resolve", `{"by":"alice"}`, true, 200},
		{"resolve_again", 0, "POST", "/api/v1/pager/incidents/inc-1/resolve", ``, true, 409},
		{"incident_resolved", 0, "GET", "/api/v1/pager/incidents/inc-1", "", false, 200},
		{"oncall_schedule", 0, "GET", "/api/v1/pager/oncall?target=schedule:primary&time=2026-03-02T08:00:00Z", "", false, 200},
		{"oncall_route", 0, "GET", "/api/v1/pager/oncall?target=route:pages", "", false, 200},
		{"oncall_unknown", 0, "GET", "/api/v1/pager/oncall?target=schedule:nope", "", false, 400},
		{"oncall_missing", 0, "GET", "/api/v1/pager/oncall", "", false, 400},
		{"preview", 0, "GET", "/api/v1/pager/schedules/primary/preview?days=3&start=2026-03-02T00:00:00Z", "", false, 200},
		{"preview_bad_days", 0, "GET", "/api/v1/pager/schedules/primary/preview?days=1000", "", false, 400},
		{"preview_unknown", 0, "GET", "/api/v1/pager/schedules/nope/preview", "", false, 404},
		{"silence_create", 0, "POST", "/api/v1/pager/silences", `{"matchers":["job=\"shop\""],"duration":"1h","createdBy":"alice","comment":"maintenance"}`, true, 200},
		{"silence_bad_matcher", 0, "POST", "/api/v1/pager/silences", `{"matchers":["job=~("],"duration":"1h"}`, true, 400},
		{"silence_no_end", 0, "POST", "/api/v1/pager/silences", `{"matchers":["job=\"shop\""]}`, true, 400},
		{"silences", 0, "GET", "/api/v1/pager/silences", "", false, 200},
		{"silence_expire", time.Minute, "DELETE", "/api/v1/pager/silences/sil-1", "", true, 200},
		{"silence_expire_unknown", 0, "DELETE", "/api/v1/pager/silences/sil-9", "", true, 404},
		{"silences_after_expire", 0, "GET", "/api/v1/pager/silences", "", false, 200},
	}
	for _, s := range steps {
		clk.advance(s.advance)
		resp := doJSON(t, srv, s.method, s.path, s.body, s.token)
		if resp.code != s.code {
			t.Errorf("%s: status %d, want %d: %s", s.name, resp.code, s.code, resp.body)
		}
		checkGolden(t, "pager_"+s.name, resp.body)
	}

	resp := doJSON(t, srv, "GET", "/api/v1/pager/incidents/inc-1/postmortem", "", false)
	if resp.code != 200 || !strings.HasPrefix(resp.hdr.Get("Content-Type"), "text/markdown") {
		t.Fatalf("postmortem: %d %s", resp.code, resp.hdr.Get("Content-Type"))
	}
	checkGoldenText(t, "pager_postmortem.md", resp.body)
}

// majorConfig extends testdata/pager.yml with a war room and a second
// policy that major incidents of route pages also page.
const majorConfig = `
pager:
  users:
    - {name: alice, contact: {push: alice-topic}}
    - {name: bob, contact: {push: bob-topic}}
  escalation_policies:
    - name: default
      levels: [{targets: [user:alice]}]
    - name: dba
      levels: [{targets: [user:bob]}]
  channels:
    - {name: push, type: console}
    - {name: war-room, type: slack, webhook_url_file: /run/secrets/slack}
  war_room: {channel: war-room, bridge_url: "https://meet.example/war-room"}
  routes:
    - name: pages
      matchers: ['severity="page"']
      group_wait: 0s
      escalation_policy: default
      major_policies: [dba]
`

// TestPagerMajor: POST /api/v1/pager/incidents/{id}/major needs the token,
// answers 404 for an unknown incident, declares a known one major (which
// pages the route's major policies and posts to the war room) and 409 the
// second time.
func TestPagerMajor(t *testing.T) {
	srv, p, _ := newPagerServerConfig(t, "major.yml", []byte(majorConfig))
	if resp := doJSON(t, srv, "POST", "/api/v2/alerts", loginAlert, true); resp.code != 200 {
		t.Fatalf("receive: %d %s", resp.code, resp.body)
	}
	steps := []struct {
		name  string
		path  string
		body  string
		token bool
		code  int
		want  string // in the body
	}{
		{"no token", "/api/v1/pager/incidents/inc-1/major", "", false, 401, ""},
		{"unknown incident", "/api/v1/pager/incidents/inc-99/major", `{"by":"alice"}`, true, 404, `"errorType":"not_found"`},
		{"bad body", "/api/v1/pager/incidents/inc-1/major", `{"by":1}`, true, 400, ""},
		{"declare", "/api/v1/pager/incidents/inc-1/major", `{"by":"alice"}`, true, 200, `"major":true,"majorPolicies":["dba"]`},
		{"again", "/api/v1/pager/incidents/inc-1/major", `{"by":"alice"}`, true, 409, "already major"},
	}
	for _, s := range steps {
		resp := doJSON(t, srv, "POST", s.path, s.body, s.token)
		if resp.code != s.code || !strings.Contains(string(resp.body), s.want) {
			t.Errorf("%s: %d %s, want %d with %s", s.name, resp.code, resp.body, s.code, s.want)
		}
	}
	_, tl, err := p.Incident("inc-1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range tl {
		switch {
		case e.Kind == pager.EntryMajor, e.Kind == pager.EntryWarRoom, e.Kind == pager.EntryNotify && e.User == "bob":
			got = append(got, e.Kind+": "+e.Text)
		}
	}
	want := []string{"major: declared major; paging dba", "war_room: war room opened in war-room: https://meet.example/war-room",
		"notify: policy dba: notifying bob via push (level 1, step 1)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestPagerHostileInputs: silences that match every alert, silences and
// snoozes of absurd length and absurd preview or on-call times answer 400
// and change nothing.
func TestPagerHostileInputs(t *testing.T) {
	srv, p, _ := newPagerServer(t)
	if resp := doJSON(t, srv, "POST", "/api/v2/alerts", loginAlert, true); resp.code != 200 {
		t.Fatalf("receive: %d %s", resp.code, resp.body)
	}
	tests := []struct {
		name, method, path, body string
		want                     string // in the 400 body
	}{
		{"silence regexp all", "POST", "/api/v1/pager/silences", `{"matchers":["x=~\".*\""],"duration":"1h"}`, "must not match the empty string"},
		{"silence equal empty", "POST", "/api/v1/pager/silences", `{"matchers":["foo=\"\""],"duration":"1h"}`, "must not match the empty string"},
		{"silence not non-empty", "POST", "/api/v1/pager/silences", `{"matchers":["foo!~\".+\""],"duration":"1h"}`, "must not match the empty string"},
		{"silence year 9999", "POST", "/api/v1/pager/silences", `{"matchers":["job=\"shop\""],"endsAt":"9999-12-31T00:00:00Z"}`, "longer than the maximum"},
		{"silence ends first", "POST", "/api/v1/pager/silences",
			`{"matchers":["job=\"shop\""],"startsAt":"2026-03-02T12:00:00Z","endsAt":"2026-03-02T11:00:00Z"}`, "not after startsAt"},
		{"snooze year 9999", "POST", "/api/v1/pager/incidents/inc-1/snooze", `{"until":"9999-12-31T00:00:00Z"}`, "invalid snooze"},
		{"snooze a year", "POST", "/api/v1/pager/incidents/inc-1/snooze", `{"duration":"8760h"}`, "invalid snooze"},
		{"preview far future", "GET", "/api/v1/pager/schedules/primary/preview?start=9999999999999", "", `invalid parameter \"start\"`},
		{"preview far past", "GET", "/api/v1/pager/schedules/primary/preview?start=-9999999999", "", `invalid parameter \"start\"`},
		{"oncall far future", "GET", "/api/v1/pager/oncall?target=schedule:primary&time=9999999999999", "", `invalid parameter \"time\"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := doJSON(t, srv, tt.method, tt.path, tt.body, tt.method == "POST")
			if resp.code != http.StatusBadRequest || !strings.Contains(string(resp.body), tt.want) {
				t.Errorf("%d %s, want 400 with %s", resp.code, resp.body, tt.want)
			}
		})
	}
	if sils, err := p.Silences(); err != nil || len(sils) != 0 {
		t.Errorf("silences stored: %v %v", sils, err)
	}
	if st, _, err := p.Incident("inc-1"); err != nil || st.Status != pager.StatusTriggered {
		t.Errorf("incident changed: %v %v", st.Status, err)
	}
	if resp := doJSON(t, srv, "GET", "/api/v1/pager/schedules/primary/preview?start=2027-03-02T00:00:00Z", "", false); resp.code != 200 {
		t.Errorf("a preview a year ahead: %d %s", resp.code, resp.body)
	}
}
