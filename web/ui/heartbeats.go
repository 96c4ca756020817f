package ui

import (
	"net/http"
	"slices"
	"time"
)

// Heartbeat is one configured heartbeat (check-in) as the console shows
// it; never its token.
type Heartbeat struct {
	Name string
	// State is new, up, late, down or failed.
	State         string
	Period, Grace time.Duration
	Labels        map[string]string
	LastPing      time.Time
	LastSuccess   time.Time
	LastFailure   time.Time
	// Started is the start of a run in progress (zero: none).
	Started      time.Time
	LastDuration time.Duration
	NextDue      time.Time
	// Alert is the alert firing ("" for none).
	Alert string
	// Message is the body of the last check-in (untrusted text).
	Message string
}

// HeartbeatsFunc lists the heartbeats.
type HeartbeatsFunc func() []Heartbeat

type heartbeatsData struct {
	Heartbeats        []Heartbeat
	Healthy, Alerting int
}

// heartbeats serves /heartbeats: alerting heartbeats first.
func (c *console) heartbeats(w http.ResponseWriter, _ *http.Request) {
	var d heartbeatsData
	if c.o.Heartbeats != nil {
		d.Heartbeats = c.o.Heartbeats()
	}
	for _, h := range d.Heartbeats {
		if h.Alert != "" {
			d.Alerting++
		} else {
			d.Healthy++
		}
	}
	slices.SortStableFunc(d.Heartbeats, func(a, b Heartbeat) int {
		if (a.Alert != "") != (b.Alert != "") {
			if a.Alert != "" {
				return -1
			}
			return 1
		}
		return 0
	})
	c.render(w, http.StatusOK, "heartbeats", pageData{Title: "Heartbeats", Nav: "heartbeats", RefreshSeconds: 30, Data: d})
}
