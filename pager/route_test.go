package pager

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"testing"

	"github.com/prometheus/alertmanager/matcher/compat"
	"github.com/prometheus/prometheus/model/labels"
)

func TestMatch(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	tests := []struct {
		name   string
		labels map[string]string
		want   []string // route names
		keys   []string // group keys, when checked
	}{
		{"parent only", map[string]string{"severity": "page", "alertname": "A", "cluster": "c1", "pod": "x"},
			[]string{"pages"}, []string{`pages{alertname="A", cluster="c1"}`}},
		{"child, continue, next child fails", map[string]string{"severity": "page", "team": "shop", "alertname": "A"},
			[]string{"shop"}, []string{`shop{alertname="A"}`}},
		{"continue into second child", map[string]string{"severity": "page", "team": "web", "service": "db", "env": "prod"},
			[]string{"shop", "db"}, []string{`shop{}`, `db{env="prod", service="db", severity="page", team="web"}`}},
		{"condition false", map[string]string{"severity": "page", "service": "db", "env": "dev"}, []string{"pages"}, nil},
		{"condition with missing label", map[string]string{"severity": "page", "service": "db"}, []string{"db"}, nil},
		{"regex is anchored", map[string]string{"severity": "page", "team": "shopping"}, []string{"pages"}, nil},
		{"bare matcher value", map[string]string{"severity": "ticket"}, []string{"tickets"}, nil},
		{"unrouted", map[string]string{"severity": "info"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := c.Match(tt.labels)
			var got, keys []string
			for _, m := range ms {
				got = append(got, m.Route)
				keys = append(keys, m.GroupKey)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("routes %v, want %v", got, tt.want)
			}
			if tt.keys != nil && !reflect.DeepEqual(keys, tt.keys) {
				t.Errorf("group keys %q, want %q", keys, tt.keys)
			}
		})
	}
	// Inheritance: shop overrides channels and inherits the policy and timers.
	m := c.Match(map[string]string{"severity": "page", "team": "shop"})[0]
	if m.EscalationPolicy != "default" || !reflect.DeepEqual(m.Channels, []string{"pd"}) || m.GroupWait != 0 || m.RepeatInterval.Hours() != 1 {
		t.Errorf("inheritance: %+v", m)
	}
	if m := c.Match(map[string]string{"severity": "ticket"})[0]; m.GroupInterval != DefaultGroupInterval || m.GroupWait.Minutes() != 1 {
		t.Errorf("defaults: %+v", m)
	}
}

func TestParseMatcher(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{`severity="page"`, `severity="page"`, false},
		{` team =~ "shop|web" `, `team=~"shop|web"`, false},
		{`a!="x\"y"`, `a!="x\"y"`, false},
		{`a!~b.*`, `a!~"b.*"`, false},
		{`a=`, `a=""`, false},
		{`="x"`, "", true},
		{`a=="x"`, "", true},
		{`a=~"("`, "", true},
		{`a "x"`, "", true},
		{`a="x`, "", true},
		// Alertmanager's UTF-8 grammar.
		{`foo=bar`, `foo="bar"`, false},
		{`"service name"="web"`, `"service name"="web"`, false},
		{`läbel="ü"`, `"läbel"="ü"`, false},
		{`{a="b"}`, "", true},
		{`a="b",c="d"`, "", true},
		// The classic fallback: unquoted regex with a comma-free value.
		{`a=~b|c`, `a=~"b|c"`, false},
		{`a=foo bar`, `a="foo bar"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := ParseMatcher(tt.in)
			if tt.err {
				if !errors.Is(err, ErrMatcher) {
					t.Fatalf("got %v, %v; want ErrMatcher", m, err)
				}
				return
			}
			if err != nil || m.String() != tt.want {
				t.Fatalf("got %v, %v; want %s", m, err, tt.want)
			}
		})
	}
}

// TestParseMatcherAgreesWithAlertmanager: the pager parses every input as
// Alertmanager's default (fallback) parser does.
func TestParseMatcherAgreesWithAlertmanager(t *testing.T) {
	for _, in := range matcherSeeds {
		t.Run(in, func(t *testing.T) { checkMatcherAgainstAlertmanager(t, in) })
	}
}

// FuzzParseMatcherDifferential compares ParseMatcher with Alertmanager's
// compat.FallbackMatcherParser on arbitrary input.
func FuzzParseMatcherDifferential(f *testing.F) {
	for _, s := range matcherSeeds {
		f.Add(s)
	}
	f.Fuzz(checkMatcherAgainstAlertmanager)
}

var matcherSeeds = []string{`a="b"`, `team=~"shop|web"`, `x!~y`, `a!="\"q\""`, `a=`, `foo=bar`, `"a b"!="c"`,
	`{a="b"}`, `a=~b|c`, `a="\n"`, `  a = b  `, `a=b,c=d`, `a=~"(" `, `1a=b`, `a:b="c"`, `a="🔥"`, `a=\"b`, ``}

func checkMatcherAgainstAlertmanager(t *testing.T, in string) {
	want, werr := compat.FallbackMatcherParser(slog.New(slog.DiscardHandler))(in, "test")
	got, err := ParseMatcher(in)
	if (werr != nil) != (err != nil) {
		t.Fatalf("%q: Alertmanager %v (%v), pager %v (%v)", in, want, werr, got, err)
	}
	if err != nil {
		if !errors.Is(err, ErrMatcher) {
			t.Fatalf("%q: %v does not wrap ErrMatcher", in, err)
		}
		return
	}
	if int(got.Type) != int(want.Type) || got.Name != want.Name || got.Value != want.Value {
		t.Fatalf("%q: Alertmanager %s, pager %s", in, want, got)
	}
	for _, v := range []string{"", want.Value, "b", "shop", "x" + want.Value} {
		if got.Matches(v) != want.Matches(v) {
			t.Fatalf("%q on %q: Alertmanager %v, pager %v", in, v, want.Matches(v), got.Matches(v))
		}
	}
}

func TestInhibited(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	down := map[string]string{"alertname": "ClusterDown", "severity": "page", "cluster": "c1"}
	tests := []struct {
		name    string
		target  map[string]string
		sources []map[string]string
		want    bool
	}{
		{"same cluster", map[string]string{"alertname": "X", "severity": "page", "cluster": "c1"}, []map[string]string{down}, true},
		{"other cluster", map[string]string{"alertname": "X", "severity": "page", "cluster": "c2"}, []map[string]string{down}, false},
		{"not a target", map[string]string{"alertname": "X", "severity": "ticket", "cluster": "c1"}, []map[string]string{down}, false},
		{"never itself", down, []map[string]string{down}, false},
		{"no source", map[string]string{"alertname": "X", "severity": "page", "cluster": "c1"}, nil, false},
		{"both sides never mute each other", map[string]string{"alertname": "ClusterDown", "severity": "page", "cluster": "c1", "zone": "a"}, []map[string]string{down}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := c.Inhibited(tt.target, tt.sources); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFingerprintFormat: a fingerprint is the label set's hash in 16 hex
// digits, leading zeros kept, as stores and APIs have always shown it.
func TestFingerprintFormat(t *testing.T) {
	for _, lset := range []map[string]string{
		nil,
		{"alertname": "X"},
		{"alertname": "StormProbe", "group": "g-7", "instance": "i-7", "severity": "critical"},
		{"a": "", "b": "\xff"},
	} {
		want := fmt.Sprintf("%016x", labels.FromMap(lset).Hash())
		if got := Fingerprint(lset); got != want {
			t.Errorf("Fingerprint(%v) = %q, want %q", lset, got, want)
		}
	}
}
