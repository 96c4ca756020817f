package schedule

import (
	"errors"
	"strings"
	"testing"
)

// base is a valid layer; tests replace single fields of it.
const base = `{name: l, members: [a], rotation: daily, start: 2026-01-01T09:00}`

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every error, in order
	}{
		{"unknown zone", `{name: p, time_zone: Mars/Olympus_Mons, layers: [` + base + `]}`,
			[]string{`schedules[p].time_zone: unknown time zone "Mars/Olympus_Mons"`}},
		{"missing zone", `{name: p, layers: [` + base + `]}`,
			[]string{`schedules[p].time_zone: missing`}},
		{"Local zone", `{name: p, time_zone: Local, layers: [` + base + `]}`,
			[]string{`schedules[p].time_zone: Local depends on the host`}},
		{"missing name", `{time_zone: UTC, layers: [` + base + `]}`,
			[]string{`schedules[].name: missing`}},
		{"no layers", `{name: p, time_zone: UTC}`,
			[]string{`schedules[p].layers: at least one layer is required`}},
		{"empty members", `{name: p, time_zone: UTC, layers: [{name: l, members: [], rotation: daily, start: 2026-01-01T09:00}]}`,
			[]string{`schedules[p].layers[0].members: at least one member is required`}},
		{"blank member", `{name: p, time_zone: UTC, layers: [` + base + `, {name: m, members: [a, " "], rotation: daily, start: 2026-01-01T09:00}]}`,
			[]string{`schedules[p].layers[1].members[1]: empty member name`}},
		{"bad rotation", `{name: p, time_zone: UTC, layers: [` + base + `, {name: m, members: [a], rotation: fortnightly, start: 2026-01-01T09:00}]}`,
			[]string{`schedules[p].layers[1].rotation: "fortnightly" is not daily, weekly or custom`}},
		{"missing rotation", `{name: p, time_zone: UTC, layers: [{name: l, members: [a], start: 2026-01-01T09:00}]}`,
			[]string{`schedules[p].layers[0].rotation: missing`}},
		{"custom without length", `{name: p, time_zone: UTC, layers: [{name: l, members: [a], rotation: custom, start: 2026-01-01T09:00}]}`,
			[]string{`schedules[p].layers[0].length: required for a custom rotation`}},
		{"custom length too short", `{name: p, time_zone: UTC, layers: [{name: l, members: [a], rotation: custom, length: 59m, start: 2026-01-01T09:00}]}`,
			[]string{`schedules[p].layers[0].length: 59m must be whole minutes and at least 1h0m0s`}},
		{"custom length not a duration", `{name: p, time_zone: UTC, layers: [{name: l, members: [a], rotation: custom, length: 2d, start: 2026-01-01T09:00}]}`,
			[]string{`schedules[p].layers[0].length: "2d" is not a duration`}},
		{"custom with handoff", `{name: p, time_zone: UTC, layers: [{name: l, members: [a], rotation: custom, length: 36h, handoff: "09:00", start: 2026-01-01T09:00}]}`,
			[]string{`schedules[p].layers[0].handoff: not used by a custom rotation`}},
		{"length on daily", `{name: p, time_zone: UTC, layers: [{name: l, members: [a], rotation: daily, length: 36h, start: 2026-01-01T09:00}]}`,
			[]string{`schedules[p].layers[0].length: only a custom rotation has a length`}},
		{"duplicate layer", `{name: p, time_zone: UTC, layers: [` + base + `, ` + base + `]}`,
			[]string{`schedules[p].layers[1].name: duplicate layer name "l"`}},
		{"missing start", `{name: p, time_zone: UTC, layers: [{name: l, members: [a], rotation: daily}]}`,
			[]string{`schedules[p].layers[0].start: missing`}},
		{"bad start", `{name: p, time_zone: UTC, layers: [{name: l, members: [a], rotation: daily, start: 2026-02-30T09:00}]}`,
			[]string{`schedules[p].layers[0].start: "2026-02-30T09:00" is not a date-time`}},
		{"start out of range", `{name: p, time_zone: UTC, layers: [{name: l, members: [a], rotation: daily, start: 1900-01-01T09:00}]}`,
			[]string{`schedules[p].layers[0].start: year 1900 is outside 1970 to 9999`}},
		{"bad handoff", `{name: p, time_zone: UTC, layers: [{name: l, members: [a], rotation: daily, start: 2026-01-01T09:00, handoff: "24:00"}]}`,
			[]string{`schedules[p].layers[0].handoff: "24:00" is not a time of day`}},
		{"bad day names", `{name: p, time_zone: UTC, layers: [{name: l, members: [a], rotation: daily, start: 2026-01-01T09:00, restrictions: [{days: [mon, funday, tues], from: "09:00", to: "17:00"}]}]}`,
			[]string{
				`schedules[p].layers[0].restrictions[0].days[1]: "funday" is not a day`,
				`schedules[p].layers[0].restrictions[0].days[2]: "tues" is not a day`,
			}},
		{"bad times", `{name: p, time_zone: UTC, layers: [{name: l, members: [a], rotation: daily, start: 2026-01-01T09:00, restrictions: [{from: "24:00", to: "17:60"}, {from: "9am", to: "+1:00"}, {to: "17:00"}]}]}`,
			[]string{
				`schedules[p].layers[0].restrictions[0].from: "24:00" is not a time of day`,
				`schedules[p].layers[0].restrictions[0].to: "17:60" is not a time of day`,
				`schedules[p].layers[0].restrictions[1].from: "9am" is not a time of day`,
				`schedules[p].layers[0].restrictions[1].to: "+1:00" is not a time of day`,
				`schedules[p].layers[0].restrictions[2].from: "" is not a time of day`,
			}},
		{"override end before start", `{name: p, time_zone: UTC, layers: [` + base + `], overrides: [{user: e, start: 2026-01-02T00:00, end: 2026-01-01T00:00}]}`,
			[]string{`schedules[p].overrides[0].end: 2026-01-01T00:00 is not after start 2026-01-02T00:00`}},
		{"override end equals start across offsets", `{name: p, time_zone: UTC, layers: [` + base + `], overrides: [{user: e, start: 2026-01-01T01:00, end: "2026-01-01T02:00:00+01:00"}]}`,
			[]string{`schedules[p].overrides[0].end: 2026-01-01T02:00:00+01:00 is not after start`}},
		{"override without user or times", `{name: p, time_zone: UTC, layers: [` + base + `], overrides: [{}]}`,
			[]string{
				`schedules[p].overrides[0].user: missing`,
				`schedules[p].overrides[0].start: missing`,
				`schedules[p].overrides[0].end: missing`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := decode(tt.yaml)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			err = s.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrInvalid", err)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tt.want), err)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("error %d = %q, want prefix %q", i, got[i], tt.want[i])
				}
			}
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(e.Path, "schedules[") {
				t.Errorf("errors.As(*Error) = %v", e)
			}
			if _, ok := s.OnCall(ts(t, "2026-06-01T12:00:00Z")); ok {
				t.Error("an invalid schedule reports someone on call")
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	var c Config
	c.Schedules = []*Schedule{
		{Name: "a", TimeZone: "UTC", Layers: []Layer{{Name: "l", Members: []string{"x"}, Rotation: RotationDaily, Start: "2026-01-01T00:00"}}},
		{Name: "a", TimeZone: "UTC", Layers: []Layer{{Name: "l", Members: []string{"x"}, Rotation: RotationDaily, Start: "2026-01-01T00:00"}}},
		{TimeZone: "Nowhere"},
		nil,
	}
	err := c.Validate()
	want := []string{
		`schedules[1].name: duplicate schedule name "a"`,
		`schedules[2].name: missing`,
		`schedules[2].time_zone: unknown time zone "Nowhere"`,
		`schedules[2].layers: at least one layer is required`,
		`schedules[3]: empty schedule`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("Validate() =\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
	if c.Get("a") != c.Schedules[0] || c.Get("b") != nil {
		t.Error("Get returns the wrong schedule")
	}
	if _, ok := c.Get("a").OnCall(ts(t, "2026-01-02T00:00:00Z")); !ok {
		t.Error("the valid schedule was not compiled")
	}
}
