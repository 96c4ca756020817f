package pager

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Cluster is what a Store shared by several replicas offers (the
// PostgreSQL store of pager/sqlstore). Every replica accepts alerts and
// API actions and writes them through the store; one replica at a time,
// the holder of the lease, runs escalation timers and sends notifications.
//
// The lease lives in the database with a fencing token that grows with
// every new holder. Every write the leader makes as the escalator
// (UpdateFenced) and every delivery it claims before sending (Claim)
// checks, in the same transaction, that its token still holds an
// unexpired lease: a leader that was paused or cut off past its lease
// commits nothing and sends nothing once another replica has taken over.
type Cluster interface {
	// Campaign records this replica as alive and takes the lease when it
	// is free or expired, and otherwise reports who holds it. When this
	// replica holds it, renew keeps its token (the escalator runs on);
	// renew false starts a new term with a new token (an escalator starts
	// afresh: what the last one claimed and did not send must be claimable
	// again). A lease taken anew always gets a new token.
	Campaign(ctx context.Context, ttl time.Duration, renew bool) (Lease, error)
	// Resign gives up the lease held with token, so that another replica
	// takes over at once (on a clean shutdown).
	Resign(ctx context.Context, token int64) error
	// UpdateFenced is Store.Update after checking, in the same
	// transaction, that token holds an unexpired lease; it fails with an
	// error wrapping ErrFenced otherwise, having committed nothing.
	UpdateFenced(token int64, fn func(tx Tx) error) error
	// Claim marks the pending delivery key as being sent under token,
	// checking the lease in the same transaction (an error wrapping
	// ErrFenced when the token no longer holds it). The claim is refused
	// (OK false) when the delivery is no longer pending or was already
	// claimed under the same token (it is being sent). When an earlier
	// term sent it and recorded that with Sent, but died before the
	// result reached the incident, Claim returns that result (Sent true)
	// instead: the caller records it and does not send again.
	Claim(token int64, key string) (Claim, error)
	// Sent records, right after a send and before the result is stepped
	// into the incident, that the delivery claimed under token was sent
	// (attempts, and the error text of a failure). It narrows the window
	// in which a leader's death makes its successor send again to the
	// send itself.
	Sent(token int64, key string, attempts int, errText string) error
	// Changes returns what was committed, by any replica, after version
	// since: the incidents (any status), the silences, the pending
	// deliveries, and the version they bring the reader to.
	Changes(since int64) (Changes, error)
	// Status returns the lease and the replicas that have campaigned.
	Status() (ClusterStatus, error)
}

// Lease is the outcome of a Campaign.
type Lease struct {
	// Leader: this replica holds the lease with Token until Expires.
	Leader bool
	// Holder is the replica holding the lease ("" when none ever did).
	Holder string
	// Token is the fencing token of the holder's term.
	Token int64
	// Expires is when the lease ends unless renewed (database clock).
	Expires time.Time
}

// Claim is the outcome of Cluster.Claim.
type Claim struct {
	// OK: the caller may send.
	OK bool
	// Sent: an earlier term sent it, with Attempts and Err ("" for
	// success); record this result instead of sending.
	Sent     bool
	Attempts int
	Err      string
}

// Changes is what Cluster.Changes returns.
type Changes struct {
	// Version is the version read; pass it as since next time.
	Version    int64
	Incidents  []IncidentState
	Silences   []Silence
	Deliveries []Delivery // pending ones only
}

// ClusterStatus describes the replicas sharing a pager database.
type ClusterStatus struct {
	// Replica is this process's name ("" for a pager that is not
	// clustered).
	Replica string `json:"replica"`
	// Leading reports whether this process runs escalation and sends.
	Leading bool `json:"leading"`
	// Leader is the replica holding the lease ("" when none does).
	Leader string `json:"leader"`
	// Token is the leader's fencing token.
	Token int64 `json:"token"`
	// LeaseExpires is when the leader's lease ends unless renewed.
	LeaseExpires time.Time `json:"leaseExpires"`
	// Replicas lists every replica that campaigned, by name.
	Replicas []ReplicaStatus `json:"replicas"`
}

// ReplicaStatus is one replica of a ClusterStatus.
type ReplicaStatus struct {
	Name      string    `json:"name"`
	StartedAt time.Time `json:"startedAt"`
	// LastSeen is the replica's last campaign (its heartbeat).
	LastSeen time.Time `json:"lastSeen"`
	// Leader reports whether it holds the lease.
	Leader bool `json:"leader"`
	// Alive: seen within two lease durations.
	Alive bool `json:"alive"`
}

// Defaults of the cluster timing in Options.
const (
	DefaultLease = 6 * time.Second
	DefaultPoll  = time.Second
)

// Cluster returns the replicas sharing this pager's store, who leads and
// until when. A pager that is not clustered reports itself alone, leading
// while it runs.
func (p *Pager) Cluster() (ClusterStatus, error) {
	if p.o.Cluster == nil {
		return ClusterStatus{Leading: p.Ready()}, nil
	}
	st, err := p.o.Cluster.Status()
	if err != nil {
		return ClusterStatus{}, err
	}
	st.Leading = p.leading.Load()
	return st, nil
}

// versionedTx is implemented by the write transactions of a Cluster
// store: the change number the transaction stamps on what it writes.
type versionedTx interface {
	TxVersion() int64
}

// versionReader is implemented by the read transactions of a Cluster
// store: the change number the snapshot reflects (ok false elsewhere).
type versionReader interface {
	Version() (v int64, ok bool, err error)
}

// escalates reports whether this pager runs timers and sends: always when
// it is its store's only user, else while it holds the lease.
func (p *Pager) escalates() bool { return p.o.Cluster == nil || p.leading.Load() }

// reread returns the committed state change c applies to, read again in
// tx, when another replica may have written since the cache was filled:
// an incident it opened for the same group (then c no longer opens one),
// or the incident's newer state. An incident another replica resolved
// meanwhile is not fed new alerts: a new one opens for them, as it would
// have here. skip reports a timer that is no longer due.
func reread(tx Tx, cfg *Config, c change, now time.Time) (st IncidentState, opened, skip bool, err error) {
	if !c.opened {
		cur, err := tx.Incident(c.st.ID)
		switch {
		case errors.Is(err, ErrNotFound):
			return c.st, false, false, nil
		case err != nil:
			return IncidentState{}, false, false, fmt.Errorf("read incident %s: %w", c.st.ID, err)
		}
		if _, tick := c.ev.(Tick); tick {
			if due := cur.NextDue(); due.IsZero() || due.After(now) {
				return cur, false, true, nil
			}
		}
		if _, alerts := c.ev.(AlertsChanged); !alerts || cur.Open() {
			return cur, false, false, nil
		}
		c.st = cfg.NewIncident("", RouteMatch{Route: cur.Route, EscalationPolicy: cur.Policy, Channels: cur.Channels,
			GroupLabels: cur.GroupLabels, GroupKey: cur.GroupKey, GroupWait: cur.GroupWait, GroupInterval: cur.GroupInterval,
			RepeatInterval: cur.RepeatInterval, Major: cur.Major}, now)
	}
	cur, err := tx.OpenIncident(c.st.GroupKey)
	switch {
	case errors.Is(err, ErrNotFound):
		return c.st, true, false, nil
	case err != nil:
		return IncidentState{}, false, false, fmt.Errorf("read open incident: %w", err)
	}
	return cur, false, false, nil
}
