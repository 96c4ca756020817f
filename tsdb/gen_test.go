package tsdb

import (
	"math"
	"math/rand/v2"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
)

// genSample is one generated sample of series idx.
type genSample struct {
	series int
	t      int64
	v      float64
}

// genData builds a deterministic synthetic workload: counters with resets,
// gauges, a gappy gauge, series ended by stale markers, a classic histogram
// and label sets with and without an "env" label. Samples are 15s apart over
// [0, 2h] and ordered by time, so they can be committed scrape by scrape.
func genData() (series []labels.Labels, scrapes [][]genSample) {
	rng := rand.New(rand.NewPCG(1, 2))
	type kind int
	const (
		counter kind = iota
		gauge
		gappy
		stale   // ends with a stale marker at 1h
		flaky   // stale marker at 40m, resumes at 50m
		bucket  // histogram bucket counter (cumulative by le)
		histSum // histogram _sum
	)
	type gen struct {
		kind kind
		v    float64
		rate float64
	}
	var gens []*gen
	add := func(k kind, rate float64, kv ...string) {
		series = append(series, labels.FromStrings(kv...))
		gens = append(gens, &gen{kind: k, rate: rate, v: rng.Float64() * 100})
	}
	for _, inst := range []string{"i1", "i2", "i3"} {
		for _, method := range []string{"GET", "POST"} {
			for _, code := range []string{"200", "500"} {
				add(counter, 1+rng.Float64()*20, "__name__", "http_requests_total", "job", "api", "instance", inst, "method", method, "code", code)
			}
		}
		env := "prod"
		if inst == "i3" {
			env = "dev"
		}
		if inst == "i1" {
			add(gauge, 0, "__name__", "node_memory_bytes", "job", "node", "instance", inst)
		} else {
			add(gauge, 0, "__name__", "node_memory_bytes", "job", "node", "instance", inst, "env", env)
		}
	}
	add(gappy, 0, "__name__", "gappy_gauge", "job", "node", "instance", "i1")
	add(stale, 0, "__name__", "stale_series", "job", "batch")
	add(flaky, 0, "__name__", "flaky_gauge", "job", "batch", "env", "prod")
	for _, le := range []string{"0.1", "0.5", "1", "+Inf"} {
		add(bucket, 0, "__name__", "request_duration_seconds_bucket", "job", "api", "le", le)
	}
	add(bucket, 0, "__name__", "request_duration_seconds_count", "job", "api")
	add(histSum, 0, "__name__", "request_duration_seconds_sum", "job", "api")

	staleV := math.Float64frombits(value.StaleNaN)
	const step, end = 15_000, 2 * 3600_000
	buckets := []float64{0, 0, 0, 0} // cumulative counts per le
	for t := int64(0); t <= end; t += step {
		var sc []genSample
		// Histogram observations for this scrape.
		var obsSum float64
		for range rng.IntN(20) {
			d := rng.ExpFloat64() * 0.3
			obsSum += d
			for i, le := range []float64{0.1, 0.5, 1, math.Inf(1)} {
				if d <= le {
					buckets[i]++
				}
			}
		}
		bi := 0
		for i, g := range gens {
			var v float64
			switch g.kind {
			case counter:
				if rng.IntN(200) == 0 {
					g.v = 0 // counter reset
				}
				g.v += math.Round(g.rate * 15 * rng.Float64())
				v = g.v
			case gauge:
				g.v += rng.NormFloat64()
				v = g.v
			case gappy:
				if t > 1800_000 && t < 3000_000 {
					continue
				}
				g.v = rng.Float64() * 10
				v = g.v
			case stale:
				if t > 3600_000 {
					continue
				}
				v = float64(t / 1000)
				if t == 3600_000 {
					v = staleV
				}
			case flaky:
				switch {
				case t == 2400_000:
					v = staleV
				case t > 2400_000 && t < 3000_000:
					continue
				default:
					v = rng.Float64()
				}
			case bucket:
				if bi < len(buckets) {
					v = buckets[bi]
				} else {
					v = buckets[len(buckets)-1] // _count equals +Inf bucket
				}
				bi++
			case histSum:
				g.v += obsSum
				v = g.v
			}
			sc = append(sc, genSample{series: i, t: t, v: v})
		}
		scrapes = append(scrapes, sc)
	}
	return series, scrapes
}

// genAppender is the subset of appenders genData is loaded through.
type genAppender interface {
	Append(ref uint64, lset labels.Labels, t int64, v float64) (uint64, error)
	Commit() error
}

// loadGen appends the workload scrape by scrape, using the ref fast path.
func loadGen(newApp func() genAppender, series []labels.Labels, scrapes [][]genSample) error {
	refs := make([]uint64, len(series))
	for _, sc := range scrapes {
		app := newApp()
		for _, s := range sc {
			ref, err := app.Append(refs[s.series], series[s.series], s.t, s.v)
			if err != nil {
				return err
			}
			refs[s.series] = ref
		}
		if err := app.Commit(); err != nil {
			return err
		}
	}
	return nil
}
