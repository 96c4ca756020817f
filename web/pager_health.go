package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/watchdog-sre/watchdog/pager/health"
)

// maxHealthNameBytes bounds the route and user parameters of the health
// report (longer names cannot be configured anyway).
const maxHealthNameBytes = 256

// healthOptions parses the health report's parameters: window (a duration,
// default 30d, at most 90d), route and user.
func (a *pagerAPI) healthOptions(r *http.Request) (health.Options, *apiError) {
	o := health.Options{Now: a.now(), Window: health.Windows["30d"], Route: r.FormValue("route"), User: r.FormValue("user")}
	if s := r.FormValue("window"); s != "" {
		d, err := ParseDuration(s)
		if err == nil && (d <= 0 || d > health.MaxWindow) {
			err = errors.New("must be more than 0 and at most 90d")
		}
		if err != nil {
			return o, invalidParam("window", err)
		}
		o.Window = d
	}
	for name, v := range map[string]string{"route": o.Route, "user": o.User} {
		if len(v) > maxHealthNameBytes {
			return o, invalidParam(name, fmt.Errorf("longer than %d bytes", maxHealthNameBytes))
		}
	}
	return o, nil
}

// healthReport computes the on-call health report of the request, one
// at a time (a 90-day report reads thousands of timelines): the others
// wait, and one whose client gives up first gets 503.
func (a *pagerAPI) healthReport(r *http.Request) (*health.Report, *apiError) {
	o, aerr := a.healthOptions(r)
	if aerr != nil {
		return nil, aerr
	}
	if a.healthGate != nil {
		select {
		case a.healthGate <- struct{}{}:
			defer func() { <-a.healthGate }()
		case <-r.Context().Done():
			return nil, &apiError{typ: errorUnavailable, msg: "on-call health: busy with another report: " + r.Context().Err().Error()}
		}
	}
	var clock health.Clock
	if c := a.o.Pager.Config(); c != nil {
		clock = c
	}
	rep, err := health.Load(a.o.Pager, clock, o, 0)
	if err != nil {
		return nil, pagerError(err)
	}
	return rep, nil
}

// health serves GET /api/v1/pager/health?window=30d&route=R&user=U: the
// on-call health figures per route and per person (package pager/health).
func (a *pagerAPI) health(r *http.Request) apiResult {
	rep, aerr := a.healthReport(r)
	if aerr != nil {
		return apiResult{err: aerr}
	}
	return apiResult{data: rep}
}
