package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// sink is the webhook receiver: it records when each group's first
// notification arrives.
type sink struct {
	srv   *http.Server
	url   string
	mu    sync.Mutex
	first map[int]time.Time
	posts atomic.Int64
	dup   atomic.Int64 // notifications of a group already notified
}

// groupRE finds the group label as JSON ("group":"g-<n>"), as
// ../shared/tools/alert-storm.py does.
var groupRE = regexp.MustCompile(`"group":\s*"g-(\d+)"`)

func startSink() (*sink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{first: map[int]time.Time{}, url: "http://" + l.Addr().String() + "/"}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(l)
	return s, nil
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	now := time.Now()
	s.posts.Add(1)
	seen := map[int]bool{}
	for _, m := range groupRE.FindAllSubmatch(body, -1) {
		g, _ := strconv.Atoi(string(m[1]))
		seen[g] = true
	}
	s.mu.Lock()
	for g := range seen {
		if _, ok := s.first[g]; ok {
			s.dup.Add(1)
			continue
		}
		s.first[g] = now
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *sink) notified() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.first)
}

func (s *sink) close() { s.srv.Close() }

// verbose prints the first POSTs' timings and when notifications arrived.
var verbose bool

// storm is one run's parameters.
type storm struct {
	alerts, groups, batch, posters int
	wait                           time.Duration // for the last group's notification
}

// result is what one run measured.
type result struct {
	elapsed       time.Duration // first POST to last response
	non2xx        int
	notified      int
	p50, p99, max time.Duration
	posts, dups   int64
}

// bodies builds the POST bodies before the clock starts: alert i is in
// group g-(i % groups), as in alert-storm.py.
func (st storm) bodies() ([][]byte, [][]int) {
	ts := time.Now().UTC().Format(time.RFC3339)
	type alert struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    string            `json:"startsAt"`
	}
	var out [][]byte
	var groups [][]int
	for start := 0; start < st.alerts; start += st.batch {
		var as []alert
		var gs []int
		for i := start; i < min(start+st.batch, st.alerts); i++ {
			g := i % st.groups
			as = append(as, alert{
				Labels: map[string]string{"alertname": "StormProbe", "group": "g-" + strconv.Itoa(g),
					"instance": "i-" + strconv.Itoa(i), "severity": "critical"},
				Annotations: map[string]string{"summary": fmt.Sprintf("storm alert %d in g-%d", i, g)},
				StartsAt:    ts,
			})
			gs = append(gs, g)
		}
		b, _ := json.Marshal(as)
		out = append(out, b)
		groups = append(groups, gs)
	}
	return out, groups
}

// run posts the storm to url (with token as bearer when not "") on
// st.posters connections and waits for every group's first notification
// at s, or st.wait.
func (st storm) run(ctx context.Context, url, token string, s *sink) result {
	bodies, groups := st.bodies()
	firstPost := make([]time.Time, st.groups)
	var fmu sync.Mutex
	client := &http.Client{Timeout: 60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: st.posters, DisableCompression: true}}
	var next, bad atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range st.posters {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) || ctx.Err() != nil {
					return
				}
				now := time.Now()
				fmu.Lock()
				for _, g := range groups[i] {
					if firstPost[g].IsZero() {
						firstPost[g] = now
					}
				}
				fmu.Unlock()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "application/json")
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := client.Do(req)
				if verbose && i < 8 {
					fmt.Printf("#   POST %d: sent at %v, answered after %v\n", i, now.Sub(t0).Round(time.Millisecond), time.Since(now).Round(time.Millisecond))
				}
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	r := result{elapsed: time.Since(t0), non2xx: int(bad.Load())}
	deadline := time.Now().Add(st.wait)
	for time.Now().Before(deadline) && s.notified() < st.groups && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	var lat []time.Duration
	for g, at := range s.first {
		if g < st.groups && !firstPost[g].IsZero() {
			lat = append(lat, at.Sub(firstPost[g]))
		}
	}
	s.mu.Unlock()
	if verbose {
		var at []time.Duration
		for _, t := range s.first {
			at = append(at, t.Sub(t0))
		}
		slices.Sort(at)
		if len(at) > 0 {
			fmt.Printf("#   notifications after the first POST: first %v, median %v, last %v; POSTs done after %v\n",
				at[0].Round(time.Millisecond), at[len(at)/2].Round(time.Millisecond), at[len(at)-1].Round(time.Millisecond), r.elapsed.Round(time.Millisecond))
		}
	}
	slices.Sort(lat)
	r.notified = len(lat)
	if len(lat) > 0 {
		pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		r.p50, r.p99, r.max = pct(0.5), pct(0.99), lat[len(lat)-1]
	}
	r.posts, r.dups = s.posts.Load(), s.dup.Load()
	return r
}
