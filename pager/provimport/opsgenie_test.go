package provimport

import (
	"strings"
	"testing"
	"time"
)

func TestOpsgenieGolden(t *testing.T) {
	res, err := Opsgenie(readExport(t, "opsgenie"), Options{Now: importNow})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "opsgenie.golden.yaml", res.YAML)
}

// TestOpsgeniePreview checks the imported SRE schedule against an
// independent reading of Opsgenie's rotations over six weeks crossing the
// EU DST change (29 March): a rotation's participant at t is
// participants[floor((t - startDate) / (length × type)) mod n] in the
// schedule's wall clock, inside the time restriction; overrides win.
func TestOpsgeniePreview(t *testing.T) {
	res, err := Opsgenie(readExport(t, "opsgenie"), Options{Now: importNow})
	if err != nil {
		t.Fatal(err)
	}
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	start := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	from := time.Date(2026, 2, 23, 0, 0, 0, 0, time.UTC)
	to := from.Add(6 * 7 * 24 * time.Hour)
	turn := func(at time.Time, length int64, n int) int64 {
		return floorMod((wallSec(at, ams)-wallSec(start, ams))/length, int64(n))
	}
	comparePreview(t, scheduleOf(t, res, "sre_schedule-primary"), from, to, 30*time.Minute, func(at time.Time) string {
		if !at.Before(time.Date(2026, 3, 28, 18, 0, 0, 0, time.UTC)) && at.Before(time.Date(2026, 3, 30, 6, 0, 0, 0, time.UTC)) {
			return "maria"
		}
		return []string{"maria", "tom", "lena"}[turn(at, 7*86400, 3)]
	})
	comparePreview(t, scheduleOf(t, res, "sre_schedule-business-hours"), from, to, 30*time.Minute, func(at time.Time) string {
		w := at.In(ams)
		// Monday 09:00 to Friday 17:30, one window.
		m := (int(w.Weekday())+6)%7*1440 + w.Hour()*60 + w.Minute()
		if m < 9*60 || m >= 4*1440+17*60+30 {
			return ""
		}
		return []string{"lena", "tom"}[turn(at, 2*86400, 2)]
	})
	// DB_Nights: 12-hour turns (absolute hours) of tom, none, maria and a
	// team, 20:00 to 06:00 in Chicago (US DST on 8 March); the none and
	// team turns are covered by the user before them.
	chi, _ := time.LoadLocation("America/Chicago")
	nightStart := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	comparePreview(t, scheduleOf(t, res, "db_nights-nights"), from, to, 30*time.Minute, func(at time.Time) string {
		if w := at.In(chi); w.Hour() >= 6 && w.Hour() < 20 {
			return ""
		}
		slot := floorMod(int64(at.Sub(nightStart)/(12*time.Hour)), 4)
		return []string{"tom", "tom" /* none */, "maria", "maria" /* team */}[slot]
	})
}

// TestOpsgenieReport: everything not mapped is reported with its file and
// path.
func TestOpsgenieReport(t *testing.T) {
	res, err := Opsgenie(readExport(t, "opsgenie"), Options{Now: importNow})
	if err != nil {
		t.Fatal(err)
	}
	report := res.Report()
	for _, want := range []string{
		"user-maria.json: users[maria@example.com].userContacts[3]: mobile contact",
		"notification-rules-maria.json: users[maria@example.com].notification_rules[1]: schedule-start rule",
		"user-tom.json: users[tom@example.com].userContacts[2]: disabled sms contact",
		"overrides-SRE_Schedule.json: schedules[SRE_Schedule].overrides[1].user: user gone@example.com",
		"schedules.json: schedules[DB_Nights].rotations[0].participants[1]: none participant : only users take turns in the watchdog; this turn is covered by tom",
		"schedules.json: schedules[DB_Nights].rotations[0].participants[3]: team participant Databases: only users take turns in the watchdog; this turn is covered by maria",
		"escalations.json: escalations[SRE_Escalation].rules[1].notifyType: next",
		"escalations.json: escalations[SRE_Escalation].rules[3].recipient: team SRE",
		"escalations.json: escalations[DB_Escalation].rules[0].condition: if-not-closed",
		"escalations.json: escalations[DB_Escalation].rules: the first rule waits 5m",
		"routing-rules-sre.json: teams[SRE].routing_rules[Noisy checks].criteria.conditions[0]: condition on message",
		"routing-rules-sre.json: teams[SRE].routing_rules[Office hours].timeRestriction: routes have no time conditions: rule skipped",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(string(res.YAML), "old-nights") || strings.Contains(report, "Old nights") {
		t.Errorf("the rotation that ended before the import was imported or reported")
	}
}
