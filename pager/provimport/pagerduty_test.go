package provimport

import (
	"strings"
	"testing"
	"time"
)

func TestPagerDutyGolden(t *testing.T) {
	res, err := PagerDuty(readExport(t, "pagerduty"), Options{Now: importNow})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "pagerduty.golden.yaml", res.YAML)
	report := res.Report()
	for _, want := range []string{
		"users[PXPGF42].contact_methods[3]: push_notification_contact_method: no watchdog equivalent",
		"users[PXPGF42].notification_rules[3]: low-urgency rule",
		"users[PAM4FGS].contact_methods[1]: second email contact bob@home.example.net",
		"schedules[PI7DH85].overrides[2].user: unknown user PZZZZZZ",
		"escalation_policies[PANP1DW].escalation_rules[0].escalation_rule_assignment_strategy: round_robin",
		"escalation_policies[PANP1DW].escalation_rules[1].targets[0]: team_reference PTEAM01",
		"services[PIJ90N7].incident_urgency_rule: urgency rule use_support_hours:",
		"services[PIJ90N7].support_hours: support hours: not imported",
		"services[PLEGACY]: disabled service",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "PZ0OLD1") || strings.Contains(string(res.YAML), "weekly-old") {
		t.Errorf("the layer that ended before the import was imported or reported:\n%s", res.YAML)
	}
	if strings.Contains(string(res.YAML), "7b0c0c5f") {
		t.Errorf("push device token copied into the output")
	}
}

// TestPagerDutyPreview checks the imported schedules against an
// independent reading of PagerDuty's rules over six weeks that cross the
// US (8 March) and EU (29 March) DST changes: a layer's user at t is
// users[floor((t - rotation_virtual_start) / turn length) mod n] in the
// schedule's wall clock (PagerDuty keeps handoffs at the same local
// time), where restrictions allow it; higher layers win; overrides win
// over layers.
func TestPagerDutyPreview(t *testing.T) {
	res, err := PagerDuty(readExport(t, "pagerduty"), Options{Now: importNow})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 2, 23, 0, 0, 0, 0, time.UTC)
	to := from.Add(6 * 7 * 24 * time.Hour)

	ny, _ := time.LoadLocation("America/New_York")
	vBiz := time.Date(2026, 1, 5, 9, 0, 0, 0, ny)
	vWeekly := time.Date(2026, 1, 5, 10, 0, 0, 0, ny)
	turn := func(t, v time.Time, loc *time.Location, length int64, n int) int64 {
		return floorMod((wallSec(t, loc)-wallSec(v, loc))/length, int64(n)) // t >= v here
	}
	comparePreview(t, scheduleOf(t, res, "platform-primary"), from, to, 30*time.Minute, func(at time.Time) string {
		if !at.Before(time.Date(2026, 3, 7, 18, 0, 0, 0, ny)) && at.Before(time.Date(2026, 3, 9, 9, 0, 0, 0, ny)) {
			return "dev" // override
		}
		w := at.In(ny)
		if wd := w.Weekday(); wd >= time.Monday && wd <= time.Friday && w.Hour() >= 9 && w.Hour() < 17 {
			return []string{"dev", "carol"}[turn(at, vBiz, ny, 86400, 2)]
		}
		return []string{"alice", "bob.okafor", "carol"}[turn(at, vWeekly, ny, 604800, 3)]
	})

	berlin, _ := time.LoadLocation("Europe/Berlin")
	vNight := time.Date(2026, 1, 1, 18, 0, 0, 0, berlin)
	comparePreview(t, scheduleOf(t, res, "eu-nights"), from, to, 30*time.Minute, func(at time.Time) string {
		w := at.In(berlin)
		if m := w.Hour()*60 + w.Minute(); floorMod(int64(m-18*60), 1440) >= 14*60 {
			return "" // outside 18:00 + 14h
		}
		return []string{"bob.okafor", "alice", "dev"}[turn(at, vNight, berlin, 2*86400, 3)]
	})
}
