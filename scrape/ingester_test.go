package scrape

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
)

// TestIngester feeds bodies to an Ingester as successful scrapes 15 s apart
// and checks what the store receives: the samples with the target's labels,
// the synthetic series, stale markers for series that disappear and, after a
// body that does not parse, up 0 and stale markers for everything.
func TestIngester(t *testing.T) {
	rec := newRecorder()
	in, err := NewIngester(scrapeCfg("node", "h:1"), "h:1", Options{Appender: rec.appender, IsSoftError: isSoft})
	if err != nil {
		t.Fatal(err)
	}
	const t0 = 1_700_000_000_000
	steps := []struct {
		body    string
		samples int
		err     bool
	}{
		{body: "a 1\nb 2\n", samples: 2},
		{body: "a 3\n", samples: 1},               // b goes stale
		{body: "a 4\n{{ not a metric", err: true}, // a goes stale, up 0
		{body: "a 5\nb 6\n", samples: 2},
	}
	for i, st := range steps {
		n, err := in.Ingest([]byte(st.body), "text/plain; version=0.0.4", time.UnixMilli(t0+int64(i)*15_000))
		if (err != nil) != st.err || (!st.err && n != st.samples) {
			t.Fatalf("step %d: Ingest = %d, %v; want %d samples, error %v", i, n, err, st.samples, st.err)
		}
	}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"a", []string{"1700000000000=1", "1700000015000=3", "1700000030000=stale", "1700000045000=5"}},
		{"b", []string{"1700000000000=2", "1700000015000=stale", "1700000045000=6"}},
		{"up", []string{"1700000000000=1", "1700000015000=1", "1700000030000=0", "1700000045000=1"}},
		// As in Prometheus, a failed body reports the samples parsed before
		// the error.
		{"scrape_samples_scraped", []string{"1700000000000=2", "1700000015000=1", "1700000030000=1", "1700000045000=2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rec.samples(tc.name, "job", "node", "instance", "h:1")
			if vs := values(got); !slices.Equal(vs, tc.want) {
				t.Fatalf("%s: %v, want %v", tc.name, vs, tc.want)
			}
		})
	}
}

// TestIngesterDroppedTarget: a target that relabel_configs drop cannot be
// ingested for.
func TestIngesterDroppedTarget(t *testing.T) {
	cfg := scrapeCfg("node", "h:1")
	cfg.RelabelConfigs = []*relabel.Config{{Action: relabel.Drop, SourceLabels: []model.LabelName{"__address__"}, Regex: relabel.MustNewRegexp("h:.*")}}
	if _, err := NewIngester(cfg, "h:1", Options{}); !errors.Is(err, ErrTargetDropped) {
		t.Fatalf("NewIngester = %v, want ErrTargetDropped", err)
	}
}
