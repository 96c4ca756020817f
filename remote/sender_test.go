package remote

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/tsdb"
)

// rwConfig parses one remote_write entry through package config, so that
// the defaults are the real ones.
func rwConfig(t testing.TB, entry string) *config.RemoteWriteConfig {
	t.Helper()
	c, err := config.Parse([]byte("remote_write:\n  - "+strings.ReplaceAll(strings.TrimSpace(entry), "\n", "\n    ")+"\n"), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	return c.RemoteWrite[0]
}

// running is a Sender running in the background.
type running struct {
	s      *Sender
	set    *metrics.Set
	cancel context.CancelFunc
	done   chan struct{}
}

func start(t *testing.T, opts Options) *running {
	t.Helper()
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewSet()
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{s: s, set: opts.Metrics, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		_ = s.Run(ctx)
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	r.cancel()
	<-r.done
}

func (r *running) counter(name string) uint64 {
	return r.set.GetOrCreateCounter(`watchdog_remote_storage_` + name + `{remote_name="` + r.s.name + `",url="` + r.s.url + `"}`).Get()
}

func (r *running) gauge(name string) float64 {
	return r.set.GetOrCreateGauge(`watchdog_remote_storage_`+name+`{remote_name="`+r.s.name+`",url="`+r.s.url+`"}`, nil).Get()
}

// appendAt appends one sample of each series at t (ms) and returns them as
// the receiver would see them, given the external labels the sender adds.
func appendAt(t *testing.T, db *tsdb.DB, series []labels.Labels, ts int64, v float64) {
	t.Helper()
	app := db.Appender()
	for i, ls := range series {
		if _, err := app.Append(0, ls, ts, v+float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

// stored returns every sample the store holds, labelled as sent with ext.
func stored(t *testing.T, db *tsdb.DB, ext labels.Labels) []sample {
	t.Helper()
	var out []sample
	var smp tsdb.Samples
	for _, ref := range db.Postings(nil) {
		lset, ok := db.ReadRanges(ref, []tsdb.Range{{Mint: math.MinInt64, Maxt: math.MaxInt64}}, &smp)
		if !ok {
			continue
		}
		b := labels.NewBuilder(lset)
		ext.Range(func(l labels.Label) {
			if lset.Get(l.Name) == "" {
				b.Set(l.Name, l.Value)
			}
		})
		name := b.Labels().String()
		ts, vs := smp.Range(0)
		for i := range ts {
			out = append(out, sample{series: name, t: ts[i], v: vs[i]})
		}
	}
	return out
}

func nodeSeries(n int) []labels.Labels {
	out := make([]labels.Labels, n)
	for i := range out {
		out[i] = labels.FromStrings("__name__", "node_cpu_seconds_total", "instance", "host"+string(rune('a'+i%26)), "cpu", string(rune('0'+i/26)))
	}
	return out
}

func now() int64 { return time.Now().UnixMilli() }

// TestPayloadV1 checks the bytes and headers of Remote-Write 1.0 requests:
// snappy protobuf, the spec's headers, sorted labels, external labels not
// overriding series labels, stale markers, relabelling, auth and headers.
func TestPayloadV1(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		tokenFile := filepath.Join(dir, "token")
		if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		db, _ := tsdb.Open(tsdb.Options{})
		rc := newReceiver()
		cfg := rwConfig(t, `url: http://recv.test/api/v1/write
name: vm
headers: {X-Scope-OrgID: team-a}
authorization: {credentials_file: `+tokenFile+`}
write_relabel_configs:
  - {source_labels: [__name__], regex: go_.*, action: drop}`)
		ext := labels.FromStrings("cluster", "eu1", "replica", "a")
		r := start(t, Options{Config: cfg, Store: db, Client: rc.client(), ExternalLabels: ext})

		up := labels.FromStrings("__name__", "up", "job", "node", "replica", "own")
		gone := labels.FromStrings("__name__", "node_load1", "zone", "b")
		goSeries := labels.FromStrings("__name__", "go_goroutines", "job", "node")
		t0 := now()
		appendAt(t, db, []labels.Labels{up, gone, goSeries}, t0, 1)
		appendAt(t, db, []labels.Labels{up}, t0+15000, 0)
		app := db.Appender()
		if _, err := app.Append(0, gone, t0+15000, math.Float64frombits(value.StaleNaN)); err != nil {
			t.Fatal(err)
		}
		app.Commit()
		time.Sleep(20 * time.Second) // past batch_send_deadline (5s) and the scan interval
		synctest.Wait()

		reqs := rc.reqs()
		if len(reqs) == 0 {
			t.Fatal("nothing received")
		}
		h := reqs[0].header
		for k, want := range map[string]string{
			"Content-Type":                      "application/x-protobuf",
			"X-Prometheus-Remote-Write-Version": "0.1.0",
			"Authorization":                     "Bearer s3cret",
			"X-Scope-Orgid":                     "team-a",
			"User-Agent":                        userAgent,
		} {
			if got := h.Get(k); got != want {
				t.Errorf("header %s = %q, want %q", k, got, want)
			}
		}
		for _, req := range reqs {
			if !req.sorted {
				t.Error("labels not sorted")
			}
			if req.v2 {
				t.Error("a 1.0 sender sent a 2.0 request")
			}
		}
		want := []sample{
			{`{__name__="up", cluster="eu1", job="node", replica="own"}`, t0, 1},
			{`{__name__="up", cluster="eu1", job="node", replica="own"}`, t0 + 15000, 0},
			{`{__name__="node_load1", cluster="eu1", replica="a", zone="b"}`, t0, 2},
			{`{__name__="node_load1", cluster="eu1", replica="a", zone="b"}`, t0 + 15000, math.Float64frombits(value.StaleNaN)},
		}
		checkExactlyOnce(t, rc.received(), want)
		if got := r.counter("samples_total"); got != 4 {
			t.Errorf("samples_total = %d, want 4", got)
		}
		if got := r.counter("samples_dropped_total"); got != 1 {
			t.Errorf("samples_dropped_total = %d, want 1 (go_goroutines relabelled away)", got)
		}
		if got := r.gauge("samples_pending"); got != 0 {
			t.Errorf("samples_pending = %v, want 0", got)
		}
		if got, want := r.gauge("queue_highest_sent_timestamp_seconds"), float64(t0+15000)/1000; got != want {
			t.Errorf("highest sent = %v, want %v", got, want)
		}
		if r.counter("bytes_total") == 0 {
			t.Error("bytes_total is 0")
		}
	})
}

// TestPayloadV2 sends Remote-Write 2.0 to client_golang's handler, which
// answers with the written headers.
func TestPayloadV2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, _ := tsdb.Open(tsdb.Options{})
		rc := newReceiver()
		cfg := rwConfig(t, `url: http://recv.test/api/v1/write
protobuf_message: io.prometheus.write.v2.Request
queue_config: {max_samples_per_send: 10}`)
		r := start(t, Options{Config: cfg, Store: db, Client: rc.client()})
		series := nodeSeries(30)
		t0 := now()
		for i := range 3 {
			appendAt(t, db, series, t0+int64(i)*15000, float64(i))
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		reqs := rc.reqs()
		for _, req := range reqs {
			if !req.v2 || req.header.Get("X-Prometheus-Remote-Write-Version") != "2.0.0" ||
				req.header.Get("Content-Type") != "application/x-protobuf;proto=io.prometheus.write.v2.Request" {
				t.Fatalf("not a 2.0 request: %v", req.header)
			}
			if len(req.samples) > 10 {
				t.Errorf("request of %d samples, max_samples_per_send is 10", len(req.samples))
			}
		}
		checkExactlyOnce(t, rc.received(), stored(t, db, labels.EmptyLabels()))
		if got := r.counter("samples_total"); got != 90 {
			t.Errorf("samples_total = %d, want 90", got)
		}
		if r.counter("samples_unconfirmed_total") != 0 {
			t.Error("confirmed requests counted as unconfirmed")
		}
	})
}

// TestResponses is the sender's contract with the receiver's answers.
func TestResponses(t *testing.T) {
	type check struct {
		attempts              int // requests the receiver saw
		delivered             bool
		failed, retried, sent uint64
		unconfirmed           uint64
	}
	status := func(code int, hdr ...string) func(int, http.ResponseWriter, *http.Request) bool {
		return func(_ int, w http.ResponseWriter, _ *http.Request) bool {
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Set(hdr[i], hdr[i+1])
			}
			w.WriteHeader(code)
			return true
		}
	}
	firstN := func(n int, f func(int, http.ResponseWriter, *http.Request) bool) func(int, http.ResponseWriter, *http.Request) bool {
		return func(a int, w http.ResponseWriter, r *http.Request) bool { return a <= n && f(a, w, r) }
	}
	tests := []struct {
		name  string
		entry string
		fail  func(int, http.ResponseWriter, *http.Request) bool
		want  check
		// minGap is the least time between the first two attempts.
		minGap time.Duration
	}{
		{"5xx retried then sent", "", firstN(2, status(503)),
			check{attempts: 3, delivered: true, retried: 20, sent: 10}, 30 * time.Millisecond},
		{"429 honours Retry-After", "queue_config: {retry_on_http_429: true}", firstN(1, status(429, "Retry-After", "7")),
			check{attempts: 2, delivered: true, retried: 10, sent: 10}, 7 * time.Second},
		{"429 not retried without retry_on_http_429", "queue_config: {retry_on_http_429: false}", firstN(1, status(429, "Retry-After", "7")),
			check{attempts: 1, failed: 10}, 0},
		{"400 dropped", "", firstN(1, status(400)), check{attempts: 1, failed: 10}, 0},
		{"415 dropped", "", firstN(1, status(415)), check{attempts: 1, failed: 10}, 0},
		{"timeout retried", "remote_timeout: 2s", firstN(1, func(_ int, w http.ResponseWriter, r *http.Request) bool {
			<-r.Context().Done()
			return true
		}), check{attempts: 2, delivered: true, retried: 10, sent: 10}, 2 * time.Second},
		{"2.0 2xx without written headers", "protobuf_message: io.prometheus.write.v2.Request", firstN(1, status(204)),
			check{attempts: 1, failed: 10, unconfirmed: 10}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				db, _ := tsdb.Open(tsdb.Options{})
				rc := newReceiver()
				var times []time.Time
				fail := tt.fail
				rc.setFail(func(a int, w http.ResponseWriter, r *http.Request) bool {
					times = append(times, time.Now())
					return fail(a, w, r)
				})
				entry := "url: http://recv.test/api/v1/write\n" + tt.entry
				r := start(t, Options{Config: rwConfig(t, entry), Store: db, Client: rc.client()})
				series := nodeSeries(10)
				t0 := now()
				appendAt(t, db, series, t0, 1)
				time.Sleep(time.Minute)
				synctest.Wait()
				first := stored(t, db, labels.EmptyLabels())

				got := check{
					attempts: rc.attemptCount(), failed: r.counter("samples_failed_total"),
					retried: r.counter("samples_retried_total"), sent: r.counter("samples_total"),
					unconfirmed: r.counter("samples_unconfirmed_total"),
				}
				got.delivered = len(rc.received()) == len(first)
				if got != tt.want {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
				if tt.minGap > 0 && (len(times) < 2 || times[1].Sub(times[0]) < tt.minGap) {
					t.Errorf("retried after %v, want at least %v", times[1].Sub(times[0]), tt.minGap)
				}
				if got.delivered {
					checkExactlyOnce(t, rc.received(), first)
				}
				// The sender goes on: later samples are delivered.
				appendAt(t, db, series, t0+60000, 2)
				time.Sleep(time.Minute)
				synctest.Wait()
				if n := len(rc.received()); n != len(first)*int(boolInt(got.delivered))+10 {
					t.Errorf("after the failure, %d samples received in all, want the next 10 too", n)
				}
				if p := r.gauge("samples_pending"); p != 0 {
					t.Errorf("samples_pending = %v", p)
				}
			})
		})
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// scrapeEvery appends a sample of every series each step until d has
// passed, as a scrape loop would.
func scrapeEvery(t *testing.T, db *tsdb.DB, series []labels.Labels, step, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		appendAt(t, db, series, now(), float64(now()%1000))
		time.Sleep(step)
	}
}

// TestOutageAndRestart: the receiver is down for ten minutes; halfway the
// watchdog restarts (snapshot, new store from it, new sender). When the
// receiver is back, every sample of the store arrives exactly once.
func TestOutageAndRestart(t *testing.T) {
	for _, graceful := range []bool{false, true} {
		name := "snapshot during outage"
		if graceful {
			name = "graceful stop then snapshot"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "tsdb.snap")
				db, err := tsdb.Open(tsdb.Options{SnapshotPath: path})
				if err != nil {
					t.Fatal(err)
				}
				rc := newReceiver()
				ext := labels.FromStrings("replica", "a")
				cfg := rwConfig(t, "url: http://recv.test/api/v1/write\nname: vm\nqueue_config: {max_samples_per_send: 100, capacity: 300}")
				opts := Options{Config: cfg, Store: db, Snapshots: db, Client: rc.client(), ExternalLabels: ext}
				r := start(t, opts)
				series := nodeSeries(50)

				scrapeEvery(t, db, series, 15*time.Second, 2*time.Minute) // receiver up
				if len(rc.received()) == 0 {
					t.Fatal("nothing sent before the outage")
				}
				down := func(_ int, w http.ResponseWriter, _ *http.Request) bool {
					w.WriteHeader(http.StatusServiceUnavailable)
					return true
				}
				rc.setFail(down)
				scrapeEvery(t, db, series, 15*time.Second, 5*time.Minute) // receiver down
				if graceful {
					r.stop()
				}
				if err := db.Snapshot(); err != nil {
					t.Fatal(err)
				}
				r.stop()
				// Appended after the snapshot: lost with the process.
				appendAt(t, db, series, now(), -1)

				db2, err := tsdb.Open(tsdb.Options{SnapshotPath: path})
				if err != nil {
					t.Fatal(err)
				}
				opts.Store, opts.Snapshots = db2, db2
				r2 := start(t, opts)
				time.Sleep(time.Second)
				scrapeEvery(t, db2, series, 15*time.Second, 5*time.Minute) // still down
				// Held outside the store: the queue (capacity 300), the request
				// being retried and the batch being filled (100 each).
				if p := r2.gauge("samples_pending"); p > 500 {
					t.Errorf("pending %v samples: more than capacity plus two batches is held outside the store", p)
				}
				rc.setFail(nil)
				scrapeEvery(t, db2, series, 15*time.Second, 2*time.Minute) // up again
				time.Sleep(30 * time.Second)
				synctest.Wait()
				checkExactlyOnce(t, rc.received(), stored(t, db2, ext))
				if r2.counter("samples_dropped_total")+r2.counter("samples_failed_total") != 0 {
					t.Error("samples dropped or failed in an outage shorter than the retention")
				}
				if r2.counter("samples_retried_total") == 0 {
					t.Error("no retries counted during the outage")
				}
			})
		})
	}
}

// TestRetentionLoss: an outage longer than the retention loses what the
// store cut, and counts it as dropped; what the store still has arrives.
func TestRetentionLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, _ := tsdb.Open(tsdb.Options{Retention: 10 * time.Minute})
		rc := newReceiver()
		cfg := rwConfig(t, "url: http://recv.test/api/v1/write\nqueue_config: {max_samples_per_send: 100, capacity: 100, max_shards: 1}")
		r := start(t, Options{Config: cfg, Store: db, Client: rc.client(), Retention: 10 * time.Minute})
		series := nodeSeries(5)
		scrapeEvery(t, db, series, 10*time.Second, time.Minute)
		rc.setFail(func(_ int, w http.ResponseWriter, _ *http.Request) bool {
			w.WriteHeader(http.StatusBadGateway)
			return true
		})
		scrapeEvery(t, db, series, 10*time.Second, 30*time.Minute)
		db.GC()
		rc.setFail(nil)
		scrapeEvery(t, db, series, 10*time.Second, time.Minute)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		got := rc.received()
		seen := map[sample]bool{}
		for _, s := range got {
			seen[s] = true
		}
		for _, s := range stored(t, db, labels.EmptyLabels()) {
			if !seen[s] {
				t.Fatalf("stored sample %v not received", s)
			}
		}
		total := 5 * (6 + 180 + 6)
		dropped := int(r.counter("samples_dropped_total"))
		// The estimate is exact for evenly spaced samples, give or take the
		// chunk boundary the cut falls on.
		if lost := total - len(got); dropped < lost-10 || dropped > lost+10 || dropped == 0 {
			t.Errorf("dropped = %d, but %d samples were lost", dropped, lost)
		}
	})
}

// TestFlushAtShutdown: samples appended just before the sender stops, in
// batches not yet due (batch_send_deadline), are sent before Run returns;
// a sender whose receiver is failing does not wait at shutdown.
func TestFlushAtShutdown(t *testing.T) {
	t.Run("receiver up", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			db, _ := tsdb.Open(tsdb.Options{})
			rc := newReceiver()
			cfg := rwConfig(t, "url: http://recv.test/api/v1/write\nqueue_config: {batch_send_deadline: 1m}")
			r := start(t, Options{Config: cfg, Store: db, Client: rc.client()})
			appendAt(t, db, nodeSeries(10), now(), 1)
			time.Sleep(2 * time.Second) // scanned into batches that are not due for a minute
			synctest.Wait()
			if n := len(rc.received()); n != 0 {
				t.Fatalf("%d samples sent before the batch deadline", n)
			}
			r.stop()
			if n := len(rc.received()); n != 10 {
				t.Fatalf("%d samples sent by the flush at shutdown, want 10", n)
			}
		})
	})
	t.Run("receiver down", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			db, _ := tsdb.Open(tsdb.Options{})
			rc := newReceiver()
			rc.setFail(func(_ int, w http.ResponseWriter, _ *http.Request) bool {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			})
			cfg := rwConfig(t, "url: http://recv.test/api/v1/write\nqueue_config: {batch_send_deadline: 1s}")
			r := start(t, Options{Config: cfg, Store: db, Client: rc.client()})
			appendAt(t, db, nodeSeries(10), now(), 1)
			time.Sleep(5 * time.Second) // sent, failing, retried
			synctest.Wait()
			began := time.Now()
			r.stop()
			if d := time.Since(began); d > time.Second {
				t.Errorf("stopping took %v with the receiver down, want no flush wait", d)
			}
		})
	})
}

// TestHistograms sends native histograms, integer and float, and a series
// whose floats turn into histograms, with both protocol versions: each
// arrives once, in order, beside the float series.
func TestHistograms(t *testing.T) {
	for _, proto := range []string{"prometheus.WriteRequest", "io.prometheus.write.v2.Request"} {
		t.Run(proto, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				db, _ := tsdb.Open(tsdb.Options{})
				rc := newReceiver()
				cfg := rwConfig(t, "url: http://recv.test/api/v1/write\nprotobuf_message: "+proto+"\nqueue_config: {max_samples_per_send: 4}")
				r := start(t, Options{Config: cfg, Store: db, Client: rc.client(), ExternalLabels: labels.FromStrings("env", "test")})
				var (
					intH   = labels.FromStrings("__name__", "lat", "kind", "int")
					floatH = labels.FromStrings("__name__", "lat", "kind", "float")
					mixed  = labels.FromStrings("__name__", "lat", "kind", "mixed")
					plain  = labels.FromStrings("__name__", "up")
				)
				t0 := now()
				var wantHists []string
				for i := range 5 {
					ts := t0 + int64(i)*15000
					app := db.Appender()
					h := &histogram.Histogram{Count: uint64(i + 1), Sum: float64(i),
						PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}}, PositiveBuckets: []int64{int64(i + 1)}}
					fh := &histogram.FloatHistogram{Count: float64(i) + 0.5, Sum: 1, ZeroCount: float64(i) + 0.5, ZeroThreshold: 0.001}
					for _, err := range []error{
						second(app.AppendHistogram(0, intH, ts, h, nil)),
						second(app.AppendHistogram(0, floatH, ts, nil, fh)),
						second(app.Append(0, plain, ts, float64(i))),
					} {
						if err != nil {
							t.Fatal(err)
						}
					}
					if i < 2 {
						_, err := app.Append(0, mixed, ts, float64(i))
						if err != nil {
							t.Fatal(err)
						}
					} else if _, err := app.AppendHistogram(0, mixed, ts, h.Copy(), nil); err != nil {
						t.Fatal(err)
					}
					if err := app.Commit(); err != nil {
						t.Fatal(err)
					}
					at := "@" + strconv.FormatInt(ts, 10)
					wantHists = append(wantHists,
						`{__name__="lat", env="test", kind="float"}`+at+" float "+fh.String(),
						`{__name__="lat", env="test", kind="int"}`+at+" int "+h.String())
					if i >= 2 {
						wantHists = append(wantHists, `{__name__="lat", env="test", kind="mixed"}`+at+" int "+h.String())
					}
					time.Sleep(15 * time.Second)
					synctest.Wait()
				}
				time.Sleep(10 * time.Second)
				synctest.Wait()

				got := rc.receivedHists()
				slices.Sort(got)
				slices.Sort(wantHists)
				if strings.Join(got, "\n") != strings.Join(wantHists, "\n") {
					t.Errorf("histograms received:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantHists, "\n"))
				}
				var floats []string
				for _, s := range rc.received() {
					floats = append(floats, fmt.Sprintf("%s@%d=%g", s.series, s.t-t0, s.v))
				}
				slices.Sort(floats)
				want := []string{
					`{__name__="lat", env="test", kind="mixed"}@0=0`, `{__name__="lat", env="test", kind="mixed"}@15000=1`,
					`{__name__="up", env="test"}@0=0`, `{__name__="up", env="test"}@15000=1`, `{__name__="up", env="test"}@30000=2`,
					`{__name__="up", env="test"}@45000=3`, `{__name__="up", env="test"}@60000=4`,
				}
				if strings.Join(floats, "\n") != strings.Join(want, "\n") {
					t.Errorf("floats received:\n%s\nwant:\n%s", strings.Join(floats, "\n"), strings.Join(want, "\n"))
				}
				for _, req := range rc.reqs() {
					if n := len(req.samples) + len(req.hists); n > 4 {
						t.Errorf("request of %d samples, max_samples_per_send is 4", n)
					}
				}
				if got := r.counter("histograms_total"); got != 13 {
					t.Errorf("histograms_total = %d, want 13", got)
				}
				if got := r.counter("samples_total"); got != 20 {
					t.Errorf("samples_total = %d, want 20 (histograms included)", got)
				}
				if r.counter("samples_unconfirmed_total") != 0 || r.counter("samples_failed_total") != 0 {
					t.Error("histogram requests failed or unconfirmed")
				}
			})
		})
	}
}

func second[T any](_ T, err error) error { return err }
