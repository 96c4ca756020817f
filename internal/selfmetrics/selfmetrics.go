// Package selfmetrics writes the watchdog's own /metrics in proper
// Prometheus exposition: every family under one HELP and one TYPE line.
//
// The metrics themselves live in VictoriaMetrics/metrics sets, which know
// no help texts; each package that registers metrics describes their
// families here, next to the registration (a var calling Describe), and
// Write puts the descriptions in front of the samples. A family written
// without a description comes out without HELP and TYPE and is reported,
// so that a test fails (see the cmd/watchdog and e2e tests). The Go
// runtime and process families come from client_golang's standard
// collectors (WriteRuntime), with Prometheus's usual names and help.
package selfmetrics

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// Metric types of a Family, as the exposition format names them.
const (
	Counter   = "counter"
	Gauge     = "gauge"
	Histogram = "histogram"
	Summary   = "summary"
)

// Family describes one metric family.
type Family struct {
	Name string // the family name: without _bucket, _sum and _count for histograms
	Type string // Counter, Gauge, Histogram or Summary
	Help string // one line, what the value means and its unit
}

var (
	mu       sync.RWMutex
	families = map[string]Family{}
)

// Describe registers families and returns true, so that a package can
// call it in a var declaration next to its metrics. It panics on a
// family without name or help, with an unknown type, or described twice
// differently: these are programming errors.
func Describe(fs ...Family) bool {
	mu.Lock()
	defer mu.Unlock()
	for _, f := range fs {
		switch {
		case f.Name == "" || strings.TrimSpace(f.Help) == "" || strings.ContainsAny(f.Help, "\n\\"):
			panic(fmt.Sprintf("selfmetrics: family %q needs a one-line help text", f.Name))
		case !slices.Contains([]string{Counter, Gauge, Histogram, Summary}, f.Type):
			panic(fmt.Sprintf("selfmetrics: family %q has unknown type %q", f.Name, f.Type))
		}
		if old, ok := families[f.Name]; ok && old != f {
			panic(fmt.Sprintf("selfmetrics: family %q described twice differently", f.Name))
		}
		families[f.Name] = f
	}
	return true
}

// Lookup returns the description of the family name.
func Lookup(name string) (Family, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := families[name]
	return f, ok
}

// Families returns every described family, sorted by name.
func Families() []Family {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Family, 0, len(families))
	for _, f := range families {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Family) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// familyOf returns the family a sample named name belongs to and whether
// it is described.
func familyOf(name string) (string, bool) {
	if _, ok := Lookup(name); ok {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		if f, ok := Lookup(base); ok && (f.Type == Histogram || f.Type == Summary) {
			return base, true
		}
	}
	return name, false
}

// Write writes the samples of the exposition text to w, each family's
// together (in the order each first appears) under its HELP and TYPE
// lines. Comment lines of the input are dropped. It returns the names of
// the families that have no description; their samples are written
// without metadata.
func Write(w io.Writer, text []byte) (undescribed []string, err error) {
	var (
		order   []string
		samples = map[string][]string{}
		known   = map[string]bool{}
	)
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end < 0 {
			continue
		}
		fam, ok := familyOf(line[:end])
		if _, seen := samples[fam]; !seen {
			order = append(order, fam)
			known[fam] = ok
			if !ok {
				undescribed = append(undescribed, fam)
			}
		}
		samples[fam] = append(samples[fam], line)
	}
	if err := sc.Err(); err != nil {
		return undescribed, fmt.Errorf("read exposition: %w", err)
	}
	bw := bufio.NewWriter(w)
	for _, fam := range order {
		if known[fam] {
			f, _ := Lookup(fam)
			fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", fam, f.Help, fam, f.Type)
		}
		for _, l := range samples[fam] {
			bw.WriteString(l)
			bw.WriteByte('\n')
		}
	}
	return undescribed, bw.Flush()
}

var runtimeRegistry = sync.OnceValue(func() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
})

// WriteRuntime writes the Go runtime (go_*) and process (process_*)
// families of client_golang's standard collectors, with their help.
func WriteRuntime(w io.Writer) error {
	mfs, err := runtimeRegistry().Gather()
	if err != nil {
		return fmt.Errorf("gather runtime metrics: %w", err)
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return fmt.Errorf("write runtime metrics: %w", err)
		}
	}
	return nil
}
