package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// Target health values, as Prometheus reports them.
const (
	HealthUnknown = "unknown"
	HealthGood    = "up"
	HealthBad     = "down"
)

// Target is one active scrape target in /api/v1/targets, with the fields and
// JSON names Prometheus uses.
type Target struct {
	// DiscoveredLabels are the labels before relabelling.
	DiscoveredLabels labels.Labels `json:"discoveredLabels"`
	// Labels are the labels added to every scraped series.
	Labels labels.Labels `json:"labels"`

	ScrapePool string `json:"scrapePool"`
	ScrapeURL  string `json:"scrapeUrl"`
	GlobalURL  string `json:"globalUrl"`

	LastError  string    `json:"lastError"`
	LastScrape time.Time `json:"lastScrape"`
	// LastScrapeDuration is in seconds.
	LastScrapeDuration float64 `json:"lastScrapeDuration"`
	// Health is HealthUnknown, HealthGood or HealthBad.
	Health string `json:"health"`

	// ScrapeInterval and ScrapeTimeout are Prometheus duration strings
	// such as "15s".
	ScrapeInterval string `json:"scrapeInterval"`
	ScrapeTimeout  string `json:"scrapeTimeout"`
}

// TargetsFunc returns the current scrape targets.
type TargetsFunc func() []Target

// DroppedTarget is a target relabelling dropped, as /api/v1/targets lists
// it.
type DroppedTarget struct {
	// DiscoveredLabels are the labels before relabelling.
	DiscoveredLabels labels.Labels `json:"discoveredLabels"`
	ScrapePool       string        `json:"scrapePool"`
}

// DroppedTargetsFunc returns the targets relabelling dropped, possibly only
// some of each pool's (keep_dropped_targets), and the exact number dropped
// per scrape pool, with every pool present.
type DroppedTargetsFunc func() (targets []DroppedTarget, counts map[string]int)

type targetDiscovery struct {
	ActiveTargets       []Target        `json:"activeTargets"`
	DroppedTargets      []DroppedTarget `json:"droppedTargets"`
	DroppedTargetCounts map[string]int  `json:"droppedTargetCounts"`
}

// targetsList serves /api/v1/targets as Prometheus does: state=active,
// dropped or any (the default) picks the lists, scrapePool filters them, and
// droppedTargetCounts (null unless dropped targets are asked for) always
// covers every pool. Dropped targets are grouped by pool, pools sorted.
func (h *Handler) targetsList(r *http.Request) apiResult {
	q := r.URL.Query()
	pool := q.Get("scrapePool")
	state := strings.ToLower(q.Get("state"))
	showActive := state == "" || state == "any" || state == "active"
	showDropped := state == "" || state == "any" || state == "dropped"

	res := targetDiscovery{ActiveTargets: []Target{}, DroppedTargets: []DroppedTarget{}}
	if showActive {
		for _, t := range h.targets() {
			if pool != "" && t.ScrapePool != pool {
				continue
			}
			if t.Health == "" {
				t.Health = HealthUnknown
			}
			res.ActiveTargets = append(res.ActiveTargets, t)
		}
	}
	if showDropped {
		dropped, counts := h.dropped()
		for _, t := range dropped {
			if pool == "" || t.ScrapePool == pool {
				res.DroppedTargets = append(res.DroppedTargets, t)
			}
		}
		slices.SortStableFunc(res.DroppedTargets, func(a, b DroppedTarget) int {
			return strings.Compare(a.ScrapePool, b.ScrapePool)
		})
		res.DroppedTargetCounts = counts
		if counts == nil {
			res.DroppedTargetCounts = map[string]int{}
		}
	}
	return apiResult{data: res}
}
