package ui

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/web"
)

type annotationRow struct {
	Key, Value string
	// URL is Value when it is an http(s) URL, the only kind made a link.
	URL string
}

type incidentAlertRow struct {
	Name         string
	Fingerprint  string
	Status       string
	Labels       []kv
	Annotations  []annotationRow
	StartsAt     time.Time
	EndsAt       time.Time
	SuppressedBy string
	GeneratorURL string
}

type incidentGraph struct {
	Alert     string
	Expr      string
	GraphExpr string
	Threshold string
	Err       string
	Chart     *chart
}

type incidentData struct {
	St       pager.IncidentState
	Holder   string
	Alerts   []incidentAlertRow
	Timeline []pager.TimelineEntry
	Graphs   []incidentGraph
	// Can* say which actions the state allows; the buttons of the others
	// are disabled (the API would answer 409).
	CanAck, CanResolve, CanEscalate, CanSnooze bool
	GraphsEnabled                              bool
	// User and CSRF are the signed-in person and their forms' CSRF
	// token; "" when nobody is signed in.
	User, CSRF string
	// SignIn offers the sign-in link (the console has sessions).
	SignIn bool
	// Updates are the incident's public status updates, newest first.
	Updates []pager.StatusUpdate
}

// errNoPager answers the incident pages when the pager is off.
var errNoPager = errors.New("the pager is not configured: add a pager: section to the configuration")

func (c *console) loadIncident(w http.ResponseWriter, r *http.Request) (pager.IncidentState, []pager.TimelineEntry, bool) {
	if c.o.Pager == nil {
		c.fail(w, http.StatusNotFound, errNoPager.Error())
		return pager.IncidentState{}, nil, false
	}
	id := r.PathValue("id")
	st, tl, err := c.o.Pager.Incident(id)
	switch {
	case errors.Is(err, pager.ErrNotFound):
		c.fail(w, http.StatusNotFound, "no incident "+id)
		return st, nil, false
	case err != nil:
		c.fail(w, http.StatusInternalServerError, "incident "+id+": "+err.Error())
		return st, nil, false
	}
	return st, tl, true
}

func (c *console) incident(w http.ResponseWriter, r *http.Request) {
	st, tl, ok := c.loadIncident(w, r)
	if !ok {
		return
	}
	now := c.o.Now()
	d := incidentData{St: st, Holder: c.holder(&st, now), Timeline: tl, GraphsEnabled: c.o.RangeQuery != nil,
		CanAck: st.Status == pager.StatusTriggered, CanResolve: st.Open(), CanEscalate: st.Open(), CanSnooze: st.Open()}
	for _, a := range st.Alerts {
		row := incidentAlertRow{Name: a.Labels["alertname"], Fingerprint: a.Fingerprint, Status: "firing",
			Labels: pairs(a.Labels), StartsAt: a.StartsAt, EndsAt: a.EndsAt, SuppressedBy: a.SuppressedBy,
			GeneratorURL: linkURL(a.GeneratorURL)}
		if a.Ended {
			row.Status = "resolved"
		}
		for _, p := range pairs(a.Annotations) {
			row.Annotations = append(row.Annotations, annotationRow{Key: p.Key, Value: p.Value, URL: linkURL(p.Value)})
		}
		d.Alerts = append(d.Alerts, row)
	}
	if c.o.Session != nil {
		d.SignIn = true
		d.User, d.CSRF, _ = c.o.Session(r)
	}
	if d.GraphsEnabled {
		d.Graphs = c.incidentGraphs(r.Context(), &st, now)
	}
	if su, ok := c.o.Pager.(statusUpdateLister); ok {
		var err error
		if d.Updates, err = su.StatusUpdates(st.ID, pager.MaxStatusUpdates); err != nil {
			c.o.Logger.Error("incident page: read status updates", "incident", st.ID, "err", err)
		}
	}
	c.render(w, http.StatusOK, "incident", pageData{Title: "Incident " + st.ID, Nav: "overview", Data: d})
}

// incidentGraphs draws, for each alert name of the incident, its rule's
// expression over the last hour (the hour before resolution for a
// resolved incident), keeping the series that match the incident's
// alerts, with the threshold of "expr > N" drawn.
func (c *console) incidentGraphs(ctx context.Context, st *pager.IncidentState, now time.Time) []incidentGraph {
	exprs := c.ruleExprs()
	end := now
	if st.Status == pager.StatusResolved && !st.ResolvedAt.IsZero() && st.ResolvedAt.Add(10*time.Minute).Before(now) {
		end = st.ResolvedAt.Add(10 * time.Minute)
	}
	start := end.Add(-incidentGraphRange)
	step := graphStep(incidentGraphRange)
	var out []incidentGraph
	seen := map[string]bool{}
	for _, a := range st.Alerts {
		name := a.Labels["alertname"]
		expr := exprs[name]
		if expr == "" {
			expr = generatorExpr(a.GeneratorURL)
		}
		if expr == "" || seen[name+"\x00"+expr] || len(out) == maxIncidentGraphExpr {
			continue
		}
		seen[name+"\x00"+expr] = true
		g := incidentGraph{Alert: name, Expr: expr}
		if err := c.o.CheckQuery(expr); err != nil {
			g.Err = err.Error()
			out = append(out, g)
			continue
		}
		if !isPromQL(expr) {
			g.Err = "not a PromQL expression (a native condition): no graph"
			out = append(out, g)
			continue
		}
		graphExpr, threshold := splitThreshold(c.parser, expr)
		g.GraphExpr = graphExpr
		if threshold != nil {
			g.Threshold = formatValue(*threshold)
		}
		qctx, cancel := context.WithTimeout(ctx, graphQueryTimeout)
		m, err := c.o.RangeQuery(qctx, graphExpr, start, end, step)
		cancel()
		if err != nil {
			g.Err = err.Error()
		} else {
			g.Chart = buildChart(matching(m, st.Alerts, name), start, end, step, threshold)
		}
		out = append(out, g)
	}
	return out
}

// ruleExprs maps alerting rule names to the expressions that graph them:
// the PromQL form of a native rule's $value where it has one.
func (c *console) ruleExprs() map[string]string {
	out := map[string]string{}
	for _, g := range c.ruleGroups() {
		for _, r := range g.Rules {
			if r.Type == web.RuleTypeAlerting {
				if _, dup := out[r.Name]; !dup {
					out[r.Name] = r.Query
					if r.GraphQuery != "" {
						out[r.Name] = r.GraphQuery
					}
				}
			}
		}
	}
	return out
}

// generatorExpr is the g0.expr of a Prometheus-style generator URL.
func generatorExpr(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Query().Get("g0.expr")
}

// matching keeps the series whose labels agree with the labels of one of
// the incident's alerts called name; all of m when none does.
func matching(m promql.Matrix, alerts []pager.IncidentAlert, name string) promql.Matrix {
	var out promql.Matrix
	for _, s := range m {
		for _, a := range alerts {
			if a.Labels["alertname"] != name {
				continue
			}
			ok := true
			s.Metric.Range(func(l labelPair) {
				if v, has := a.Labels[l.Name]; has && v != l.Value {
					ok = false
				}
			})
			if ok {
				out = append(out, s)
				break
			}
		}
	}
	if len(out) == 0 {
		return m
	}
	return out
}

// ---- postmortem ----

type postmortemData struct {
	St       pager.IncidentState
	Markdown string
	// Doc is the stored document; nil before one is created.
	Doc      *pager.Postmortem
	Sections []pmSection
	Users    []string
	// History lists the previous versions, newest first.
	History []pager.PostmortemRevision
	Now     time.Time
	// User and CSRF are the signed-in person and their forms' token.
	User, CSRF string
	SignIn     bool
}

// pmSection is one section of the document: its Markdown and its
// sanitised HTML (web.RenderMarkdown).
type pmSection struct {
	Key, Heading, Markdown string
	HTML                   template.HTML
}

func (c *console) postmortem(w http.ResponseWriter, r *http.Request) {
	st, tl, ok := c.loadIncident(w, r)
	if !ok {
		return
	}
	d := postmortemData{St: st, Markdown: c.o.Postmortem(st, tl), Now: c.o.Now()}
	if c.o.Session != nil {
		d.SignIn = true
		d.User, d.CSRF, _ = c.o.Session(r)
	}
	if c.o.Postmortems != nil {
		pm, err := c.o.Postmortems.Postmortem(st.ID)
		switch {
		case err == nil:
			d.Doc = &pm
			d.History = slices.Clone(pm.History)
			slices.Reverse(d.History)
		case !errors.Is(err, pager.ErrNotFound):
			c.fail(w, http.StatusInternalServerError, "postmortem "+st.ID+": "+err.Error())
			return
		}
		secs := web.DraftSections(st, tl)
		if d.Doc != nil {
			secs = d.Doc.Sections
		}
		for _, sec := range pager.PostmortemSectionList {
			md := *sec.Field(&secs)
			// RenderMarkdown's output is sanitised (bluemonday UGC policy).
			d.Sections = append(d.Sections, pmSection{Key: sec.Key, Heading: sec.Heading, Markdown: md,
				HTML: template.HTML(web.RenderMarkdown(md))}) //nolint:gosec // sanitised above
		}
		if c.o.PagerConfig != nil {
			if cfg := c.o.PagerConfig(); cfg != nil {
				for _, u := range cfg.Users {
					d.Users = append(d.Users, u.Name)
				}
			}
		}
	}
	c.render(w, http.StatusOK, "postmortem", pageData{Title: "Postmortem " + st.ID, Nav: "overview", Data: d})
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func (c *console) postmortemMarkdown(w http.ResponseWriter, r *http.Request) {
	st, tl, ok := c.loadIncident(w, r)
	if !ok {
		return
	}
	name := "postmortem-" + unsafeFileChars.ReplaceAllString(st.ID, "_") + ".md"
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	if c.o.Postmortems != nil {
		if pm, err := c.o.Postmortems.Postmortem(st.ID); err == nil {
			_, _ = w.Write([]byte(web.PostmortemMarkdown(&pm)))
			return
		}
	}
	_, _ = w.Write([]byte(c.o.Postmortem(st, tl)))
}
