package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The hostile values: a label value with a script element and one that
// breaks out of an attribute; the rule's annotation carries both and a
// script of its own.
const (
	scriptLabel = `<script>window.__xss=1</script>`
	attrLabel   = `"><img src=x onerror="window.__xss=2">`
	annotScript = `<script>window.__xss=3</script>`
)

// xssMetrics is the probe target's exposition (label values escaped as
// the text format wants: backslash and double quote).
var xssMetrics = fmt.Sprintf("# TYPE xss_probe gauge\nxss_probe{evil=%q,attr=%q} 1\n", scriptLabel, attrLabel)

const xssConfig = `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: probe
    static_configs:
      - targets: ['%s']
rule_files: [rules.yml]
pager:
  users:
    - name: alice
      contact: {push: alice-phone}
      notification_rules: [{after: 0s, method: push}]
  schedules:
    - name: primary
      time_zone: UTC
      layers: [{name: daily, members: [alice], rotation: daily, start: 2026-01-05T09:00}]
  escalation_policies:
    - name: p
      levels: [{targets: [schedule:primary], escalate_after: 10m}]
  channels:
    - {name: push, type: console}
  routes:
    - {name: all, group_by: [alertname], group_wait: 0s, escalation_policy: p}
`

const xssRules = `groups:
  - name: xss
    interval: 1s
    rules:
      - alert: XSSProbe
        expr: xss_probe > 0
        labels: {severity: page}
        annotations:
          summary: 'probe {{ $labels.evil }} ` + annotScript + `'
          description: 'attr {{ $labels.attr }}'
`

// TestConsoleInTheBrowser runs the watchdog on a local target whose label
// values are HTML and a rule whose annotations repeat them, then clicks
// from the overview through every page of the console as a new user
// would: each page is reachable without typing a URL, no injected script
// runs anywhere (window.__xss stays undefined, the only script element is
// the console's own), and the hostile text is shown as text.
func TestConsoleInTheBrowser(t *testing.T) {
	needBrowser(t)
	parallel(t, 30*time.Second)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, xssMetrics)
	}))
	defer target.Close()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"watchdog.yml": fmt.Sprintf(xssConfig, strings.TrimPrefix(target.URL, "http://")),
		"rules.yml":    xssRules,
	})
	wd := startWatchdog(t, "run", "--config", filepath.Join(dir, "watchdog.yml"),
		"--web.listen-address", "127.0.0.1:0", "--storage.snapshot-path", filepath.Join(dir, "snapshot.wds"),
		"--storage.pager-db", filepath.Join(dir, "pager.db"))
	var id string
	eventually(t, 30*time.Second, func() error {
		var err error
		id, err = wd.firstPage("XSSProbe")
		return err
	})
	ctx := newBrowser(t)

	// safe checks the page just reached: no injected script ran, the
	// console's script is the only one, and wantText is visible as text.
	safe := func(page string, wantText ...string) {
		t.Helper()
		if v := mustJS[string](t, ctx, `typeof window.__xss`); v != "undefined" {
			t.Errorf("%s: window.__xss is %s: an injected script ran", page, v)
		}
		if n := mustJS[int](t, ctx, `document.querySelectorAll('script:not([src="/ui/static/app.js"]), img[onerror], [onerror]').length`); n != 0 {
			t.Errorf("%s: %d injected element(s) in the DOM", page, n)
		}
		text := mustJS[string](t, ctx, `document.body.innerText`)
		for _, w := range wantText {
			if !strings.Contains(text, w) {
				t.Errorf("%s: text %q not shown; page text:\n%s", page, w, text)
			}
		}
	}

	open(t, ctx, wd.url+"/")
	waitJS(t, ctx, 10*time.Second, "incident on the overview", `document.querySelector('#open-incidents li[data-incident="`+id+`"]')`)
	safe("overview", "XSSProbe", scriptLabel, "probe "+scriptLabel+" "+annotScript)

	// Every page of the navigation, from the overview.
	for _, p := range []struct {
		page, path string
		want       []string
	}{
		{"alerts", "/alerts", []string{"XSSProbe", "probe {{ $labels.evil }} " + annotScript}},
		{"targets", "/targets", []string{"probe"}},
		{"graph", "/graph", []string{"PromQL expression"}},
		{"oncall", "/oncall", []string{"primary", "alice"}},
		{"health", "/health", []string{"On-call health", "People", "Routes"}},
		{"overview", "/", []string{"Open incidents"}},
	} {
		clickTo(t, ctx, `#nav a[data-page="`+p.page+`"]`, p.path)
		safe(p.path, p.want...)
	}
	// The status page is public and has no navigation: back to the overview.
	clickTo(t, ctx, `#nav a[data-page="status"]`, "/status")
	waitJS(t, ctx, 5*time.Second, "status page", `document.querySelector('#overall[data-state="degraded"]')`)
	safe("/status")
	if txt := mustJS[string](t, ctx, `document.body.innerText`); strings.Contains(txt, "XSSProbe") || strings.Contains(txt, "script") {
		t.Errorf("the public status page shows internal text:\n%s", txt)
	}
	back(t, ctx, "/")

	// The incident (alerts, labels, annotations, graph, timeline) and its
	// postmortem, by links.
	clickTo(t, ctx, `#open-incidents li[data-incident="`+id+`"] a`, "/incidents/"+id)
	safe("incident", scriptLabel, attrLabel, "probe "+scriptLabel+" "+annotScript, "attr "+attrLabel)
	waitJS(t, ctx, 5*time.Second, "incident graph", `document.querySelector('#graphs svg.chart')`)
	clickTo(t, ctx, "#postmortem-link", "/incidents/"+id+"/postmortem")
	safe("postmortem", "XSSProbe")

	// The graph of the alert's expression, from the incident, with the
	// hostile labels in its legend.
	back(t, ctx, "/incidents/"+id)
	click(t, ctx, "#graphs pre.expr a")
	waitJS(t, ctx, 15*time.Second, "graph of the alert", `location.pathname === '/graph' && document.querySelector('svg.chart path.line')`)
	safe("graph of the alert", scriptLabel, "xss_probe")

	// A rule's alert links to its entry on /alerts.
	clickTo(t, ctx, `#nav a[data-page="overview"]`, "/")
	click(t, ctx, "#firing-alerts li a")
	waitJS(t, ctx, 10*time.Second, "alerts page from a firing alert", `location.pathname === '/alerts'`)
	safe("alerts from overview", "XSSProbe")
}
