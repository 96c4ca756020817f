package ui

import (
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// ClusterFunc returns the replicas sharing the pager's database
// ((*pager.Pager).Cluster, or a cached copy of it).
type ClusterFunc func() (pager.ClusterStatus, error)

// clusterView is the overview's line about the pager's replicas.
type clusterView struct {
	// Single: the pager is not clustered (one process, its own store).
	Single   bool
	Err      string
	Replicas []replicaView
	// NoLeader: no replica holds an unexpired lease; nobody sends.
	NoLeader bool
}

// replicaView is one replica of the line: its name and what to say of it.
type replicaView struct {
	Name   string
	Leader bool
	Alive  bool
	Note   string // "leading, lease until 10:00:04 UTC", "this process", "down, last seen 1m0s ago"
}

// cluster describes the pager's replicas at now; nil when the console
// was given no ClusterFunc.
func (c *console) cluster(now time.Time) *clusterView {
	if c.o.Cluster == nil {
		return nil
	}
	st, err := c.o.Cluster()
	if err != nil {
		return &clusterView{Err: err.Error()}
	}
	if st.Replica == "" {
		return &clusterView{Single: true}
	}
	v := &clusterView{NoLeader: st.Leader == ""}
	for _, r := range st.Replicas {
		var notes []string
		if st.Leader != "" && (r.Leader || r.Name == st.Leader) {
			r.Leader = true
			lease := "lease until "
			if !st.LeaseExpires.After(now) {
				lease = "lease expired "
			}
			notes = append(notes, "leading, "+lease+st.LeaseExpires.UTC().Format("15:04:05")+" UTC")
		}
		if r.Name == st.Replica {
			notes = append(notes, "this process")
		}
		if !r.Alive {
			notes = append(notes, "down, last seen "+ago(now, r.LastSeen))
		}
		v.Replicas = append(v.Replicas, replicaView{Name: r.Name, Leader: r.Leader, Alive: r.Alive, Note: strings.Join(notes, ", ")})
	}
	return v
}
