package channel

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/texts/*.golden")

// TestPageTexts renders the texts people read (console line, SMS, voice,
// push, e-mail) for typical messages into golden files, and checks that
// each says the summary once: the pager's titles are "alertname: summary",
// which used to be followed by the summary again.
func TestPageTexts(t *testing.T) {
	base := Message{
		IncidentID: "inc-7", Event: EventTrigger, Severity: "ticket",
		AckURL: "https://watchdog.example/api/v1/pager/ack/tok", Recipient: Contact{Name: "alice", Address: "+15550100001", TimeZone: "Europe/Berlin"},
		Source: "watchdog", Time: time.Date(2026, 1, 5, 22, 0, 0, 0, time.UTC),
	}
	tests := []struct {
		name           string
		title, summary string
		event          string
	}{
		// The demo's latency alert: the title already holds the summary.
		{"title-holds-summary", "HighP99Latency: p99 latency of /login is 3.491s", "p99 latency of /login is 3.491s", EventTrigger},
		{"summary-only-differs", "HighP99Latency", "p99 latency of /login is 3.491s", EventTrigger},
		{"no-summary", "InstanceDown", "", EventTrigger},
		{"resolve", "HighP99Latency: p99 latency of /login is 3.491s", "p99 latency of /login is 3.491s", EventResolve},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base
			m.Title, m.Summary, m.Event = tt.title, tt.summary, tt.event
			var console strings.Builder
			if _, err := NewConsole(ConsoleOptions{Name: "push", Writer: &console}).Send(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			texts := []struct{ kind, text string }{
				{"console", strings.TrimSuffix(console.String(), "\n")},
				{"sms", smsBody(m, false)},
				{"voice", voiceText(m)},
				{"push title", pushTitle(m)},
				{"push body", pushBody(m)},
				{"email", emailBody(m)},
			}
			var out strings.Builder
			for _, x := range texts {
				fmt.Fprintf(&out, "== %s\n%s\n", x.kind, strings.TrimSuffix(x.text, "\n"))
				what := orDefault(tt.summary, tt.title)
				if n := strings.Count(x.text, what); x.kind != "push body" && n != 1 || x.kind == "push body" && n != 0 {
					t.Errorf("%s says %q %d times:\n%s", x.kind, what, n, x.text)
				}
			}
			golden := filepath.Join("testdata", "texts", tt.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if out.String() != string(want) {
				t.Errorf("texts differ from %s:\n%s", golden, out.String())
			}
		})
	}
}
