package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/pager"
)

// gatedPager is fakePager whose windowed incident reads (one per status
// computation) are counted and, while gate is open, wait for it.
type gatedPager struct {
	*fakePager
	reads atomic.Int64
	gate  chan struct{}
}

func (g *gatedPager) Incidents(f pager.IncidentFilter) ([]pager.IncidentState, error) {
	if !f.Since.IsZero() {
		g.reads.Add(1)
		if g.gate != nil {
			<-g.gate
		}
	}
	return g.fakePager.Incidents(f)
}

// TestStatusCacheSingleFlight: 30 concurrent requests for /status, its
// JSON, the summary and the feed while the view is being computed share
// that one computation (one store read); within the TTL the view is
// served from the cache, and a status update posted meanwhile shows once
// the TTL has passed.
func TestStatusCacheSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gatedPager{fakePager: newFakePager(t), gate: make(chan struct{})}
		sp := statusConfigForTest()
		h, err := New(Options{Pager: g, StatusPage: func() *config.StatusPage { return &sp }, StatusCacheTTL: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		get := func(path string) string {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusOK {
				t.Errorf("GET %s: %d", path, rec.Code)
			}
			return rec.Body.String()
		}
		paths := []string{"/status", "/status.json", "/status/api/v2/summary.json", "/status/feed.atom"}
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Go(func() { get(paths[i%len(paths)]) })
		}
		synctest.Wait() // one computes (waiting at the gate), the rest wait for it
		if n := g.reads.Load(); n != 1 {
			t.Errorf("%d store reads while 30 requests wait, want 1", n)
		}
		close(g.gate)
		g.gate = nil
		wg.Wait()
		if n := g.reads.Load(); n != 1 {
			t.Errorf("%d store reads for 30 concurrent requests, want 1", n)
		}

		g.postUpdate(pager.StatusUpdate{IncidentID: "inc-2", Status: pager.UpdateIdentified, Text: "A bad deploy; rolling back.", At: time.Now()})
		time.Sleep(4 * time.Second)
		if body := get("/status"); strings.Contains(body, "rolling back") || g.reads.Load() != 1 {
			t.Errorf("within the TTL: %d reads, update shown %v", g.reads.Load(), strings.Contains(body, "rolling back"))
		}
		time.Sleep(time.Second)
		if body := get("/status"); !strings.Contains(body, "rolling back") || g.reads.Load() != 2 {
			t.Errorf("after the TTL: %d reads, update shown %v", g.reads.Load(), strings.Contains(body, "rolling back"))
		}
	})
}
