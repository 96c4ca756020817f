package scrape

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	ptsdb "github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/watchdog-sre/watchdog/tsdb"
)

// TestStartTimestampsPromQLMatchesPrometheus scrapes a fresh counter with
// _created lines, restarted halfway, into the store under each
// combination of the start timestamp options, and writes the same samples
// with their start timestamps into Prometheus's own TSDB with the same
// features: PromQL with use-start-timestamps gives the same rate,
// increase, irate and resets on both. Without the options the answer
// differs (the first increase is lost).
func TestStartTimestampsPromQLMatchesPrometheus(t *testing.T) {
	type scrapeAt struct {
		t, st int64 // ms
		v     float64
	}
	var scrapes []scrapeAt
	for ts := int64(60_000); ts <= 600_000; ts += 15_000 {
		created := int64(40_000)
		v := 2 * float64(ts-created) / 1000
		if ts >= 300_000 {
			created = 290_000
			v = 3 * float64(ts-created) / 1000
		}
		scrapes = append(scrapes, scrapeAt{t: ts, st: created, v: v})
	}
	lset := labels.FromStrings("__name__", "c_total", "instance", "h:1", "job", "h")

	watchdog := func(store, zero bool) storage.Queryable {
		db, err := tsdb.Open(tsdb.Options{Now: func() time.Time { return time.UnixMilli(3_600_000) }})
		if err != nil {
			t.Fatal(err)
		}
		in, err := NewIngester(histCfg(nil), "h:1", Options{Appender: func() Appender { return db.Appender() },
			StoreStartTimestamps: store, STZeroIngestion: zero})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range scrapes {
			body := fmt.Appendf(nil, "# TYPE c counter\nc_total %g\nc_created %g\n# EOF\n", s.v, float64(s.st)/1000)
			if _, err := in.Ingest(body, omType, time.UnixMilli(s.t)); err != nil {
				t.Fatal(err)
			}
		}
		return db
	}
	prometheus := func(store, zero bool) storage.Queryable {
		db := teststorage.New(t, func(o *ptsdb.Options) {
			o.EnableSTStorage = store
			o.EnableSTAsZeroSample = zero
			o.FloatChunkEncoding = chunkenc.EncXOR2
		})
		for _, s := range scrapes {
			st := s.st
			if !store && !zero { // Prometheus's scrape then does not read it
				st = 0
			}
			app := db.AppenderV2(context.Background())
			if _, err := app.Append(0, lset, st, s.t, s.v, nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		return db
	}

	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute,
		UseStartTimestamps: true})
	eval := func(q storage.Queryable, expr string) string {
		qry, err := engine.NewRangeQuery(context.Background(), q, nil, expr, time.UnixMilli(60_000), time.UnixMilli(600_000), 15*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer qry.Close()
		res := qry.Exec(context.Background())
		if res.Err != nil {
			t.Fatalf("%s: %v", expr, res.Err)
		}
		return res.Value.String()
	}
	increase := map[string]string{}
	for _, m := range stModes {
		t.Run(m.name, func(t *testing.T) {
			wd, prom := watchdog(m.store, m.zero), prometheus(m.store, m.zero)
			for _, expr := range []string{"c_total", "rate(c_total[1m])", "increase(c_total[2m])", "irate(c_total[1m])", "resets(c_total[5m])"} {
				got, want := eval(wd, expr), eval(prom, expr)
				if got != want || got == "" {
					t.Errorf("%s:\nwatchdog   %s\nprometheus %s", expr, got, want)
				}
			}
			increase[m.name] = eval(wd, "increase(c_total[2m])")
		})
	}
	if increase["off"] == increase["st-storage"] || increase["off"] == increase["both"] {
		t.Errorf("increase is the same with and without start timestamps: %s", increase["off"])
	}
}
