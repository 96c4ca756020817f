package scrape

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/watchdog-sre/watchdog/config"
)

func TestSeriesDisappears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text("a 1\nb 1\n"))
		h.apply(cfgOf(scrapeCfg("test", "a:80")))
		h.run()
		advance(10 * time.Second)
		h.srv.set("a:80", text("a 2\n"))
		advance(10 * time.Second)
		advance(10 * time.Second)
		h.srv.set("a:80", text("a 3\nb 3\n"))
		advance(10 * time.Second)
		h.stop()

		up := times(h.rec.samples("up"))
		if len(up) != 4 {
			t.Fatalf("up at %v", up)
		}
		b := h.rec.samples("b")
		mustEqual(t, "b", values(b), []string{
			fmt.Sprintf("%d=1", up[0]), fmt.Sprintf("%d=stale", up[1]), fmt.Sprintf("%d=3", up[3]),
		})
		if s := stales(h.rec.samples("a")); len(s) != 0 {
			t.Fatalf("a staled at %v", s)
		}
		if s := stales(h.rec.samples("up")); len(s) != 0 {
			t.Fatalf("up staled at %v", s)
		}
	})
}

func TestTargetDownAfterUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text("a 1\nb 1\n"))
		h.apply(cfgOf(scrapeCfg("test", "a:80")))
		h.run()
		advance(10 * time.Second)
		h.srv.set("a:80", status(503))
		advance(10 * time.Second)
		advance(10 * time.Second)
		h.srv.set("a:80", text("a 4\n"))
		advance(10 * time.Second)
		h.stop()

		up := h.rec.samples("up")
		ts := times(up)
		mustEqual(t, "up", values(up), []string{
			fmt.Sprintf("%d=1", ts[0]), fmt.Sprintf("%d=0", ts[1]), fmt.Sprintf("%d=0", ts[2]), fmt.Sprintf("%d=1", ts[3]),
		})
		mustEqual(t, "a", values(h.rec.samples("a")), []string{
			fmt.Sprintf("%d=1", ts[0]), fmt.Sprintf("%d=stale", ts[1]), fmt.Sprintf("%d=4", ts[3]),
		})
		mustEqual(t, "b", values(h.rec.samples("b")), []string{
			fmt.Sprintf("%d=1", ts[0]), fmt.Sprintf("%d=stale", ts[1]),
		})
		for _, name := range reportNames {
			if s := stales(h.rec.samples(name)); len(s) != 0 {
				t.Fatalf("%s staled at %v", name, s)
			}
		}
	})
}

func TestFileSDTargetRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir, write := fileSDFile(t)
		write(`[{"targets": ["a:80", "b:80"], "labels": {"env": "prod"}}]`)

		h := newHarness(t, nil)
		h.srv.set("a:80", text("x 1\n"))
		h.srv.set("b:80", text("y 1\n"))
		sc := scrapeCfg("fs")
		sc.StaticConfigs = nil
		sc.FileSDConfigs = []config.FileSDConfig{{Files: []string{filepath.Join(dir, "*.json")}}}
		h.apply(cfgOf(sc))
		h.run()
		advance(10 * time.Second)
		if n := len(h.m.Targets()); n != 2 {
			t.Fatalf("%d targets", n)
		}
		if x := h.rec.samples("x"); len(x) != 1 || x[0].lset.Get("env") != "prod" {
			t.Fatalf("x = %v", x)
		}

		// A broken file keeps the previous targets.
		write(`[{"targets": ["a:80"`)
		advance(filePollInterval)
		if n := len(h.m.Targets()); n != 2 {
			t.Fatalf("broken file: %d targets", n)
		}

		write(`[{"targets": ["a:80"], "labels": {"env": "prod"}}]`)
		stopAt := time.Now().Add(filePollInterval).UnixMilli()
		advance(filePollInterval)
		ts := h.m.Targets()
		if len(ts) != 1 || ts[0].Labels.Get("instance") != "a:80" {
			t.Fatalf("targets after reload: %v", ts)
		}
		for _, name := range append([]string{"y"}, reportNames[:]...) {
			got := stales(h.rec.samples(name, "instance", "b:80"))
			mustEqual(t, name+" stale markers of removed target", got, []int64{stopAt})
		}
		if s := stales(h.rec.samples("x")); len(s) != 0 {
			t.Fatalf("kept target staled: %v", s)
		}
		advance(20 * time.Second)
		h.stop()
		// The kept target kept its cache: no series are new to it.
		added := h.rec.samples("scrape_series_added", "instance", "a:80")
		if len(added) < 3 || added[0].v != 1 || added[len(added)-1].v != 0 {
			t.Fatalf("scrape_series_added of kept target: %v", values(added))
		}
		if y := h.rec.samples("y"); len(y) != 3 || y[2].t != stopAt {
			t.Fatalf("y samples: %v", values(y))
		}
	})
}

func TestShutdownWritesNoStaleMarkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text("a 1\n"))
		h.apply(cfgOf(scrapeCfg("test", "a:80")))
		h.run()
		advance(10 * time.Second)
		h.stop()
		for _, s := range h.rec.committed {
			if strings.Contains(s.String(), "stale") {
				t.Fatalf("stale marker on shutdown: %v", s)
			}
		}
	})
}

func TestTargetRemovedMidScrape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text("a 1\n"))
		h.srv.set("b:80", text("b 1\n"))
		h.apply(cfgOf(scrapeCfg("j", "a:80", "b:80")))
		h.run()
		advance(10 * time.Second)
		hung := make(chan struct{})
		h.srv.set("b:80", func(w http.ResponseWriter, r *http.Request) {
			close(hung)
			<-r.Context().Done()
		})
		<-hung // b's second scrape is in flight
		synctest.Wait()
		stopAt := time.Now().UnixMilli()
		h.apply(cfgOf(scrapeCfg("j", "a:80")))
		synctest.Wait()
		h.stop()
		up := h.rec.samples("up", "instance", "b:80")
		if len(up) != 2 || up[0].v != 1 || !strings.Contains(up[1].String(), "stale") || up[1].t != stopAt {
			t.Fatalf("up of removed target: %v (stop at %d)", values(up), stopAt)
		}
		mustEqual(t, "b", stales(h.rec.samples("b")), []int64{stopAt})
	})
}

func TestPartialFailureStalesAll(t *testing.T) {
	for _, tc := range []struct {
		name   string
		second string
		limit  int
	}{
		{"parse error", "a 2\nb 2\n{{{\n", 0},
		{"sample limit", "a 2\nb 2\nc 2\n", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, nil)
				h.srv.set("a:80", text("a 1\nb 1\n"))
				sc := scrapeCfg("test", "a:80")
				sc.SampleLimit = tc.limit
				h.apply(cfgOf(sc))
				h.run()
				advance(10 * time.Second)
				h.srv.set("a:80", text(tc.second))
				advance(10 * time.Second)
				advance(10 * time.Second)
				h.stop()
				up := h.rec.samples("up")
				ts := times(up)
				mustEqual(t, "up", values(up), []string{
					fmt.Sprintf("%d=1", ts[0]), fmt.Sprintf("%d=0", ts[1]), fmt.Sprintf("%d=0", ts[2]),
				})
				for _, name := range []string{"a", "b"} {
					mustEqual(t, name, values(h.rec.samples(name)), []string{
						fmt.Sprintf("%d=1", ts[0]), fmt.Sprintf("%d=stale", ts[1]),
					})
				}
			})
		})
	}
}
