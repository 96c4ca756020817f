package schedule

import (
	"os"
	"testing"
	"time"
)

func benchSchedule(b *testing.B) *Schedule {
	src, err := os.ReadFile("testdata/preview/berlin-fall.yaml")
	if err != nil {
		b.Fatal(err)
	}
	return load(b, string(src))
}

func BenchmarkOnCall(b *testing.B) {
	s := benchSchedule(b)
	at := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)
	for b.Loop() {
		s.OnCall(at)
	}
}

func BenchmarkShifts14Days(b *testing.B) {
	s := benchSchedule(b)
	from := time.Date(2026, 10, 19, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		s.Shifts(from, from.AddDate(0, 0, 14))
	}
}

func BenchmarkNextHandoff(b *testing.B) {
	s := benchSchedule(b)
	at := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)
	for b.Loop() {
		s.NextHandoff(at)
	}
}
