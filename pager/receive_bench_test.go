package pager

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// nopChannel accepts every message.
type nopChannel struct{}

func (nopChannel) Name() string                                        { return MethodPush }
func (nopChannel) Send(context.Context, channel.Message) (bool, error) { return false, nil }

// BenchmarkReceiveNewGroups receives one POST's worth of alerts (500), each
// opening an incident of its own, into the memory store: the work between
// a storm's first POST and its first pages. Run with -benchmem; allocs/op
// divided by 500 is the allocations per new incident.
func BenchmarkReceiveNewGroups(b *testing.B) {
	cfg, err := ParseConfig("storm.yml", []byte(`
pager:
  users:
    - {name: oncall, contact: {push: t}, notification_rules: [{after: 0s, method: push}]}
  escalation_policies:
    - {name: storm, levels: [{targets: [user:oncall], escalate_after: 1h}]}
  routes:
    - {matchers: ['severity="page"'], group_by: [group], group_wait: 0s, escalation_policy: storm}
`))
	if err != nil {
		b.Fatal(err)
	}
	const n = 500
	round := 0
	for b.Loop() {
		b.StopTimer()
		p, err := New(Options{Config: cfg, Store: NewMemStore(), Channels: map[string]channel.Channel{MethodPush: nopChannel{}}})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		for !p.ready.Load() {
			time.Sleep(time.Millisecond)
		}
		alerts := make([]Alert, n)
		for i := range alerts {
			alerts[i] = Alert{Labels: map[string]string{"alertname": "StormProbe", "group": "g-" + strconv.Itoa(round*n+i),
				"instance": "i-" + strconv.Itoa(i), "severity": "page"}, Annotations: map[string]string{"summary": "storm alert " + strconv.Itoa(i)},
				StartsAt: time.Now()}
		}
		round++
		b.StartTimer()
		if err := p.ReceiveOwned(alerts...); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cancel()
		<-done
		b.StartTimer()
	}
}
