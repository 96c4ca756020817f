package web

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/pager"
)

// Alertmanager API v2 on the pager (api/v2/openapi.yaml of
// prometheus/alertmanager): the shapes of its answers, bare JSON without
// the Prometheus envelope, so that amtool, Grafana's Alertmanager data
// source and karma read the pager as an Alertmanager. Alerts are the
// firing alerts of open incidents, a route is a receiver of its own name
// (pager.Config.Receivers), silences are the pager's.

// Limits of the Alertmanager API's query parameters.
const (
	maxAMFilters       = 64
	maxAMReceiverRegex = 1024
)

// amVersion is the Alertmanager release whose API and matcher syntax the
// pager implements: the version of the alertmanager module the binary is
// built with (its matcher parser), this when the build has no module
// information.
const amVersion = "0.35.0"

type amReceiver struct {
	Name string `json:"name"`
}

type amAlertStatus struct {
	InhibitedBy []string `json:"inhibitedBy"`
	SilencedBy  []string `json:"silencedBy"`
	// MutedBy names time intervals muting the alert; the pager has none.
	MutedBy []string `json:"mutedBy"`
	State   string   `json:"state"` // unprocessed, active, suppressed
}

// amAlert is Alertmanager's gettableAlert.
type amAlert struct {
	Annotations  map[string]string `json:"annotations"`
	EndsAt       time.Time         `json:"endsAt"`
	Fingerprint  string            `json:"fingerprint"`
	Receivers    []amReceiver      `json:"receivers"`
	StartsAt     time.Time         `json:"startsAt"`
	Status       amAlertStatus     `json:"status"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
	Labels       map[string]string `json:"labels"`
}

// amAlertGroup is Alertmanager's alertGroup.
type amAlertGroup struct {
	Alerts []amAlert         `json:"alerts"`
	Labels map[string]string `json:"labels"`
	// RouteLabels are labels set on a route (Alertmanager 0.3x); pager
	// routes have none.
	RouteLabels map[string]string `json:"routeLabels"`
	Receiver    amReceiver        `json:"receiver"`
}

// writeAM writes v as Alertmanager does: bare JSON.
func writeAM(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(strconv.Quote("encode response: "+err.Error()))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// writeAMList writes items as writeAM writes the slice, the same bytes,
// but encoding one item at a time into a buffered writer: a list of
// 100,000 alerts (a GET /api/v2/alerts after a storm) is never held whole
// as one JSON document (64 MB, grown by doubling). An item that does not
// encode aborts the response, whose 200 is already sent.
func writeAMList[T any](w http.ResponseWriter, items []T) {
	if items == nil {
		writeAM(w, http.StatusOK, items)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	_ = bw.WriteByte('[')
	for i := range items {
		b, err := json.Marshal(&items[i])
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		if _, err := bw.Write(b); err != nil {
			return // the client went away
		}
	}
	_ = bw.WriteByte(']')
	_ = bw.Flush()
}

// amError writes an Alertmanager error: the message as a JSON string.
func amError(w http.ResponseWriter, code int, msg string) { writeAM(w, code, msg) }

// amPagerError maps the pager's errors onto Alertmanager's codes.
func amPagerError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, pager.ErrNotFound):
		amError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, pager.ErrInvalidSilence), errors.Is(err, pager.ErrMatcher):
		amError(w, http.StatusBadRequest, err.Error())
	default:
		amError(w, http.StatusInternalServerError, err.Error())
	}
}

// amFilter is the selection of GET /api/v2/alerts and /alerts/groups.
type amFilter struct {
	active, silenced, inhibited, unprocessed bool
	matchers                                 []*labels.Matcher
	receiver                                 *regexp.Regexp
}

// parseAMFilter reads filter (matchers, Alertmanager syntax), receiver (an
// anchored regular expression) and the state booleans, each true by
// default.
func parseAMFilter(r *http.Request) (amFilter, error) {
	f := amFilter{active: true, silenced: true, inhibited: true, unprocessed: true}
	q := r.URL.Query()
	// muted (groups muted by time intervals) is read and has no effect: the
	// pager has no time intervals.
	var muted bool
	for name, dst := range map[string]*bool{"active": &f.active, "silenced": &f.silenced, "inhibited": &f.inhibited,
		"unprocessed": &f.unprocessed, "muted": &muted} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return f, fmt.Errorf("parse %s: %w", name, err)
			}
			*dst = b
		}
	}
	ms, err := parseAMMatchers(q["filter"])
	if err != nil {
		return f, err
	}
	f.matchers = ms
	if v := q.Get("receiver"); v != "" {
		if len(v) > maxAMReceiverRegex {
			return f, fmt.Errorf("receiver: %d bytes, at most %d", len(v), maxAMReceiverRegex)
		}
		re, err := regexp.Compile("^(?:" + v + ")$")
		if err != nil {
			return f, fmt.Errorf("failed to parse receiver param: %w", err)
		}
		f.receiver = re
	}
	return f, nil
}

func parseAMMatchers(in []string) ([]*labels.Matcher, error) {
	if len(in) > maxAMFilters {
		return nil, fmt.Errorf("%d filter matchers, at most %d", len(in), maxAMFilters)
	}
	out := make([]*labels.Matcher, 0, len(in))
	for _, s := range in {
		m, err := pager.ParseMatcher(s)
		if err != nil {
			return nil, fmt.Errorf("bad matcher format: %w", err)
		}
		out = append(out, m)
	}
	return out, nil
}

// keep reports whether a passes the filter's matchers and states.
func (f *amFilter) keep(a *amAlert) bool {
	for _, m := range f.matchers {
		if !m.Matches(a.Labels[m.Name]) {
			return false
		}
	}
	s := a.Status
	return (f.active || s.State != "active") && (f.unprocessed || s.State != "unprocessed") &&
		(f.silenced || len(s.SilencedBy) == 0) && (f.inhibited || len(s.InhibitedBy) == 0)
}

func (f *amFilter) keepReceiver(name string) bool {
	return f.receiver == nil || f.receiver.MatchString(name)
}

// amAlertOf is the gettableAlert of an incident's alert.
func amAlertOf(ia *pager.IncidentAlert, receiver string, timeout time.Duration) amAlert {
	v := amAlert{Annotations: ia.Annotations, EndsAt: ia.EndsAt, Fingerprint: ia.Fingerprint,
		Receivers: []amReceiver{{Name: receiver}}, StartsAt: ia.StartsAt, UpdatedAt: ia.StartsAt,
		GeneratorURL: ia.GeneratorURL, Labels: ia.Labels,
		Status: amAlertStatus{InhibitedBy: []string{}, SilencedBy: []string{}, MutedBy: []string{}, State: "active"}}
	if ia.Timeout && !ia.EndsAt.IsZero() {
		// Received last resolve_timeout before its end.
		if u := ia.EndsAt.Add(-timeout); u.After(v.UpdatedAt) {
			v.UpdatedAt = u
		}
	}
	if v.Annotations == nil {
		v.Annotations = map[string]string{}
	}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	if kind, id, ok := strings.Cut(ia.SuppressedBy, ":"); ok {
		v.Status.State = "suppressed"
		if kind == "silence" {
			v.Status.SilencedBy = []string{id}
		} else {
			v.Status.InhibitedBy = []string{id}
		}
	}
	return v
}

// amOpen returns the open incidents, oldest first.
func (a *pagerAPI) amOpen() ([]pager.IncidentState, error) {
	list, err := a.o.Pager.Incidents(pager.IncidentFilter{Statuses: []pager.Status{pager.StatusTriggered, pager.StatusAcknowledged}})
	slices.Reverse(list)
	return list, err
}

// amAlerts serves GET /api/v2/alerts: the firing alerts of open incidents,
// one entry per alert with the routes of every incident it is in as its
// receivers, sorted by fingerprint.
func (a *pagerAPI) amAlerts(w http.ResponseWriter, r *http.Request) {
	f, err := parseAMFilter(r)
	if err != nil {
		amError(w, http.StatusBadRequest, err.Error())
		return
	}
	list, err := a.amOpen()
	if err != nil {
		amPagerError(w, err)
		return
	}
	timeout := a.o.Pager.Config().AlertTimeout()
	byFP := map[string]*amAlert{}
	for i := range list {
		st := &list[i]
		for j := range st.Alerts {
			ia := &st.Alerts[j]
			if ia.Ended {
				continue
			}
			if v := byFP[ia.Fingerprint]; v != nil {
				if !slices.Contains(v.Receivers, amReceiver{Name: st.Route}) {
					v.Receivers = append(v.Receivers, amReceiver{Name: st.Route})
				}
				continue
			}
			v := amAlertOf(ia, st.Route, timeout)
			byFP[ia.Fingerprint] = &v
		}
	}
	out := make([]amAlert, 0, len(byFP))
	for _, v := range byFP {
		if f.keep(v) && slices.ContainsFunc(v.Receivers, func(rc amReceiver) bool { return f.keepReceiver(rc.Name) }) {
			out = append(out, *v)
		}
	}
	slices.SortFunc(out, func(x, y amAlert) int { return strings.Compare(x.Fingerprint, y.Fingerprint) })
	writeAMList(w, out)
}

// amGroups serves GET /api/v2/alerts/groups: every open incident is a
// group (its group labels, its route as the receiver) of its firing
// alerts that pass the filter; groups left empty are omitted.
func (a *pagerAPI) amGroups(w http.ResponseWriter, r *http.Request) {
	f, err := parseAMFilter(r)
	if err != nil {
		amError(w, http.StatusBadRequest, err.Error())
		return
	}
	list, err := a.amOpen()
	if err != nil {
		amPagerError(w, err)
		return
	}
	timeout := a.o.Pager.Config().AlertTimeout()
	out := []amAlertGroup{}
	for i := range list {
		st := &list[i]
		if !f.keepReceiver(st.Route) {
			continue
		}
		g := amAlertGroup{Labels: st.GroupLabels, RouteLabels: map[string]string{}, Receiver: amReceiver{Name: st.Route}, Alerts: []amAlert{}}
		if g.Labels == nil {
			g.Labels = map[string]string{}
		}
		for j := range st.Alerts {
			if ia := &st.Alerts[j]; !ia.Ended {
				if v := amAlertOf(ia, st.Route, timeout); f.keep(&v) {
					g.Alerts = append(g.Alerts, v)
				}
			}
		}
		if len(g.Alerts) > 0 {
			out = append(out, g)
		}
	}
	writeAMList(w, out)
}

// amReceivers serves GET /api/v2/receivers.
func (a *pagerAPI) amReceivers(w http.ResponseWriter, _ *http.Request) {
	out := []amReceiver{}
	for _, n := range a.o.Pager.Config().Receivers() {
		out = append(out, amReceiver{Name: n})
	}
	writeAM(w, http.StatusOK, out)
}

type amPeer struct {
	Address string `json:"address"`
	Name    string `json:"name"`
}

type amClusterStatus struct {
	Name   string   `json:"name,omitempty"`
	Peers  []amPeer `json:"peers"`
	Status string   `json:"status"` // ready, settling, disabled
}

type amVersionInfo struct {
	Branch    string `json:"branch"`
	BuildDate string `json:"buildDate"`
	BuildUser string `json:"buildUser"`
	GoVersion string `json:"goVersion"`
	Revision  string `json:"revision"`
	Version   string `json:"version"`
}

type amStatus struct {
	Cluster     amClusterStatus   `json:"cluster"`
	Config      map[string]string `json:"config"`
	Uptime      time.Time         `json:"uptime"`
	VersionInfo amVersionInfo     `json:"versionInfo"`
}

// amStatus serves GET /api/v2/status: the replicas of a shared pager
// database as the cluster (status "disabled" without one), the routing
// tree as an Alertmanager configuration (config.original, what
// `amtool config routes` draws) and the version of Alertmanager whose API
// this is (see buildVersionInfo).
func (a *pagerAPI) amStatus(w http.ResponseWriter, _ *http.Request) {
	cs, err := a.o.Pager.Cluster()
	if err != nil {
		amPagerError(w, err)
		return
	}
	cl := amClusterStatus{Peers: []amPeer{}, Status: "disabled"}
	if cs.Replica != "" {
		cl.Name, cl.Status = cs.Replica, "ready"
		for _, rp := range cs.Replicas {
			if rp.Alive {
				cl.Peers = append(cl.Peers, amPeer{Name: rp.Name, Address: rp.Name})
			}
		}
	}
	writeAM(w, http.StatusOK, amStatus{Cluster: cl, Uptime: a.started, VersionInfo: buildVersionInfo(),
		Config: map[string]string{"original": a.o.Pager.Config().AlertmanagerYAML()}})
}

// buildVersionInfo reports the alertmanager module version the binary is
// built with as the version (clients such as amtool and karma check it to
// know which API they talk to), and the watchdog's own revision.
func buildVersionInfo() amVersionInfo {
	v := amVersionInfo{Branch: "watchdog", BuildUser: "watchdog", GoVersion: runtime.Version(), Version: amVersion}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/prometheus/alertmanager" {
			v.Version = strings.TrimPrefix(d.Version, "v")
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.BuildDate = s.Value
		}
	}
	return v
}
