package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// PrometheusVersion is the version /api/v1/status/buildinfo reports when
// Options.BuildInfo.Version is empty: the newest Prometheus version
// Grafana's data source recognises (its version detection picks the
// closest known version of the same minor release, and 2.50.1 is its
// "> 2.50.x" entry, the one with every feature on). The watchdog's own
// version is in BuildInfo.WatchdogVersion.
const PrometheusVersion = "2.50.1"

// MaxTSDBStatusLimit bounds the limit parameter of /api/v1/status/tsdb, as
// in Prometheus.
const MaxTSDBStatusLimit = 10000

// ErrUnsupported is wrapped by an Admin error for a request the store
// cannot carry out as asked (such as deleting part of a series); the API
// answers 400 bad_data with the message.
var ErrUnsupported = errors.New("unsupported")

// RuntimeInfo is the data of /api/v1/status/runtimeinfo. The handler fills
// CWD, Hostname, ServerTime and the Go runtime fields itself.
type RuntimeInfo struct {
	StartTime           time.Time `json:"startTime"`
	CWD                 string    `json:"CWD"`
	Hostname            string    `json:"hostname"`
	ServerTime          time.Time `json:"serverTime"`
	ReloadConfigSuccess bool      `json:"reloadConfigSuccess"`
	LastConfigTime      time.Time `json:"lastConfigTime"`
	CorruptionCount     int64     `json:"corruptionCount"`
	GoroutineCount      int       `json:"goroutineCount"`
	GOMAXPROCS          int       `json:"GOMAXPROCS"`
	GOMEMLIMIT          int64     `json:"GOMEMLIMIT"`
	GOGC                string    `json:"GOGC"`
	GODEBUG             string    `json:"GODEBUG"`
	StorageRetention    string    `json:"storageRetention"`
}

// TSDBStat is one entry of a cardinality top list.
type TSDBStat struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
}

// HeadStats are the store's totals in /api/v1/status/tsdb.
type HeadStats struct {
	NumSeries     uint64 `json:"numSeries"`
	NumLabelPairs int    `json:"numLabelPairs"`
	ChunkCount    int64  `json:"chunkCount"`
	MinTime       int64  `json:"minTime"`
	MaxTime       int64  `json:"maxTime"`
}

// TSDBStatus is the data of /api/v1/status/tsdb, in Prometheus's shape.
type TSDBStatus struct {
	HeadStats                   HeadStats  `json:"headStats"`
	SeriesCountByMetricName     []TSDBStat `json:"seriesCountByMetricName"`
	LabelValueCountByLabelName  []TSDBStat `json:"labelValueCountByLabelName"`
	MemoryInBytesByLabelName    []TSDBStat `json:"memoryInBytesByLabelName"`
	SeriesCountByLabelValuePair []TSDBStat `json:"seriesCountByLabelValuePair"`
}

// Admin carries out the admin endpoints under /api/v1/admin/tsdb/. They
// change state, so they need the API token.
type Admin interface {
	// Snapshot writes a snapshot of the store and returns its name.
	Snapshot(skipHead bool) (string, error)
	// DeleteSeries deletes the data of the series matching ms between mint
	// and maxt (milliseconds). An error wrapping ErrUnsupported is the
	// client's to fix.
	DeleteSeries(ctx context.Context, mint, maxt int64, ms ...*labels.Matcher) error
	// CleanTombstones drops deleted data for good.
	CleanTombstones() error
}

// statusOptions are the parts of Options the status endpoints read.
type statusOptions struct {
	flags         map[string]string
	config        func() string
	runtime       func() RuntimeInfo
	tsdb          func(limit int) TSDBStatus
	alertmanagers func() []string
	admin         Admin
}

func (h *Handler) statusRoutes() {
	api := func(pattern string, f apiFunc) { h.Handle(pattern, h.wrap(f)) }
	api("GET /api/v1/status/runtimeinfo", h.serveRuntimeInfo)
	api("GET /api/v1/status/flags", h.serveFlags)
	api("GET /api/v1/status/config", h.serveConfig)
	api("GET /api/v1/status/tsdb", h.serveTSDBStatus)
	api("GET /api/v1/status/tsdb/blocks", serveTSDBBlocks)
	api("GET /api/v1/status/walreplay", serveWALReplay)
	api("GET /api/v1/alertmanagers", h.serveAlertmanagers)
	for _, m := range []string{"GET ", "POST "} {
		api(m+"/api/v1/parse_query", h.parseQuery)
	}
	for _, m := range []string{"POST ", "PUT "} {
		api(m+"/api/v1/admin/tsdb/snapshot", h.adminSnapshot)
		api(m+"/api/v1/admin/tsdb/delete_series", h.adminDeleteSeries)
		api(m+"/api/v1/admin/tsdb/clean_tombstones", h.adminCleanTombstones)
	}
}

func (h *Handler) serveRuntimeInfo(*http.Request) apiResult {
	var info RuntimeInfo
	if h.status.runtime != nil {
		info = h.status.runtime()
	}
	info.CWD, _ = os.Getwd()
	info.Hostname, _ = os.Hostname()
	info.ServerTime = h.now().UTC()
	info.GoroutineCount = runtime.NumGoroutine()
	info.GOMAXPROCS = runtime.GOMAXPROCS(0)
	info.GOMEMLIMIT = debug.SetMemoryLimit(-1)
	info.GOGC = os.Getenv("GOGC")
	info.GODEBUG = os.Getenv("GODEBUG")
	return apiResult{data: info}
}

func (h *Handler) serveFlags(*http.Request) apiResult {
	flags := h.status.flags
	if flags == nil {
		flags = map[string]string{}
	}
	return apiResult{data: flags}
}

func (h *Handler) serveConfig(*http.Request) apiResult {
	yaml := ""
	if h.status.config != nil {
		yaml = h.status.config()
	}
	return apiResult{data: struct {
		YAML string `json:"yaml"`
	}{yaml}}
}

func (h *Handler) serveTSDBStatus(r *http.Request) apiResult {
	limit := 10
	if s := r.FormValue("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return apiResult{err: badData(errors.New("limit must be a positive number"))}
		}
		if n > MaxTSDBStatusLimit {
			return apiResult{err: badData(fmt.Errorf("limit must not exceed %d", MaxTSDBStatusLimit))}
		}
		limit = n
	}
	st := TSDBStatus{HeadStats: HeadStats{MinTime: math.MaxInt64, MaxTime: math.MinInt64}}
	if h.status.tsdb != nil {
		// A walk of the whole index: it takes a query slot, so that a
		// burst of these cannot take more CPU than queries may.
		ctx, cancel := context.WithTimeout(r.Context(), h.admission.timeout(0))
		defer cancel()
		release, err := h.admission.gate.Enter(ctx)
		if err != nil {
			return apiResult{err: admissionError(err)}
		}
		defer release()
		st = h.status.tsdb(limit)
	}
	for _, l := range []*[]TSDBStat{&st.SeriesCountByMetricName, &st.LabelValueCountByLabelName,
		&st.MemoryInBytesByLabelName, &st.SeriesCountByLabelValuePair} {
		if *l == nil {
			*l = []TSDBStat{}
		}
	}
	return apiResult{data: st}
}

// serveTSDBBlocks lists no blocks: the store keeps everything in memory.
func serveTSDBBlocks(*http.Request) apiResult {
	return apiResult{data: map[string][]struct{}{"blocks": {}}}
}

// serveWALReplay answers as Prometheus does once its replay is done: the
// store has no write-ahead log and is ready when it serves.
func serveWALReplay(*http.Request) apiResult {
	return apiResult{data: struct {
		Min     int `json:"min"`
		Max     int `json:"max"`
		Current int `json:"current"`
	}{}}
}

// alertmanagerTarget is one entry of /api/v1/alertmanagers.
type alertmanagerTarget struct {
	URL string `json:"url"`
}

func (h *Handler) serveAlertmanagers(*http.Request) apiResult {
	active := []alertmanagerTarget{}
	if h.status.alertmanagers != nil {
		for _, u := range h.status.alertmanagers() {
			active = append(active, alertmanagerTarget{URL: u})
		}
	}
	return apiResult{data: struct {
		Active  []alertmanagerTarget `json:"activeAlertmanagers"`
		Dropped []alertmanagerTarget `json:"droppedAlertmanagers"`
	}{active, []alertmanagerTarget{}}}
}

// parseQuery answers the expression tree of the query, bounded by the same
// admission as format_query.
func (h *Handler) parseQuery(r *http.Request) apiResult {
	return h.withParsedQuery(r, func(expr parser.Expr) any { return jsonAST(expr) })
}

// adminDisabled is the answer of the admin endpoints without an Admin, as
// Prometheus answers them without --web.enable-admin-api.
func adminDisabled() *apiError {
	return &apiError{typ: errorUnavailable, msg: "admin APIs disabled"}
}

func (h *Handler) adminSnapshot(r *http.Request) apiResult {
	if h.status.admin == nil {
		return apiResult{err: adminDisabled()}
	}
	if e := parseForm(r); e != nil {
		return apiResult{err: e}
	}
	skipHead := false
	if v := r.FormValue("skip_head"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return apiResult{err: invalidParam("skip_head", fmt.Errorf("unable to parse boolean: %w", err))}
		}
		skipHead = b
	}
	name, err := h.status.admin.Snapshot(skipHead)
	if err != nil {
		return apiResult{err: adminFailure("create snapshot", err)}
	}
	return apiResult{data: struct {
		Name string `json:"name"`
	}{name}}
}

func (h *Handler) adminDeleteSeries(r *http.Request) apiResult {
	if h.status.admin == nil {
		return apiResult{err: adminDisabled()}
	}
	if e := parseForm(r); e != nil {
		return apiResult{err: e}
	}
	if len(r.Form["match[]"]) == 0 {
		return apiResult{err: badData(errors.New("no match[] parameter provided"))}
	}
	p, e := h.parseRangeParams(r)
	if e != nil {
		return apiResult{err: e}
	}
	for _, ms := range p.matchers {
		if err := h.status.admin.DeleteSeries(r.Context(), p.start.UnixMilli(), p.end.UnixMilli(), ms...); err != nil {
			return apiResult{err: adminFailure("delete series", err)}
		}
	}
	return apiResult{}
}

func (h *Handler) adminCleanTombstones(*http.Request) apiResult {
	if h.status.admin == nil {
		return apiResult{err: adminDisabled()}
	}
	if err := h.status.admin.CleanTombstones(); err != nil {
		return apiResult{err: adminFailure("clean tombstones", err)}
	}
	return apiResult{}
}

// adminFailure maps an Admin error: the client's mistake (ErrUnsupported)
// is bad data, a canceled request keeps its type, the rest is internal.
func adminFailure(what string, err error) *apiError {
	switch {
	case errors.Is(err, ErrUnsupported):
		return badData(err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return classify(err)
	}
	return &apiError{typ: errorInternal, msg: what + ": " + err.Error()}
}
