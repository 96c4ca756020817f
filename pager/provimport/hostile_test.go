package provimport

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadInput: bad JSON and files that are not API responses give a clear
// error naming the file and the line, column and offset; nothing is
// returned.
func TestBadInput(t *testing.T) {
	convs := map[string]func([]File, Options) (*Result, error){"pagerduty": PagerDuty, "opsgenie": Opsgenie}
	for _, tc := range []struct {
		name, conv, data, want string
	}{
		{"syntax", "pagerduty", "{\n  \"users\": [\n    {\"id\": \"P1\",}\n  ]\n}", "bad.json:3:17 (offset 32): invalid character '}'"},
		{"truncated", "opsgenie", "{\"data\": [", "bad.json:1:11 (offset 10): unexpected end of JSON input"},
		{"type", "pagerduty", "{\"users\": [{\"id\": 7}]}", "bad.json:1:19 (offset 19): users.id: number is not a string"},
		{"not pagerduty", "pagerduty", `{"incidents": []}`, "bad.json: not a PagerDuty API v2 response"},
		{"not opsgenie", "opsgenie", `{"result": "ok"}`, "bad.json: not an Opsgenie API response (no data)"},
		{"unknown element", "opsgenie", `{"data": [{"foo": 1}]}`, "bad.json: data[0]: not an Opsgenie user"},
		{"mixed elements", "opsgenie", `{"data": [{"username": "a@b.c"}, {"rules": []}]}`, "bad.json: data[1]"},
		{"bad time", "pagerduty", `{"schedule": {"id": "P1", "schedule_layers": [{"start": "yesterday"}]}}`, "bad.json: parsing time \"yesterday\""},
		{"orphan overrides", "pagerduty", `{"overrides": []}`, "bad.json: overrides: name the file after its schedule's ID"},
		{"orphan routing rules", "opsgenie", `{"data": [{"name": "r", "criteria": {"type": "match-all"}}]}`, "must contain the ID or name of exactly one exported team (it matches 0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := convs[tc.conv]([]File{{Name: "bad.json", Data: []byte(tc.data)}}, Options{})
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want an ErrInvalid containing %q", res, err, tc.want)
			}
		})
	}
}

// TestHugeInput: files beyond the limits are refused before they are
// read whole or parsed; the count of items is bounded too.
func TestHugeInput(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "users.json")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileBytes + 10); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	if _, err := ReadFiles([]string{big}); err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge file: %v", err)
	}
	if _, err := PagerDuty([]File{{Name: "x.json", Data: make([]byte, MaxFileBytes+1)}}, Options{}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge data: %v", err)
	}
	// Many small items: bounded by count.
	var b bytes.Buffer
	b.WriteString(`{"users": [`)
	for i := range maxItems + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{}`)
	}
	b.WriteString(`]}`)
	if _, err := PagerDuty([]File{{Name: "many.json", Data: b.Bytes()}}, Options{}); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("too many users: %v", err)
	}
	// A rotation of huge turns with many members is refused, not expanded.
	ms := make([]string, 100)
	for i := range ms {
		ms[i] = "u"
	}
	r := rotation{members: ms, anchor: importNow, days: 364}
	if _, why, ok := r.layer("l", time.UTC); ok || !strings.Contains(why, "exceed") {
		t.Errorf("huge rotation: ok %v, %q", ok, why)
	}
	if _, err := ReadFiles([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Errorf("missing file: no error")
	}
	if _, err := ReadFiles([]string{t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no files") {
		t.Errorf("empty directory: %v", err)
	}
}

// TestRestrictionWindows: weekly windows longer than a day are cut into
// daily pieces; a full week and a full day stay whole.
func TestRestrictionWindows(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ws    []window
		daily bool
		want  string
	}{
		{"daily overnight", []window{{start: 22 * 60, length: 8 * 60}}, true, "[{[] 22:00 06:00}]"},
		{"daily full day", []window{{start: 9 * 60, length: 1440}}, true, "[{[] 09:00 09:00}]"},
		{"weekend", []window{{start: 4*1440 + 18*60, length: 2*1440 + 14*60}}, false, "[{[fri] 18:00 18:00} {[sat] 18:00 18:00} {[sun] 18:00 08:00}]"},
		{"sunday into monday", []window{{start: 6*1440 + 20*60, length: 10 * 60}}, false, "[{[sun] 20:00 06:00}]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.TrimSpace(strings.ReplaceAll(sprint(restrictions(tc.ws, tc.daily)), "  ", " ")); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestManyEqualNames: thousands of schedules with one name get distinct
// names (name, name-2, …) and all load.
func TestManyEqualNames(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"users": [{"id": "U", "email": "u@example.com"}], "schedules": [`)
	const n = 3000
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id": "S%d", "name": "same", "time_zone": "UTC", "schedule_layers": [{"start": "2026-01-01T00:00:00Z", "rotation_virtual_start": "2026-01-01T00:00:00Z", "rotation_turn_length_seconds": 86400, "users": [{"user": {"id": "U"}}]}]}`, i)
	}
	b.WriteString(`]}`)
	res, err := PagerDuty([]File{{Name: "s.json", Data: b.Bytes()}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Config.Schedules) != n || res.Config.Schedules[n-1].Name != fmt.Sprintf("same-%d", n) {
		t.Errorf("%d schedules, last %q", len(res.Config.Schedules), res.Config.Schedules[len(res.Config.Schedules)-1].Name)
	}
}
