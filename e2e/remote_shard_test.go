package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/internal/promapi"
	"github.com/watchdog-sre/watchdog/internal/vmtest"
)

// shardRelabel is the hashmod sharding of the README's "Scaling out":
// every shard hashes each target's address and keeps its own share.
const shardRelabel = `
- source_labels: [__address__]
  modulus: SHARDS
  target_label: __tmp_hash
  action: hashmod
- source_labels: [__tmp_hash]
  regex: "SHARD"
  action: keep
`

// shardRelabelFor renders shardRelabel for shard i of n.
func shardRelabelFor(i, n int) string {
	r := strings.ReplaceAll(shardRelabel, "SHARDS", strconv.Itoa(n))
	return strings.ReplaceAll(r, "SHARD", strconv.Itoa(i))
}

// TestRemoteShards (issue #13, acceptance 4): three watchdogs share thirty
// loopback targets by hashmod relabelling and remote-write to one
// VictoriaMetrics. Every target is scraped by exactly one shard, the one
// Prometheus's own relabelling picks, and the union in VictoriaMetrics
// holds every sample every shard stored, each under its shard's external
// label.
func TestRemoteShards(t *testing.T) {
	parallel(t, 10*time.Second)
	needBinary(t)
	const shards, targets = 3, 30
	vm := vmtest.Start(t, vmtest.Options{})
	f := newFleet(t, targets)
	from := time.Now().Add(-time.Second)
	ws := make([]*remoteWD, shards)
	for i := range shards {
		config := "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n" +
			"  external_labels: {shard: \"" + strconv.Itoa(i) + "\"}\n" +
			"scrape_configs:\n" + f.scrapeConfig("fleet", shardRelabelFor(i, shards)) +
			"storage:\n  retention: 2h\n" +
			"remote_write:\n" + remoteWriteConfig("shared", vm.WriteURL(), "")
		ws[i] = startRemoteWD(t, "shard-"+strconv.Itoa(i), config)
	}
	want := expectedShards(t, f.targets(), shards)

	// Every target is active on exactly the shard Prometheus's relabelling
	// picks, and listed as dropped by the others.
	eventually(t, 30*time.Second, func() error {
		got := map[string][]int{}
		for i, w := range ws {
			var res struct {
				ActiveTargets []struct {
					Labels map[string]string `json:"labels"`
					Health string            `json:"health"`
				} `json:"activeTargets"`
				DroppedTargets []struct {
					DiscoveredLabels map[string]string `json:"discoveredLabels"`
				} `json:"droppedTargets"`
			}
			w.getJSON(t, "/api/v1/targets", &res)
			if n := len(res.ActiveTargets) + len(res.DroppedTargets); n != targets {
				return fmt.Errorf("shard %d lists %d active and %d dropped targets, want %d in all",
					i, len(res.ActiveTargets), len(res.DroppedTargets), targets)
			}
			for _, at := range res.ActiveTargets {
				if at.Health != "up" {
					return fmt.Errorf("shard %d: target %s is %q", i, at.Labels["instance"], at.Health)
				}
				got[at.Labels["instance"]] = append(got[at.Labels["instance"]], i)
			}
		}
		for _, a := range f.targets() {
			if g := got[a]; len(g) != 1 || g[0] != want[a] {
				return fmt.Errorf("target %s scraped by shards %v, want exactly shard %d", a, g, want[a])
			}
		}
		if len(got) != targets {
			return fmt.Errorf("%d targets active across the shards, want %d: %v", len(got), targets, got)
		}
		return nil
	})
	counts := make([]int, shards)
	for _, s := range want {
		counts[s]++
	}
	t.Logf("targets per shard: %v", counts)

	// Let every target be scraped a few times, then compare the union.
	eventually(t, 30*time.Second, func() error {
		for i := range f.hits {
			if n := f.hits[i].Load(); n < 5 {
				return fmt.Errorf("target %d scraped %d times", i, n)
			}
		}
		return nil
	})
	to := time.Now().Add(-time.Second)
	union := map[string][]promapi.Sample{}
	for i, w := range ws {
		for k, ss := range withLabels(inWindow(w.stored(t, from, to), from, to, false),
			map[string]string{"shard": strconv.Itoa(i)}) {
			if _, dup := union[k]; dup {
				t.Fatalf("series %s stored by two shards", k)
			}
			union[k] = ss
		}
	}
	for _, a := range f.targets() {
		k := promapi.Key(map[string]string{"__name__": "up", "instance": a, "job": "fleet", "shard": strconv.Itoa(want[a])})
		if len(union[k]) == 0 {
			t.Fatalf("no shard stored %s", k)
		}
	}
	n := waitSame(t, 60*time.Second, union, func() map[string][]promapi.Sample {
		return inWindow(promapi.ByKey(vm.Export(t, `{__name__=~".+"}`, from, to)), from, to, true)
	})
	t.Logf("VictoriaMetrics holds all %d samples of %d series of %d targets from %d shards", n, len(union), targets, shards)
}

// expectedShards computes each target's shard with Prometheus's own
// relabelling (model/relabel) over the same configuration.
func expectedShards(t *testing.T, targets []string, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for i := range n {
		var cfgs []*relabel.Config
		if err := yaml.Unmarshal([]byte(shardRelabelFor(i, n)), &cfgs); err != nil {
			t.Fatal(err)
		}
		for _, c := range cfgs {
			if c.Regex.Regexp == nil {
				c.Regex = relabel.DefaultRelabelConfig.Regex
			}
			if err := c.Validate(model.UTF8Validation); err != nil {
				t.Fatal(err)
			}
		}
		for _, a := range targets {
			if relabel.ProcessBuilder(labels.NewBuilder(labels.FromStrings("__address__", a)), cfgs...) {
				if prev, ok := out[a]; ok {
					t.Fatalf("target %s kept by shards %d and %d", a, prev, i)
				}
				out[a] = i
			}
		}
	}
	if len(out) != len(targets) {
		t.Fatalf("relabelling assigned %d of %d targets", len(out), len(targets))
	}
	return out
}
