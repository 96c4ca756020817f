package web

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// TestDroppedTargets checks droppedTargets and droppedTargetCounts of
// /api/v1/targets against golden files: pools sorted, scrapePool filtering
// the lists but not the counts, counts exact although the db pool lists only
// two of its three dropped targets (keep_dropped_targets), and null counts
// when only active targets are asked for.
func TestDroppedTargets(t *testing.T) {
	discovered := func(addr, job string) labels.Labels {
		return labels.FromStrings("__address__", addr, "__metrics_path__", "/metrics", "__scheme__", "http",
			"__scrape_interval__", "15s", "__scrape_timeout__", "10s", "job", job)
	}
	active := []Target{{
		Labels:     labels.FromStrings("instance", "db:9187", "job", "db"),
		ScrapePool: "db",
		ScrapeURL:  "http://db:9187/metrics",
		Health:     HealthGood,
	}}
	dropped := []DroppedTarget{
		{DiscoveredLabels: discovered("shop-canary:8080", "shop"), ScrapePool: "shop"},
		{DiscoveredLabels: discovered("db-replica-1:9187", "db"), ScrapePool: "db"},
		{DiscoveredLabels: discovered("db-replica-2:9187", "db"), ScrapePool: "db"},
	}
	counts := map[string]int{"db": 3, "shop": 1, "api": 0}
	srv, _ := newTestServer(t, Options{
		Targets:        func() []Target { return active },
		DroppedTargets: func() ([]DroppedTarget, map[string]int) { return dropped, counts },
	})
	for _, tc := range []struct {
		name  string
		query string
	}{
		{"targets_dropped_all", ""},
		{"targets_dropped_state", "?state=dropped"},
		{"targets_dropped_pool", "?state=Dropped&scrapePool=db"},
		{"targets_dropped_any_pool", "?state=any&scrapePool=shop"},
		{"targets_dropped_active_only", "?state=active"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, srv, "GET", "/api/v1/targets"+tc.query, nil, nil)
			if resp.code != 200 {
				t.Fatalf("status %d: %s", resp.code, resp.body)
			}
			checkGolden(t, tc.name, resp.body)
		})
	}
}
