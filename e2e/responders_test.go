package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// respondersConfig is signinConfig with bob, who can be asked for help.
const respondersConfig = `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: probe
    static_configs:
      - targets: ['%s']
rule_files: [rules.yml]
pager:
  users:
    - {name: alice, contact: {push: alice-phone}}
    - {name: bob, contact: {push: bob-phone}}
  escalation_policies:
    - name: p
      levels: [{targets: [user:alice], escalate_after: 10m}]
  channels:
    - {name: push, type: console}
  routes:
    - {name: all, group_by: [alertname], group_wait: 0s, escalation_policy: p}
`

// TestRespondersInTheBrowser: alice signs in, acknowledges and asks bob
// for help with the incident page's form; bob is paged; bob signs in and
// acknowledges his part; the incident stays acknowledged by alice and
// the page shows bob engaged.
func TestRespondersInTheBrowser(t *testing.T) {
	needBrowser(t)
	parallel(t, 20*time.Second)
	wd, id := startCheckoutPaging(t, respondersConfig)
	token := func(user string) string {
		return strings.TrimSpace(wd.cli(t, "user", "token", "create", "--user", user, "--scope", "respond", "--name", "browser"))
	}
	aliceToken, bobToken := token("alice"), token("bob")
	ctx := newBrowser(t)
	signIn := func(secret, who string) {
		open(t, ctx, wd.url+"/incidents/"+id)
		clickTo(t, ctx, "#signin-link", "/signin")
		do(t, ctx, "type the token", chromedp.WaitVisible(chromedp.CSS("#token")), chromedp.SendKeys(chromedp.CSS("#token"), secret))
		clickTo(t, ctx, "#signin", "/incidents/"+id)
		waitJS(t, ctx, 10*time.Second, "signed in as "+who, `document.querySelector('#signed-in b') && document.querySelector('#signed-in b').textContent === '`+who+`'`)
	}

	signIn(aliceToken, "alice")
	click(t, ctx, "#ack")
	waitJS(t, ctx, 15*time.Second, "acknowledged", `document.querySelector('#incident[data-state="acknowledged"]')`)
	do(t, ctx, "name bob", chromedp.SendKeys(chromedp.CSS("#responder-targets"), "bob"),
		chromedp.SendKeys(chromedp.CSS("#responder-message"), "second pair of eyes"))
	click(t, ctx, "#responders")
	waitJS(t, ctx, 15*time.Second, "bob requested", `document.querySelector('#responders-list li[data-user="bob"][data-state="requested"]')`)
	eventually(t, 20*time.Second, func() error {
		if !strings.Contains(wd.stdout.String(), "PAGE push → bob: [TRIGGER] CheckoutDown: checkout is down (page) incident="+id) {
			return fmt.Errorf("bob not paged yet")
		}
		return nil
	})
	clickTo(t, ctx, "#signout", "/signin")

	signIn(bobToken, "bob")
	waitJS(t, ctx, 10*time.Second, "bob is asked", `document.querySelector('#my-request #respond-ack')`)
	click(t, ctx, "#respond-ack")
	waitJS(t, ctx, 15*time.Second, "bob acknowledged", `document.querySelector('#responders-list li[data-user="bob"][data-state="acknowledged"]')`)
	tl := mustJS[string](t, ctx, `document.querySelector('#timeline').innerText`)
	for _, want := range []string{"responder_added by alice (console) → bob: asked bob to help: second pair of eyes", "responder_answered by bob (console)"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
	screenshots(t, ctx, "responders-acknowledged")
	if inc := wd.incident(t, id); inc.Status != "acknowledged" || inc.AckedBy != "alice" {
		t.Errorf("API: %s by %q, want acknowledged by alice", inc.Status, inc.AckedBy)
	}
}
