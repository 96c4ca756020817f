package ui

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.html")

func TestPages(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		path string
		code int
		want []string
	}{
		{"/", 200, []string{`id="firing-alerts"`, `HighErrorRate`, `id="pending-alerts"`, `SlowLogin`,
			`data-incident="inc-2" data-state="triggered"`, `href="/incidents/inc-2"`, `held by <b>paging alice</b>`,
			`id="targets-down"`, `http://node:9100/metrics`, `href="/oncall#schedule-0">primary</a>`, `<b>alice</b>`,
			`href="/incidents/inc-1/postmortem"`, `name="viewport"`}},
		{"/incidents/inc-2", 200, []string{`id="incident" data-id="inc-2" data-state="triggered"`, `id="token"`,
			`id="ack" type="button" data-action="ack">`, `id="resolve"`, `id="escalate"`, `id="snooze"`, `id="note"`,
			`class="runbook" href="https://runbooks.example/high-error?x=1"`, `data-kind="notified"`,
			`<b>snoozed</b> by alice (sms): snoozed`, `data-threshold="0.5"`, `id="threshold"`, `<path class="line s0" d="M`, `href="/incidents/inc-2/postmortem"`}},
		{"/incidents/inc-1", 200, []string{`data-state="resolved"`, `id="ack" type="button" data-action="ack" disabled`,
			`id="resolve" type="button" data-action="resolve" disabled`}},
		{"/incidents/inc-2/postmortem", 200, []string{`# Postmortem: HighErrorRate`, `id="postmortem-download" href="/incidents/inc-2/postmortem.md"`}},
		{"/incidents/nope", 404, []string{`no incident nope`}},
		{"/alerts", 200, []string{`id="rule-0-0" data-rule="HighErrorRate" data-state="firing" data-health="ok"`,
			`data-rule="SlowLogin" data-state="pending"`, `data-rule="NativeQueueFull" data-state="inactive" data-health="err"`,
			`data-rule="job:errors:rate5m" data-state="recording"`, `native: &lt;script&gt;`, `2.1ms`, `1.2ms`}},
		{"/targets", 200, []string{`data-state="down" data-pool="node"`, `data-state="up" data-pool="shop"`, `4ms`,
			`connection refused &lt;script&gt;`}},
		{"/graph", 200, []string{`id="graph-form"`, `id="expr"`, `id="range"`}},
		{"/graph?expr=up+%3E+0.15&range=15m", 200, []string{`id="graph-result"`, `data-series="2"`, `data-threshold="0.15"`}},
		{"/graph?g0.expr=up&g0.tab=1", 200, []string{`id="graph-result"`, `>up</textarea>`}},
		{"/graph?expr=up&range=banana", 400, []string{`id="graph-error"`, `range &#34;banana&#34;`}},
		{"/oncall", 200, []string{`id="schedule-0" data-schedule="primary"`, `class="shift override" data-user="bob" data-override="true"`,
			`Now: <b>alice</b>`, `data-user="alice" data-override="false"`}},
		{"/status", 200, []string{`id="overall" class="banner degraded" data-state="degraded"`,
			`data-component="Checkout" data-state="degraded"`, `data-component="Search" data-state="operational"`,
			`data-component="Storefront" data-state="degraded"`, `data-poll="/status.json"`}},
		{"/status.json", 200, []string{`"status":"degraded"`, `"digest":"`}},
		{"/ui/static/app.js", 200, []string{`sessionStorage`}},
		{"/ui/static/app.css", 200, []string{`@media (max-width: 600px)`}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body, hdr := f.get(t, tt.path)
			if code != tt.code {
				t.Fatalf("GET %s = %d, want %d\n%s", tt.path, code, tt.code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s: missing %q", tt.path, w)
				}
			}
			if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("GET %s: Content-Security-Policy = %q", tt.path, csp)
			}
		})
	}
}

func TestIncidentGraphSplitsThreshold(t *testing.T) {
	f := newFixture(t)
	if code, _, _ := f.get(t, "/incidents/inc-2"); code != 200 {
		t.Fatal(code)
	}
	want := `rate(errors_total{job="shop"}[5m])`
	if len(f.query.exprs) != 1 || f.query.exprs[0] != want {
		t.Fatalf("graphed %q, want [%q]", f.query.exprs, want)
	}
}

func TestPostmortemDownload(t *testing.T) {
	f := newFixture(t)
	code, body, hdr := f.get(t, "/incidents/inc-2/postmortem.md")
	if code != 200 || !strings.HasPrefix(body, "# Postmortem: ") {
		t.Fatalf("code %d body %.80q", code, body)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/markdown") {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := hdr.Get("Content-Disposition"); cd != `attachment; filename="postmortem-inc-2.md"` {
		t.Errorf("Content-Disposition %q", cd)
	}
}

func TestZeroOptions(t *testing.T) {
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/alerts", "/targets", "/graph?expr=up", "/oncall", "/status", "/status.json"} {
		rec := httptestGet(h, p)
		if rec.Code != 200 {
			t.Errorf("GET %s = %d\n%s", p, rec.Code, rec.Body)
		}
	}
	if rec := httptestGet(h, "/incidents/inc-1"); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "pager is not configured") {
		t.Errorf("incident without pager = %d %s", rec.Code, rec.Body)
	}
}

func TestBadStatusMatcher(t *testing.T) {
	bad := config.StatusPage{Components: []config.StatusComponent{{Name: "x", Matchers: []string{`job=~"("`}}}}
	_, err := New(Options{StatusPage: func() *config.StatusPage { return &bad }})
	if err == nil || !strings.Contains(err.Error(), "components[0].matchers[0]") {
		t.Fatalf("err = %v", err)
	}
	if err := CheckStatusPage(bad); err == nil || !strings.Contains(err.Error(), "components[0].matchers[0]") {
		t.Fatalf("CheckStatusPage = %v", err)
	}
}

// TestGolden compares the overview and the status page with
// testdata/*.golden.html (go test -update rewrites them).
func TestGolden(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct{ path, file string }{{"/", "overview.golden.html"}, {"/status", "status.golden.html"}} {
		t.Run(tt.file, func(t *testing.T) {
			_, body, _ := f.get(t, tt.path)
			file := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if body != string(want) {
				t.Errorf("GET %s differs from %s (go test -update rewrites it):\n%s", tt.path, file, body)
			}
		})
	}
}

func TestAgo(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{0, "just now"}, {90 * time.Second, "1m30s ago"}, {-time.Minute, "1m0s from now"}, {3 * time.Hour, "3h0m0s ago"}, {72 * time.Hour, "3d ago"}} {
		if got := ago(testNow, testNow.Add(-tt.d)); got != tt.want {
			t.Errorf("ago(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestStuckIncidentMarked: an open incident with no next step is marked
// red in the overview's list and on its page; a resolved one never is.
func TestStuckIncidentMarked(t *testing.T) {
	f := newFixture(t)
	for i := range f.pager.incidents {
		f.pager.incidents[i].Stuck = `escalation policy "gone" not found`
	}
	_, body, _ := f.get(t, "/")
	if n := strings.Count(body, `class="badge stuck"`); n != 1 {
		t.Errorf("overview has %d stuck badges, want 1 (the open incident only)", n)
	}
	if !strings.Contains(body, `no next step: escalation policy &#34;gone&#34; not found`) {
		t.Error("overview does not say why the incident is stuck")
	}
	_, body, _ = f.get(t, "/incidents/inc-2")
	if !strings.Contains(body, `id="stuck" class="error"`) {
		t.Error("incident page has no stuck mark")
	}
	if _, body, _ = f.get(t, "/incidents/inc-1"); strings.Contains(body, `id="stuck"`) {
		t.Error("a resolved incident is marked stuck")
	}
}
