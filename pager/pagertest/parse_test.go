package pagertest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseFile(t *testing.T) {
	f, err := ParseFile([]byte(`
pager_config: pager.yml
start_time: 2026-11-24T03:00:00Z
tests:
  - name: t
    alerts:
      - at: 1m
        labels: {alertname: A}
        annotations: {summary: s}
        resolve_at: 30m
    actions:
      - {at: 3m, ack: alice}
      - {at: 4m, snooze: bob, until: 1h, incident: inc-2}
      - {at: 5m, note: hi}
    expect_pages:
    expect_no_pages_after: 3m
  - start_time: 1700000000
    until: 2h
    alerts: [{labels: {alertname: B}}]
    expect_forwards: [{at: 0s, channel: c, event: resolve}]
`), "dir/x.yml")
	if err != nil {
		t.Fatal(err)
	}
	if f.PagerConfig != "dir/pager.yml" || f.PagerConfigLine != 2 || len(f.Tests) != 2 {
		t.Fatalf("file: %+v", f)
	}
	t0, t1 := f.Tests[0], f.Tests[1]
	start := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	switch {
	case !t0.StartTime.Equal(start), t0.Until != 2*time.Hour, !t0.CheckPages, len(t0.ExpectPages) != 0,
		t0.CheckForwards, !t0.CheckNoPagesAfter, t0.NoPagesAfter != 3*time.Minute:
		t.Errorf("test 0: %+v", t0)
	case t0.Alerts[0].At != time.Minute || t0.Alerts[0].ResolveAt != 30*time.Minute || t0.Alerts[0].Annotations["summary"] != "s":
		t.Errorf("alert: %+v", t0.Alerts[0])
	case t0.Actions[0] != (Action{At: 3 * time.Minute, Verb: VerbAck, By: "alice", Line: 12}),
		t0.Actions[1] != (Action{At: 4 * time.Minute, Verb: VerbSnooze, By: "bob", Until: time.Hour, Incident: "inc-2", Line: 13}),
		t0.Actions[2] != (Action{At: 5 * time.Minute, Verb: VerbNote, By: DefaultActor, Text: "hi", Line: 14}):
		t.Errorf("actions: %+v", t0.Actions)
	case !t1.StartTime.Equal(time.Unix(1700000000, 0)), t1.Until != 2*time.Hour, t1.CheckPages, !t1.CheckForwards,
		t1.ExpectForwards[0].Event != "resolve":
		t.Errorf("test 1: %+v", t1)
	}
}

func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string // every error, in order
	}{
		{"empty", ``, []string{"x.yml: empty file"}},
		{"syntax", "pager_config: [", []string{"x.yml:1: did not find expected node content"}},
		{"not a map", "- a", []string{"x.yml:1: expected a map, got a list"}},
		{"missing config", "tests: []", []string{"x.yml:1: missing required pager_config"}},
		{"unknown keys", "pager_config: p\nrule_files: []\ntests:\n  - alerts: [{labels: {a: b}, severity: page}]\n    expect: []",
			[]string{`x.yml:2: unknown key "rule_files"`, `x.yml:4: tests[0].alerts[0]: unknown key "severity"`,
				`x.yml:5: tests[0]: unknown key "expect"`}},
		{"duplicate", "pager_config: p\npager_config: q", []string{`x.yml:2: duplicate key "pager_config" (first at line 1)`}},
		{"bad values", `pager_config: p
start_time: yesterday
tests:
  - until: 0s
    alerts:
      - {at: -1m, labels: {a: b}, resolve_at: 0s}
      - {at: soon, labels: {}}
      - {annotations: {}}
    actions:
      - {at: 1m}
      - {ack: a, resolve: b, at: 1m}
      - {at: 1m, snooze: a}
      - {at: 2m, snooze: a, until: 1m}
      - {at: 1m, ack: a, by: b, until: 3m}
      - {at: 1m, ack: ""}
      - {at: 100y, escalate: a}
    expect_pages:
      - {at: 1m, user: a, method: pigeon}
      - {at: 1m, user: [a]}
    expect_forwards:
      - {at: 2h, channel: c, event: fire}
    expect_no_pages_after: {}`, []string{
			`x.yml:2: start_time: cannot parse "yesterday" as Unix seconds or an RFC 3339 time`,
			`x.yml:4: tests[0].until: must be more than 0`,
			`x.yml:6: tests[0].alerts[0].at: invalid duration "-1m": use a duration such as 0m, 90s or 1h30m`,
			`x.yml:6: tests[0].alerts[0].resolve_at: must be after at (0s)`,
			`x.yml:7: tests[0].alerts[1].at: invalid duration "soon": use a duration such as 0m, 90s or 1h30m`,
			`x.yml:7: tests[0].alerts[1].labels: must not be empty`,
			`x.yml:8: tests[0].alerts[2]: missing required labels`,
			`x.yml:10: tests[0].actions[0]: missing the action: one of ack, resolve, escalate, note, snooze, reassign, add_responder, decline`,
			`x.yml:11: tests[0].actions[1]: one action per entry, got ack and resolve`,
			`x.yml:12: tests[0].actions[2]: snooze needs until`,
			`x.yml:13: tests[0].actions[3].until: must be after at (2m)`,
			`x.yml:14: tests[0].actions[4].by: not allowed with ack (its value is the user)`,
			`x.yml:14: tests[0].actions[4].until: only allowed with snooze`,
			`x.yml:15: tests[0].actions[5].ack: must not be empty`,
			`x.yml:16: tests[0].actions[6].at: offset 100y is more than a year`,
			`x.yml:18: tests[0].expect_pages[0].method: unknown method "pigeon": one of push, sms, voice, email, slack`,
			`x.yml:19: tests[0].expect_pages[1].user: expected a string, got a list`,
			`x.yml:19: tests[0].expect_pages[1]: missing required method`,
			`x.yml:21: tests[0].expect_forwards[0].at: page at 2h is after until`, // replaced below
		}},
		{"no alerts", "pager_config: p\ntests:\n  - name: x\n    expect_pages: []", []string{"x.yml:3: tests[0]: no alerts: a paging test needs at least one"}},
		{"after until", "pager_config: p\ntests:\n  - until: 10m\n    alerts: [{labels: {a: b}}]\n    expect_pages: [{at: 11m, user: u, method: sms}]",
			[]string{"x.yml:5: tests[0].expect_pages[0]: page at 11m is after until (10m, line 3)"}},
		{"responders", "pager_config: p\ntests:\n  - alerts: [{labels: {a: b}}]\n    actions:\n      - {at: 1m, add_responder: team:x}\n      - {at: 1m, add_responder: 'schedule:'}\n      - {at: 1m, decline: a, by: b}\n    expect_pages: [{at: 1m, user: u, method: sms, urgency: medium}]",
			[]string{
				`x.yml:5: tests[0].actions[0].add_responder: target "team:x": want NAME, user:NAME, schedule:NAME or policy:NAME`,
				`x.yml:6: tests[0].actions[1].add_responder: target "schedule:": want NAME, user:NAME, schedule:NAME or policy:NAME`,
				`x.yml:7: tests[0].actions[2].by: not allowed with decline (its value is the user)`,
				`x.yml:8: tests[0].expect_pages[0].urgency: unknown urgency "medium": high or low`,
			}},
		{"two documents", "pager_config: p\n---\npager_config: q", []string{"x.yml:2: a test file holds one YAML document, found another"}},
		{"aliases", "pager_config: p\nx: &a [*a]", []string{`x.yml:2: unknown key "x"`}},
	}
	// Fix the one entry whose message depends on the order of checks.
	tests[6].want[len(tests[6].want)-1] = `x.yml:21: tests[0].expect_forwards[0].event: unknown event "fire": one of trigger, acknowledge, resolve`
	tests[6].want = append(tests[6].want, `x.yml:22: tests[0].expect_no_pages_after: expected a duration, got a map`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile([]byte(tt.doc), "x.yml")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestIsTestFile(t *testing.T) {
	for doc, want := range map[string]bool{
		"pager_config: p.yml\ntests: []":        true,
		"rule_files: [a.yml]\ntests: []":        false,
		"pager:\n  users: []":                   false,
		"- pager_config":                        false,
		"{{{":                                   false,
		"# comment only\npager_config: x.yml\n": true,
	} {
		if got := IsTestFile([]byte(doc)); got != want {
			t.Errorf("IsTestFile(%q) = %v", doc, got)
		}
	}
}
