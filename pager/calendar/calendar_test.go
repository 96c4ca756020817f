package calendar

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"
	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/pager/schedule"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func loadSchedule(t *testing.T, path string) *schedule.Schedule {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s schedule.Schedule
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	if err := (&schedule.Config{Schedules: []*schedule.Schedule{&s}}).Validate(); err != nil {
		t.Fatalf("validate %s: %v", path, err)
	}
	return &s
}

func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// parse reads a feed with an independent, maintained iCalendar library.
func parse(t *testing.T, feed []byte) *ics.Calendar {
	t.Helper()
	cal, err := ics.ParseCalendar(bytes.NewReader(feed))
	if err != nil {
		t.Fatalf("golang-ical cannot parse the feed: %v\n%s", err, feed)
	}
	return cal
}

// TestFeedMatchesPreview renders the schedule feed over the windows of the
// schedule package's DST preview goldens (pager/schedule/testdata/preview),
// checks it against testdata/NAME.ics, parses it with golang-ical and
// checks that the parsed events, shown in the schedule's zone, are exactly
// the lines of the preview golden.
func TestFeedMatchesPreview(t *testing.T) {
	stamp := ts(t, "2026-12-01T10:00:00Z")
	tests := []struct {
		file, from, to string
	}{
		{"berlin-fall", "2026-10-19T00:00:00+02:00", "2026-11-02T00:00:00+01:00"},
		{"newyork-spring", "2026-03-02T00:00:00-05:00", "2026-03-16T00:00:00-04:00"},
	}
	previews := filepath.Join("..", "schedule", "testdata", "preview")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s := loadSchedule(t, filepath.Join(previews, tt.file+".yaml"))
			shifts := s.Shifts(ts(t, tt.from), ts(t, tt.to))
			var buf bytes.Buffer
			if err := Write(&buf, Feed{Name: "On call: " + s.Name, Events: ScheduleEvents(s.Name, shifts)}, stamp); err != nil {
				t.Fatal(err)
			}
			checkLines(t, buf.Bytes())
			golden := filepath.Join("testdata", tt.file+".ics")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("feed differs from %s (run with -update after checking):\n%s", golden, buf.Bytes())
			}

			cal := parse(t, buf.Bytes())
			loc, err := time.LoadLocation(s.TimeZone)
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			uids := map[string]bool{}
			for _, ev := range cal.Events() {
				start, err := ev.GetStartAt()
				if err != nil {
					t.Fatal(err)
				}
				end, err := ev.GetEndAt()
				if err != nil {
					t.Fatal(err)
				}
				if uids[ev.Id()] {
					t.Errorf("UID %s twice", ev.Id())
				}
				uids[ev.Id()] = true
				if st, err := ev.GetDtStampTime(); err != nil || !st.Equal(stamp) {
					t.Errorf("DTSTAMP %v, %v; want %v", st, err, stamp)
				}
				user, ok := strings.CutSuffix(ev.GetProperty(ics.ComponentPropertySummary).Value, " on call")
				if !ok {
					t.Fatalf("summary %q", ev.GetProperty(ics.ComponentPropertySummary).Value)
				}
				start, end = start.In(loc), end.In(loc)
				got.WriteString(start.Format("Mon 2006-01-02 15:04 MST") + "  ->  " + end.Format("Mon 2006-01-02 15:04 MST"))
				got.WriteString("  " + padLeft(end.Sub(start).String(), 9) + "  " + user + "\n")
			}
			preview, err := os.ReadFile(filepath.Join(previews, tt.file+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			var want2 strings.Builder
			for _, line := range strings.Split(strings.TrimSpace(string(preview)), "\n") {
				if strings.HasPrefix(line, "#") {
					continue
				}
				i := strings.LastIndex(line, " (")
				want2.WriteString(line[:i] + "\n")
			}
			if got.String() != want2.String() {
				t.Errorf("parsed feed differs from the preview golden:\n--- feed\n%s--- preview\n%s", got.String(), want2.String())
			}
		})
	}
}

func padLeft(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat(" ", n-len(s)) + s
}

// checkLines checks the physical form: CRLF line ends only, every line at
// most 75 octets, valid UTF-8 after unfolding.
func checkLines(t *testing.T, feed []byte) {
	t.Helper()
	if !bytes.HasSuffix(feed, []byte("\r\n")) {
		t.Fatal("feed does not end in CRLF")
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(feed, []byte("\r\n")), []byte("\r\n")) {
		if len(line) > 75 { // RFC 5545 3.1
			t.Errorf("line %d is %d octets: %q", i+1, len(line), line)
		}
		if bytes.ContainsAny(line, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, line)
		}
		if !utf8.Valid(line) {
			t.Errorf("line %d splits a UTF-8 sequence: %q", i+1, line)
		}
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`a,b;c\d`, `a\,b\;c\\d`},
		{"two\nlines\r\nand\rmore", `two\nlines\nand\nmore`},
		{"bell\x07del\x7ftab\t", "belldeltab\t"},
		{"Zoë 日本", "Zoë 日本"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestHostileNames: names with every special character and long
// multi-byte runs survive a round trip through golang-ical unchanged, and
// the physical lines stay within the limits.
func TestHostileNames(t *testing.T) {
	names := []string{
		strings.Repeat("日本語", 60),
		"a,b;c\\d:e\"f",
		strings.Repeat("é", 200) + "x",
		strings.Repeat("x", 74) + "é" + strings.Repeat("😀", 30),
		"line one\nline two",
	}
	start := ts(t, "2026-03-08T06:00:00Z")
	for _, name := range names {
		t.Run("", func(t *testing.T) {
			shifts := []schedule.Shift{{User: name, Start: start, End: start.Add(time.Hour), Layer: "l"}}
			var buf bytes.Buffer
			if err := Write(&buf, Feed{Name: name, Events: UserEvents(name, name, shifts)}, start); err != nil {
				t.Fatal(err)
			}
			checkLines(t, buf.Bytes())
			cal := parse(t, buf.Bytes())
			evs := cal.Events()
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			if got := evs[0].GetProperty(ics.ComponentPropertySummary).Value; got != "On call: "+name {
				t.Errorf("summary %q, want %q", got, "On call: "+name)
			}
		})
	}
}

// TestUIDStable: the UID depends on the shift, not on the rendering, and
// differs between shifts.
func TestUIDStable(t *testing.T) {
	s := loadSchedule(t, filepath.Join("..", "schedule", "testdata", "preview", "newyork-spring.yaml"))
	a := ScheduleEvents("ops", s.Shifts(ts(t, "2026-03-02T00:00:00Z"), ts(t, "2026-03-20T00:00:00Z")))
	b := ScheduleEvents("ops", s.Shifts(ts(t, "2026-03-05T00:00:00Z"), ts(t, "2026-03-25T00:00:00Z")))
	byStart := map[time.Time]string{}
	seen := map[string]bool{}
	for _, e := range a {
		if seen[e.UID] {
			t.Fatalf("UID %s repeated", e.UID)
		}
		seen[e.UID] = true
		byStart[e.Start] = e.UID
	}
	n := 0
	for _, e := range b[1:] { // b[0] is clipped at its start
		if u, ok := byStart[e.Start]; ok {
			n++
			if u != e.UID {
				t.Errorf("shift at %v: UID %s, then %s", e.Start, u, e.UID)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d shifts in common", n)
	}
}

func TestWindow(t *testing.T) {
	for _, now := range []string{"2026-12-06T11:30:00Z", "2026-12-07T00:00:00Z", "2027-01-03T23:59:59+05:00"} {
		t.Run(now, func(t *testing.T) {
			n := ts(t, now)
			rf, from, to := Window(n)
			if from.After(n.Add(-Back)) || n.Sub(from) > Back+24*time.Hour {
				t.Errorf("from %v for now %v", from, n)
			}
			if to.Before(n.Add(Ahead)) || to.Sub(n) > Ahead+48*time.Hour {
				t.Errorf("to %v for now %v", to, n)
			}
			if rf.After(from) || from.Sub(rf) >= grid {
				t.Errorf("resolveFrom %v for from %v", rf, from)
			}
			// The grid start moves only when from crosses a grid line.
			rf2, _, _ := Window(n.Add(24 * time.Hour))
			if !rf2.Equal(rf) && !rf2.Equal(rf.Add(grid)) {
				t.Errorf("resolveFrom moved from %v to %v in a day", rf, rf2)
			}
		})
	}
}
