package ui

import (
	"net/http"
	"slices"

	"github.com/watchdog-sre/watchdog/web"
)

// ---- probes ----

type probeRow struct {
	Anchor string
	web.Probe
}

type probesData struct {
	Probes            []probeRow
	Up, Down, Unknown int
}

// probes serves /probes: every (probe, target), failing ones first, with
// a journey's steps and the last failure (step, status, reason and the
// start of the body, all escaped by the template).
func (c *console) probes(w http.ResponseWriter, _ *http.Request) {
	var d probesData
	if c.o.Probes != nil {
		for i, p := range c.o.Probes() {
			switch p.Health {
			case web.HealthGood:
				d.Up++
			case web.HealthBad:
				d.Down++
			default:
				p.Health = web.HealthUnknown
				d.Unknown++
			}
			d.Probes = append(d.Probes, probeRow{Anchor: "probe-" + itoa(i), Probe: p})
		}
	}
	slices.SortStableFunc(d.Probes, func(a, b probeRow) int {
		if (a.Health == web.HealthBad) != (b.Health == web.HealthBad) {
			if a.Health == web.HealthBad {
				return -1
			}
			return 1
		}
		return 0
	})
	c.render(w, http.StatusOK, "probes", pageData{Title: "Probes", Nav: "probes", RefreshSeconds: 15, Data: d})
}
