package ui

import (
	"strings"
	"testing"
	"time"
)

// testHeartbeats: one healthy, one missed with hostile text in its label
// and message, one failed and running.
func testHeartbeats() []Heartbeat {
	return []Heartbeat{
		{Name: "reports", State: "up", Period: time.Hour, Grace: time.Minute, LastSuccess: testNow.Add(-10 * time.Minute),
			NextDue: testNow.Add(50 * time.Minute), LastDuration: 42 * time.Second, Message: "42 reports"},
		{Name: "backup", State: "down", Period: 24 * time.Hour, Grace: 30 * time.Minute, Labels: map[string]string{"team": xssAttr},
			LastSuccess: testNow.Add(-25 * time.Hour), NextDue: testNow.Add(-time.Hour), Alert: "HeartbeatMissed", Message: xssScript},
		{Name: "etl", State: "failed", Period: time.Hour, Grace: time.Minute, LastFailure: testNow.Add(-time.Minute),
			Started: testNow.Add(-20 * time.Second), NextDue: testNow.Add(time.Hour), Alert: "HeartbeatFailed", Message: "exit 3"},
	}
}

// TestHeartbeatsPage: alerting heartbeats first, states, times and the
// last message shown (escaped: TestEscaping covers the hostile text).
func TestHeartbeatsPage(t *testing.T) {
	f := newFixture(t)
	code, body, _ := f.get(t, "/heartbeats")
	if code != 200 {
		t.Fatalf("GET /heartbeats = %d", code)
	}
	for _, want := range []string{
		`id="heartbeat-summary">1 healthy · 2 alerting`,
		`<tr id="heartbeat-backup" data-state="down">`, `<span class="badge firing">HeartbeatMissed</span>`,
		`every 24h0m0s + 30m0s grace`, `25h0m0s ago`, `1h0m0s ago`,
		`<tr id="heartbeat-etl" data-state="failed">`, `running since 20s ago`, `last failure 1m0s ago`, `exit 3`,
		`<tr id="heartbeat-reports" data-state="up">`, `42s`, `50m0s from now`, `aria-current="page">Heartbeats</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if b, e := strings.Index(body, "heartbeat-backup"), strings.Index(body, "heartbeat-reports"); b < 0 || e < 0 || b > e {
		t.Error("alerting heartbeats are not listed first")
	}

	empty, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rec := httptestGet(empty, "/heartbeats"); rec.Code != 200 || !strings.Contains(rec.Body.String(), "No heartbeats configured") {
		t.Errorf("empty page: %d %s", rec.Code, rec.Body)
	}
}
