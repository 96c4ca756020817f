package schedule

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/preview")

// TestGoldenPreview renders a 14-day Shifts preview across a DST change for
// every schedule in testdata/preview and compares it with NAME.golden.
func TestGoldenPreview(t *testing.T) {
	tests := []struct {
		file, from, to string
	}{
		{"berlin-fall", "2026-10-19T00:00:00+02:00", "2026-11-02T00:00:00+01:00"},
		{"newyork-spring", "2026-03-02T00:00:00-05:00", "2026-03-16T00:00:00-04:00"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata", "preview", tt.file+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			s := load(t, string(src))
			from, to := ts(t, tt.from), ts(t, tt.to)
			var b strings.Builder
			b.WriteString("# Shifts(" + tt.from + ", " + tt.to + ")\n")
			b.WriteString(formatShifts(checkTimeline(t, s, from, to)))
			got := b.String()
			golden := filepath.Join("testdata", "preview", tt.file+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("preview differs from %s (run with -update after checking):\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}
