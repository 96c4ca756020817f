// Package ui is Watchdog's web console and public status page: server-side
// HTML from html/template, with templates, CSS and a little plain
// JavaScript embedded in the binary (no build step, no CDN, works offline).
//
// Pages (every one reachable from the overview's navigation):
//
//	/                          overview: firing and pending alerts, open incidents, targets down, on call now
//	/incidents/{id}            an incident: alerts, runbooks, graphs, timeline, action buttons
//	/incidents/{id}/postmortem the postmortem draft; …/postmortem.md downloads it as Markdown
//	/alerts                    every rule group and rule with state, last evaluation, errors
//	/targets                   scrape health
//	/probes                    probes and journeys: health, steps, the last failure's reason and body
//	/heartbeats                heartbeats (check-ins): state, last success, next due, last message
//	/graph?expr=…&range=1h     a PromQL range query drawn as a server-side SVG chart
//	/oncall                    each schedule's next 14 days, overrides marked
//	/maintenance               scheduled maintenance windows: upcoming, in progress, past; forms to schedule and end
//	/status, /status.json      the public status page (read-only, no internal text)
//	/status/api/v2/summary.json the page shaped like Statuspage's public summary
//	/status/feed.atom          an Atom feed of the responders' public updates
//	/status/subscribe, /status/subscriptions/{confirm,unsubscribe}/{token}
//	                           e-mail subscriptions (double opt-in, one-click unsubscribe)
//
// The console only reads. A person signed in with a personal token
// (package web's /signin) acts through plain forms posted to
// /incidents/{id}/act with the session's CSRF token (package web serves
// them), and overrides through the /oncall page's form posted to
// /oncall/overrides, and maintenance windows through the /maintenance page's
// forms posted to /maintenance/act; otherwise incident actions are buttons whose script calls the
// token-protected JSON API (/api/v1/pager/…) with the token the user
// typed once per browser session (sessionStorage). The package's only
// state-changing routes are the public e-mail subscription forms of the
// status page (subscribe.go), which act on unguessable link tokens.
//
// The package reaches the rest of the watchdog only through the small
// function types and interfaces of Options, so tests stub them freely.
package ui

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/internal/querylimit"
	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/schedule"
	"github.com/watchdog-sre/watchdog/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Pager is what the console reads of the pager. *pager.Pager and web.Pager
// implement it. Methods may be called from any goroutine.
type Pager interface {
	Incidents(f pager.IncidentFilter) ([]pager.IncidentState, error)
	Incident(id string) (pager.IncidentState, []pager.TimelineEntry, error)
	WhoIsOnCall(target string, t time.Time) ([]pager.OnCall, error)
}

// PagerConfigFunc returns the pager's current configuration (schedules and
// routes), or nil.
type PagerConfigFunc func() *pager.Config

// StatusPageFunc returns the status_page section of the running
// configuration; the console compiles it again when the pointer changes (a
// reload). A nil result is the default page: one "All systems" component.
type StatusPageFunc func() *config.StatusPage

// RangeQueryFunc evaluates a PromQL expression from start to end every step.
type RangeQueryFunc func(ctx context.Context, expr string, start, end time.Time, step time.Duration) (promql.Matrix, error)

// PostmortemFunc renders an incident's Markdown postmortem draft.
type PostmortemFunc func(st pager.IncidentState, tl []pager.TimelineEntry) string

// PostmortemStore is what the console reads of postmortem documents.
type PostmortemStore interface {
	Postmortem(id string) (pager.Postmortem, error)
	ActionItems(f pager.ActionItemFilter) ([]pager.ActionItemRef, error)
}

// Options configure the console. The zero value is safe: no rules, no
// targets, no pager (the pager sections say so), no graphs.
type Options struct {
	Rules   web.RulesFunc
	Targets web.TargetsFunc
	// Probes lists the probes for /probes; nil lists none.
	Probes web.ProbesFunc
	// Pager and PagerConfig are nil when the pager is not configured.
	Pager       Pager
	PagerConfig PagerConfigFunc
	// Schedule returns a schedule with the overrides stored by the pager
	// applied (pager.Pager.EffectiveSchedule), for /oncall; nil, or a nil
	// answer, shows the configured schedule.
	Schedule func(name string) *schedule.Schedule
	// Cluster describes the pager's replicas on the overview; nil leaves
	// the line out.
	Cluster ClusterFunc
	// RangeQuery draws the graphs; nil disables them. Serve it with
	// (*web.Handler).RangeQuery so that graphs pass the API's admission
	// (limits, concurrency, timeout).
	RangeQuery RangeQueryFunc
	// CheckQuery checks the text of an expression before the console parses
	// it to split off an alert threshold; (*web.Handler).CheckQueryText is
	// the API's. Nil applies querylimit's default length and depth limits.
	CheckQuery func(expr string) error
	// Postmortem renders drafts; nil uses web.Postmortem.
	Postmortem PostmortemFunc
	// Postmortems reads the stored postmortem documents and action items
	// (*pager.Pager); nil shows only the generated draft.
	Postmortems PostmortemStore
	// Heartbeats lists the heartbeats (check-ins) for /heartbeats; nil
	// lists none.
	Heartbeats HeartbeatsFunc
	// StatusPage lists the public status page's components; nil is the
	// default page.
	StatusPage StatusPageFunc
	// Session returns the person signed in to the console on r and the
	// CSRF token their forms carry ((*web.Handler).ConsoleSession); nil
	// (or no session) shows the API-token buttons and a sign-in link.
	Session func(r *http.Request) (user, csrf string, ok bool)
	// StatusCacheTTL is how long the public status view (/status, its
	// JSON, summary and feed) is reused before the pager is read again
	// (default DefaultStatusCacheTTL; below zero, never reused).
	StatusCacheTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Mux is where Register adds its routes; *web.Handler is one, so the
// console's requests are counted like the API's.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// console serves the pages.
type console struct {
	o      Options
	pages  map[string]*template.Template
	status atomic.Pointer[statusConfig] // compiled from o.StatusPage's last result
	parser parser.Parser
	// healthGate lets one /health report run at a time.
	healthGate chan struct{}
	// statusCache holds the public status view for StatusCacheTTL.
	statusCache statusCache
}

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"overview", "incident", "postmortem", "alerts", "targets", "probes", "heartbeats", "graph", "oncall", "health", "status", "maintenance", "subscription", "error"}

// New returns the console's handler for tests and for callers that mount it
// themselves; Register is the usual way in.
func New(o Options) (http.Handler, error) {
	mux := http.NewServeMux()
	if err := Register(muxAdapter{mux}, o); err != nil {
		return nil, err
	}
	return mux, nil
}

type muxAdapter struct{ *http.ServeMux }

func (m muxAdapter) Handle(p string, h http.Handler) { m.ServeMux.Handle(p, h) }

// Register adds the console's routes to mux. It fails when the status
// page's matchers do not parse.
func Register(mux Mux, o Options) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Postmortem == nil {
		o.Postmortem = web.Postmortem
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CheckQuery == nil {
		o.CheckQuery = querylimit.Limits{}.CheckText
	}
	c := &console{o: o, pages: map[string]*template.Template{}, parser: promqlParser, healthGate: make(chan struct{}, 1)}
	sp := c.statusSource()
	sc, err := compileStatus(sp)
	if err != nil {
		return fmt.Errorf("status_page: %w", err)
	}
	c.status.Store(sc)
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/chart.html"))
	for _, name := range pageNames {
		c.pages[name] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+name+".html"))
	}

	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", withHeaders(files)))
	page := func(pattern string, f func(w http.ResponseWriter, r *http.Request)) {
		mux.Handle(pattern, withHeaders(http.HandlerFunc(f)))
	}
	page("GET /{$}", c.overview)
	page("GET /incidents/{id}", c.incident)
	page("GET /incidents/{id}/postmortem", c.postmortem)
	page("GET /incidents/{id}/postmortem.md", c.postmortemMarkdown)
	page("GET /alerts", c.alerts)
	page("GET /targets", c.targets)
	page("GET /probes", c.probes)
	page("GET /heartbeats", c.heartbeats)
	page("GET /graph", c.graph)
	page("GET /oncall", c.oncall)
	page("GET /health", c.healthPage)
	page("GET /maintenance", c.maintenancePage)
	page("GET /status", c.statusPage)
	page("GET /status.json", c.statusJSON)
	page("GET /status/api/v2/summary.json", c.statusSummary)
	page("GET /status/feed.atom", c.statusFeed)
	c.registerSubscriptions(mux)
	return nil
}

// withHeaders sets the security headers of every console response: no
// inline script or style, no framing, no referrer to runbook sites.
func withHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// pageData is what layout.html reads; Data is the page's own.
type pageData struct {
	Title string
	// Nav names the navigation entry to highlight.
	Nav string
	// Public pages (the status page) show no console navigation.
	Public bool
	// RefreshSeconds, when positive, reloads the page that often.
	RefreshSeconds int
	// Poll, when set, makes the script fetch this JSON URL every few
	// seconds and reload the page when its "digest" differs from Digest.
	Poll   string
	Digest string
	Now    time.Time
	Data   any
}

// render writes page name with code, buffering so that a template error
// becomes a clean 500.
func (c *console) render(w http.ResponseWriter, code int, name string, d pageData) {
	d.Now = c.o.Now()
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout.html", d); err != nil {
		c.o.Logger.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func (c *console) fail(w http.ResponseWriter, code int, msg string) {
	c.render(w, code, "error", pageData{Title: http.StatusText(code), Data: msg})
}

// labelMap turns a Prometheus label set into a map for the templates.
func labelMap(ls labels.Labels) map[string]string { return ls.Map() }

type labelPair = labels.Label
