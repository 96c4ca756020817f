// Package web serves Watchdog's Prometheus-compatible HTTP API.
//
// The handler speaks the same JSON envelope and status codes as Prometheus's
// /api/v1 so that Grafana's Prometheus data source and promtool-style clients
// work unchanged:
//
//	{"status":"success","data":...,"warnings":[...]}
//	{"status":"error","errorType":"bad_data","error":"..."}
//
// It also serves /metrics, the /-/healthy, /-/ready and /-/reload lifecycle
// endpoints, and counts requests and query latency in a VictoriaMetrics set.
// The package depends on no other Watchdog package: storage comes in as a
// storage.Queryable, targets through a TargetsFunc and a DroppedTargetsFunc,
// and reloads through a plain function.
package web

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/watchdog-sre/watchdog/internal/querylimit"
	"github.com/watchdog-sre/watchdog/internal/selfmetrics"
)

// MaxRequestBodyBytes bounds the body of any request the handler reads.
const MaxRequestBodyBytes = 1 << 20

// Options configures a Handler. The zero value is safe: it serves an empty
// storage, no targets, refuses every state-changing call and is always ready.
type Options struct {
	// Queryable is the storage queries and metadata look-ups read. Nil serves
	// an empty storage.
	Queryable storage.Queryable
	// Engine evaluates PromQL. Nil builds one with EngineOpts(Limits).
	Engine *promql.Engine
	// Limits bound the queries of /api/v1/query, query_range, format_query
	// and RangeQuery before the engine sees them: length, nesting, points
	// per series, concurrency and timeout (see package querylimit). Zero
	// fields take querylimit's defaults. MaxSamples only applies to an
	// Engine built here; build Engine with EngineOpts(Limits) to keep both
	// in step.
	Limits querylimit.Limits
	// Targets lists the scrape targets for /api/v1/targets. Nil lists none.
	Targets TargetsFunc
	// DroppedTargets lists the targets relabelling dropped, for
	// /api/v1/targets. Nil lists none.
	DroppedTargets DroppedTargetsFunc
	// Rules lists the rule groups for /api/v1/rules and /api/v1/alerts. Nil
	// lists none.
	Rules RulesFunc
	// Metadata lists the scraped metadata of the active targets for
	// /api/v1/metadata and /api/v1/targets/metadata. Nil lists none.
	Metadata MetadataFunc
	// Exemplars answers /api/v1/query_exemplars. Nil answers none.
	Exemplars ExemplarQuerier
	// Reload is called by POST or PUT /-/reload. Nil answers that reload is
	// not configured.
	Reload func() error
	// Ready reports whether /-/ready should answer 200. Nil means always ready.
	Ready func() bool
	// NotReady says why /-/ready answers 503 (such as "the pager is down:
	// pages are not being sent"), after "Service Unavailable: "; nil or ""
	// says nothing more.
	NotReady func() string
	// Token is the bearer token every state-changing request must carry in an
	// "Authorization: Bearer <token>" header. Read-only endpoints that
	// Prometheus also accepts as POST (query, query_range, series, labels...)
	// need no token. An empty Token refuses all state-changing requests.
	Token string
	// BuildInfo is served by /api/v1/status/buildinfo. An empty GoVersion is
	// filled from the running binary.
	BuildInfo BuildInfo
	// Flags are the command-line flags, name to value, served by
	// /api/v1/status/flags. Nil serves none.
	Flags map[string]string
	// Config returns the running configuration as YAML for
	// /api/v1/status/config, its secrets already redacted. Nil serves "".
	Config func() string
	// Runtime returns what /api/v1/status/runtimeinfo says of the process
	// that the handler cannot know: start time, the last reload and the
	// retention. Nil leaves them zero.
	Runtime func() RuntimeInfo
	// TSDBStatus returns the store's cardinality for /api/v1/status/tsdb,
	// with at most limit entries per top list. Nil serves an empty store.
	TSDBStatus func(limit int) TSDBStatus
	// Alertmanagers lists the URLs alerts are sent to, for
	// /api/v1/alertmanagers. Nil lists none.
	Alertmanagers func() []string
	// Admin carries out /api/v1/admin/tsdb/{snapshot,delete_series,
	// clean_tombstones}; nil answers them 503 "admin APIs disabled".
	Admin Admin
	// Metrics receives the handler's own metrics; /metrics writes this set
	// and the process-wide default set. Nil uses a private set.
	Metrics *metrics.Set
	// Logger logs failures to write responses and reload errors. Nil
	// discards logs.
	Logger *slog.Logger
	// Now is the clock giving the default time of instant queries. Nil means
	// time.Now.
	Now func() time.Time
}

// BuildInfo describes the running binary, in the shape of Prometheus's
// /api/v1/status/buildinfo.
type BuildInfo struct {
	// Version is the Prometheus version clients should take the API for;
	// empty means PrometheusVersion.
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
	// WatchdogVersion is the watchdog's own version (an addition to
	// Prometheus's shape, which clients ignore).
	WatchdogVersion string `json:"watchdogVersion,omitempty"`
}

// DefaultEngineOpts returns the engine options New uses when Options.Engine
// and Options.Limits are zero: EngineOpts of the default limits (50 million
// samples, a two minute timeout, a one minute default subquery step), a five
// minute lookback, and the @ modifier and negative offsets enabled.
func DefaultEngineOpts() promql.EngineOpts {
	return EngineOpts(querylimit.Limits{})
}

// Handler is the http.Handler serving the API. Build it with New and add
// routes with Handle.
type Handler struct {
	mux       *http.ServeMux
	queryable storage.Queryable
	engine    *promql.Engine
	parser    parser.Parser
	targets   TargetsFunc
	dropped   DroppedTargetsFunc
	meta      MetadataFunc
	exemplars ExemplarQuerier
	reload    func() error
	ready     func() bool
	notReady  func() string
	token     []byte
	buildInfo BuildInfo
	metrics   *metrics.Set
	logger    *slog.Logger
	now       func() time.Time
	admission *admission
	status    statusOptions
	// people verifies personal tokens and sessions; nil until
	// EnablePager is given one.
	people   People
	failures failures
	// remoteWrite is the remote-write receiver, nil until EnableRemoteWrite.
	remoteWrite *remoteWriter
}

// New returns a Handler serving every endpoint described in the package
// comment.
func New(opts Options) *Handler {
	h := &Handler{
		mux:       http.NewServeMux(),
		queryable: opts.Queryable,
		engine:    opts.Engine,
		parser:    parser.NewParser(parser.Options{}),
		targets:   opts.Targets,
		dropped:   opts.DroppedTargets,
		meta:      opts.Metadata,
		exemplars: opts.Exemplars,
		reload:    opts.Reload,
		ready:     opts.Ready,
		notReady:  opts.NotReady,
		token:     []byte(opts.Token),
		buildInfo: opts.BuildInfo,
		metrics:   opts.Metrics,
		logger:    opts.Logger,
		now:       opts.Now,
		status: statusOptions{flags: opts.Flags, config: opts.Config, runtime: opts.Runtime,
			tsdb: opts.TSDBStatus, alertmanagers: opts.Alertmanagers, admin: opts.Admin},
	}
	if h.queryable == nil {
		h.queryable = emptyQueryable{}
	}
	if h.engine == nil {
		h.engine = promql.NewEngine(EngineOpts(opts.Limits))
	}
	if h.targets == nil {
		h.targets = func() []Target { return nil }
	}
	if h.dropped == nil {
		h.dropped = func() ([]DroppedTarget, map[string]int) { return nil, nil }
	}
	if h.ready == nil {
		h.ready = func() bool { return true }
	}
	if h.buildInfo.Version == "" {
		h.buildInfo.Version = PrometheusVersion
	}
	if h.buildInfo.GoVersion == "" {
		h.buildInfo.GoVersion = runtime.Version()
	}
	if h.metrics == nil {
		h.metrics = metrics.NewSet()
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.admission = newAdmission(opts.Limits, h.parser, h.metrics)
	h.routes()
	h.statusRoutes()
	h.Handle("GET /api/v1/rules", h.wrap(h.rulesList(opts.Rules)))
	h.Handle("GET /api/v1/alerts", h.wrap(alertsList(opts.Rules)))
	return h
}

func (h *Handler) routes() {
	api := func(pattern string, f apiFunc) { h.Handle(pattern, h.wrap(f)) }
	for _, m := range []string{"GET ", "POST "} {
		api(m+"/api/v1/query", h.query)
		api(m+"/api/v1/query_range", h.queryRange)
		api(m+"/api/v1/format_query", h.formatQuery)
		api(m+"/api/v1/series", h.series)
		api(m+"/api/v1/labels", h.labelNames)
		api(m+"/api/v1/query_exemplars", h.queryExemplars)
	}
	api("GET /api/v1/label/{name}/values", h.labelValues)
	api("GET /api/v1/targets", h.targetsList)
	api("GET /api/v1/status/buildinfo", h.serveBuildInfo)
	api("GET /api/v1/metadata", h.metadata)
	api("GET /api/v1/targets/metadata", h.targetMetadata)

	h.Handle("GET /metrics", http.HandlerFunc(h.serveMetrics))
	h.Handle("GET /-/healthy", http.HandlerFunc(h.serveHealthy))
	h.Handle("GET /-/ready", http.HandlerFunc(h.serveReady))
	h.Handle("POST /-/reload", http.HandlerFunc(h.serveReload))
	h.Handle("PUT /-/reload", http.HandlerFunc(h.serveReload))
	h.pprofRoutes()
}

// readOnlyPaths are the endpoints Prometheus answers to POST without changing
// any state; they need no token.
var readOnlyPaths = map[string]bool{
	"/api/v1/query":           true,
	"/api/v1/query_range":     true,
	"/api/v1/format_query":    true,
	"/api/v1/parse_query":     true,
	"/api/v1/series":          true,
	"/api/v1/labels":          true,
	"/api/v1/query_exemplars": true,
}

// Handle registers h for pattern, a net/http.ServeMux pattern such as
// "GET /api/v1/rules". The handler gets the same request counting, body limit
// and token check as the built-in routes: any method other than GET, HEAD and
// OPTIONS needs the bearer token.
func (h *Handler) Handle(pattern string, handler http.Handler) {
	h.handle(pattern, MaxRequestBodyBytes, handler)
}

// handle is Handle with the body limit maxBody.
func (h *Handler) handle(pattern string, maxBody int64, handler http.Handler) {
	path := pattern
	if i := strings.IndexByte(path, ' '); i >= 0 {
		path = strings.TrimSpace(path[i+1:])
	}
	requests := func(code int) *metrics.Counter {
		return h.metrics.GetOrCreateCounter(`watchdog_http_requests_total{handler=` +
			strconv.Quote(path) + `,code="` + strconv.Itoa(code) + `"}`)
	}
	duration := h.metrics.GetOrCreatePrometheusHistogram(
		`watchdog_http_request_duration_seconds{handler=` + strconv.Quote(path) + `}`)
	h.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			duration.UpdateDuration(start)
			requests(rec.code).Inc()
		}()
		if r.Body != nil {
			r.Body = http.MaxBytesReader(rec, r.Body, maxBody)
		}
		if changesState(r.Method, path) {
			var ok bool
			if r, ok = h.authorize(rec, r, path); !ok {
				return
			}
		}
		handler.ServeHTTP(rec, r)
	}))
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

func changesState(method, path string) bool {
	if tokenPath(path) {
		return true
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	case http.MethodPost:
		return !readOnlyPaths[path]
	}
	return true
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header. The scheme name is case-insensitive (RFC 7235 §2.1: "bearer",
// "BEARER" and "Bearer" are the same) and the spaces around the token do
// not count. Every token check of the watchdog goes through it.
func BearerToken(h http.Header) (string, bool) {
	header := h.Get("Authorization")
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.code = code
		s.wroteHeader = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// serveMetrics writes the handler's set and the process-wide default set
// with the HELP and TYPE lines their packages describe (package
// selfmetrics), then the Go runtime and process families.
func (h *Handler) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	var buf bytes.Buffer
	h.metrics.WritePrometheus(&buf)
	metrics.WritePrometheus(&buf, false)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	undescribed, err := selfmetrics.Write(w, buf.Bytes())
	if err == nil {
		err = selfmetrics.WriteRuntime(w)
	}
	if err != nil {
		h.logger.Debug("write metrics", "err", err)
	}
	if len(undescribed) > 0 {
		h.logger.Debug("metric families without help text", "families", strings.Join(undescribed, ","))
	}
}

func (h *Handler) serveHealthy(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "Watchdog is Healthy.\n")
}

func (h *Handler) serveReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !h.ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
		why := ""
		if h.notReady != nil {
			why = h.notReady()
		}
		if why != "" {
			why = ": " + why
		}
		io.WriteString(w, "Service Unavailable"+why+"\n")
		return
	}
	io.WriteString(w, "Watchdog is Ready.\n")
}

func (h *Handler) serveReload(w http.ResponseWriter, _ *http.Request) {
	if h.reload == nil {
		http.Error(w, "reload not configured", http.StatusNotImplemented)
		return
	}
	if err := h.reload(); err != nil {
		h.logger.Error("reload failed", "err", err)
		http.Error(w, "failed to reload config: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}
