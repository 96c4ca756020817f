package ui

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/pager"
)

func statusOf(t *testing.T, f *fixture) (statusView, map[string]string) {
	t.Helper()
	code, body, _ := f.get(t, "/status.json")
	if code != 200 {
		t.Fatalf("status.json = %d", code)
	}
	var v statusView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, c := range v.Components {
		states[c.Name] = c.State
	}
	// The HTML agrees with the JSON.
	_, page, _ := f.get(t, "/status")
	if !strings.Contains(page, `id="overall" class="banner `+v.State+`" data-state="`+v.State+`"`) ||
		!strings.Contains(page, `data-digest="`+v.Digest+`"`) {
		t.Errorf("status page does not show state %s digest %s", v.State, v.Digest)
	}
	return v, states
}

// TestStatusLifecycle: operational → degraded while an incident is open
// (major outage when it is major) → operational the moment it resolves,
// with the incident moving into the history and the digest changing so
// that open pages reload.
func TestStatusLifecycle(t *testing.T) {
	f := newFixture(t)
	f.pager.resolve("inc-2", testNow.Add(-time.Minute))
	v0, s := statusOf(t, f)
	if v0.State != StateOperational || s["Checkout"] != StateOperational || s["Storefront"] != StateOperational {
		t.Fatalf("all quiet: %+v", v0)
	}

	f.now = testNow.Add(time.Minute)
	f.pager.add(pager.IncidentState{ID: "inc-3", Route: "other", Policy: "default", Status: pager.StatusTriggered, CreatedAt: f.now,
		Alerts: []pager.IncidentAlert{{Fingerprint: "f3", Alert: pager.Alert{Labels: map[string]string{"alertname": "SearchSlow", "job": "search"}}}}})
	v1, s := statusOf(t, f)
	if v1.State != StateDegraded || s["Search"] != StateDegraded || s["Checkout"] != StateOperational || s["Storefront"] != StateOperational {
		t.Fatalf("search incident open: %+v", v1)
	}
	if v1.Digest == v0.Digest {
		t.Error("digest unchanged by a new incident")
	}
	if len(v1.History) == 0 || !v1.History[0].Ongoing || v1.History[0].Components[0] != "Search" {
		t.Errorf("history: %+v", v1.History)
	}

	f.pager.add(pager.IncidentState{ID: "inc-4", Route: "pages", Policy: "default", Status: pager.StatusAcknowledged, Major: true, CreatedAt: f.now,
		Alerts: []pager.IncidentAlert{{Fingerprint: "f4", Alert: pager.Alert{Labels: map[string]string{"alertname": "CheckoutDown"}}}}})
	v2, s := statusOf(t, f)
	if v2.State != StateMajorOutage || s["Checkout"] != StateMajorOutage || s["Search"] != StateDegraded {
		t.Fatalf("major checkout incident: %+v", v2)
	}

	f.now = testNow.Add(2 * time.Minute)
	f.pager.resolve("inc-3", f.now)
	f.pager.resolve("inc-4", f.now)
	v3, s := statusOf(t, f)
	if v3.State != StateOperational || s["Search"] != StateOperational || s["Checkout"] != StateOperational {
		t.Fatalf("after resolve: %+v", v3)
	}
	if v3.Digest == v2.Digest {
		t.Error("digest unchanged by a resolve")
	}
	for _, h := range v3.History {
		if h.Ongoing || h.End == nil {
			t.Errorf("history entry still ongoing after resolve: %+v", h)
		}
	}
}

func TestStatusWithoutComponents(t *testing.T) {
	sp, sp0 := statusConfigForTest(), statusConfigZero()
	sc, err := compileStatus(&sp)
	if err != nil {
		t.Fatal(err)
	}
	sc0, _ := compileStatus(&sp0)
	open := []pager.IncidentState{{ID: "a", Route: "x", Status: pager.StatusTriggered, CreatedAt: testNow}}
	if v := computeStatus(sc, open, nil, nil, testNow); v.State != StateOperational {
		t.Errorf("an incident no component follows changed the state: %+v", v)
	}
	if v := computeStatus(sc0, open, nil, nil, testNow); v.State != StateDegraded || v.Components[0].Name != "All systems" {
		t.Errorf("without components: %+v", v)
	}
	old := []pager.IncidentState{{ID: "b", Route: "pages", Status: pager.StatusResolved, CreatedAt: testNow.Add(-30 * 24 * time.Hour),
		ResolvedAt: testNow.Add(-29 * 24 * time.Hour)}}
	if v := computeStatus(sc, old, nil, nil, testNow); len(v.History) != 0 {
		t.Errorf("a month-old incident is in the history: %+v", v.History)
	}
}

// TestStatusPageReload: a reload that changes the status_page section
// changes the page; a section that does not compile leaves the previous one.
func TestStatusPageReload(t *testing.T) {
	f := newFixture(t)
	names := func() []string {
		v, _ := statusOf(t, f)
		out := []string{v.Title}
		for _, c := range v.Components {
			out = append(out, c.Name)
		}
		return out
	}
	before := names()
	f.status.Store(&config.StatusPage{Title: "Reloaded", Components: []config.StatusComponent{{Name: "Checkout", Routes: []string{"pages"}}}})
	if got, want := names(), []string{"Reloaded", "Checkout"}; !slices.Equal(got, want) {
		t.Fatalf("after reload: %v, want %v (before: %v)", got, want, before)
	}
	f.status.Store(&config.StatusPage{Title: "Bad", Components: []config.StatusComponent{{Name: "x", Matchers: []string{`job=~"("`}}}})
	if got, want := names(), []string{"Reloaded", "Checkout"}; !slices.Equal(got, want) {
		t.Fatalf("after a bad section: %v, want the previous %v", got, want)
	}
}

// TestStatusDurationExact is the regression test for issue #17: durations
// on the status page are exact to the second, never rounded to a minute.
func TestStatusDurationExact(t *testing.T) {
	day := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	at := func(h, m, s int) time.Time {
		return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	sp := statusConfigZero()
	sc, err := compileStatus(&sp)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name       string
		start, end time.Time
		want       string
	}{
		{"35 seconds", at(3, 26, 15), at(3, 26, 50), "35s"},
		{"1 minute 20 seconds", at(3, 25, 55), at(3, 27, 15), "1m 20s"},
		{"exact minute", at(3, 0, 0), at(3, 1, 0), "1m 0s"},
		{"hours", at(1, 0, 0), at(3, 0, 5), "2h 0m 5s"},
		{"sub-second", at(3, 0, 0), at(3, 0, 0).Add(999 * time.Millisecond), "0s"},
		{"days", at(0, 0, 0), at(0, 0, 0).Add(76*time.Hour + 59*time.Second), "3d 4h 0m 59s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inc := []pager.IncidentState{{ID: "a", Route: "x", Status: pager.StatusResolved, CreatedAt: tt.start, ResolvedAt: tt.end}}
			v := computeStatus(sc, inc, nil, nil, tt.end.Add(time.Hour))
			if len(v.History) != 1 || v.History[0].Duration != tt.want {
				t.Fatalf("history %+v, want duration %q", v.History, tt.want)
			}
		})
	}
	if got := exactDuration(-time.Minute); got != "0s" {
		t.Errorf("exactDuration(-1m) = %q, want 0s", got)
	}
}

// TestStatusUpdatesPublic: responders' public updates appear on the
// status page under their incident, newest first, with only their status,
// text and time (never the author, the incident's title or its alert
// labels), and hostile text renders inert (acceptance 2 for status
// updates): no script, event handler, javascript: link or raw HTML.
func TestStatusUpdatesPublic(t *testing.T) {
	f := newFixture(t)
	_, before, _ := f.get(t, "/status.json")
	hostile := []string{
		"<script>alert(1)</script>",
		`<img src=x onerror=alert(2)>`,
		`<a href="javascript:alert(3)">click</a>`,
		"[md link](javascript:alert(4))",
		"<iframe src=//evil.example></iframe>",
	}
	by := pager.Actor{User: "alice", Via: pager.ViaConsole}
	f.pager.postUpdate(pager.StatusUpdate{IncidentID: "inc-2", Status: pager.UpdateInvestigating, Text: "We are looking into checkout errors.", At: testNow.Add(-9 * time.Minute), By: by})
	f.pager.postUpdate(pager.StatusUpdate{IncidentID: "inc-2", Status: pager.UpdateIdentified, Text: strings.Join(hostile, "\n"), At: testNow.Add(-5 * time.Minute), By: by})
	v, _ := statusOf(t, f)
	var got *statusIncident
	for i := range v.History {
		if v.History[i].Ongoing {
			got = &v.History[i]
		}
	}
	if got == nil || len(got.Updates) != 2 || got.Phase != pager.UpdateIdentified ||
		got.Updates[0].Status != pager.UpdateIdentified || got.Updates[1].Text != "We are looking into checkout errors." {
		t.Fatalf("ongoing incident's updates: %+v", got)
	}
	_, after, _ := f.get(t, "/status.json")
	if before == after {
		t.Error("status.json unchanged by updates")
	}
	_, page, _ := f.get(t, "/status")
	for _, want := range []string{`<li class="update" data-status="identified"><b>Identified</b>`, "We are looking into checkout errors.",
		"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(2)&gt;", "&lt;a href=&#34;javascript:alert(3)&#34;&gt;click&lt;/a&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Index(page, "Identified") > strings.Index(page, "Investigating") {
		t.Error("updates are not newest first")
	}
	for _, p := range []string{"/status", "/status.json"} {
		_, body, _ := f.get(t, p)
		for _, inert := range []string{"<script>", "<img", "<a href=\"javascript", "<iframe", "href=\"javascript:", "onerror=alert(2)>"} {
			if strings.Contains(body, inert) {
				t.Errorf("GET %s contains live %q", p, inert)
			}
		}
		for _, internal := range []string{"alice", "HighErrorRate", "inc-2", "shop", "console"} {
			if strings.Contains(body, internal) {
				t.Errorf("GET %s shows internal text %q", p, internal)
			}
		}
	}
}

// TestIncidentShowsPublicUpdates: responders see on the incident page
// what they made public, with its author, escaped.
func TestIncidentShowsPublicUpdates(t *testing.T) {
	f := newFixture(t)
	f.pager.postUpdate(pager.StatusUpdate{IncidentID: "inc-2", Status: pager.UpdateIdentified, Text: "<b>Bad</b> deploy",
		At: testNow.Add(-time.Minute), By: pager.Actor{User: "alice", Via: pager.ViaConsole}})
	_, body, _ := f.get(t, "/incidents/inc-2")
	for _, want := range []string{`id="public-updates"`, `<b>Identified</b>`, "by alice (console)", "&lt;b&gt;Bad&lt;/b&gt; deploy"} {
		if !strings.Contains(body, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	if _, body, _ = f.get(t, "/incidents/inc-1"); strings.Contains(body, `id="public-updates"`) {
		t.Error("an incident without updates shows the section")
	}
}

// TestStatusOutlineAlerts: the status page reads incidents with their
// alerts in outline (only the labels its matchers test) and shows what
// the full alerts would show: a component's matchers must still all
// match one alert, and an absent label still reads as empty.
func TestStatusOutlineAlerts(t *testing.T) {
	sp := config.StatusPage{Components: []config.StatusComponent{
		{Name: "Storefront", Matchers: []string{`job="shop"`, `severity=~"page|ticket"`}},
		{Name: "Unlabelled", Matchers: []string{`env=""`, `job="shop"`}},
		{Name: "Checkout", Routes: []string{"pages"}},
	}}
	sc, err := compileStatus(&sp)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"env", "job", "severity"}; !slices.Equal(sc.alertLabels, want) {
		t.Fatalf("alert labels = %v, want %v", sc.alertLabels, want)
	}
	alert := func(fp string, ls ...string) pager.IncidentAlert {
		m := map[string]string{"alertname": "A" + fp, "instance": "i-" + fp}
		for i := 0; i+1 < len(ls); i += 2 {
			m[ls[i]] = ls[i+1]
		}
		return pager.IncidentAlert{Fingerprint: fp, Alert: pager.Alert{Labels: m, Annotations: map[string]string{"summary": "s"}}}
	}
	tests := []struct {
		name   string
		alerts []pager.IncidentAlert
		want   map[string]string
	}{
		{"one alert matches all", []pager.IncidentAlert{alert("1", "job", "shop", "severity", "page", "env", "prod")},
			map[string]string{"Storefront": StateDegraded, "Unlabelled": StateOperational, "Checkout": StateOperational}},
		{"two alerts match one each", []pager.IncidentAlert{alert("1", "job", "shop", "env", "prod"), alert("2", "job", "api", "severity", "page")},
			map[string]string{"Storefront": StateOperational, "Unlabelled": StateOperational, "Checkout": StateOperational}},
		{"absent label reads empty", []pager.IncidentAlert{alert("1", "job", "shop"), alert("2", "job", "shop")},
			map[string]string{"Storefront": StateOperational, "Unlabelled": StateDegraded, "Checkout": StateOperational}},
		{"no alerts", nil,
			map[string]string{"Storefront": StateOperational, "Unlabelled": StateOperational, "Checkout": StateOperational}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full := []pager.IncidentState{{ID: "inc-1", Route: "tickets", Status: pager.StatusTriggered, CreatedAt: testNow.Add(-time.Hour), Alerts: tt.alerts}}
			outlined := []pager.IncidentState{full[0]}
			outlined[0].Alerts = pager.OutlineAlertLabels(tt.alerts, sc.alertLabels)
			vf, vo := computeStatus(sc, full, nil, nil, testNow), computeStatus(sc, outlined, nil, nil, testNow)
			jf, _ := json.Marshal(vf)
			jo, _ := json.Marshal(vo)
			if string(jf) != string(jo) {
				t.Errorf("outlined view differs:\n full    %s\n outline %s", jf, jo)
			}
			for _, c := range vo.Components {
				if c.State != tt.want[c.Name] {
					t.Errorf("%s = %s, want %s", c.Name, c.State, tt.want[c.Name])
				}
			}
		})
	}
}
