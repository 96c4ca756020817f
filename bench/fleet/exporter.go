package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// row is one line of a target's exposition: a comment or blank line kept
// verbatim (value is NaN and counter false), or a sample whose value moves
// on every scrape.
type row struct {
	head    []byte // the line up to the value, the separating space included
	value   float64
	counter bool
	fixed   bool // comment or unparsable line, written as head
}

// exposition is the shape every target of a fleet shares; each target
// moves its own copy of the values. A corpus is held as rows and rendered
// on every scrape; a generated exposition as a body with value slots.
type exposition struct {
	rows    []row
	body    []byte
	slots   []slot
	samples int
}

var typeLine = regexp.MustCompile(`^# TYPE (\S+) (\S+)`)

// loadCorpus reads a Prometheus text exposition (node_exporter.prom) into
// an exposition: counters, histogram and summary parts (but quantiles)
// grow, gauges and untyped samples walk.
func loadCorpus(path string) (*exposition, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read corpus: %w", err)
	}
	types := map[string]string{}
	family := func(name string) string {
		for _, suffix := range []string{"_total", "_count", "_sum", "_bucket"} {
			if base, ok := strings.CutSuffix(name, suffix); ok {
				if t, ok := types[base]; ok {
					return t
				}
			}
		}
		return types[name]
	}
	e := &exposition{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := typeLine.FindStringSubmatch(line); m != nil {
			types[m[1]] = m[2]
		}
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" || i < 0 {
			e.rows = append(e.rows, row{head: []byte(line), fixed: true})
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			e.rows = append(e.rows, row{head: []byte(line), fixed: true})
			continue
		}
		name := line[:strings.IndexAny(line+" ", "{ ")]
		kind := family(name)
		counter := (kind == "counter" || kind == "histogram" || kind == "summary") && !strings.Contains(line[:i], "quantile=")
		e.rows = append(e.rows, row{head: []byte(line[:i+1]), value: v, counter: counter})
		e.samples++
	}
	if e.samples == 0 {
		return nil, fmt.Errorf("read corpus %s: no samples", path)
	}
	return e, nil
}

// valueWidth is the width of a generated exposition's value field: values
// are written zero-padded in place (a counter as an integer, a gauge with
// three decimals), so that a scrape rewrites only the values that moved.
const valueWidth = 15

// generated builds an exposition of n series spread over 100 metric
// families, half counters and half gauges, each series with three labels
// besides the name, for runs at millions of series. Its body is rendered
// once; every target copies it and rewrites its values in place.
func generated(n int) *exposition {
	const families = 100
	e := &exposition{}
	var b []byte
	for f := 0; f < families; f++ {
		counter := f%2 == 0
		name := fmt.Sprintf("fleet_gen_metric_%02d", f)
		typ := "gauge"
		if counter {
			name += "_total"
			typ = "counter"
		}
		b = append(b, "# TYPE "+strings.TrimSuffix(name, "_total")+" "+typ+"\n"...)
		for k := f; k < n; k += families {
			b = fmt.Appendf(b, `%s{shard="%d",handler="/api/v1/resource_%d",code="%d"} `, name, k%16, k/16, 200+k%5)
			e.slots = append(e.slots, slot{off: uint32(len(b)), counter: counter, value: float64(k % 1000)})
			b = append(b, make([]byte, valueWidth)...)
			b = append(b, '\n')
			e.samples++
		}
	}
	for _, s := range e.slots {
		putFixed(b[s.off:s.off+valueWidth], s.value, s.counter)
	}
	e.body = b
	return e
}

// slot is where a generated exposition holds one sample's value.
type slot struct {
	off     uint32 // offset of the value field in the body
	counter bool
	value   float64 // the starting value
}

// putFixed writes v zero-padded into dst (len valueWidth): an integer for a
// counter, three decimals for a gauge. Values beyond the field are clamped.
func putFixed(dst []byte, v float64, counter bool) {
	scale, point := 1.0, -1
	if !counter {
		scale, point = 1000, len(dst)-4
	}
	u := uint64(max(0, min(math.Round(v*scale), 9e13)))
	for i := len(dst) - 1; i >= 0; i-- {
		if i == point {
			dst[i] = '.'
			continue
		}
		dst[i] = byte('0' + u%10)
		u /= 10
	}
}

// target is one loopback exporter.
type target struct {
	mu   sync.Mutex
	rng  *rand.Rand
	gzip bool
	zbuf bytes.Buffer
	zw   *gzip.Writer

	rows []row // corpus exposition
	buf  bytes.Buffer

	slots  []slot    // generated exposition: shared, read only
	values []float64 // this target's values, by slot
	body   []byte    // this target's body, values rewritten in place
	// ramp, if set, returns the fraction of a generated exposition's
	// series to serve now (see -ramp).
	ramp func() float64
}

func newTarget(e *exposition, seed uint64, gz bool) *target {
	t := &target{rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), gzip: gz}
	if e.body != nil {
		t.slots, t.body = e.slots, bytes.Clone(e.body)
		t.values = make([]float64, len(e.slots))
		for i, s := range e.slots {
			t.values[i] = s.value
		}
		return t
	}
	t.rows = make([]row, len(e.rows))
	copy(t.rows, e.rows)
	return t
}

// step moves a value: a counter grows by 1–50 with probability 0.6, a gauge
// walks by up to ±5% with probability 0.3. It reports whether v moved.
func (t *target) step(v *float64, counter bool) bool {
	if counter {
		if t.rng.Float64() < 0.6 {
			*v += float64(1 + t.rng.IntN(50))
			return true
		}
	} else if t.rng.Float64() < 0.3 {
		*v = math.Round(*v*(1+(t.rng.Float64()*0.1-0.05))*1000) / 1000
		return true
	}
	return false
}

// render moves every value one step and returns the exposition.
func (t *target) render() []byte {
	if t.body != nil {
		n := len(t.slots)
		if t.ramp != nil {
			n = min(n, int(math.Ceil(t.ramp()*float64(n))))
		}
		for i, s := range t.slots[:n] {
			if t.step(&t.values[i], s.counter) {
				putFixed(t.body[s.off:s.off+valueWidth], t.values[i], s.counter)
			}
		}
		if n < len(t.slots) {
			// The first n series: the body up to the end of the line of
			// series n-1.
			end := 0
			if n > 0 {
				end = int(t.slots[n-1].off) + valueWidth + 1
			}
			return t.body[:end]
		}
		return t.body
	}
	t.buf.Reset()
	var num [32]byte
	for i := range t.rows {
		r := &t.rows[i]
		t.buf.Write(r.head)
		if r.fixed {
			t.buf.WriteByte('\n')
			continue
		}
		t.step(&r.value, r.counter)
		v := r.value
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			t.buf.Write(strconv.AppendFloat(num[:0], v, 'f', -1, 64))
		} else {
			t.buf.Write(strconv.AppendFloat(num[:0], v, 'g', -1, 64))
		}
		t.buf.WriteByte('\n')
	}
	return t.buf.Bytes()
}

func (t *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	defer t.mu.Unlock()
	body := t.render()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	if t.gzip && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		t.zbuf.Reset()
		if t.zw == nil {
			t.zw, _ = gzip.NewWriterLevel(&t.zbuf, gzip.BestSpeed)
		} else {
			t.zw.Reset(&t.zbuf)
		}
		t.zw.Write(body)
		t.zw.Close()
		body = t.zbuf.Bytes()
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// fleet is a set of running loopback exporters.
type fleet struct {
	addrs   []string
	servers []*http.Server
}

// startFleet starts n exporters of e. With ramp > 0, exporters of a
// generated exposition serve a growing share of their series, all of them
// after ramp.
func startFleet(e *exposition, n int, gz bool, ramp time.Duration) (*fleet, error) {
	f := &fleet{}
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.close()
			return nil, fmt.Errorf("listen: %w", err)
		}
		t := newTarget(e, uint64(i), gz)
		if ramp > 0 {
			start := time.Now()
			t.ramp = func() float64 { return min(1, time.Since(start).Seconds()/ramp.Seconds()) }
		}
		s := &http.Server{Handler: t}
		go s.Serve(ln)
		f.addrs = append(f.addrs, ln.Addr().String())
		f.servers = append(f.servers, s)
	}
	return f, nil
}

func (f *fleet) close() {
	for _, s := range f.servers {
		s.Close()
	}
}
