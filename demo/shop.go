// Package demo is Watchdog's built-in demo target: a simulated web shop
// whose /metrics page looks like a real service's, so a fresh install has
// something to scrape, graph and alert on.
//
// Every value is a pure function of the time the page is rendered at, the
// shop's start and its Seed: no goroutine runs and nothing is stored between
// scrapes. Request counters are the integral of a per-second rate with mild,
// deterministic noise; the /login 5xx rate jumps to about six times its usual
// level for SpikeFor every SpikeEvery, the first spike starting FirstSpike
// (two minutes by default) after the shop starts, and /login gets a slow tail
// at the same time. LoginErrorRatioExpr is an alert expression that catches
// every spike.
package demo

import (
	"bufio"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults of ShopOptions.
const (
	DefaultSpikeEvery = 5 * time.Minute
	DefaultSpikeFor   = time.Minute
	DefaultFirstSpike = 2 * time.Minute
)

// SpikeFactor is how many times its normal rate the /login 5xx rate runs at
// during a spike.
const SpikeFactor = 6

// LoginErrorRatioExpr is a PromQL alert condition that holds during every
// login error spike: the share of /login requests answered with a 5xx. It is
// about 1.2% normally and about 7% during a spike.
//
// Rules comparing the rate with "offset 5m" or with an hour ago do not catch
// the spikes with the default options: both offsets are whole multiples of
// SpikeEvery, so they land in an earlier spike, and they have no data for the
// first one.
const LoginErrorRatioExpr = `sum(rate(shop_http_requests_total{handler="/login",code=~"5.."}[1m]))` +
	` / sum(rate(shop_http_requests_total{handler="/login"}[1m])) > 0.04`

// ShopOptions configures a Shop. The zero value is safe.
type ShopOptions struct {
	// Now is the clock the metrics are rendered at. Nil means time.Now.
	Now func() time.Time
	// Start is when the shop opened: counters are zero then. Zero means
	// Now() at NewShop.
	Start time.Time
	// Seed picks the noise; the same seed gives the same metrics.
	Seed int64
	// SpikeEvery is the time from the start of one login error spike to the
	// start of the next. Zero means DefaultSpikeEvery.
	SpikeEvery time.Duration
	// SpikeFor is how long a spike lasts, at most SpikeEvery. Zero means
	// DefaultSpikeFor.
	SpikeFor time.Duration
	// FirstSpike is the delay from Start to the first spike. Zero means
	// DefaultFirstSpike; negative means the first spike starts at Start.
	FirstSpike time.Duration
	// CartOutageEvery, CartOutageFor and FirstCartOutage schedule the cart
	// outages of the journey API (adding to the cart answers 503) as the
	// spikes are scheduled. Zero means DefaultCartOutageEvery,
	// DefaultCartOutageFor and DefaultFirstCartOutage; a negative
	// FirstCartOutage starts the first outage at Start.
	CartOutageEvery, CartOutageFor, FirstCartOutage time.Duration
}

// Shop is the simulated shop. It is an http.Handler serving GET /metrics in
// the Prometheus text format 0.0.4, a short page at / and the checkout API
// of the demo's journey probe under /api/ (see cart.go).
type Shop struct {
	now                    func() time.Time
	start                  time.Time
	every, length, firstAt float64 // seconds
	series                 []series
	handlers               []handlerLatency
	cart                   [2]wave
	cartAPI                *cartAPI
	api                    *http.ServeMux
}

// series is one shop_http_requests_total series.
type series struct {
	handler, method, code string
	rate                  float64 // requests per second, before noise
	spikes                bool    // whether the login spike multiplies it
	noise                 noise
}

// noise is the sum of a few sinusoids, multiplying a base rate by 1+noise.
type noise [3]wave

// wave is one sinusoid a*sin(w*s + phase) of the noise.
type wave struct {
	amp, w, phase float64
}

// handlerLatency describes the latency histogram of one handler.
type handlerLatency struct {
	name string
	// Normal and slow log-normal latency: median seconds and sigma.
	median, sigma         float64
	slowMedian, slowSigma float64
	// slowShare is the share of the handler's base rate that is slow
	// during a spike.
	slowShare float64
}

// buckets are the latency histogram's upper bounds, in seconds.
var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// NewShop returns a Shop opened at opts.Start.
func NewShop(opts ShopOptions) *Shop {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Start.IsZero() {
		opts.Start = opts.Now()
	}
	if opts.SpikeEvery <= 0 {
		opts.SpikeEvery = DefaultSpikeEvery
	}
	if opts.SpikeFor <= 0 {
		opts.SpikeFor = DefaultSpikeFor
	}
	opts.SpikeFor = min(opts.SpikeFor, opts.SpikeEvery)
	switch {
	case opts.FirstSpike == 0:
		opts.FirstSpike = DefaultFirstSpike
	case opts.FirstSpike < 0:
		opts.FirstSpike = 0
	}
	s := &Shop{
		now:     opts.Now,
		start:   opts.Start,
		every:   opts.SpikeEvery.Seconds(),
		length:  opts.SpikeFor.Seconds(),
		firstAt: opts.FirstSpike.Seconds(),
		series: []series{
			{handler: "/login", method: "GET", code: "200", rate: 3},
			{handler: "/login", method: "POST", code: "200", rate: 8},
			{handler: "/login", method: "POST", code: "401", rate: 1.2},
			{handler: "/login", method: "POST", code: "500", rate: 0.1, spikes: true},
			{handler: "/login", method: "POST", code: "503", rate: 0.05, spikes: true},
			{handler: "/cart", method: "GET", code: "200", rate: 12},
			{handler: "/cart", method: "POST", code: "200", rate: 4},
			{handler: "/cart", method: "POST", code: "500", rate: 0.02},
			{handler: "/checkout", method: "POST", code: "200", rate: 1.5},
			{handler: "/checkout", method: "POST", code: "500", rate: 0.012},
			{handler: "/checkout", method: "POST", code: "503", rate: 0.004},
		},
		handlers: []handlerLatency{
			{name: "/login", median: 0.045, sigma: 0.5, slowMedian: 1.2, slowSigma: 0.6, slowShare: 0.25},
			{name: "/cart", median: 0.02, sigma: 0.45, slowMedian: 0.02, slowSigma: 0.45},
			{name: "/checkout", median: 0.12, sigma: 0.55, slowMedian: 0.12, slowSigma: 0.55},
		},
	}
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed_d06))
	// Slow, medium and fast waves; their amplitudes add up to 0.31, so a
	// noisy rate stays between 0.69 and 1.31 times its base.
	newWave := func(amp, period float64) wave {
		period *= 0.8 + 0.4*rng.Float64()
		return wave{amp: amp, w: 2 * math.Pi / period, phase: 2 * math.Pi * rng.Float64()}
	}
	for i := range s.series {
		s.series[i].noise = noise{newWave(0.15, 3600), newWave(0.1, 420), newWave(0.06, 60)}
	}
	s.cart = [2]wave{newWave(12, 900), newWave(5, 130)}
	s.cartAPI = newCartAPI(s, opts)
	s.api = http.NewServeMux()
	s.cartAPI.routes(s.api)
	return s
}

// Start returns when the shop opened.
func (s *Shop) Start() time.Time { return s.start }

// InSpike reports whether the /login error rate is spiking at t.
func (s *Shop) InSpike(t time.Time) bool {
	x := s.elapsed(t) - s.firstAt
	if x < 0 {
		return false
	}
	return math.Mod(x, s.every) < s.length
}

// NextSpike returns the start of the first spike that begins at or after t.
func (s *Shop) NextSpike(t time.Time) time.Time {
	x := s.elapsed(t) - s.firstAt
	k := 0.0
	if x > 0 {
		k = math.Ceil(x / s.every)
	}
	return s.at(s.firstAt + k*s.every)
}

// elapsed returns seconds since the start, never negative.
func (s *Shop) elapsed(t time.Time) float64 {
	return max(t.Sub(s.start).Seconds(), 0)
}

func (s *Shop) at(sec float64) time.Time {
	return s.start.Add(time.Duration(sec * float64(time.Second)))
}

// spikeSeconds returns how many seconds of spike there were in the first x
// seconds after the start.
func (s *Shop) spikeSeconds(x float64) float64 {
	x -= s.firstAt
	if x <= 0 {
		return 0
	}
	k := math.Floor(x / s.every)
	return k*s.length + min(x-k*s.every, s.length)
}

// integral returns the integral of 1+noise over [0, x].
func (w *noise) integral(x float64) float64 {
	sum := x
	for _, v := range w {
		sum += v.amp / v.w * (math.Cos(v.phase) - math.Cos(v.w*x+v.phase))
	}
	return sum
}

// count returns the series' request count x seconds after the start.
func (s *Shop) count(sr *series, x float64) float64 {
	n := sr.rate * sr.noise.integral(x)
	if sr.spikes {
		n += sr.rate * (SpikeFactor - 1) * s.spikeSeconds(x)
	}
	return n
}

// ServeHTTP implements http.Handler.
func (s *Shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.api.ServeHTTP(w, r)
		return
	}
	if r.URL.Path != "/" && r.URL.Path != "/metrics" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, indexPage)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.WriteMetrics(w, s.now())
}

const indexPage = `<!doctype html>
<title>Watchdog demo shop</title>
<h1>Watchdog demo shop</h1>
<p>A simulated web shop. Its <a href="/metrics">metrics</a> show steady traffic
on /login, /cart and /checkout, and every few minutes a burst of /login errors
with slow logins for Watchdog to alert on. Its checkout API (POST /api/login,
POST /api/cart/items, GET /api/cart/{id}) is probed by a journey, and adding to
the cart breaks for a minute every few minutes.</p>
`

// WriteMetrics writes the shop's metrics as they are at t in the Prometheus
// text format 0.0.4.
func (s *Shop) WriteMetrics(w io.Writer, t time.Time) error {
	x := s.elapsed(t)
	bw := bufio.NewWriter(w)
	var b []byte

	b = append(b, "# HELP shop_http_requests_total Requests served by the shop, by handler, method and status code.\n"...)
	b = append(b, "# TYPE shop_http_requests_total counter\n"...)
	for i := range s.series {
		sr := &s.series[i]
		b = append(b, `shop_http_requests_total{handler="`...)
		b = append(b, sr.handler...)
		b = append(b, `",method="`...)
		b = append(b, sr.method...)
		b = append(b, `",code="`...)
		b = append(b, sr.code...)
		b = append(b, `"} `...)
		b = strconv.AppendFloat(b, math.Floor(s.count(sr, x)), 'f', -1, 64)
		b = append(b, '\n')
	}

	b = append(b, "# HELP shop_http_request_duration_seconds Time taken to serve a request, by handler.\n"...)
	b = append(b, "# TYPE shop_http_request_duration_seconds histogram\n"...)
	for i := range s.handlers {
		b = s.appendHistogram(b, &s.handlers[i], x)
	}

	cart := 40.0
	for _, v := range s.cart {
		cart += v.amp * math.Sin(v.w*x+v.phase)
	}
	b = append(b, "# HELP shop_cart_items_in_progress Items sitting in open shopping carts.\n"...)
	b = append(b, "# TYPE shop_cart_items_in_progress gauge\n"...)
	b = append(b, "shop_cart_items_in_progress "...)
	b = strconv.AppendFloat(b, math.Round(cart), 'f', -1, 64)
	b = append(b, '\n')

	b = append(b, "# HELP shop_inventory_items Items in stock; the warehouse restocks every 30 minutes.\n"...)
	b = append(b, "# TYPE shop_inventory_items gauge\n"...)
	b = append(b, "shop_inventory_items "...)
	b = strconv.AppendFloat(b, s.inventory(x), 'f', -1, 64)
	b = append(b, '\n')

	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

// Inventory: full stock after every restock, one item gone per checkout.
const (
	fullStock    = 6000
	restockEvery = 1800 // seconds
)

func (s *Shop) inventory(x float64) float64 {
	var checkout *series
	for i := range s.series {
		if sr := &s.series[i]; sr.handler == "/checkout" && sr.code == "200" {
			checkout = sr
		}
	}
	last := math.Floor(x/restockEvery) * restockEvery
	sold := math.Floor(s.count(checkout, x)) - math.Floor(s.count(checkout, last))
	return max(fullStock-sold, 0)
}

func (s *Shop) appendHistogram(b []byte, h *handlerLatency, x float64) []byte {
	var total, base float64
	for i := range s.series {
		if sr := &s.series[i]; sr.handler == h.name {
			total += s.count(sr, x)
			base += sr.rate
		}
	}
	// slow requests were served during spikes with the slow distribution.
	slow := h.slowShare * base * s.spikeSeconds(x)
	normal := total - slow

	prefix := `shop_http_request_duration_seconds_bucket{handler="` + h.name + `",le="`
	for _, le := range buckets {
		n := normal*lognormalCDF(le, h.median, h.sigma) + slow*lognormalCDF(le, h.slowMedian, h.slowSigma)
		b = append(b, prefix...)
		b = strconv.AppendFloat(b, le, 'f', -1, 64)
		b = append(b, `"} `...)
		b = strconv.AppendFloat(b, math.Floor(n), 'f', -1, 64)
		b = append(b, '\n')
	}
	b = append(b, prefix...)
	b = append(b, `+Inf"} `...)
	b = strconv.AppendFloat(b, math.Floor(total), 'f', -1, 64)
	b = append(b, '\n')

	sum := normal*lognormalMean(h.median, h.sigma) + slow*lognormalMean(h.slowMedian, h.slowSigma)
	b = append(b, `shop_http_request_duration_seconds_sum{handler="`...)
	b = append(b, h.name...)
	b = append(b, `"} `...)
	b = strconv.AppendFloat(b, math.Round(sum*1000)/1000, 'f', -1, 64)
	b = append(b, '\n')
	b = append(b, `shop_http_request_duration_seconds_count{handler="`...)
	b = append(b, h.name...)
	b = append(b, `"} `...)
	b = strconv.AppendFloat(b, math.Floor(total), 'f', -1, 64)
	return append(b, '\n')
}

// lognormalCDF is the share of a log-normal latency with the given median
// and sigma at or below le.
func lognormalCDF(le, median, sigma float64) float64 {
	return 0.5 * math.Erfc(-(math.Log(le)-math.Log(median))/(sigma*math.Sqrt2))
}

func lognormalMean(median, sigma float64) float64 {
	return median * math.Exp(sigma*sigma/2)
}
