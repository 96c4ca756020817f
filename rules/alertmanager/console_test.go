package alertmanager

import (
	"strings"
	"testing"
	"time"
)

func TestConsole(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	login := map[string]string{"alertname": "LoginErrorsUp", "severity": "page", "instance": "shop:8080"}
	disk := map[string]string{"alertname": "DiskFull", "mount": "/var lib"}
	summary := map[string]string{"summary": "login errors at\n 3/s"}

	type step struct {
		now    time.Time
		alerts []Alert
		want   string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"firing once, resent silently, then resolved", []step{
			{t0, []Alert{{Labels: login, Annotations: summary, StartsAt: t0, EndsAt: t0.Add(4 * time.Minute)}},
				"2026-11-24T12:00:00Z FIRING   LoginErrorsUp instance=shop:8080 severity=page — login errors at 3/s\n"},
			{t0.Add(time.Minute), []Alert{{Labels: login, Annotations: summary, StartsAt: t0, EndsAt: t0.Add(5 * time.Minute)}}, ""},
			{t0.Add(7 * time.Minute), []Alert{{Labels: login, Annotations: summary, StartsAt: t0, EndsAt: t0.Add(7 * time.Minute)}},
				"2026-11-24T12:07:00Z RESOLVED LoginErrorsUp instance=shop:8080 severity=page — login errors at 3/s\n"},
			{t0.Add(8 * time.Minute), []Alert{{Labels: login, StartsAt: t0, EndsAt: t0.Add(7 * time.Minute)}}, ""},
		}},
		{"no end time is firing; quoted values; description fallback", []step{
			{t0, []Alert{{Labels: disk, Annotations: map[string]string{"description": "95% used"}}},
				"2026-11-24T12:00:00Z FIRING   DiskFull mount=\"/var lib\" — 95% used\n"},
		}},
		{"resolved never seen firing is not printed", []step{
			{t0, []Alert{{Labels: login, StartsAt: t0.Add(-time.Hour), EndsAt: t0}}, ""},
		}},
		{"several alerts in one call", []step{
			{t0, []Alert{{Labels: login, StartsAt: t0}, {Labels: disk, StartsAt: t0}},
				"2026-11-24T12:00:00Z FIRING   LoginErrorsUp instance=shop:8080 severity=page\n" +
					"2026-11-24T12:00:00Z FIRING   DiskFull mount=\"/var lib\"\n"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			var now time.Time
			c := NewConsole(&b, func() time.Time { return now })
			for i, s := range tt.steps {
				b.Reset()
				now = s.now
				c.Send(s.alerts...)
				if b.String() != s.want {
					t.Errorf("step %d:\n got %q\nwant %q", i, b.String(), s.want)
				}
			}
		})
	}
}
