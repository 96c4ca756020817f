package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Probe is one (probe, target) in /api/v1/probes.
type Probe struct {
	Probe  string            `json:"probe"`
	Target string            `json:"target"`
	Prober string            `json:"prober"`
	Module string            `json:"module,omitempty"`
	Labels map[string]string `json:"labels"`
	// Interval and Timeout are Prometheus duration strings such as "15s".
	Interval string `json:"interval"`
	Timeout  string `json:"timeout"`
	// Health is HealthUnknown (not run yet), HealthGood or HealthBad.
	Health  string    `json:"health"`
	LastRun time.Time `json:"lastRun"`
	// LastDuration is in seconds.
	LastDuration float64 `json:"lastDuration"`
	// Steps are a journey's steps in its last run (those after a failing
	// step did not run).
	Steps []ProbeStep `json:"steps,omitempty"`
	// LastFailure is the last failing run, kept after the probe recovers;
	// nil when it never failed.
	LastFailure *ProbeFailure `json:"lastFailure"`
	// Missed counts the runs skipped because the last one (or a free slot)
	// was still awaited.
	Missed int64 `json:"missedRuns"`
}

// ProbeStep is one step of a journey's last run.
type ProbeStep struct {
	Name    string `json:"name"`
	Success bool   `json:"success"`
	Status  int    `json:"status,omitempty"`
	// Duration is in seconds.
	Duration float64 `json:"duration"`
}

// ProbeFailure says why a probe failed: the journey step, the reason, the
// HTTP status and the start of the body (at most 1 KiB, printable).
type ProbeFailure struct {
	Time   time.Time `json:"time"`
	Step   string    `json:"step,omitempty"`
	Reason string    `json:"reason"`
	Status int       `json:"status,omitempty"`
	Body   string    `json:"body,omitempty"`
}

// ProbesFunc returns every configured (probe, target), sorted.
type ProbesFunc func() []Probe

// ProbeResult is a /probe run: its series in the text exposition format,
// whether it succeeded, and the failure's reason.
type ProbeResult struct {
	Text    []byte
	Success bool
	Failure string
}

// ProbeRunFunc runs the named module of probe_modules against target once,
// within timeout (0: the module's). An unknown module is
// ErrUnknownProbeModule.
type ProbeRunFunc func(ctx context.Context, module, target string, timeout time.Duration) (ProbeResult, error)

// ErrUnknownProbeModule is returned by a ProbeRunFunc for a module that is
// not configured.
var ErrUnknownProbeModule = errors.New("unknown module")

// ProbeOptions configure the probe endpoints.
type ProbeOptions struct {
	// Probes lists the probes for /api/v1/probes; nil lists none.
	Probes ProbesFunc
	// Run serves /probe; nil leaves it out.
	Run ProbeRunFunc
	// Open serves /probe without the API token. Off by default: /probe
	// makes the watchdog connect wherever it is told (server-side request
	// forgery), so only token holders may use it unless the operator opts
	// in (a Prometheus scraping it gives the token in its authorization).
	Open bool
}

// Bounds of /probe's parameters.
const (
	maxProbeModule = 256
	maxProbeTarget = 2048
	// probeTimeoutOffset is taken off Prometheus's scrape timeout header,
	// as blackbox_exporter's default timeout_offset.
	probeTimeoutOffset = 500 * time.Millisecond
)

// EnableProbes serves GET /api/v1/probes (every probe's state and last
// failure; ?probe=NAME and ?health=up|down|unknown filter it) and, with o.Run, GET /probe?module=…&target=… in
// blackbox_exporter's form: the series of one run as text, debug=true
// adding the failure's reason. /probe needs the bearer token unless o.Open.
func (h *Handler) EnableProbes(o ProbeOptions) {
	list := o.Probes
	if list == nil {
		list = func() []Probe { return nil }
	}
	h.Handle("GET /api/v1/probes", h.wrap(func(r *http.Request) apiResult {
		name, health := r.URL.Query().Get("probe"), r.URL.Query().Get("health")
		ps := []Probe{}
		for _, p := range list() {
			if (name == "" || p.Probe == name) && (health == "" || p.Health == health) {
				ps = append(ps, p)
			}
		}
		return apiResult{data: ps}
	}))
	if o.Run == nil {
		return
	}
	h.Handle("GET /probe", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !o.Open && !h.probeAuthorized(w, r) {
			return
		}
		h.serveProbe(w, r, o.Run)
	}))
}

func (h *Handler) probeAuthorized(w http.ResponseWriter, r *http.Request) bool {
	if len(h.token) == 0 {
		http.Error(w, "/probe is disabled: no API token is configured (or serve it open, see the README)", http.StatusForbidden)
		return false
	}
	got, ok := BearerToken(r.Header)
	if !ok || subtle.ConstantTimeCompare([]byte(got), h.token) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="watchdog"`)
		http.Error(w, "/probe needs the API bearer token", http.StatusUnauthorized)
		return false
	}
	return true
}

func (h *Handler) serveProbe(w http.ResponseWriter, r *http.Request, run ProbeRunFunc) {
	q := r.URL.Query()
	module, target := q.Get("module"), q.Get("target")
	switch {
	case module == "":
		http.Error(w, "Module parameter is missing", http.StatusBadRequest)
		return
	case target == "":
		http.Error(w, "Target parameter is missing", http.StatusBadRequest)
		return
	case len(module) > maxProbeModule || len(target) > maxProbeTarget:
		http.Error(w, "module or target too long", http.StatusBadRequest)
		return
	}
	var timeout time.Duration
	if v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		s, err := strconv.ParseFloat(v, 64)
		if err != nil || s <= 0 || s > 3600 {
			http.Error(w, fmt.Sprintf("Failed to parse timeout from Prometheus header: %q", v), http.StatusBadRequest)
			return
		}
		timeout = max(time.Duration(s*float64(time.Second))-probeTimeoutOffset, 100*time.Millisecond)
	}
	res, err := run(r.Context(), module, target, timeout)
	switch {
	case errors.Is(err, ErrUnknownProbeModule):
		http.Error(w, fmt.Sprintf("Unknown module %q", module), http.StatusBadRequest)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if q.Get("debug") == "true" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		status := "succeeded"
		if !res.Success {
			status = "failed: " + res.Failure
		}
		fmt.Fprintf(w, "Module %q against %q %s\n\nMetrics that would have been returned:\n", module, target, status)
		_, _ = w.Write(res.Text)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(res.Text)
}
