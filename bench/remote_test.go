package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	promremote "github.com/prometheus/prometheus/storage/remote"
	promtsdb "github.com/prometheus/prometheus/tsdb"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/internal/testcorpus"
	"github.com/watchdog-sre/watchdog/remote"
	"github.com/watchdog-sre/watchdog/scrape/promtext"
	"github.com/watchdog-sre/watchdog/tsdb"
)

// The remote-write bench (bench/REMOTE.md): the same samples, node_exporter
// series of rwInstances targets for rwRounds scrapes, sent by the watchdog's
// remote.Sender (reading its store) and by Prometheus's own queue manager
// (reading the WAL of a Prometheus TSDB through its WAL watcher, as
// Prometheus does: storage/remote.WriteStorage), both with the default
// queue_config and Remote-Write 1.0, each to its own in-process receiver
// over loopback HTTP that drains the bodies and counts their bytes
// (snappy-compressed, headers not counted). CPU is getrusage of the whole
// process (user + system), so it includes the receiver's draining, the
// same for both.
//
// Two scenarios: "backlog" writes all rounds, then starts the sender and
// measures until everything is sent (catching up after an outage or a
// restart); "live" runs the sender while the rounds are appended, each
// round sent before the next, and subtracts the CPU of appending the same
// rounds to the same kind of store without a sender (Prometheus: head and
// WAL; the watchdog: its store), so it is the steady state's sending cost.

const (
	rwInstances = 50 // × 3,027 series of node_exporter.prom ≈ 151 k series
	rwRounds    = 4
)

// rwSeries returns the corpus' series for rwInstances instances and their
// values at round 0.
func rwSeries(tb testing.TB) ([]labels.Labels, []float64) {
	tb.Helper()
	base := testcorpus.Read(tb, corpusFile)
	var base0 []labels.Labels
	var vals []float64
	for _, raw := range bytes.Split(base, []byte("\n")) {
		if len(bytes.TrimSpace(raw)) == 0 || raw[0] == '#' {
			continue
		}
		p := promtext.New(append(raw, '\n'))
		if _, err := p.Next(); err != nil {
			tb.Fatalf("corpus line %q: %v", raw, err)
		}
		_, _, v := p.Series()
		var ls labels.Labels
		p.Labels(&ls)
		base0 = append(base0, ls)
		vals = append(vals, v)
	}
	var out []labels.Labels
	var outV []float64
	for i := range rwInstances {
		inst := "node-" + strconv.Itoa(i) + ":9100"
		for k, ls := range base0 {
			b := labels.NewBuilder(ls)
			b.Set("instance", inst)
			b.Set("job", "node")
			out = append(out, b.Labels())
			outV = append(outV, vals[k])
		}
	}
	return out, outV
}

func rwValue(v float64, round, i int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	return v + float64(round)*float64(1+i%7)
}

// sink is the receiver: it drains each body and counts its bytes.
type sink struct {
	srv      *httptest.Server
	bytes    atomic.Int64
	requests atomic.Int64
}

func newSink(tb testing.TB) *sink {
	s := &sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.bytes.Add(n)
		s.requests.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	tb.Cleanup(s.srv.Close)
	return s
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sendResult is one sender's figures.
type sendResult struct {
	samples  int
	cpu      time.Duration
	wall     time.Duration
	bytes    int64
	requests int64
}

func (r sendResult) String() string {
	return fmt.Sprintf("%d samples in %v wall, %v CPU: %.0f ns CPU/sample, %.2f bytes/sample, %d requests",
		r.samples, r.wall.Round(time.Millisecond), r.cpu.Round(time.Millisecond),
		float64(r.cpu.Nanoseconds())/float64(r.samples), float64(r.bytes)/float64(r.samples), r.requests)
}

// waitFor polls done until it is true or a minute passes.
func waitFor(tb testing.TB, what string, done func() bool) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !done() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not done within 2 minutes", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rwCfg is the watchdog's remote_write entry: the defaults, to url.
func rwCfg(tb testing.TB, url string) *config.RemoteWriteConfig {
	c, err := config.Parse([]byte("remote_write:\n  - url: "+url+"/api/v1/write\n"), "bench.yml")
	if err != nil {
		tb.Fatal(err)
	}
	return c.RemoteWrite[0]
}

// promRWConfig is Prometheus's remote_write entry: the defaults, to url,
// without metadata (the watchdog sends none).
func promRWConfig(url string) *promconfig.Config {
	u, _ := neturl.Parse(url + "/api/v1/write")
	rw := promconfig.DefaultRemoteWriteConfig
	rw.URL = &commoncfg.URL{URL: u}
	rw.MetadataConfig.Send = false
	rw.HTTPClientConfig = commoncfg.DefaultHTTPClientConfig
	return &promconfig.Config{
		GlobalConfig:       promconfig.GlobalConfig{ScrapeInterval: model.Duration(15 * time.Second)},
		RemoteWriteConfigs: []*promconfig.RemoteWriteConfig{&rw},
	}
}

// roundAppender is the part of an appender appendRound uses.
type roundAppender interface {
	Append(ref storage.SeriesRef, ls labels.Labels, t int64, v float64) (storage.SeriesRef, error)
	Commit() error
}

// appendRound appends round r of the samples through app.
func appendRound(tb testing.TB, app roundAppender, series []labels.Labels, vals []float64, t int64, r int) {
	for i, ls := range series {
		if _, err := app.Append(0, ls, t, rwValue(vals[i], r, i)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// wdAppender adapts tsdb.Appender to storage.Appender's two methods used.
type wdAppender struct{ *tsdb.Appender }

func (a wdAppender) Append(ref storage.SeriesRef, ls labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	r, err := a.Appender.Append(uint64(ref), ls, t, v)
	return storage.SeriesRef(r), err
}

// watchdogRun is a remote.Sender on a store, sending to a sink.
type watchdogRun struct {
	db     *tsdb.DB
	clock  atomic.Int64
	sink   *sink
	sent   *metrics.Counter
	cancel context.CancelFunc
	done   chan struct{}
}

func newWatchdogRun(tb testing.TB, t0 int64) *watchdogRun {
	w := &watchdogRun{sink: newSink(tb)}
	w.clock.Store(t0)
	db, err := tsdb.Open(tsdb.Options{Now: func() time.Time { return time.UnixMilli(w.clock.Load()) }})
	if err != nil {
		tb.Fatal(err)
	}
	w.db = db
	return w
}

func (w *watchdogRun) append(tb testing.TB, series []labels.Labels, vals []float64, t int64, r int) {
	w.clock.Store(t)
	appendRound(tb, wdAppender{w.db.Appender()}, series, vals, t, r)
}

func (w *watchdogRun) start(tb testing.TB) {
	set := metrics.NewSet()
	cfg := rwCfg(tb, w.sink.srv.URL)
	s, err := remote.New(remote.Options{Config: cfg, Store: w.db, Metrics: set})
	if err != nil {
		tb.Fatal(err)
	}
	w.sent = set.GetOrCreateCounter(`watchdog_remote_storage_samples_total{remote_name="` + s.Name() + `",url="` + cfg.URL + `"}`)
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() { defer close(w.done); _ = s.Run(ctx) }()
}

func (w *watchdogRun) wait(tb testing.TB, n int) {
	waitFor(tb, "watchdog sender", func() bool { return w.sent.Get() >= uint64(n) })
}

func (w *watchdogRun) stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
	}
}

// prometheusRun is Prometheus's remote-write storage (WAL watcher and
// queue manager) on the WAL of a Prometheus TSDB, sending to a sink.
type prometheusRun struct {
	dir  string
	db   *promtsdb.DB
	sink *sink
	ws   *promremote.WriteStorage
	reg  *prometheus.Registry
}

func newPrometheusRun(tb testing.TB) *prometheusRun {
	p := &prometheusRun{dir: tb.TempDir(), sink: newSink(tb)}
	db, err := promtsdb.Open(p.dir, nil, nil, promtsdb.DefaultOptions(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	p.db = db
	return p
}

func (p *prometheusRun) append(tb testing.TB, series []labels.Labels, vals []float64, t int64, r int) {
	appendRound(tb, p.db.Appender(context.Background()), series, vals, t, r)
}

// start starts the remote-write storage; with closeDB the TSDB is closed
// first (flushing its WAL: the backlog scenario).
func (p *prometheusRun) start(tb testing.TB, closeDB bool) {
	if closeDB {
		if err := p.db.Close(); err != nil {
			tb.Fatal(err)
		}
		p.db = nil
	}
	p.reg = prometheus.NewRegistry()
	p.ws = promremote.NewWriteStorage(nil, p.reg, p.dir, time.Minute, nil, false)
	if err := p.ws.ApplyConfig(promRWConfig(p.sink.srv.URL)); err != nil {
		tb.Fatal(err)
	}
	if p.db != nil {
		p.db.SetWriteNotified(p.ws)
	}
}

func (p *prometheusRun) wait(tb testing.TB, n int) {
	waitFor(tb, "prometheus queue manager", func() bool {
		return gathered(tb, p.reg, "prometheus_remote_storage_samples_total") >= float64(n)
	})
}

func (p *prometheusRun) stop() {
	if p.ws != nil {
		_ = p.ws.Close()
	}
	if p.db != nil {
		_ = p.db.Close()
	}
}

// backlog: the samples are written, then the sender starts and sends them
// all; only the sending is measured.
func backlogWatchdog(tb testing.TB, series []labels.Labels, vals []float64, t0 int64) sendResult {
	w := newWatchdogRun(tb, t0)
	defer w.stop()
	for r := range rwRounds {
		w.append(tb, series, vals, t0+int64(r)*15000, r)
	}
	n := len(series) * rwRounds
	cpu0, wall0 := cpuTime(), time.Now()
	w.start(tb)
	w.wait(tb, n)
	return sendResult{samples: n, cpu: cpuTime() - cpu0, wall: time.Since(wall0), bytes: w.sink.bytes.Load(), requests: w.sink.requests.Load()}
}

func backlogPrometheus(tb testing.TB, series []labels.Labels, vals []float64, t0 int64) sendResult {
	p := newPrometheusRun(tb)
	defer p.stop()
	for r := range rwRounds {
		p.append(tb, series, vals, t0+int64(r)*15000, r)
	}
	n := len(series) * rwRounds
	cpu0, wall0 := cpuTime(), time.Now()
	p.start(tb, true)
	p.wait(tb, n)
	return sendResult{samples: n, cpu: cpuTime() - cpu0, wall: time.Since(wall0), bytes: p.sink.bytes.Load(), requests: p.sink.requests.Load()}
}

// live: the sender runs while the rounds are appended, each round sent
// before the next; measured is the CPU of appending and sending minus that
// of appending the same rounds to the same kind of store with no sender
// (run just before), so the sender's share.
func liveWatchdog(tb testing.TB, series []labels.Labels, vals []float64, t0 int64) sendResult {
	base := newWatchdogRun(tb, t0)
	cpu0 := cpuTime()
	for r := range rwRounds {
		base.append(tb, series, vals, t0+int64(r)*15000, r)
	}
	baseCPU := cpuTime() - cpu0
	base.db = nil

	w := newWatchdogRun(tb, t0)
	defer w.stop()
	w.start(tb)
	cpu0, wall0 := cpuTime(), time.Now()
	for r := range rwRounds {
		w.append(tb, series, vals, t0+int64(r)*15000, r)
		w.wait(tb, len(series)*(r+1))
	}
	n := len(series) * rwRounds
	return sendResult{samples: n, cpu: cpuTime() - cpu0 - baseCPU, wall: time.Since(wall0), bytes: w.sink.bytes.Load(), requests: w.sink.requests.Load()}
}

func livePrometheus(tb testing.TB, series []labels.Labels, vals []float64, t0 int64) sendResult {
	base := newPrometheusRun(tb)
	cpu0 := cpuTime()
	for r := range rwRounds {
		base.append(tb, series, vals, t0+int64(r)*15000, r)
	}
	baseCPU := cpuTime() - cpu0
	base.stop()

	p := newPrometheusRun(tb)
	defer p.stop()
	p.start(tb, false)
	cpu0, wall0 := cpuTime(), time.Now()
	for r := range rwRounds {
		p.append(tb, series, vals, t0+int64(r)*15000, r)
		p.wait(tb, len(series)*(r+1))
	}
	n := len(series) * rwRounds
	return sendResult{samples: n, cpu: cpuTime() - cpu0 - baseCPU, wall: time.Since(wall0), bytes: p.sink.bytes.Load(), requests: p.sink.requests.Load()}
}

// gathered sums the values of the metric name in reg.
func gathered(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			}
		}
	}
	return sum
}

// BenchmarkRemoteWrite sends the same ≈605 k samples with both senders in
// two scenarios (backlog and live, see above), the order of the senders
// alternating between iterations, and reports CPU and bytes per sample and
// the ratios (Prometheus / watchdog).
func BenchmarkRemoteWrite(b *testing.B) {
	series, vals := rwSeries(b)
	type pair struct {
		name   string
		wd, pr func(testing.TB, []labels.Labels, []float64, int64) sendResult
	}
	for _, sc := range []pair{{"backlog", backlogWatchdog, backlogPrometheus}, {"live", liveWatchdog, livePrometheus}} {
		b.Run(sc.name, func(b *testing.B) {
			// Timestamps after now: Prometheus's WAL watcher sends only
			// samples newer than its start.
			t0 := time.Now().Add(time.Hour).UnixMilli()
			var wd, pr sendResult
			for i := range b.N {
				t0 += rwRounds * 15000
				var w, p sendResult
				if i%2 == 0 {
					w, p = sc.wd(b, series, vals, t0), sc.pr(b, series, vals, t0)
				} else {
					p, w = sc.pr(b, series, vals, t0), sc.wd(b, series, vals, t0)
				}
				b.Logf("watchdog:   %s", w)
				b.Logf("prometheus: %s", p)
				wd = wd.add(w)
				pr = pr.add(p)
			}
			b.ReportMetric(float64(wd.cpu.Nanoseconds())/float64(wd.samples), "wd_cpu_ns/sample")
			b.ReportMetric(float64(pr.cpu.Nanoseconds())/float64(pr.samples), "prom_cpu_ns/sample")
			b.ReportMetric(float64(wd.bytes)/float64(wd.samples), "wd_bytes/sample")
			b.ReportMetric(float64(pr.bytes)/float64(pr.samples), "prom_bytes/sample")
			b.ReportMetric(float64(pr.cpu)/float64(wd.cpu), "cpu_x_less")
			b.ReportMetric(float64(pr.bytes)/float64(wd.bytes), "bytes_ratio")
		})
	}
}

func (r sendResult) add(o sendResult) sendResult {
	return sendResult{samples: r.samples + o.samples, cpu: r.cpu + o.cpu, wall: r.wall + o.wall,
		bytes: r.bytes + o.bytes, requests: r.requests + o.requests}
}
