package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPostmortemInTheBrowser: alice signs in, creates the postmortem of an
// incident from its draft, edits the summary with a server-side preview
// that renders hostile Markdown inert, sends it to review and publishes
// it, adds an overdue action item (shown on the overview) and closes it.
func TestPostmortemInTheBrowser(t *testing.T) {
	needBrowser(t)
	parallel(t, 35*time.Second)
	wd, id := startCheckoutPaging(t, signinConfig)
	secret := strings.TrimSpace(wd.cli(t, "user", "token", "create", "--user", "alice", "--scope", "respond", "--name", "pm", "--expires", "1d"))
	page := "/incidents/" + id + "/postmortem"

	ctx := newBrowser(t)
	open(t, ctx, wd.url+page)
	clickTo(t, ctx, "#signin-link", "/signin")
	do(t, ctx, "type the token", chromedp.WaitVisible(chromedp.CSS("#token")), chromedp.SendKeys(chromedp.CSS("#token"), secret))
	clickTo(t, ctx, "#signin", page)
	click(t, ctx, "#pm-create")
	waitJS(t, ctx, 15*time.Second, "created", `document.querySelector('#pm-state[data-state="draft"][data-version="1"]')`)

	click(t, ctx, "#pm-summary summary")
	mustJS[bool](t, ctx, `(document.querySelector('#edit-summary').value = "**Checkout** was down for everyone.\n\n<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\"> [x](javascript:window.pwned=3)", true)`)
	click(t, ctx, "#preview-summary")
	waitJS(t, ctx, 15*time.Second, "preview", `document.querySelector('#preview-out-summary[data-ready]')`)
	prev := mustJS[string](t, ctx, `document.querySelector('#preview-out-summary').innerHTML`)
	if !strings.Contains(prev, "<strong>Checkout</strong>") || strings.Contains(prev, "<script") || strings.Contains(prev, "onerror") ||
		strings.Contains(prev, "javascript:") {
		t.Errorf("preview:\n%s", prev)
	}
	click(t, ctx, "#save-summary")
	waitJS(t, ctx, 15*time.Second, "saved", `document.querySelector('#pm-state[data-version="2"]')`)
	if s := mustJS[string](t, ctx, `document.querySelector('#pm-summary .rendered').innerHTML`); !strings.Contains(s, "<strong>Checkout</strong>") {
		t.Errorf("rendered summary:\n%s", s)
	}
	if p := mustJS[bool](t, ctx, `window.pwned !== undefined`); p {
		t.Error("a script from the postmortem ran")
	}
	click(t, ctx, "#pm-review")
	waitJS(t, ctx, 15*time.Second, "in review", `document.querySelector('#pm-state[data-state="in_review"]')`)
	click(t, ctx, "#pm-publish")
	waitJS(t, ctx, 15*time.Second, "published", `document.querySelector('#pm-state[data-state="published"]')`)

	mustJS[bool](t, ctx, `(document.querySelector('#item-title').value = 'Page on checkout latency too', document.querySelector('#item-due').value = '2026-01-02', true)`)
	click(t, ctx, "#item-add")
	waitJS(t, ctx, 15*time.Second, "item added", `document.querySelector('#item-1[data-status="open"]')`)
	screenshots(t, ctx, "postmortem-published")
	open(t, ctx, wd.url+"/")
	if s := mustJS[string](t, ctx, `(document.querySelector('#overdue-actions') || {innerText: ''}).innerText`); !strings.Contains(s, "Page on checkout latency too") {
		t.Errorf("overview's overdue action items: %q", s)
	}
	open(t, ctx, wd.url+page)
	click(t, ctx, "#close-1")
	waitJS(t, ctx, 15*time.Second, "item done", `document.querySelector('#item-1[data-status="done"]')`)
	screenshots(t, ctx, "postmortem-item-done")

	resp, err := http.Get(wd.url + "/api/v1/pager/incidents/" + id + "/postmortem.md")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(md), "_State: published · version 4 · last edited by alice") || !strings.Contains(string(md), "| Page on checkout latency too | alice | 2026-01-02 | done |") {
		t.Errorf("exported Markdown:\n%s", md)
	}
	resp, err = http.Get(wd.url + "/api/v1/pager/action-items?status=done")
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Data []struct {
			Title  string `json:"title"`
			DoneBy string `json:"done_by"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || len(env.Data) != 1 || env.Data[0].DoneBy != "alice" {
		t.Errorf("done action items: %+v, %v", env, err)
	}
	resp.Body.Close()
}
