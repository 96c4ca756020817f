package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// rwReceiver is a Remote-Write 1.0 receiver that counts every sample of
// e2e_requests_total it gets, by timestamp; down makes it answer 503.
type rwReceiver struct {
	srv  *httptest.Server
	down atomic.Bool
	// refused counts the requests answered 503 while down.
	refused atomic.Int64
	mu      sync.Mutex
	got     map[int64]int // timestamp → times received
	ext     map[string]string
}

func newRWReceiver(t *testing.T) *rwReceiver {
	rc := &rwReceiver{got: map[int64]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rc.down.Load() {
			rc.refused.Add(1)
			http.Error(w, "down for the test", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		raw, err := snappy.Decode(nil, body)
		var req prompb.WriteRequest
		if err == nil {
			err = req.Unmarshal(raw)
		}
		if err != nil || r.Header.Get("Content-Encoding") != "snappy" {
			http.Error(w, fmt.Sprintf("bad request: %v", err), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, ts := range req.Timeseries {
			lbl := map[string]string{}
			for _, l := range ts.Labels {
				lbl[l.Name] = l.Value
			}
			if lbl["__name__"] != "e2e_requests_total" {
				continue
			}
			rc.ext = lbl
			for _, s := range ts.Samples {
				rc.got[s.Timestamp]++
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// waitRefused waits until n more requests than now have been refused.
func (rc *rwReceiver) waitRefused(t *testing.T, n int64) {
	t.Helper()
	want := rc.refused.Load() + n
	eventually(t, 20*time.Second, func() error {
		if got := rc.refused.Load(); got < want {
			return fmt.Errorf("%d requests refused during the outage, waiting for %d", got, want)
		}
		return nil
	})
}

func (rc *rwReceiver) count() (samples, dups int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, n := range rc.got {
		samples++
		if n > 1 {
			dups++
		}
	}
	return samples, dups
}

// storedTimes returns the timestamps of e2e_requests_total the watchdog holds.
func storedTimes(t *testing.T, base string) []int64 {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(`e2e_requests_total[1h]`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, s := range r.Data.Result {
		for _, v := range s.Values {
			f, _ := v[0].(float64)
			out = append(out, int64(f*1000+0.5))
		}
	}
	return out
}

func writeRWConfig(t *testing.T, path, target, snapshot, receiver string) {
	t.Helper()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  external_labels: {replica: e2e}
scrape_configs:
  - job_name: e2e
    static_configs:
      - targets: [%q]
storage:
  snapshot_path: %q
  snapshot_interval: 1h
`, target, snapshot)
	if receiver != "" {
		cfg += fmt.Sprintf(`remote_write:
  - url: %s/api/v1/write
    queue_config: {batch_send_deadline: 1s, min_backoff: 10ms, max_backoff: 200ms}
`, receiver)
	}
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func stopGracefully(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("watchdog did not exit within 20s of SIGTERM")
	}
}

// TestRemoteWriteOutageAndRestart: the receiver goes down, the watchdog
// restarts during the outage (stopped with SIGTERM, or killed after a
// snapshot); once the receiver is back, every sample the watchdog stores
// has arrived exactly once.
func TestRemoteWriteOutageAndRestart(t *testing.T) {
	for _, kill := range []bool{false, true} {
		name := "SIGTERM"
		if kill {
			name = "snapshot then SIGKILL"
		}
		t.Run(name, func(t *testing.T) { remoteWriteOutage(t, kill) })
	}
}

func remoteWriteOutage(t *testing.T, kill bool) {
	dir := t.TempDir()
	srv := target(t)
	rc := newRWReceiver(t)
	cfg := filepath.Join(dir, "watchdog.yml")
	writeRWConfig(t, cfg, strings.TrimPrefix(srv.URL, "http://"), filepath.Join(dir, "snap"), rc.srv.URL)
	env := []string{"WATCHDOG_TOKEN=tok"}

	p := start(t, env, "run", "--config", cfg, "--web.listen-address", "127.0.0.1:0")
	eventually(t, 20*time.Second, func() error {
		if n, _ := rc.count(); n < 3 {
			return fmt.Errorf("%d samples received", n)
		}
		return nil
	})
	rc.down.Store(true)
	rc.waitRefused(t, 2) // the sender met the outage and retries
	received, _ := rc.count()
	eventually(t, 20*time.Second, func() error { // samples pile up in the store meanwhile
		if n := len(storedTimes(t, p.url)); n < received+3 {
			return fmt.Errorf("%d samples stored, %d received before the outage", n, received)
		}
		return nil
	})
	// Everything stored now is in the snapshot the restarted watchdog loads
	// (taken at SIGTERM, or explicitly before SIGKILL).
	before := len(storedTimes(t, p.url))
	if kill {
		if code, body := post(t, p.url+"/api/v1/admin/tsdb/snapshot", "tok"); code != http.StatusOK {
			t.Fatalf("snapshot: %d %s", code, body)
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
	} else {
		stopGracefully(t, p)
	}
	p2 := start(t, env, "run", "--config", cfg, "--web.listen-address", "127.0.0.1:0")
	rc.waitRefused(t, 1) // the restarted sender met the outage too
	rc.down.Store(false)

	var want []int64
	eventually(t, 30*time.Second, func() error {
		want = storedTimes(t, p2.url)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, ts := range want {
			if rc.got[ts] == 0 {
				return fmt.Errorf("stored sample at %d not received (%d stored, %d received)", ts, len(want), len(rc.got))
			}
		}
		return nil
	})
	if _, dups := rc.count(); dups > 0 {
		t.Errorf("%d samples received more than once", dups)
	}
	rc.mu.Lock()
	if rc.ext["replica"] != "e2e" || rc.ext["job"] != "e2e" {
		t.Errorf("labels received: %v, want the external label replica=e2e and job=e2e", rc.ext)
	}
	rc.mu.Unlock()
	if len(want) < before {
		t.Errorf("%d samples stored after the restart, %d before it", len(want), before)
	}
	stopGracefully(t, p2)
}

// TestRemoteWriteReload: a remote_write entry added by a reload starts
// sending, the store's history included.
func TestRemoteWriteReload(t *testing.T) {
	dir := t.TempDir()
	srv := target(t)
	rc := newRWReceiver(t)
	cfg := filepath.Join(dir, "watchdog.yml")
	tgt := strings.TrimPrefix(srv.URL, "http://")
	writeRWConfig(t, cfg, tgt, "", "")
	p := start(t, []string{"WATCHDOG_TOKEN=tok"}, "run", "--config", cfg, "--web.listen-address", "127.0.0.1:0")
	eventually(t, 20*time.Second, func() error {
		if n := sampleCount(t, p.url); n < 3 {
			return fmt.Errorf("%v samples stored", n)
		}
		return nil
	})
	if n, _ := rc.count(); n != 0 {
		t.Fatalf("%d samples received before remote_write was configured", n)
	}
	writeRWConfig(t, cfg, tgt, "", rc.srv.URL)
	if code, body := post(t, p.url+"/-/reload", "tok"); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	eventually(t, 20*time.Second, func() error {
		want := storedTimes(t, p.url)
		n, dups := rc.count()
		if n < len(want) || dups > 0 {
			return fmt.Errorf("%d stored, %d received, %d duplicated", len(want), n, dups)
		}
		return nil
	})
	resp, err := http.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `watchdog_remote_storage_samples_total{remote_name="`) {
		t.Errorf("no watchdog_remote_storage_samples_total in /metrics")
	}
	stopGracefully(t, p)
}
