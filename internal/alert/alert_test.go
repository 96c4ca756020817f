package alert

import (
	"testing"
	"time"
)

func TestResolved(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name   string
		endsAt time.Time
		want   bool
	}{
		{"no end", time.Time{}, false},
		{"ends later", now.Add(time.Second), false},
		{"ends now", now, true},
		{"ended", now.Add(-time.Second), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Alert{EndsAt: tc.endsAt}).Resolved(now); got != tc.want {
				t.Errorf("Resolved = %v, want %v", got, tc.want)
			}
		})
	}
}
