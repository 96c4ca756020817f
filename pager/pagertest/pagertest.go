// Package pagertest reads and runs paging unit tests: a pager
// configuration, alerts and human actions at offsets from a start time,
// and the pages (and optionally the forwards to external channels)
// expected in return. `watchdog test` runs these files next to rule tests
// in promtool's format.
//
// # File format
//
//	pager_config: pager.yml           # required; relative to this file. A file
//	                                  # with a top-level `pager:` section.
//	start_time: 2026-11-24T03:00:00Z  # optional: RFC 3339 or Unix seconds;
//	                                  # default the Unix epoch, as promtool.
//	tests:
//	  - name: nobody acks             # optional; "unnamed#i" in reports
//	    start_time: ...               # optional: overrides the file's
//	    until: 1h                     # optional: how long to simulate
//	    alerts:                       # alerts arriving at offsets
//	      - at: 0m                    # default 0
//	        labels: {alertname: LoginErrorSpike, severity: page}  # required
//	        annotations: {summary: Login errors}
//	        resolve_at: 30m           # optional: when the alert ends (> at)
//	    actions:                      # optional: what people do
//	      - {at: 3m, ack: alice}
//	      - {at: 4m, note: "restarted the frontend", by: alice}
//	      - {at: 5m, snooze: alice, until: 35m}
//	      - {at: 6m, reassign: bob, by: alice}
//	      - {at: 7m, escalate: alice}
//	      - {at: 8m, add_responder: schedule:db, by: alice}   # help on demand
//	      - {at: 8m30s, ack: dave}    # an added responder acks their part only
//	      - {at: 9m, resolve: alice, incident: inc-1}
//	    expect_pages:                 # the exact pages; anything else fails
//	      - {at: 0m, user: alice, method: push}
//	      - {at: 2m, user: alice, method: sms, urgency: high}
//	    expect_forwards:              # optional: the exact forwards to the
//	      - {at: 0m, channel: ops-webhook, event: trigger}   # route channels
//	    expect_no_pages_after: 3m     # optional
//
// Offsets are Prometheus durations (0m, 90s, 1h30m, 1d). Every key but
// pager_config and labels is optional; unknown and repeated keys, bad
// values and references to users or channels the pager config does not
// have are errors reported with file:line.
//
// An action applies to the incident it names or, without `incident`, to
// every open incident it makes sense for (ack: the triggered ones); one
// that applies to none fails the test. Incident IDs are inc-1, inc-2, …
// in the order incidents open.
//
// A test checks expect_pages only when the key is present: `expect_pages:
// []` asserts that nobody is paged. Pages are compared as (at, user,
// method) and, when any expected page of the test names an urgency (high
// or low), by urgency too, a page that omits it expecting high; pages at
// the same instant may be listed in any order. The same
// goes for expect_forwards with (at, channel, event). A test simulates up
// to `until`, by default one hour after the latest offset the test
// mentions; pages later than until are neither produced nor checked.
//
// # How a test runs
//
// Each test gets a fresh pager.Pager over a MemStore, built with
// pager.New from the config (the daemon's code path: routing, grouping,
// inhibition, Step, the store, the timer heap and delivery workers in
// Pager.Run). Its clock is virtual: the runner moves it to the next
// instant at which anything is due (a scripted alert or action, or an
// incident's NextDue), wakes Run, and waits until the pager is idle (no
// pending delivery, nothing due) before moving on. Timers due at an
// instant fire before the alerts and then the actions scripted for it, in
// file order. Every channel the pager could deliver through is replaced
// by a recorder that notes (virtual time, user, method) on each handoff.
package pagertest

import (
	"fmt"
	"os"
	"time"

	"github.com/prometheus/common/model"
)

// File is one parsed paging test file.
type File struct {
	// Path is the file name given to ParseFile or LoadFile.
	Path string `yaml:"-"`
	// PagerConfig is the pager_config entry, joined with Path's directory
	// when relative.
	PagerConfig string `yaml:"pager_config"`
	// PagerConfigLine is the line of the pager_config entry.
	PagerConfigLine int `yaml:"-"`
	// Tests are the tests in file order.
	Tests []Test `yaml:"tests"`
}

// Test is one entry of tests.
type Test struct {
	// Name is the test's name; "" when unnamed (see DisplayName).
	Name string `yaml:"name"`
	// StartTime is the time of offset zero.
	StartTime time.Time `yaml:"start_time"`
	// Until is how long the test simulates, after StartTime.
	Until   time.Duration `yaml:"until"`
	Alerts  []Alert       `yaml:"alerts"`
	Actions []Action      `yaml:"actions"`
	// CheckPages is true when expect_pages is present; ExpectPages are
	// then the exact pages expected.
	CheckPages  bool   `yaml:"-"`
	ExpectPages []Page `yaml:"expect_pages"`
	// CheckForwards is true when expect_forwards is present.
	CheckForwards  bool      `yaml:"-"`
	ExpectForwards []Forward `yaml:"expect_forwards"`
	// NoPagesAfter is expect_no_pages_after, valid when CheckNoPagesAfter.
	CheckNoPagesAfter bool          `yaml:"-"`
	NoPagesAfter      time.Duration `yaml:"expect_no_pages_after"`
	// Line is the line the test starts on.
	Line int `yaml:"-"`
}

// DisplayName is the test's name, or "unnamed#i" for the i-th test.
func (t *Test) DisplayName(i int) string {
	if t.Name != "" {
		return t.Name
	}
	return fmt.Sprintf("unnamed#%d", i)
}

// latest returns the latest offset the test mentions.
func (t *Test) latest() time.Duration {
	var m time.Duration
	for _, a := range t.Alerts {
		m = max(m, a.At, a.ResolveAt)
	}
	for _, a := range t.Actions {
		m = max(m, a.At, a.Until)
	}
	for _, p := range t.ExpectPages {
		m = max(m, p.At)
	}
	for _, f := range t.ExpectForwards {
		m = max(m, f.At)
	}
	if t.CheckNoPagesAfter {
		m = max(m, t.NoPagesAfter)
	}
	return m
}

// DefaultUntilMargin is how long past its latest offset a test without
// `until` simulates.
const DefaultUntilMargin = time.Hour

// Alert is one alert arriving at At. A non-zero ResolveAt sends it again
// with EndsAt = ResolveAt at that offset.
type Alert struct {
	At          time.Duration     `yaml:"at"`
	ResolveAt   time.Duration     `yaml:"resolve_at"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
	Line        int               `yaml:"-"`
}

// Action verbs.
const (
	VerbAck      = "ack"
	VerbResolve  = "resolve"
	VerbEscalate = "escalate"
	VerbNote     = "note"
	VerbSnooze   = "snooze"
	VerbReassign = "reassign"
	// VerbAddResponder asks a target (NAME, user:NAME, schedule:NAME or
	// policy:NAME) to help; `by` is who asks. An added responder's ack
	// acknowledges their part only; VerbDecline declines it.
	VerbAddResponder = "add_responder"
	VerbDecline      = "decline"
)

// verbs lists the action verbs in the order errors name them.
var verbs = []string{VerbAck, VerbResolve, VerbEscalate, VerbNote, VerbSnooze, VerbReassign, VerbAddResponder, VerbDecline}

// DefaultActor is who writes a note or reassigns when `by` is left out.
const DefaultActor = "pagertest"

// Action is one human action at At.
type Action struct {
	At   time.Duration `yaml:"at"`
	Verb string        `yaml:"-"`
	// By is the acting user (the value of ack, resolve, escalate, snooze;
	// the `by` key of note and reassign).
	By string `yaml:"by"`
	// To is the user a reassign hands the incident to, or the target of
	// add_responder.
	To string `yaml:"-"`
	// Text is a note's text.
	Text string `yaml:"-"`
	// Until is the offset a snooze lasts to.
	Until time.Duration `yaml:"until"`
	// Incident names the incident; "" means every one the verb applies to.
	Incident string `yaml:"incident"`
	Line     int    `yaml:"-"`
}

// Page is one notification handed to a channel for a user.
type Page struct {
	At     time.Duration `yaml:"at"`
	User   string        `yaml:"user"`
	Method string        `yaml:"method"`
	// Urgency is "high" or "low"; optional in expect_pages (see Check).
	Urgency string `yaml:"urgency"`
	// Incident is set on pages that happened (not compared).
	Incident string `yaml:"-"`
	Line     int    `yaml:"-"`
}

// String formats the page as in reports: "2m alice sms", "8h alice push
// (low urgency)".
func (p Page) String() string {
	s := fmt.Sprintf("%s %s %s", model.Duration(p.At), p.User, p.Method)
	if p.Urgency == "low" {
		s += " (low urgency)"
	}
	return s
}

// Forward is one incident event handed to a route's external channel.
type Forward struct {
	At      time.Duration `yaml:"at"`
	Channel string        `yaml:"channel"`
	Event   string        `yaml:"event"`
	// Incident is set on forwards that happened (not compared).
	Incident string `yaml:"-"`
	Line     int    `yaml:"-"`
}

// String formats the forward as in reports: "0s ops-webhook trigger".
func (f Forward) String() string {
	return fmt.Sprintf("%s %s %s", model.Duration(f.At), f.Channel, f.Event)
}

// LoadFile reads and parses the test file at path (not its pager config;
// see Load). Errors reading the file do not wrap ErrInvalid.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read test file: %w", err)
	}
	return ParseFile(data, path)
}
