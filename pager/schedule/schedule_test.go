package schedule

import (
	"testing"
	"time"
)

// want is an expected OnCall answer: user "" means nobody.
type want struct {
	at   string
	user string
}

func TestOnCall(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		wants []want
	}{
		{
			name: "daily",
			yaml: `{name: s, time_zone: UTC, layers: [{name: l, members: [a, b, c], rotation: daily, start: 2026-01-05T09:00}]}`,
			wants: []want{
				{"2026-01-05T08:59:59Z", ""},
				{"2026-01-05T09:00:00Z", "a"},
				{"2026-01-06T08:59:59Z", "a"},
				{"2026-01-06T09:00:00Z", "b"},
				{"2026-01-07T09:00:00Z", "c"},
				{"2026-01-08T09:00:00Z", "a"},
				{"2027-01-05T09:00:00Z", "c"}, // 365 days later: 365 mod 3 = 2
			},
		},
		{
			name: "weekly in Berlin",
			yaml: `{name: s, time_zone: Europe/Berlin, layers: [{name: l, members: [alice, bob], rotation: weekly, start: 2026-01-05T09:00}]}`,
			wants: []want{
				{"2026-01-05T07:59:59Z", ""},
				{"2026-01-05T08:00:00Z", "alice"}, // 09:00 CET
				{"2026-01-12T07:59:59Z", "alice"},
				{"2026-01-12T08:00:00Z", "bob"},
				{"2026-01-19T08:00:00Z", "alice"},
			},
		},
		{
			name: "daily handoff after start: partial first shift",
			yaml: `{name: s, time_zone: UTC, layers: [{name: l, members: [a, b, c], rotation: daily, start: 2026-01-05T00:00, handoff: "09:00"}]}`,
			wants: []want{
				{"2026-01-05T00:00:00Z", "a"},
				{"2026-01-05T08:59:00Z", "a"},
				{"2026-01-05T09:00:00Z", "b"},
				{"2026-01-06T09:00:00Z", "c"},
			},
		},
		{
			name: "weekly handoff before start's time: first handoff a week on",
			yaml: `{name: s, time_zone: UTC, layers: [{name: l, members: [a, b], rotation: weekly, start: 2026-01-07T12:00, handoff: "9:00"}]}`,
			wants: []want{
				{"2026-01-07T12:00:00Z", "a"},
				{"2026-01-14T08:59:00Z", "a"},
				{"2026-01-14T09:00:00Z", "b"},
				{"2026-01-21T09:00:00Z", "a"},
			},
		},
		{
			name: "custom 36h",
			yaml: `{name: s, time_zone: UTC, layers: [{name: l, members: [a, b, c], rotation: custom, length: 36h, start: 2026-01-05T00:00}]}`,
			wants: []want{
				{"2026-01-06T11:59:59Z", "a"},
				{"2026-01-06T12:00:00Z", "b"},
				{"2026-01-08T00:00:00Z", "c"},
				{"2026-01-09T12:00:00Z", "a"},
			},
		},
		{
			name: "start with an explicit offset",
			yaml: `{name: s, time_zone: America/New_York, layers: [{name: l, members: [a, b], rotation: daily, start: "2026-01-05T14:00:00Z"}]}`,
			wants: []want{
				{"2026-01-05T13:59:00Z", ""},
				{"2026-01-05T14:00:00Z", "a"},
				{"2026-01-06T09:00:00-05:00", "b"},
			},
		},
		{
			name: "layers with restrictions",
			yaml: `
name: primary
time_zone: Europe/Berlin
layers:
  - name: weekly
    members: [alice, bob, carol]
    rotation: weekly
    start: 2026-01-05T09:00
    restrictions: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}]
  - name: weekend-cover
    members: [dave]
    rotation: daily
    start: 2026-01-03T00:00
    restrictions: [{days: [sat, sun], from: "00:00", to: "24:00"}]
`,
			wants: []want{
				{"2026-01-05T10:00:00+01:00", "alice"},
				{"2026-01-05T16:59:00+01:00", "alice"},
				{"2026-01-05T17:00:00+01:00", ""},
				{"2026-01-06T08:59:00+01:00", ""},
				{"2026-01-09T16:00:00+01:00", "alice"},
				{"2026-01-10T00:00:00+01:00", "dave"},
				{"2026-01-11T23:59:00+01:00", "dave"},
				{"2026-01-12T00:00:00+01:00", ""},
				{"2026-01-12T09:00:00+01:00", "bob"},
			},
		},
		{
			name: "higher layer wins only where it has someone",
			yaml: `
name: s
time_zone: UTC
layers:
  - {name: base, members: [a, b], rotation: daily, start: 2026-01-05T00:00}
  - name: night
    members: [n]
    rotation: weekly
    start: 2026-01-05T00:00
    restrictions: [{days: [mon], from: "22:00", to: "06:00"}, {days: [Friday], from: "12:00", to: "12:00"}]
`,
			wants: []want{
				{"2026-01-05T21:59:00Z", "a"},
				{"2026-01-05T22:00:00Z", "n"},
				{"2026-01-06T05:59:00Z", "n"}, // the Monday window crosses midnight
				{"2026-01-06T06:00:00Z", "b"},
				{"2026-01-06T22:00:00Z", "b"}, // no Tuesday window
				{"2026-01-09T11:59:00Z", "a"},
				{"2026-01-09T12:00:00Z", "n"}, // from == to: 24 hours
				{"2026-01-10T11:59:00Z", "n"},
				{"2026-01-10T12:00:00Z", "b"},
			},
		},
		{
			name: "overrides, partially overlapping: the last listed wins",
			yaml: `
name: s
time_zone: Europe/Berlin
layers: [{name: base, members: [a], rotation: daily, start: 2026-11-01T00:00}]
overrides:
  - {user: erin, start: 2026-11-24T10:00, end: 2026-11-24T14:00}
  - {user: frank, start: 2026-11-24T12:00, end: 2026-11-24T16:00}
  - {user: gina, start: "2026-11-25T08:00:00Z", end: "2026-11-25T09:00:00Z"}
`,
			wants: []want{
				{"2026-11-24T09:59:00+01:00", "a"},
				{"2026-11-24T10:00:00+01:00", "erin"},
				{"2026-11-24T11:59:00+01:00", "erin"},
				{"2026-11-24T12:00:00+01:00", "frank"},
				{"2026-11-24T15:59:00+01:00", "frank"},
				{"2026-11-24T16:00:00+01:00", "a"},
				{"2026-11-25T09:00:00+01:00", "gina"},
				{"2026-11-25T10:00:00+01:00", "a"},
			},
		},
		{
			name: "override where no layer has anyone",
			yaml: `
name: s
time_zone: UTC
layers: [{name: l, members: [a], rotation: daily, start: 2026-01-01T00:00, restrictions: [{from: "09:00", to: "17:00"}]}]
overrides: [{user: erin, start: 2026-01-01T18:00, end: 2026-01-02T08:00}]
`,
			wants: []want{
				{"2026-01-01T17:30:00Z", ""},
				{"2026-01-01T18:00:00Z", "erin"},
				{"2026-01-02T08:00:00Z", ""},
				{"2026-01-02T09:00:00Z", "a"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := load(t, tt.yaml)
			for _, w := range tt.wants {
				u, ok := s.OnCall(ts(t, w.at))
				if u != w.user || ok != (w.user != "") {
					t.Errorf("OnCall(%s) = %q, %v; want %q", w.at, u, ok, w.user)
				}
			}
			from := ts(t, tt.wants[0].at).Add(-48 * time.Hour)
			checkTimeline(t, s, from, from.Add(30*24*time.Hour))
		})
	}
}

func TestShiftsOverlappingOverrides(t *testing.T) {
	s := load(t, `
name: s
time_zone: UTC
layers: [{name: base, members: [a, b], rotation: daily, start: 2026-01-01T09:00}]
overrides:
  - {user: erin, start: 2026-01-01T10:00, end: 2026-01-01T14:00}
  - {user: frank, start: 2026-01-01T12:00, end: 2026-01-02T10:00}
  - {user: frank, start: 2026-01-02T10:00, end: 2026-01-02T11:00}
`)
	got := checkTimeline(t, s, ts(t, "2026-01-01T00:00:00Z"), ts(t, "2026-01-03T00:00:00Z"))
	want := []Shift{
		{User: "a", Start: ts(t, "2026-01-01T09:00:00Z"), End: ts(t, "2026-01-01T10:00:00Z"), Layer: "base"},
		{User: "erin", Start: ts(t, "2026-01-01T10:00:00Z"), End: ts(t, "2026-01-01T12:00:00Z"), Override: true},
		// Two adjoining overrides of frank merge; the handoff under them is hidden.
		{User: "frank", Start: ts(t, "2026-01-01T12:00:00Z"), End: ts(t, "2026-01-02T11:00:00Z"), Override: true},
		{User: "b", Start: ts(t, "2026-01-02T11:00:00Z"), End: ts(t, "2026-01-03T00:00:00Z"), Layer: "base"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d shifts:\n%s", len(got), formatShifts(got))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.User != w.User || !g.Start.Equal(w.Start) || !g.End.Equal(w.End) || g.Layer != w.Layer || g.Override != w.Override {
			t.Errorf("shift %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestShiftsMergeSingleMember(t *testing.T) {
	s := load(t, `{name: s, time_zone: Europe/Berlin, layers: [{name: l, members: [solo], rotation: daily, start: 2026-01-01T09:00}]}`)
	from, to := ts(t, "2026-03-01T00:00:00Z"), ts(t, "2026-04-01T00:00:00Z")
	got := checkTimeline(t, s, from, to)
	if len(got) != 1 || !got[0].Start.Equal(from) || !got[0].End.Equal(to) {
		t.Fatalf("want one merged shift, got:\n%s", formatShifts(got))
	}
	if got := s.NextHandoff(from); !got.IsZero() {
		t.Fatalf("NextHandoff with nothing changing = %v, want zero", got)
	}
}

func TestNextHandoff(t *testing.T) {
	s := load(t, `
name: s
time_zone: America/New_York
layers: [{name: l, members: [a, b], rotation: daily, start: 2026-01-01T09:00, restrictions: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}]}]
overrides: [{user: erin, start: 2026-01-06T12:00, end: 2026-01-06T13:00}]
`)
	tests := []struct{ name, at, want string }{
		{"before the layer starts", "2025-12-01T00:00:00-05:00", "2026-01-01T09:00:00-05:00"},
		{"on call: end of the window", "2026-01-05T10:00:00-05:00", "2026-01-05T17:00:00-05:00"},
		{"exactly at a handoff", "2026-01-05T09:00:00-05:00", "2026-01-05T17:00:00-05:00"},
		{"nobody: next window", "2026-01-05T17:00:00-05:00", "2026-01-06T09:00:00-05:00"},
		{"weekend: Monday", "2026-01-09T17:00:00-05:00", "2026-01-12T09:00:00-05:00"},
		{"override starts", "2026-01-06T09:30:00-05:00", "2026-01-06T12:00:00-05:00"},
		{"override ends", "2026-01-06T12:00:00-05:00", "2026-01-06T13:00:00-05:00"},
		{"after the DST change", "2026-03-09T08:00:00-04:00", "2026-03-09T09:00:00-04:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.NextHandoff(ts(t, tt.at))
			if want := ts(t, tt.want); !got.Equal(want) {
				t.Fatalf("NextHandoff(%s) = %v, want %v", tt.at, got, want)
			}
		})
	}
}

func TestNotValidated(t *testing.T) {
	s, err := decode(`{name: s, time_zone: UTC, layers: [{name: l, members: [a], rotation: daily, start: 2026-01-01T00:00}]}`)
	if err != nil {
		t.Fatal(err)
	}
	now := ts(t, "2026-02-01T00:00:00Z")
	if _, ok := s.OnCall(now); ok {
		t.Error("OnCall before Validate reports someone")
	}
	if got := s.Shifts(now, now.Add(time.Hour)); got != nil {
		t.Errorf("Shifts before Validate = %v", got)
	}
	if got := s.NextHandoff(now); !got.IsZero() {
		t.Errorf("NextHandoff before Validate = %v", got)
	}
}
