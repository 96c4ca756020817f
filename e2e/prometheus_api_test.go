package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// bearer adds the API token to every request of the Prometheus client
// (the admin endpoints change state and need it).
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// startDemoForAPI runs the demo and waits until both targets were scraped
// and the rules evaluated a few times.
func startDemoForAPI(t *testing.T) (*watchdog, promv1.API) {
	t.Helper()
	needBinary(t)
	wd := startWatchdog(t, "demo", "--web.listen-address", "127.0.0.1:0",
		"--storage.snapshot-path", filepath.Join(t.TempDir(), "snapshot.wds"))
	client, err := api.NewClient(api.Config{Address: wd.url, RoundTripper: bearer{wd.token}})
	if err != nil {
		t.Fatal(err)
	}
	v1 := promv1.NewAPI(client)
	eventually(t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v, _, _, err := v1.Query(ctx, `count_over_time(up{job="shop"}[5m]) >= 3 and on() count(up) == 2`, time.Now())
		if err != nil {
			return err
		}
		if vec, _ := v.(model.Vector); len(vec) != 1 {
			return fmt.Errorf("not three scrapes of both targets yet: %v", v)
		}
		return nil
	})
	return wd, v1
}

// TestPrometheusClientAPI is acceptance 2 of issue #14: every method of
// client_golang's api/prometheus/v1 API runs against the demo without
// error and with sensible content.
func TestPrometheusClientAPI(t *testing.T) {
	parallel(t, 15*time.Second)
	wd, v1 := startDemoForAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	now := time.Now()
	hourAgo := now.Add(-time.Hour)
	check := func(method string, err error, ok bool, got any) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", method, err)
		} else if !ok {
			t.Errorf("%s: unexpected answer %+v", method, got)
		}
	}

	v, _, _, err := v1.Query(ctx, "up", now)
	vec, _ := v.(model.Vector)
	check("Query", err, len(vec) == 2, v)
	v, _, _, err = v1.QueryRange(ctx, `up{job="shop"}`, promv1.Range{Start: now.Add(-time.Minute), End: now, Step: 5 * time.Second})
	mat, _ := v.(model.Matrix)
	check("QueryRange", err, len(mat) == 1 && len(mat[0].Values) >= 2, v)
	series, _, _, err := v1.Series(ctx, []string{`up`}, hourAgo, now)
	check("Series", err, len(series) == 2, series)
	names, _, _, err := v1.LabelNames(ctx, nil, hourAgo, now)
	check("LabelNames", err, slices.Contains(names, "job") && slices.Contains(names, "__name__"), names)
	vals, _, _, err := v1.LabelValues(ctx, "job", nil, hourAgo, now)
	check("LabelValues", err, slices.Equal(vals, model.LabelValues{"probe", "shop", "watchdog"}), vals)
	exemplars, err := v1.QueryExemplars(ctx, "up", hourAgo, now)
	check("QueryExemplars", err, exemplars != nil || err == nil, exemplars)
	// The client hands back the JSON string as it came (quotes included).
	formatted, err := v1.FormatQuery(ctx, "sum(rate(x[1m]))by(job)")
	check("FormatQuery", err, formatted == `"sum by (job) (rate(x[1m]))"`, formatted)

	build, err := v1.Buildinfo(ctx)
	check("Buildinfo", err, build.Version == "2.50.1" && build.GoVersion != "", build)
	rt, err := v1.Runtimeinfo(ctx)
	check("Runtimeinfo", err, rt.ReloadConfigSuccess && rt.StorageRetention == "2h" && rt.GOMAXPROCS > 0 &&
		!rt.StartTime.IsZero() && rt.StartTime.Before(now), rt)
	flags, err := v1.Flags(ctx)
	check("Flags", err, flags["web.listen-address"] == "127.0.0.1:0" && flags["storage.snapshot-path"] != "", flags)
	cfg, err := v1.Config(ctx)
	check("Config", err, strings.Contains(cfg.YAML, "job_name: shop") && strings.Contains(cfg.YAML, "scrape_interval: 5s"), cfg)
	st, err := v1.TSDB(ctx, promv1.WithLimit(3))
	check("TSDB", err, st.HeadStats.NumSeries > 10 && st.HeadStats.ChunkCount > 0 && st.HeadStats.MinTime <= st.HeadStats.MaxTime &&
		int64(st.HeadStats.MaxTime) <= time.Now().UnixMilli() && len(st.SeriesCountByMetricName) == 3 &&
		len(st.LabelValueCountByLabelName) == 3 && len(st.MemoryInBytesByLabelName) == 3 && len(st.SeriesCountByLabelValuePair) == 3 &&
		st.SeriesCountByMetricName[0].Value >= st.SeriesCountByMetricName[2].Value, st)
	blocks, err := v1.TSDBBlocks(ctx)
	check("TSDBBlocks", err, blocks.Blocks != nil && len(blocks.Blocks) == 0, blocks)
	wal, err := v1.WalReplay(ctx)
	check("WalReplay", err, wal.Current == wal.Max, wal)

	targets, err := v1.Targets(ctx)
	check("Targets", err, len(targets.Active) == 2, targets)
	tmeta, err := v1.TargetsMetadata(ctx, `{job="shop"}`, "", "")
	check("TargetsMetadata", err, slices.ContainsFunc(tmeta, func(m promv1.MetricMetadata) bool {
		return m.Metric == "shop_http_requests_total" && m.Type == promv1.MetricTypeCounter && m.Target["job"] == "shop" && m.Help != ""
	}), tmeta)
	meta, err := v1.Metadata(ctx, "", "")
	check("Metadata", err, len(meta["shop_http_requests_total"]) == 1 && meta["shop_http_requests_total"][0].Type == promv1.MetricTypeCounter &&
		len(meta["shop_http_request_duration_seconds"]) == 1 && meta["shop_http_request_duration_seconds"][0].Type == promv1.MetricTypeHistogram, meta)
	rules, err := v1.Rules(ctx, nil)
	check("Rules", err, len(rules.Groups) > 0 && len(rules.Groups[0].Rules) > 0, rules)
	alerts, err := v1.Alerts(ctx)
	check("Alerts", err, alerts.Alerts != nil, alerts)
	ams, err := v1.AlertManagers(ctx)
	check("AlertManagers", err, len(ams.Active) == 1 && ams.Active[0].URL == wd.url+"/api/v2/alerts" && ams.Dropped != nil, ams)

	snap, err := v1.Snapshot(ctx, false)
	check("Snapshot", err, snap.Name == "snapshot.wds", snap)
	check("CleanTombstones", v1.CleanTombstones(ctx), true, nil)
	samples := func() float64 {
		v, _, _, err := v1.Query(ctx, `count_over_time(up{job="shop"}[1h])`, time.Now())
		if vec, _ := v.(model.Vector); err == nil && len(vec) == 1 {
			return float64(vec[0].Value)
		}
		return 0
	}
	before := samples()
	err = v1.DeleteSeries(ctx, []string{`up{job="shop"}`}, hourAgo, time.Now().Add(time.Hour))
	after := samples()
	check("DeleteSeries", err, before >= 3 && after < before, fmt.Sprintf("samples of up{job=shop} before %v, after %v", before, after))
}

// TestGrafanaCalls: the calls Grafana's Prometheus data source makes
// answer 200 in Prometheus's shapes.
func TestGrafanaCalls(t *testing.T) {
	parallel(t, 15*time.Second)
	wd, _ := startDemoForAPI(t)
	get := func(path string, form url.Values) json.RawMessage {
		t.Helper()
		resp, err := http.Get(wd.url + path + "?" + form.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var env struct {
			Status string          `json:"status"`
			Data   json.RawMessage `json:"data"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &env) != nil || env.Status != "success" {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return env.Data
	}
	decode := func(path string, raw json.RawMessage, out any) {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(out); err != nil {
			t.Errorf("%s: data %s does not have Prometheus's shape: %v", path, raw, err)
		}
	}
	now := fmt.Sprint(time.Now().Unix())

	var build struct {
		Version string `json:"version"`
	}
	resp, err := http.Get(wd.url + "/api/v1/status/buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(b, &env)
	decode("buildinfo", env.Data, &build)
	if resp.StatusCode != 200 || build.Version != "2.50.1" {
		t.Errorf("buildinfo: %d %s", resp.StatusCode, b)
	}

	var names []string
	decode("label/__name__/values", get("/api/v1/label/__name__/values", url.Values{"start": {"0"}, "end": {now}}), &names)
	if !slices.Contains(names, "up") || !slices.IsSorted(names) {
		t.Errorf("label/__name__/values: %v", names)
	}
	var meta map[string][]struct {
		Type string `json:"type"`
		Help string `json:"help"`
		Unit string `json:"unit"`
	}
	decode("metadata", get("/api/v1/metadata", nil), &meta)
	if m := meta["shop_http_requests_total"]; len(m) != 1 || m[0].Type != "counter" || m[0].Help == "" {
		t.Errorf("metadata of shop_http_requests_total: %+v", m)
	}
	var exemplars []struct {
		SeriesLabels map[string]string `json:"seriesLabels"`
		Exemplars    []json.RawMessage `json:"exemplars"`
	}
	decode("query_exemplars", get("/api/v1/query_exemplars", url.Values{"query": {"up"}, "start": {"0"}, "end": {now}}), &exemplars)
	if exemplars == nil {
		t.Errorf("query_exemplars is not a list")
	}
	var formatted string
	decode("format_query", get("/api/v1/format_query", url.Values{"query": {"sum(up)by(job)"}}), &formatted)
	if formatted != "sum by (job) (up)" {
		t.Errorf("format_query: %q", formatted)
	}
	var tree struct {
		Type string `json:"type"`
		Op   string `json:"op"`
		Expr struct {
			Type     string `json:"type"`
			Name     string `json:"name"`
			Matchers []struct {
				Name, Type, Value string
			} `json:"matchers"`
		} `json:"expr"`
		Grouping []string `json:"grouping"`
	}
	decode("parse_query", get("/api/v1/parse_query", url.Values{"query": {`sum by (job) (up{job="shop"})`}}), &tree)
	if tree.Type != "aggregation" || tree.Op != "sum" || tree.Expr.Type != "vectorSelector" || tree.Expr.Name != "up" ||
		len(tree.Expr.Matchers) != 2 || !slices.Equal(tree.Grouping, []string{"job"}) {
		t.Errorf("parse_query: %+v", tree)
	}
}

// TestMetricsPassPromtool: the demo's /metrics passes `promtool check
// metrics` (Debian's prometheus package): every family has HELP and TYPE,
// counters end in _total, units are base units.
func TestMetricsPassPromtool(t *testing.T) {
	parallel(t, 10*time.Second)
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("no promtool on PATH (Debian package prometheus; .ci/run installs it)")
	}
	wd, v1 := startDemoForAPI(t)
	// Touch the query, admin and status paths so that their series exist.
	ctx := context.Background()
	if _, _, _, err := v1.Query(ctx, "sum(rate(watchdog_scrapes_total[1m]))", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := v1.TSDB(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(wd.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"# HELP watchdog_http_requests_total ", "# TYPE watchdog_tsdb_samples_appended_total counter",
		"# TYPE watchdog_rule_group_duration_seconds histogram", "# HELP go_goroutines "} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	t.Logf("promtool check metrics: clean on %d lines of /metrics", bytes.Count(body, []byte("\n")))
}
