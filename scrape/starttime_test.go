package scrape

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"

	"github.com/watchdog-sre/watchdog/config"
)

const omType = "application/openmetrics-text; version=1.0.0; charset=utf-8"

// stModes are the combinations of the two start timestamp options.
var stModes = []struct {
	name         string
	store, zero  bool
	createdLines bool // <name>_created stays a series of its own
}{
	{"off", false, false, true},
	{"st-storage", true, false, false},
	{"created-timestamp-zero-ingestion", false, true, false},
	{"both", true, true, false},
}

func newSTIngest(t *testing.T, cfg *config.ScrapeConfig, store, zero bool) (*Ingester, *recorder) {
	t.Helper()
	rec := newRecorder()
	rec.strict = true
	in, err := NewIngester(cfg, "h:1", Options{Appender: rec.appender, IsSoftError: isSoft,
		StoreStartTimestamps: store, STZeroIngestion: zero})
	if err != nil {
		t.Fatal(err)
	}
	return in, rec
}

// stSamples renders samples as "t:v" or "t:v/st", a histogram's value
// as its count.
func stSamples(ss []sample) string {
	var out []string
	for _, s := range ss {
		v := fmt.Sprint(s.v)
		switch {
		case s.h != nil:
			v = fmt.Sprintf("h%d", s.h.Count)
		case s.fh != nil:
			v = fmt.Sprintf("h%g", s.fh.Count)
		}
		if s.st != 0 {
			v += fmt.Sprintf("/%d", s.st)
		}
		out = append(out, fmt.Sprintf("%d:%s", s.t, v))
	}
	return strings.Join(out, " ")
}

// TestStartTimestampsOpenMetrics: with either option an OpenMetrics
// body's _created lines become the start timestamps of their
// family's samples and are not stored; st-storage stores them with the
// samples, created-timestamp-zero-ingestion puts a zero sample at them
// once, and a reset (a later created time) gets a zero sample of its own.
func TestStartTimestampsOpenMetrics(t *testing.T) {
	scrape := func(v float64, created float64) []byte {
		return fmt.Appendf(nil, `# TYPE requests counter
requests_total{path="/"} %g
requests_created{path="/"} %g
# TYPE lat histogram
lat_bucket{le="1"} 1
lat_bucket{le="+Inf"} 2
lat_count 2
lat_sum 3
lat_created 1.5
# TYPE temp gauge
temp 20
# TYPE other counter
other_total 1
# EOF
`, v, created)
	}
	want := map[string]map[string]string{
		"off": {
			"requests_total": "10000:5 20000:7 30000:1", "requests_created": "10000:1.5 20000:1.5 30000:25",
			"lat_count": "10000:2 20000:2 30000:2", "temp": "10000:20 20000:20 30000:20", "other_total": "10000:1 20000:1 30000:1",
		},
		"st-storage": {
			"requests_total": "10000:5/1500 20000:7/1500 30000:1/25000", "requests_created": "",
			"lat_count": "10000:2/1500 20000:2/1500 30000:2/1500", "temp": "10000:20 20000:20 30000:20", "other_total": "10000:1 20000:1 30000:1",
		},
		"created-timestamp-zero-ingestion": {
			"requests_total": "1500:0 10000:5 20000:7 25000:0 30000:1", "requests_created": "",
			"lat_count": "1500:0 10000:2 20000:2 30000:2", "temp": "10000:20 20000:20 30000:20", "other_total": "10000:1 20000:1 30000:1",
		},
		"both": {
			"requests_total": "1500:0 10000:5/1500 20000:7/1500 25000:0 30000:1/25000", "requests_created": "",
			"lat_count": "1500:0 10000:2/1500 20000:2/1500 30000:2/1500", "temp": "10000:20 20000:20 30000:20", "other_total": "10000:1 20000:1 30000:1",
		},
	}
	for _, m := range stModes {
		t.Run(m.name, func(t *testing.T) {
			in, rec := newSTIngest(t, histCfg(nil), m.store, m.zero)
			for i, s := range []struct{ v, created float64 }{{5, 1.5}, {7, 1.5}, {1, 25}} {
				if _, err := in.Ingest(scrape(s.v, s.created), omType, time.UnixMilli(int64(i+1)*10_000)); err != nil {
					t.Fatal(err)
				}
			}
			for name, w := range want[m.name] {
				if got := stSamples(rec.samples(name)); got != w {
					t.Errorf("%s = %q, want %q", name, got, w)
				}
			}
			wantBuckets := 6 // 2 buckets, 3 scrapes
			if m.zero {
				wantBuckets += 2 // and a zero sample each
			}
			if got := len(rec.samples("lat_bucket")); got != wantBuckets {
				t.Errorf("%d lat_bucket samples, want %d", got, wantBuckets)
			}
		})
	}
}

// TestStartTimestampsProtobuf: the created timestamps client_golang puts
// in the protobuf format become the samples' start timestamps (counters,
// classic and native histograms), with the zero sample before the first
// one; without the options they are ignored.
func TestStartTimestampsProtobuf(t *testing.T) {
	created := time.UnixMilli(4_000)
	reg := prometheus.NewRegistry()
	desc := prometheus.NewDesc("jobs_total", "Jobs.", nil, nil)
	hdesc := prometheus.NewDesc("wait_seconds", "Wait.", nil, nil)
	reg.MustRegister(constCollector{
		prometheus.MustNewConstMetricWithCreatedTimestamp(desc, prometheus.CounterValue, 3, created),
		prometheus.MustNewConstHistogramWithCreatedTimestamp(hdesc, 2, 1.5, map[float64]uint64{1: 2}, created),
	})
	native := nativeRegistry(t, 10)
	mfs, err := prometheus.Gatherers{reg, native}.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var nativeCreated int64
	for _, mf := range mfs {
		if mf.GetName() == "latency_seconds" {
			nativeCreated = mf.Metric[0].GetHistogram().GetCreatedTimestamp().AsTime().UnixMilli()
		}
	}
	if nativeCreated == 0 {
		t.Fatal("client_golang gave the native histogram no created timestamp")
	}
	body := encodeFamilies(t, mfs...)
	// The native histogram was created now: scrape a little later.
	at := time.UnixMilli(nativeCreated + 60_000)
	ts := at.UnixMilli()
	for _, m := range stModes {
		t.Run(m.name, func(t *testing.T) {
			in, rec := newSTIngest(t, histCfg(func(c *config.ScrapeConfig) { *c.AlwaysScrapeClassicHistograms = true }), m.store, m.zero)
			if _, err := in.Ingest(body, protoType, at); err != nil {
				t.Fatal(err)
			}
			if _, err := in.Ingest(body, protoType, at.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			next := ts + 60_000
			st := func(st int64) string {
				if m.store {
					return fmt.Sprintf("/%d", st)
				}
				return ""
			}
			zero := func(st int64, v string) string {
				if m.zero {
					return fmt.Sprintf("%d:%s ", st, v)
				}
				return ""
			}
			for name, w := range map[string]string{
				"jobs_total":         fmt.Sprintf("%s%d:3%s %d:3%s", zero(4000, "0"), ts, st(4000), next, st(4000)),
				"wait_seconds_count": fmt.Sprintf("%s%d:2%s %d:2%s", zero(4000, "0"), ts, st(4000), next, st(4000)),
				"latency_seconds": fmt.Sprintf("%s%d:h10%s %d:h10%s", zero(nativeCreated, "h0"), ts, st(nativeCreated),
					next, st(nativeCreated)),
			} {
				if got := stSamples(rec.samples(name)); got != w {
					t.Errorf("%s = %q, want %q", name, got, w)
				}
			}
			if m.zero {
				z := rec.histograms("latency_seconds")[0].h
				if z.CounterResetHint != histogram.CounterReset || z.Schema != 3 || z.Count != 0 {
					t.Errorf("zero histogram = %v (hint %d), want an empty schema 3 histogram marked as a reset", z, z.CounterResetHint)
				}
			}
		})
	}
}

// constCollector collects fixed metrics.
type constCollector []prometheus.Metric

func (c constCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }
func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}

// TestStartTimestampFamilyWithout: a counter family without _created lines
// is read without start timestamps (and without looking ahead for each of
// its series), and the next family with them still gets them.
func TestStartTimestampFamilyWithout(t *testing.T) {
	var b strings.Builder
	b.WriteString("# TYPE many counter\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "many_total{i=\"%d\"} %d\n", i, i)
	}
	b.WriteString("# TYPE some counter\nsome_total 4\nsome_created 2\n# EOF\n")
	in, rec := newSTIngest(t, histCfg(nil), true, false)
	if _, err := in.Ingest([]byte(b.String()), omType, time.UnixMilli(10_000)); err != nil {
		t.Fatal(err)
	}
	if got := stSamples(rec.samples("some_total")); got != "10000:4/2000" {
		t.Errorf("some_total = %q, want 10000:4/2000", got)
	}
	many := rec.samples("many_total")
	if len(many) != 2000 || slices.ContainsFunc(many, func(s sample) bool { return s.st != 0 }) {
		t.Errorf("many_total: %d samples, want 2000 without start timestamps", len(many))
	}
}

// TestStartTimestampsAskProtobufFirst: with start timestamps read, a job
// whose scrape_protocols are the default asks for protobuf first, as
// Prometheus does with its start timestamp features; a job that set them
// keeps its own.
func TestStartTimestampsAskProtobufFirst(t *testing.T) {
	cfg, err := config.Parse([]byte(`
scrape_configs:
  - job_name: default
    static_configs: [{targets: ["a:1"]}]
  - job_name: text
    scrape_protocols: [PrometheusText0.0.4]
    static_configs: [{targets: ["a:1"]}]
`), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	protoFirst := acceptHeader(config.DefaultProtoFirstScrapeProtocols)
	for _, tc := range []struct {
		readST      bool
		job, accept string
	}{
		{false, "default", acceptHeader(config.DefaultScrapeProtocols)},
		{true, "default", protoFirst},
		{false, "text", acceptHeader([]config.ScrapeProtocol{config.PrometheusText0_0_4})},
		{true, "text", acceptHeader([]config.ScrapeProtocol{config.PrometheusText0_0_4})},
	} {
		m := NewManager(Options{STZeroIngestion: tc.readST})
		i := slices.IndexFunc(cfg.ScrapeConfigs, func(c *config.ScrapeConfig) bool { return c.JobName == tc.job })
		jc, err := m.prepareJob(cfg.ScrapeConfigs[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		if jc.accept != tc.accept {
			t.Errorf("start timestamps %v, job %s: Accept %q, want %q", tc.readST, tc.job, jc.accept, tc.accept)
		}
	}
}
