package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/web"
)

// Hostile text as scraped data may carry it.
const (
	xssScript = `<script>alert(1)</script>`
	xssAttr   = `"><img src=x onerror=alert(1)>`
	jsURL     = `javascript:alert(1)`
)

var testNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

const testPagerYAML = `
pager:
  users:
    - {name: alice, contact: {push: a}}
    - {name: bob, contact: {push: b}}
  schedules:
    - name: primary
      time_zone: UTC
      layers: [{name: daily, members: [alice, bob], rotation: daily, start: 2026-01-05T09:00}]
      overrides: [{user: bob, start: 2026-03-04T09:00, end: 2026-03-04T18:00}]
  escalation_policies: [{name: default, levels: [{targets: [schedule:primary]}]}]
  routes: [{name: pages, matchers: ['severity="page"'], escalation_policy: default}]
`

// fakePager is an in-memory pager: incidents by ID, changeable by tests.
type fakePager struct {
	mu        sync.Mutex
	incidents []pager.IncidentState
	timeline  map[string][]pager.TimelineEntry
	updates   []pager.StatusUpdate // newest last
	maint     []pager.Maintenance
	cfg       *pager.Config
}

// StatusUpdates lists the updates of id, newest first.
func (f *fakePager) StatusUpdates(id string, limit int) ([]pager.StatusUpdate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []pager.StatusUpdate
	for _, u := range slices.Backward(f.updates) {
		if (id == "" || u.IncidentID == id) && (limit == 0 || len(out) < limit) {
			out = append(out, u)
		}
	}
	return out, nil
}

// Maintenances lists the windows.
func (f *fakePager) Maintenances() ([]pager.Maintenance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.maint), nil
}

func (f *fakePager) postUpdate(u pager.StatusUpdate) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u.Seq = int64(len(f.updates) + 1)
	u.ID = fmt.Sprintf("su-%d", u.Seq)
	f.updates = append(f.updates, u)
}

func (f *fakePager) Incidents(flt pager.IncidentFilter) ([]pager.IncidentState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []pager.IncidentState
	for _, st := range f.incidents {
		if flt.Match(&st) && (flt.Limit == 0 || len(out) < flt.Limit) {
			if flt.OutlineAlerts {
				st.Alerts = pager.OutlineAlertLabels(st.Alerts, flt.OutlineLabels)
			}
			out = append(out, st)
		}
	}
	return out, nil
}

func (f *fakePager) Incident(id string) (pager.IncidentState, []pager.TimelineEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, st := range f.incidents {
		if st.ID == id {
			return st, f.timeline[id], nil
		}
	}
	return pager.IncidentState{}, nil, fmt.Errorf("incident %s: %w", id, pager.ErrNotFound)
}

func (f *fakePager) WhoIsOnCall(target string, t time.Time) ([]pager.OnCall, error) {
	s := f.cfg.Schedule("primary")
	u, _ := s.OnCall(t)
	return []pager.OnCall{{Level: 0, User: u, Schedule: "primary"}}, nil
}

func (f *fakePager) resolve(id string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.incidents {
		if f.incidents[i].ID == id {
			f.incidents[i].Status = pager.StatusResolved
			f.incidents[i].ResolvedAt, f.incidents[i].ResolvedBy = at, "alice"
		}
	}
}

func (f *fakePager) add(st pager.IncidentState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.incidents = slices.Insert(f.incidents, 0, st)
}

func evilLabels() map[string]string {
	return map[string]string{"alertname": "HighErrorRate", "severity": "page", "job": "shop", "evil": xssScript}
}

func evilAnnotations() map[string]string {
	return map[string]string{"summary": xssAttr, "description": xssScript,
		"runbook_url": "https://runbooks.example/high-error?x=1", "dashboard": jsURL, "other": "data:text/html,<b>x</b>"}
}

func newFakePager(t testing.TB) *fakePager {
	t.Helper()
	cfg, err := pager.ParseConfig("pager.yml", []byte(testPagerYAML))
	if err != nil {
		t.Fatalf("pager config: %v", err)
	}
	open := pager.IncidentState{ID: "inc-2", Route: "pages", Policy: "default", Title: "HighErrorRate: " + xssAttr,
		Status: pager.StatusTriggered, CreatedAt: testNow.Add(-10 * time.Minute), GroupLabels: map[string]string{"alertname": "HighErrorRate"},
		Alerts: []pager.IncidentAlert{{Fingerprint: "f1", Alert: pager.Alert{Labels: evilLabels(), Annotations: evilAnnotations(),
			StartsAt: testNow.Add(-10 * time.Minute), GeneratorURL: jsURL}}}}
	resolved := pager.IncidentState{ID: "inc-1", Route: "pages", Policy: "default", Title: "DiskFull",
		Status: pager.StatusResolved, CreatedAt: testNow.Add(-3 * time.Hour), ResolvedAt: testNow.Add(-2 * time.Hour), ResolvedBy: "bob",
		Alerts: []pager.IncidentAlert{{Fingerprint: "f0", Ended: true, Alert: pager.Alert{Labels: map[string]string{"alertname": "DiskFull", "severity": "page"},
			StartsAt: testNow.Add(-3 * time.Hour), EndsAt: testNow.Add(-2 * time.Hour)}}}}
	return &fakePager{cfg: cfg, incidents: []pager.IncidentState{open, resolved}, timeline: map[string][]pager.TimelineEntry{
		"inc-2": {
			{IncidentID: "inc-2", Seq: 1, At: testNow.Add(-10 * time.Minute), Kind: "triggered", By: "alerts"},
			{IncidentID: "inc-2", Seq: 2, At: testNow.Add(-9 * time.Minute), Kind: "notified", User: "alice", Method: "push", Channel: "push"},
			{IncidentID: "inc-2", Seq: 3, At: testNow.Add(-8 * time.Minute), Kind: "note", By: xssAttr, Text: xssScript},
			{IncidentID: "inc-2", Seq: 4, At: testNow.Add(-7 * time.Minute), Kind: "snoozed", By: "alice", Via: "sms", Text: "snoozed"},
		},
		"inc-1": {{IncidentID: "inc-1", Seq: 1, At: testNow.Add(-3 * time.Hour), Kind: "triggered", By: "alerts"}},
	}}
}

func testRules() []web.RuleGroup {
	active := testNow.Add(-10 * time.Minute)
	pending := testNow.Add(-time.Minute)
	return []web.RuleGroup{{
		Name: "shop", File: "rules/shop.yml", Interval: 15, LastEvaluation: testNow.Add(-5 * time.Second), EvaluationTime: 0.0021,
		Rules: []web.Rule{
			{Type: web.RuleTypeAlerting, Name: "HighErrorRate", Query: `rate(errors_total{job="shop"}[5m]) > 0.5`, Duration: 60,
				Labels: labels.FromStrings("severity", "page"), Annotations: labels.FromMap(evilAnnotations()),
				State: web.AlertStateFiring, Health: web.RuleHealthGood, LastEvaluation: testNow.Add(-5 * time.Second), EvaluationTime: 0.0012,
				Alerts: []web.Alert{{Labels: labels.FromMap(evilLabels()), Annotations: labels.FromMap(evilAnnotations()),
					State: web.AlertStateFiring, ActiveAt: &active, Value: 0.9}}},
			{Type: web.RuleTypeAlerting, Name: "SlowLogin", Query: `histogram_quantile(0.99, rate(login_seconds_bucket[5m])) > 1`,
				State: web.AlertStatePending, Health: web.RuleHealthGood, LastEvaluation: testNow.Add(-5 * time.Second),
				Alerts: []web.Alert{{Labels: labels.FromStrings("alertname", "SlowLogin", "handler", xssAttr), State: web.AlertStatePending, ActiveAt: &pending, Value: 1.5}}},
			{Type: web.RuleTypeAlerting, Name: "NativeQueueFull", Query: `queue.depth > 100 for job == "worker"`,
				Health: web.RuleHealthBad, LastError: "native: " + xssScript, LastEvaluation: testNow.Add(-5 * time.Second)},
			{Type: web.RuleTypeRecording, Name: "job:errors:rate5m", Query: `sum by (job) (rate(errors_total[5m]))`, Health: web.RuleHealthGood},
		},
	}}
}

func testTargets() []web.Target {
	return []web.Target{
		{ScrapePool: "shop", ScrapeURL: "http://shop:8080/metrics", Health: web.HealthGood, LastScrape: testNow.Add(-3 * time.Second),
			LastScrapeDuration: 0.004, Labels: labels.FromStrings("job", "shop", "instance", "shop:8080")},
		{ScrapePool: "node", ScrapeURL: "http://node:9100/metrics", Health: web.HealthBad, LastScrape: testNow.Add(-4 * time.Second),
			LastError: "connection refused " + xssScript, Labels: labels.FromStrings("job", "node", "evil", xssAttr)},
	}
}

func testProbes() []web.Probe {
	return []web.Probe{
		{Probe: "home", Target: "https://shop.example/", Prober: "http", Module: "http_2xx", Health: web.HealthGood,
			Interval: "15s", LastRun: testNow.Add(-2 * time.Second), LastDuration: 0.012},
		{Probe: "checkout", Target: "http://shop:8080", Prober: "journey", Health: web.HealthBad, Interval: "30s",
			Labels: map[string]string{"team": "shop", "evil": xssAttr}, LastRun: testNow.Add(-5 * time.Second),
			Steps: []web.ProbeStep{{Name: "login", Success: true, Status: 200}, {Name: "add_to_cart", Status: 500}},
			LastFailure: &web.ProbeFailure{Time: testNow.Add(-5 * time.Second), Step: "add_to_cart", Status: 500,
				Reason: "status 500 is not 2xx", Body: "cart is broken " + xssScript}},
	}
}

// fakeQuery answers every range query with two series, remembering the
// expressions it was asked.
type fakeQuery struct {
	mu    sync.Mutex
	exprs []string
}

func (q *fakeQuery) query(_ context.Context, expr string, start, end time.Time, step time.Duration) (promql.Matrix, error) {
	q.mu.Lock()
	q.exprs = append(q.exprs, expr)
	q.mu.Unlock()
	if strings.Contains(expr, "queue.depth") {
		return nil, fmt.Errorf("parse error: unexpected character '.' in %s", xssScript)
	}
	var a, b []promql.FPoint
	i := 0
	for t := start; !t.After(end); t = t.Add(step) {
		a = append(a, promql.FPoint{T: t.UnixMilli(), F: 0.2 + 0.01*float64(i%50)})
		b = append(b, promql.FPoint{T: t.UnixMilli(), F: 0.1})
		i++
	}
	return promql.Matrix{
		{Metric: labels.FromStrings("job", "shop", "evil", xssScript), Floats: a},
		{Metric: labels.FromStrings("job", "other"), Floats: b},
	}, nil
}

type fixture struct {
	pager  *fakePager
	query  *fakeQuery
	srv    http.Handler
	now    time.Time
	status atomic.Pointer[config.StatusPage] // the running status_page section
}

func statusConfigForTest() config.StatusPage {
	return config.StatusPage{Title: "Shop status", Components: []config.StatusComponent{
		{Name: "Checkout", Description: "Paying for your order", Routes: []string{"pages"}},
		{Name: "Search", Matchers: []string{`job="search"`}},
		{Name: "Storefront", Matchers: []string{`job="shop"`, `severity=~"page|ticket"`}},
	}}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{pager: newFakePager(t), query: &fakeQuery{}, now: testNow}
	sp := statusConfigForTest()
	f.status.Store(&sp)
	h, err := New(Options{
		Rules: testRules, Targets: testTargets, Probes: testProbes, Pager: f.pager, PagerConfig: func() *pager.Config { return f.pager.cfg },
		RangeQuery: f.query.query, StatusPage: f.status.Load, Now: func() time.Time { return f.now },
		Heartbeats: testHeartbeats,
		// Tests change the pager between requests at one instant: read it
		// every time (statuscache_test.go tests the cache).
		StatusCacheTTL: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = h
	return f
}

func (f *fixture) get(t testing.TB, path string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String(), rec.Header()
}

func httptestGet(h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func statusConfigZero() config.StatusPage { return config.StatusPage{} }

// aliceSession is the tests' Options.Session: the cookie "s=1" is alice's
// session with CSRF token "c5rf"; anything else is nobody's.
func aliceSession(r *http.Request) (string, string, bool) {
	if r.Header.Get("Cookie") == "s=1" {
		return "alice", "c5rf", true
	}
	return "", "", false
}
