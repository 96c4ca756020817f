package ui

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestOverviewCluster: the overview names the pager's replicas, who leads
// until when and which are down, or says the pager is a single process;
// replica names and errors are escaped.
func TestOverviewCluster(t *testing.T) {
	started := testNow.Add(-time.Hour)
	three := pager.ClusterStatus{Replica: "b", Leader: "a", Token: 3, LeaseExpires: testNow.Add(4 * time.Second),
		Replicas: []pager.ReplicaStatus{
			{Name: "a", StartedAt: started, LastSeen: testNow.Add(-time.Second), Leader: true, Alive: true},
			{Name: "b", StartedAt: started, LastSeen: testNow, Alive: true},
			{Name: "c", StartedAt: started, LastSeen: testNow.Add(-12 * time.Second)},
		}}
	expired := three
	expired.LeaseExpires = testNow.Add(-2 * time.Second)
	noLeader := pager.ClusterStatus{Replica: "b", Token: 3, LeaseExpires: testNow.Add(-8 * time.Second), Replicas: []pager.ReplicaStatus{
		{Name: "a", StartedAt: started, LastSeen: testNow.Add(-12 * time.Second)},
		{Name: "b", StartedAt: started, LastSeen: testNow, Alive: true},
	}}
	evil := pager.ClusterStatus{Replica: xssAttr, Leader: xssAttr, LeaseExpires: testNow.Add(time.Second), Replicas: []pager.ReplicaStatus{{Name: xssAttr, LastSeen: testNow, Alive: true}}}
	for _, tc := range []struct {
		name string
		f    ClusterFunc
		want string // the line's text, tags removed, spaces squeezed
		not  []string
	}{
		{"no cluster func", nil, "", nil},
		{"single process", func() (pager.ClusterStatus, error) { return pager.ClusterStatus{Leading: true}, nil },
			"Pager: single process", nil},
		{"three replicas", func() (pager.ClusterStatus, error) { return three, nil },
			"Pager replicas: a (leading, lease until 10:00:04 UTC), b (this process), c (down, last seen 12s ago)", nil},
		{"lease expired", func() (pager.ClusterStatus, error) { return expired, nil },
			"Pager replicas: a (leading, lease expired 09:59:58 UTC), b (this process), c (down, last seen 12s ago)", nil},
		{"none seen", func() (pager.ClusterStatus, error) { return pager.ClusterStatus{Replica: "a"}, nil },
			"Pager replicas: none seen yet — no replica holds the lease: nobody sends", nil},
		{"nobody leads", func() (pager.ClusterStatus, error) { return noLeader, nil },
			"Pager replicas: a (down, last seen 12s ago), b (this process) — no replica holds the lease: nobody sends", nil},
		{"database down", func() (pager.ClusterStatus, error) {
			return pager.ClusterStatus{}, errors.New("connection refused " + xssScript)
		},
			"Pager replicas: connection refused &lt;script&gt;alert(1)&lt;/script&gt;", []string{xssScript}},
		{"hostile name", func() (pager.ClusterStatus, error) { return evil, nil },
			"Pager replicas: &#34;&gt;&lt;img src=x onerror=alert(1)&gt; (leading, lease until 10:00:01 UTC, this process)", []string{xssAttr}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			h, err := New(Options{Pager: f.pager, Cluster: tc.f, Now: func() time.Time { return testNow }})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptestGet(h, "/")
			body := rec.Body.String()
			if rec.Code != 200 {
				t.Fatalf("GET /: %d", rec.Code)
			}
			line := regexp.MustCompile(`(?s)<p id="pager-cluster"[^>]*>(.*?)</p>`).FindStringSubmatch(body)
			if tc.want == "" {
				if line != nil {
					t.Fatalf("cluster line shown without a cluster func: %s", line[0])
				}
				return
			}
			if line == nil {
				t.Fatalf("no cluster line in the overview")
			}
			text := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(line[1], "")
			text = strings.Join(strings.Fields(text), " ")
			if text != tc.want {
				t.Fatalf("cluster line %q\nwant %q", text, tc.want)
			}
			for _, s := range tc.not {
				if strings.Contains(body, s) {
					t.Fatalf("overview holds unescaped %q", s)
				}
			}
		})
	}
}
