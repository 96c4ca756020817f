package pager

import (
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseConfig: parsing never panics, and a config that parses can
// route and step an incident.
func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 8<<10 {
			return
		}
		c, err := ParseConfig("fuzz.yaml", data)
		if err != nil {
			return
		}
		now := time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC)
		lset := map[string]string{"alertname": "A", "severity": "page", "team": "shop", "service": "db"}
		for _, m := range c.Match(lset) {
			st := c.NewIncident("inc-1", m, now)
			st, _ = c.Step(st, now, AlertsChanged{Alerts: []IncidentAlert{{Fingerprint: Fingerprint(lset), Alert: Alert{Labels: lset}}}})
			for i := 0; i < 20; i++ {
				due := st.NextDue()
				if due.IsZero() {
					break
				}
				if due.Before(now) {
					t.Fatalf("NextDue %v before now %v", due, now)
				}
				now = due
				st, _ = c.Step(st, now, Tick{})
			}
		}
	})
}

// FuzzParseMatcher: never panics; what parses prints back with
// FormatMatcher to something that parses to the same matcher (UTF-8
// input: Alertmanager refuses other label values where they matter).
func FuzzParseMatcher(f *testing.F) {
	for _, s := range []string{`a="b"`, `team=~"shop|web"`, `x!~y`, `a!="\"q\""`, `a=`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMatcher(s)
		if err != nil || !utf8.ValidString(s) {
			return
		}
		m2, err := ParseMatcher(FormatMatcher(m))
		if err != nil || m2.Type != m.Type || m2.Name != m.Name || m2.Value != m.Value {
			t.Fatalf("%q → %q → %v, %v", s, FormatMatcher(m), m2, err)
		}
	})
}

// FuzzVerifyAck: arbitrary tokens never panic and are never accepted.
func FuzzVerifyAck(f *testing.F) {
	c, err := ParseConfig("x.yaml", []byte("pager: {}"))
	if err != nil {
		f.Fatal(err)
	}
	p, _ := New(Options{Config: c, AckKey: []byte("k")})
	tok, _ := p.SignAck("inc-1", "0123456789abcdef0123456789abcdef", "alice", time.Now().Add(time.Hour))
	f.Add(tok)
	f.Add("a1.x.y.1.z")
	f.Add("a2.x.0a.y.1.z")
	f.Fuzz(func(t *testing.T, s string) {
		if s == tok {
			return
		}
		if _, err := p.VerifyAck(s); err == nil {
			t.Fatalf("accepted %q", s)
		}
	})
}
