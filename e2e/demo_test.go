package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDemoIncidentInTheBrowser runs the demo with its first login spike at
// once and handles the incident as an on-call person would: from the
// overview to the incident, token typed in, acknowledged with the button;
// the API confirms the acknowledgement and that escalation stopped. The
// public status page shows the incident while it is open and turns
// operational by itself (it polls /status.json) once it is resolved.
// Screenshots of the overview, the incident, the graph and the status page
// are written along the way.
func TestDemoIncidentInTheBrowser(t *testing.T) {
	needBrowser(t)
	parallel(t, 80*time.Second)
	wd := startWatchdog(t, "demo", "--web.listen-address", "127.0.0.1:0",
		"--storage.snapshot-path", filepath.Join(t.TempDir(), "snapshot.wds"), "--demo.first-spike", "0s")
	ctx := newBrowser(t)

	// The spike fires LoginErrorSpike after its `for: 20s` and pages.
	var id string
	eventually(t, 90*time.Second, func() error {
		var err error
		id, err = wd.firstPage("LoginErrorSpike")
		return err
	})
	t.Logf("paged for %s after the login spike", id)

	// Overview → incident, without typing a URL.
	open(t, ctx, wd.url+"/")
	item := `#open-incidents li[data-incident="` + id + `"]`
	waitJS(t, ctx, 10*time.Second, "open incident on the overview", `document.querySelector('`+item+`[data-state="triggered"]')`)
	waitJS(t, ctx, 5*time.Second, "firing alert on the overview", `document.querySelector('#firing-alerts').innerText.includes('LoginErrorSpike')`)
	screenshots(t, ctx, "overview")
	clickTo(t, ctx, item+" a", "/incidents/"+id)
	waitJS(t, ctx, 5*time.Second, "incident page", `document.querySelector('#incident[data-id="`+id+`"][data-state="triggered"]')`)

	// Type the token, name ourselves, acknowledge.
	do(t, ctx, "enter token",
		chromedp.SendKeys(chromedp.CSS("#token"), wd.token),
		chromedp.Click(chromedp.CSS("#token-save")))
	waitJS(t, ctx, 5*time.Second, "token kept", `document.querySelector('#token-state[data-state="set"]')`)
	do(t, ctx, "enter name", chromedp.SendKeys(chromedp.CSS("#by"), "e2e-browser"))
	click(t, ctx, "#ack")
	// The script reloads the page on success.
	waitJS(t, ctx, 15*time.Second, "incident acknowledged in the page", `document.querySelector('#incident[data-state="acknowledged"]')`)
	inc := wd.incident(t, id)
	if inc.Status != "acknowledged" || inc.AckedBy != "e2e-browser" || inc.AckedAt == nil {
		t.Fatalf("API after the ack button: status %q by %q at %v, want acknowledged by e2e-browser", inc.Status, inc.AckedBy, inc.AckedAt)
	}
	ackedAt, created := *inc.AckedAt, inc.CreatedAt
	pagesAtAck := len(wd.triggerPages(id))
	t.Logf("%s acknowledged %v after it opened; %d trigger page(s) before", id, ackedAt.Sub(created).Round(time.Millisecond), pagesAtAck)
	if !strings.Contains(mustJS[string](t, ctx, `document.querySelector('#timeline').innerText`), "acknowledged by e2e-browser") {
		t.Error("the timeline on the incident page does not show the acknowledgement")
	}
	screenshots(t, ctx, "incident")

	// The public status page, in a tab of its own, shows the incident.
	statusCtx := newTab(t, ctx)
	open(t, statusCtx, wd.url+"/status")
	waitJS(t, statusCtx, 10*time.Second, "status page degraded",
		`document.querySelector('#overall[data-state="degraded"]') && document.querySelector('li[data-component][data-state="degraded"]')`)
	if txt := mustJS[string](t, statusCtx, `document.body.innerText`); strings.Contains(txt, "LoginErrorSpike") || strings.Contains(txt, "alice") || strings.Contains(txt, "bob") {
		t.Errorf("the public status page shows internal text:\n%s", txt)
	}
	screenshots(t, statusCtx, "status")

	// The graph, reached from the navigation.
	clickTo(t, ctx, `#nav a[data-page="graph"]`, "/graph")
	do(t, ctx, "fill the graph form",
		chromedp.SetValue(chromedp.CSS("#expr"), `sum by (code) (rate(shop_http_requests_total{handler="/login"}[1m]))`),
		chromedp.SetValue(chromedp.CSS("#range"), "15m"),
		chromedp.Submit(chromedp.CSS("#graph-form")))
	waitJS(t, ctx, 15*time.Second, "graph drawn",
		`location.search.includes('range=15m') && document.querySelector('svg.chart path.line')`)
	screenshots(t, ctx, "graph")

	// Escalation stopped: by 45s after the incident opened, the SMS (10s),
	// the call (20s) and the next level (40s) would all have been due.
	// Wait at least two steps (20s) past the ack in any case.
	until := created.Add(45 * time.Second)
	if u := ackedAt.Add(20 * time.Second); u.After(until) {
		until = u
	}
	// Every stdout write wakes the check; nothing may arrive before until.
	window := time.NewTimer(time.Until(until))
	defer window.Stop()
	for quiet := false; !quiet; {
		if n := len(wd.triggerPages(id)); n > pagesAtAck {
			t.Fatalf("page after the acknowledgement:\n%s", strings.Join(wd.triggerPages(id), "\n"))
		}
		select {
		case <-wd.stdout.changed:
		case <-window.C:
			quiet = true
		}
	}
	if n := len(wd.triggerPages(id)); n > pagesAtAck {
		t.Fatalf("page after the acknowledgement:\n%s", strings.Join(wd.triggerPages(id), "\n"))
	}
	inc = wd.incident(t, id)
	for _, e := range inc.Timeline {
		if (e.Kind == "notify" || e.Kind == "escalated") && e.At.After(ackedAt) {
			t.Errorf("timeline has %s (%s) at %v, after the ack at %v", e.Kind, e.User, e.At, ackedAt)
		}
	}
	if inc.Status != "acknowledged" {
		t.Errorf("incident is %s after waiting, want acknowledged", inc.Status)
	}

	// Resolve with the button (the token is still in this tab's session),
	// then anything else the spike opened (HighP99Latency) through the API.
	// The status tab turns operational without being reloaded by the test.
	clickTo(t, ctx, `#nav a[data-page="overview"]`, "/")
	clickTo(t, ctx, item+" a", "/incidents/"+id)
	waitJS(t, ctx, 5*time.Second, "token still set", `document.querySelector('#token-state[data-state="set"]')`)
	click(t, ctx, "#resolve")
	waitJS(t, ctx, 15*time.Second, "incident resolved in the page", `document.querySelector('#incident[data-state="resolved"]')`)
	if inc := wd.incident(t, id); inc.Status != "resolved" {
		t.Fatalf("API after the resolve button: %s", inc.Status)
	}
	// A re-sent alert may open a new incident meanwhile: resolve until the
	// page, polling on its own every 5s, shows operational.
	err := poll(40*time.Second, time.Second, nil, func() error {
		wd.resolveOpen(t)
		ok, _ := evalJS[bool](statusCtx, `!!document.querySelector('#overall[data-state="operational"]') && document.querySelectorAll('li[data-component]:not([data-state="operational"])').length === 0`)
		if !ok {
			return errNotYet
		}
		return nil
	})
	if err != nil {
		txt, _ := evalJS[string](statusCtx, `document.body.innerText`)
		t.Fatalf("the status page did not turn operational after the incidents resolved:\n%s", txt)
	}
	screenshots(t, statusCtx, "status-resolved")
}
