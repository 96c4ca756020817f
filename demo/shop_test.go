package demo

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
)

var testStart = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func newTestShop(seed int64) *Shop {
	return NewShop(ShopOptions{Start: testStart, Seed: seed, Now: func() time.Time { return testStart }})
}

// scrape renders the shop at t and returns its samples by series text.
func scrape(t *testing.T, s *Shop, at time.Time) map[string]float64 {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteMetrics(&buf, at); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func TestExpositionFormatIsValid(t *testing.T) {
	s := newTestShop(1)
	var buf bytes.Buffer
	if err := s.WriteMetrics(&buf, testStart.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("invalid exposition: %v\n%s", err, buf.String())
	}
	want := map[string]string{
		"shop_http_requests_total":           "COUNTER",
		"shop_http_request_duration_seconds": "HISTOGRAM",
		"shop_cart_items_in_progress":        "GAUGE",
		"shop_inventory_items":               "GAUGE",
	}
	for name, typ := range want {
		f, ok := fams[name]
		if !ok {
			t.Errorf("missing family %s", name)
			continue
		}
		if got := f.GetType().String(); got != typ {
			t.Errorf("%s: type %s, want %s", name, got, typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s: no HELP", name)
		}
	}
	if n := len(fams["shop_http_requests_total"].GetMetric()); n != 11 {
		t.Errorf("%d request series, want 11", n)
	}
}

func TestCountersMonotonic(t *testing.T) {
	s := newTestShop(7)
	prev := scrape(t, s, testStart)
	for k, v := range prev {
		if strings.HasPrefix(k, "shop_http_request") && v != 0 {
			t.Errorf("%s = %v at start, want 0", k, v)
		}
	}
	// 7s steps cross spike edges at many phases; 40 minutes cover several
	// spikes and a restock.
	for at := testStart.Add(7 * time.Second); at.Before(testStart.Add(40 * time.Minute)); at = at.Add(7 * time.Second) {
		cur := scrape(t, s, at)
		for k, v := range cur {
			if !strings.HasPrefix(k, "shop_http_request") {
				continue
			}
			if v < prev[k] {
				t.Fatalf("%s went down at %v: %v -> %v", k, at.Sub(testStart), prev[k], v)
			}
		}
		checkHistogram(t, cur)
		prev = cur
	}
}

// checkHistogram checks buckets are cumulative and +Inf equals _count.
func checkHistogram(t *testing.T, m map[string]float64) {
	t.Helper()
	for _, h := range []string{"/login", "/cart", "/checkout"} {
		last := -1.0
		for _, le := range buckets {
			v := m[fmt.Sprintf(`shop_http_request_duration_seconds_bucket{handler=%q,le="%s"}`, h, strconv.FormatFloat(le, 'f', -1, 64))]
			if v < last {
				t.Fatalf("%s bucket %v = %v below previous %v", h, le, v, last)
			}
			last = v
		}
		inf := m[fmt.Sprintf(`shop_http_request_duration_seconds_bucket{handler=%q,le="+Inf"}`, h)]
		count := m[fmt.Sprintf(`shop_http_request_duration_seconds_count{handler=%q}`, h)]
		if inf < last || inf != count {
			t.Fatalf("%s: +Inf %v, count %v, last bucket %v", h, inf, count, last)
		}
	}
}

func TestDeterministic(t *testing.T) {
	at := testStart.Add(17 * time.Minute)
	render := func(seed int64) string {
		var buf bytes.Buffer
		if err := newTestShop(seed).WriteMetrics(&buf, at); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	if render(3) != render(3) {
		t.Error("same seed, different output")
	}
	if render(3) == render(4) {
		t.Error("different seeds, same output")
	}
}

func TestInSpike(t *testing.T) {
	s := newTestShop(1)
	tests := []struct {
		after time.Duration
		want  bool
	}{
		{-time.Minute, false},
		{0, false},
		{119 * time.Second, false},
		{2 * time.Minute, true},
		{2*time.Minute + 59*time.Second, true},
		{3 * time.Minute, false},
		{6 * time.Minute, false},
		{7 * time.Minute, true},
		{7*time.Minute + 30*time.Second, true},
		{8 * time.Minute, false},
		{2*time.Minute + 100*DefaultSpikeEvery + 10*time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.after.String(), func(t *testing.T) {
			if got := s.InSpike(testStart.Add(tc.after)); got != tc.want {
				t.Errorf("InSpike(start+%v) = %v, want %v", tc.after, got, tc.want)
			}
		})
	}
	next := []struct{ after, want time.Duration }{
		{0, 2 * time.Minute},
		{2 * time.Minute, 2 * time.Minute},
		{2*time.Minute + time.Second, 7 * time.Minute},
		{20 * time.Minute, 22 * time.Minute},
	}
	for _, tc := range next {
		if got := s.NextSpike(testStart.Add(tc.after)).Sub(testStart); got != tc.want {
			t.Errorf("NextSpike(start+%v) = start+%v, want start+%v", tc.after, got, tc.want)
		}
	}
}

func TestOptionsDefaultsAndCustomSchedule(t *testing.T) {
	now := testStart
	s := NewShop(ShopOptions{Now: func() time.Time { return now }, SpikeEvery: 10 * time.Minute, SpikeFor: 20 * time.Minute, FirstSpike: -1})
	if !s.Start().Equal(testStart) {
		t.Errorf("Start %v, want Now() at creation", s.Start())
	}
	// SpikeFor is capped at SpikeEvery, so the spike never ends.
	for _, d := range []time.Duration{0, 5 * time.Minute, 9*time.Minute + 59*time.Second, 10 * time.Minute, time.Hour} {
		if !s.InSpike(testStart.Add(d)) {
			t.Errorf("InSpike(start+%v) = false with SpikeFor >= SpikeEvery", d)
		}
	}
}

// loginRates returns the per-second rate of /login 5xx over [at-w, at].
func login5xxRate(t *testing.T, s *Shop, at time.Time, w time.Duration) float64 {
	t.Helper()
	sum := func(m map[string]float64) float64 {
		var n float64
		for k, v := range m {
			if strings.HasPrefix(k, `shop_http_requests_total{handler="/login"`) && strings.Contains(k, `code="5`) {
				n += v
			}
		}
		return n
	}
	return (sum(scrape(t, s, at)) - sum(scrape(t, s, at.Add(-w)))) / w.Seconds()
}

func TestSpikeShowsInRate(t *testing.T) {
	for _, seed := range []int64{0, 1, 42} {
		t.Run(strconv.FormatInt(seed, 10), func(t *testing.T) {
			s := newTestShop(seed)
			for k := range 5 {
				spike := s.NextSpike(testStart.Add(time.Duration(k) * DefaultSpikeEvery))
				normal := login5xxRate(t, s, spike, time.Minute)
				during := login5xxRate(t, s, spike.Add(time.Minute), time.Minute)
				after := login5xxRate(t, s, spike.Add(3*time.Minute), time.Minute)
				if ratio := during / normal; ratio < 4 || ratio > 9 {
					t.Errorf("spike %d: rate %v during vs %v before, ratio %.2f, want about %d", k, during, normal, ratio, SpikeFactor)
				}
				if ratio := after / normal; ratio < 0.5 || ratio > 2 {
					t.Errorf("spike %d: rate %v after vs %v before, want back to normal", k, after, normal)
				}
				// A single 15s scrape step inside the spike already shows it.
				step := login5xxRate(t, s, spike.Add(30*time.Second), 15*time.Second)
				if step < 3*normal {
					t.Errorf("spike %d: 15s rate %v, normal %v", k, step, normal)
				}
			}
		})
	}
}

// loadScrapes renders the shop every 15s for the given time and returns a
// promqltest load script of the samples, with the start as time zero.
func loadScrapes(t *testing.T, s *Shop, d time.Duration) string {
	t.Helper()
	vals := map[string][]string{}
	for at := s.Start(); !at.After(s.Start().Add(d)); at = at.Add(15 * time.Second) {
		for k, v := range scrape(t, s, at) {
			vals[k] = append(vals[k], strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("load 15s\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s %s\n", k, strings.Join(vals[k], " "))
	}
	return b.String()
}

// TestAlertExprWithPromQL scrapes the shop into a real storage and runs
// LoginErrorRatioExpr and a p99 query through the PromQL engine.
func TestAlertExprWithPromQL(t *testing.T) {
	s := newTestShop(11)
	st := promqltest.LoadedStorage(t, loadScrapes(t, s, 25*time.Minute))
	eng := promqltest.NewTestEngine(t, false, 5*time.Minute, promqltest.DefaultMaxSamplesPerQuery)
	eval := func(q string, after time.Duration) promql.Vector {
		t.Helper()
		qry, err := eng.NewInstantQuery(context.Background(), st, nil, q, time.Unix(0, 0).Add(after))
		if err != nil {
			t.Fatal(err)
		}
		defer qry.Close()
		res := qry.Exec(context.Background())
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		v, err := res.Vector()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// As documented on LoginErrorRatioExpr: with the default schedule an
	// "offset 5m" comparison lands in the previous spike and stays quiet.
	const offsetRule = `sum(rate(shop_http_requests_total{handler="/login",code=~"5.."}[1m]))` +
		` > 4 * sum(rate(shop_http_requests_total{handler="/login",code=~"5.."}[1m] offset 5m))`
	if v := eval(offsetRule, 7*time.Minute+50*time.Second); len(v) != 0 {
		t.Errorf("offset 5m rule fired in the second spike, the LoginErrorRatioExpr doc is wrong: %v", v)
	}
	const p99 = `histogram_quantile(0.99, sum by (le) (rate(shop_http_request_duration_seconds_bucket{handler="/login"}[1m])))`
	for k := range 4 {
		start := s.NextSpike(s.Start().Add(time.Duration(k) * DefaultSpikeEvery)).Sub(s.Start())
		t.Run(start.String(), func(t *testing.T) {
			if v := eval(LoginErrorRatioExpr, start+50*time.Second); len(v) != 1 {
				t.Errorf("alert not firing 50s into the spike: %v", v)
			}
			if v := eval(LoginErrorRatioExpr, start-15*time.Second); len(v) != 0 {
				t.Errorf("alert firing before the spike: %v", v)
			}
			if v := eval(LoginErrorRatioExpr, start+DefaultSpikeFor+90*time.Second); len(v) != 0 {
				t.Errorf("alert still firing 90s after the spike: %v", v)
			}
			during := eval(p99, start+50*time.Second)
			before := eval(p99, start-15*time.Second)
			if len(during) != 1 || len(before) != 1 || during[0].F < 1 || before[0].F > 0.5 {
				t.Errorf("login p99 %v during the spike, %v before; want > 1s and < 0.5s", during, before)
			}
		})
	}
}

func TestHTTP(t *testing.T) {
	now := testStart.Add(10 * time.Minute)
	s := NewShop(ShopOptions{Start: testStart, Now: func() time.Time { return now }})
	srv := httptest.NewServer(s)
	defer srv.Close()
	tests := []struct {
		method, path string
		code         int
		contentType  string
		body         string
	}{
		{"GET", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8", "# TYPE shop_http_requests_total counter"},
		{"GET", "/", 200, "text/html; charset=utf-8", "demo shop"},
		{"POST", "/metrics", 405, "", ""},
		{"GET", "/nope", 404, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.code)
			}
			if tc.contentType != "" && resp.Header.Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("body lacks %q:\n%s", tc.body, body)
			}
		})
	}
	// The page renders at the injected clock.
	var want bytes.Buffer
	if err := s.WriteMetrics(&want, now); err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, want.Bytes()) {
		t.Error("/metrics does not render at Now()")
	}
}

func TestInventoryStaysInRange(t *testing.T) {
	s := newTestShop(5)
	for at := testStart; at.Before(testStart.Add(3 * time.Hour)); at = at.Add(time.Minute) {
		m := scrape(t, s, at)
		inv := m["shop_inventory_items"]
		cart := m["shop_cart_items_in_progress"]
		if inv < 0 || inv > fullStock || math.IsNaN(inv) {
			t.Fatalf("inventory %v at %v", inv, at.Sub(testStart))
		}
		if cart < 0 || cart > 100 {
			t.Fatalf("cart items %v at %v", cart, at.Sub(testStart))
		}
	}
}
