package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/internal/querylimit"
	"github.com/watchdog-sre/watchdog/rules"
	"github.com/watchdog-sre/watchdog/tsdb"
	"github.com/watchdog-sre/watchdog/web"
)

const dsShopRules = "../../examples/rules/shop.yml"

// dsT0 is the start of the test data; evaluations run every 15s from it.
var dsT0 = time.Unix(1_700_000_000, 0).UTC()

// dsShopData opens a store holding ten minutes of the shop: a /login error
// spike from 5m on (as examples/rules/shop_test.yml), and the instance
// going down at 75s.
func dsShopData(t *testing.T) *tsdb.DB {
	t.Helper()
	db, err := tsdb.Open(tsdb.Options{Retention: time.Duration(math.MaxInt64)})
	if err != nil {
		t.Fatal(err)
	}
	ok := labels.FromStrings("__name__", "shop_http_requests_total", "handler", "/login", "code", "200", "method", "POST")
	bad := labels.FromStrings("__name__", "shop_http_requests_total", "handler", "/login", "code", "500", "method", "POST")
	up := labels.FromStrings("__name__", "up", "job", "shop", "instance", "shop:8080")
	app := db.Appender()
	for i := range 41 {
		ts := dsT0.Add(time.Duration(i) * 15 * time.Second).UnixMilli()
		errs := float64(i)
		if i > 20 {
			errs = 30 + 10*float64(i-21)
		}
		upv := 1.0
		if i >= 5 {
			upv = 0
		}
		for _, s := range []struct {
			l labels.Labels
			v float64
		}{{ok, 100 * float64(i)}, {bad, errs}, {up, upv}} {
			if _, err := app.Append(0, s.l, ts, s.v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return db
}

// dsFakePrometheus serves the Prometheus query API over db (the watchdog's
// own /api/v1/query handler, which answers as Prometheus does), counting
// the queries it gets. failing makes it answer 503.
type dsFakePrometheus struct {
	*httptest.Server
	mu      sync.Mutex
	queries []string
	failing bool
}

func newDSFakePrometheus(t *testing.T, db storage.Queryable, engine *promql.Engine) *dsFakePrometheus {
	t.Helper()
	api := web.New(web.Options{Queryable: db, Engine: engine})
	f := &dsFakePrometheus{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.queries = append(f.queries, r.Form.Get("query"))
		failing := f.failing
		f.mu.Unlock()
		if failing {
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
			return
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// dsRuleRun evaluates the shop rules on a fake timeline and records every
// notification.
type dsRuleRun struct {
	mgr    *rules.Manager
	now    time.Time
	events []string
}

func newDSRuleRun(t *testing.T, opts rules.Options) *dsRuleRun {
	t.Helper()
	r := &dsRuleRun{}
	opts.Now = func() time.Time { return r.now }
	opts.Notify = func(_ context.Context, _ string, alerts ...*rules.Alert) {
		for _, a := range alerts {
			r.events = append(r.events, fmt.Sprintf("%s %s %s active=%s fired=%s resolved=%s %s",
				r.now.Sub(dsT0), a.Labels, a.State, a.ActiveAt.Sub(dsT0), a.FiredAt.Sub(dsT0), a.ResolvedAt.Sub(dsT0), a.Annotations))
		}
	}
	r.mgr = rules.NewManager(opts)
	rs, err := rules.Prepare(15*time.Second, []string{dsShopRules})
	if err != nil {
		t.Fatal(err)
	}
	r.mgr.Apply(rs)
	return r
}

// eval runs every group at ts and fails the test on a rule error unless
// allowErrors.
func (r *dsRuleRun) eval(t *testing.T, ts time.Time, allowErrors bool) {
	t.Helper()
	r.now = ts
	for _, g := range r.mgr.Groups() {
		g.Eval(context.Background(), ts)
		for _, rule := range g.Rules() {
			if err := rule.LastError(); err != nil && !allowErrors {
				t.Fatalf("%s at %s: %v", rule.Name(), ts.Sub(dsT0), err)
			}
		}
	}
}

// alert returns the one alert of the named rule, nil if none.
func (r *dsRuleRun) alert(name string) *rules.Alert {
	for _, g := range r.mgr.Groups() {
		for _, rule := range g.Rules() {
			if rule.Name() == name {
				for _, a := range rule.Alerts() {
					return a
				}
			}
		}
	}
	return nil
}

// dump lists every sample of a store, one "labels t=v" line each.
func dsDump(t *testing.T, db *tsdb.DB) string {
	t.Helper()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	set := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	var b strings.Builder
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		it = s.Iterator(it)
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			fmt.Fprintf(&b, "%s %s=%v\n", s.Labels(), time.UnixMilli(ts).Sub(dsT0), v)
		}
	}
	return b.String()
}

func dsStoreAppender(db *tsdb.DB) rules.AppenderFunc {
	return func() rules.Appender { return db.Appender() }
}

func dsTestEngine() *promql.Engine { return promql.NewEngine(web.EngineOpts(querylimit.Limits{})) }

// TestDatasourceSameAlertsAsLocal evaluates examples/rules/shop.yml once
// on the local store and once on a Prometheus API serving the same data:
// the notifications and the written series (recording results, ALERTS,
// ALERTS_FOR_STATE) are the same, and the login spike fires.
func TestDatasourceSameAlertsAsLocal(t *testing.T) {
	data, engine := dsShopData(t), dsTestEngine()
	fake := newDSFakePrometheus(t, data, engine)
	ds, err := newDatasource(&config.DatasourceConfig{URL: fake.URL, Timeout: config.DefaultDatasourceTimeout},
		labels.EmptyLabels(), metrics.NewSet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	localOut, _ := tsdb.Open(tsdb.Options{Retention: time.Duration(math.MaxInt64)})
	dsOut, _ := tsdb.Open(tsdb.Options{Retention: time.Duration(math.MaxInt64)})
	local := newDSRuleRun(t, rules.Options{Query: rules.EngineQueryFunc(engine, data), Appender: dsStoreAppender(localOut)})
	remote := newDSRuleRun(t, rules.Options{Query: ds.Query, Appender: dsStoreAppender(dsOut)})
	for ts := dsT0; !ts.After(dsT0.Add(10 * time.Minute)); ts = ts.Add(15 * time.Second) {
		local.eval(t, ts, false)
		remote.eval(t, ts, false)
	}
	if l, r := strings.Join(local.events, "\n"), strings.Join(remote.events, "\n"); l != r {
		t.Errorf("notifications differ\nlocal:\n%s\ndatasource:\n%s", l, r)
	}
	if !strings.Contains(strings.Join(remote.events, "\n"), `alertname="LoginErrorSpike", handler="/login", severity="page"} firing`) {
		t.Errorf("LoginErrorSpike never fired on the datasource:\n%s", strings.Join(remote.events, "\n"))
	}
	l, r := dsDump(t, localOut), dsDump(t, dsOut)
	if l != r {
		t.Errorf("written series differ\nlocal:\n%s\ndatasource:\n%s", l, r)
	}
	for _, want := range []string{`{__name__="ALERTS_FOR_STATE", alertname="LoginErrorSpike"`, `{__name__="handler:shop_http_requests:rate1m", handler="/login"}`} {
		if !strings.Contains(r, want) {
			t.Errorf("the datasource run wrote no %s series locally", want)
		}
	}
	fake.mu.Lock()
	n := len(fake.queries)
	fake.mu.Unlock()
	if want := 41 * 5; n != want {
		t.Errorf("datasource got %d queries, want %d (5 rules, 41 evaluations)", n, want)
	}
}

// TestDatasourceRestoresForState stops a watchdog whose LoginErrorSpike is
// pending and starts another a minute later: the pending alert's `for`
// clock comes back, moved forward by the downtime, so it fires one
// evaluation earlier than a fresh start would. It comes from the
// ALERTS_FOR_STATE series on the datasource (written there with the
// sender's external label, which the restore drops) when remote_write
// shipped them, else from the local store.
func TestDatasourceRestoresForState(t *testing.T) {
	tests := []struct {
		name string
		ship bool // the first watchdog's results reach the datasource
	}{
		{"from the datasource", true},
		{"from the local store when the datasource has none", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, engine := dsShopData(t), dsTestEngine()
			fake := newDSFakePrometheus(t, data, engine)
			ext := labels.FromStrings("replica", "a")
			ds, err := newDatasource(&config.DatasourceConfig{URL: fake.URL, Timeout: config.DefaultDatasourceTimeout}, ext, metrics.NewSet(), nil)
			if err != nil {
				t.Fatal(err)
			}
			local, _ := tsdb.Open(tsdb.Options{Retention: time.Duration(math.MaxInt64)})
			written := dsStoreAppender(local)
			if tc.ship { // what remote_write does, external labels added; the restarted watchdog's store is empty
				written = func() rules.Appender { return &dsExtAppender{app: data.Appender(), ext: ext} }
			}
			first := newDSRuleRun(t, rules.Options{Query: ds.Query, Appender: written, ForGracePeriod: 5 * time.Second})
			var pendingSince time.Time
			ts := dsT0
			for ; ts.Before(dsT0.Add(10 * time.Minute)); ts = ts.Add(15 * time.Second) {
				first.eval(t, ts, false)
				if a := first.alert("LoginErrorSpike"); a != nil && a.State == rules.StatePending && ts.Sub(a.ActiveAt) == 15*time.Second {
					pendingSince = a.ActiveAt
					break
				}
			}
			if pendingSince.IsZero() {
				t.Fatal("LoginErrorSpike never pending for 15s")
			}
			downAt := ts
			restart := downAt.Add(time.Minute)

			second := newDSRuleRun(t, rules.Options{Query: ds.Query, ForGracePeriod: 5 * time.Second,
				Queryable: restoreQueryable{remote: ds, local: local}})
			second.eval(t, restart, false)
			a := second.alert("LoginErrorSpike")
			if a == nil || a.State != rules.StatePending || !a.ActiveAt.Equal(pendingSince.Add(restart.Sub(downAt))) {
				t.Fatalf("after restart: %+v, want pending since %s (restored and moved by the downtime)", a, pendingSince.Add(time.Minute).Sub(dsT0))
			}
			if a.Labels.Has("replica") {
				t.Errorf("restored alert kept the external label: %s", a.Labels)
			}
			second.eval(t, restart.Add(15*time.Second), false)
			if a := second.alert("LoginErrorSpike"); a == nil || a.State != rules.StateFiring {
				t.Fatalf("15s after restart: %+v, want firing (20s of `for` served: 15s before, 5s after)", a)
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			asked := false
			for _, q := range fake.queries {
				asked = asked || strings.HasPrefix(q, `{__name__="ALERTS_FOR_STATE",alertname="LoginErrorSpike"`)
			}
			if !asked {
				t.Errorf("the datasource was not asked for ALERTS_FOR_STATE: %q", fake.queries)
			}
		})
	}
}

// dsExtAppender adds external labels, as the remote_write sender does.
type dsExtAppender struct {
	app rules.Appender
	ext labels.Labels
}

func (e *dsExtAppender) Append(ref uint64, l labels.Labels, t int64, v float64) (uint64, error) {
	return e.app.Append(0, e.withExt(l), t, v)
}
func (e *dsExtAppender) AppendHistogram(ref uint64, l labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error) {
	return e.app.AppendHistogram(0, e.withExt(l), t, h, fh)
}
func (e *dsExtAppender) withExt(l labels.Labels) labels.Labels {
	b := labels.NewBuilder(l)
	e.ext.Range(func(x labels.Label) { b.Set(x.Name, x.Value) })
	return b.Labels()
}
func (e *dsExtAppender) Commit() error   { return e.app.Commit() }
func (e *dsExtAppender) Rollback() error { return e.app.Rollback() }

// TestDatasourceErrorsPerRule: a failing datasource marks every rule
// unhealthy with the datasource's answer as lastError in /api/v1/rules,
// and alerts keep their state until it answers again.
func TestDatasourceErrorsPerRule(t *testing.T) {
	data, engine := dsShopData(t), dsTestEngine()
	fake := newDSFakePrometheus(t, data, engine)
	ds, err := newDatasource(&config.DatasourceConfig{URL: fake.URL, Timeout: config.DefaultDatasourceTimeout},
		labels.EmptyLabels(), metrics.NewSet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	run := newDSRuleRun(t, rules.Options{Query: ds.Query})
	run.eval(t, dsT0.Add(90*time.Second), false)
	run.eval(t, dsT0.Add(2*time.Minute), false)
	if a := run.alert("ShopInstanceDown"); a == nil || a.State != rules.StateFiring {
		t.Fatalf("ShopInstanceDown = %+v, want firing", a)
	}
	fake.mu.Lock()
	fake.failing = true
	fake.mu.Unlock()
	run.eval(t, dsT0.Add(2*time.Minute+15*time.Second), true)
	for _, g := range web.RulesFrom(run.mgr)() {
		for _, r := range g.Rules {
			if r.Health != "err" || !strings.Contains(r.LastError, "HTTP 503: upstream unavailable") {
				t.Errorf("rule %s: health %q lastError %q, want err with the datasource's answer", r.Name, r.Health, r.LastError)
			}
		}
	}
	if a := run.alert("ShopInstanceDown"); a == nil || a.State != rules.StateFiring {
		t.Errorf("ShopInstanceDown after a failed evaluation = %+v, want still firing", a)
	}
}

// TestDatasourceRefusesNativeRules: with a datasource, native rules are
// refused at load, naming the file, line, group and rule.
func TestDatasourceRefusesNativeRules(t *testing.T) {
	rs, err := rules.Prepare(time.Minute, []string{"../../examples/rules/shop-native.yml", dsShopRules})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDatasourceRules(nil, rs); err != nil {
		t.Fatalf("without a datasource: %v", err)
	}
	err = checkDatasourceRules(&config.DatasourceConfig{URL: "http://vm:8428"}, rs)
	if !errors.Is(err, errNativeOnDatasource) {
		t.Fatalf("err = %v, want errNativeOnDatasource", err)
	}
	native := rs.NativeRules()
	if len(native) == 0 {
		t.Fatal("shop-native.yml has no native rules")
	}
	for _, n := range native {
		if !strings.HasPrefix(n, "../../examples/rules/shop-native.yml:") || !strings.Contains(err.Error(), n) {
			t.Errorf("native rule %q not named in %v", n, err)
		}
	}
	if strings.Contains(err.Error(), "shop.yml:") {
		t.Errorf("PromQL rules of shop.yml named as native: %v", err)
	}
}
