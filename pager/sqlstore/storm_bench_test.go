package sqlstore

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
	"github.com/watchdog-sre/watchdog/pager"
)

// BenchmarkStormBatch writes what the pager writes for one POST of an
// alert storm (bench/storm: 500 alerts, one per group): "open" is one
// transaction opening 500 incidents (NextID, the incident with its alert,
// two timeline entries and a delivery each), "grow" one adding an alert
// and a timeline entry to each of 500 open incidents that hold 50. One op
// is one transaction; the PostgreSQL cases skip without PostgreSQL.
//
//	go test ./pager/sqlstore -run '^$' -bench StormBatch
func BenchmarkStormBatch(b *testing.B) {
	const groups = 500
	opens := map[string]func(b *testing.B) *Store{
		"sqlite": func(b *testing.B) *Store {
			s, err := Open(filepath.Join(b.TempDir(), "pager.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(b *testing.B) *Store {
			s, err := OpenPostgres(pgtest.DB(b), Options{Replica: "r"})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name+"/open", func(b *testing.B) {
			s := opens[name](b)
			round := 0
			for b.Loop() {
				round++
				update(b, s, func(tx pager.Tx) error { return stormOpen(tx, round, groups) })
			}
		})
		b.Run(name+"/grow", func(b *testing.B) {
			s := opens[name](b)
			sts := make([]pager.IncidentState, groups)
			update(b, s, func(tx pager.Tx) error {
				for i := range sts {
					sts[i] = stormIncident(fmt.Sprintf("inc-%d", i), i)
					for j := range 50 {
						sts[i].Alerts = append(sts[i].Alerts, stormAlert(i, j))
					}
					if err := tx.PutIncident(sts[i]); err != nil {
						return err
					}
				}
				return nil
			})
			n := 50
			for b.Loop() {
				update(b, s, func(tx pager.Tx) error {
					for i := range sts {
						sts[i].Alerts = append(sts[i].Alerts[:len(sts[i].Alerts):len(sts[i].Alerts)], stormAlert(i, n))
						sts[i].TimelineSeq++
						if err := tx.(pager.OwnedPutter).PutIncidentOwned(sts[i]); err != nil {
							return err
						}
						e := pager.TimelineEntry{IncidentID: sts[i].ID, Seq: sts[i].TimelineSeq, At: t0, Kind: "alert_fired", By: "alerts",
							Text: "StormProbe: storm alert in a group"}
						if err := tx.AppendTimeline(e); err != nil {
							return err
						}
					}
					return nil
				})
				n++
			}
		})
	}
}

// stormOpen opens groups incidents in tx, as the pager does for a POST of
// new groups.
func stormOpen(tx pager.Tx, round, groups int) error {
	var ds []pager.Delivery
	for i := range groups {
		n, err := tx.NextID("incident")
		if err != nil {
			return err
		}
		st := stormIncident(fmt.Sprintf("inc-%d", n), round*groups+i)
		st.Alerts = []pager.IncidentAlert{stormAlert(i, 0)}
		if err := tx.(pager.OwnedPutter).PutIncidentOwned(st); err != nil {
			return err
		}
		if err := tx.AppendTimeline(
			pager.TimelineEntry{IncidentID: st.ID, Seq: 1, At: t0, Kind: "opened", By: "alerts", Text: "opened on route storm"},
			pager.TimelineEntry{IncidentID: st.ID, Seq: 2, At: t0, Kind: "escalated", By: "system", Text: "level 1: oncall"},
		); err != nil {
			return err
		}
		ds = append(ds, pager.Delivery{Key: st.ID + "/l1/r0/oncall/s0", IncidentID: st.ID, Kind: pager.KindNotify, User: "oncall",
			Method: "push", Contact: "oncall", Channel: "push", Event: "trigger", CreatedAt: t0, Status: pager.DeliveryPending})
	}
	_, err := tx.(pager.DeliveryAdder).AddDeliveries(ds)
	return err
}

func stormIncident(id string, group int) pager.IncidentState {
	g := fmt.Sprintf("g-%d", group)
	return pager.IncidentState{ID: id, UID: fmt.Sprintf("%032x", group), GroupKey: `storm{group="` + g + `"}`, Route: "storm",
		Policy: "storm", GroupLabels: map[string]string{"group": g}, GroupInterval: 5 * time.Minute, RepeatInterval: 4 * time.Hour,
		Title: "StormProbe: storm alert in " + g, Status: pager.StatusTriggered, CreatedAt: t0, StartAt: t0, Started: true,
		Escalating: true, Epoch: 1, LevelAt: t0, EscalateAt: t0.Add(time.Hour), Notified: 1, TimelineSeq: 3}
}

func stormAlert(group, n int) pager.IncidentAlert {
	return pager.IncidentAlert{Fingerprint: fmt.Sprintf("%016x", group<<20|n), Alert: pager.Alert{
		Labels: map[string]string{"alertname": "StormProbe", "group": fmt.Sprintf("g-%d", group), "instance": fmt.Sprintf("host-%d", n),
			"severity": "page"},
		Annotations: map[string]string{"summary": fmt.Sprintf("storm alert %d in g-%d", n, group)}, StartsAt: t0}}
}
