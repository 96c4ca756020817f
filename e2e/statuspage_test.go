package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// statusPageConfig is the console tests' paging setup with a status page
// of two components: Checkout (the always-firing probe) and Payments.
const statusPageConfig = signinConfig + `status_page:
  title: Shop status
  components:
    - {name: Checkout, matchers: ['alertname="CheckoutDown"']}
    - {name: Payments, matchers: ['alertname="PaymentsBatch"']}
`

// TestStatusUpdatesAndMaintenanceInTheBrowser: alice (admin token) signs
// in, posts investigating and resolved updates on the paging incident
// from its page, and the public /status page shows her words and nothing
// of the alert (name, labels, expression, her name). She then schedules a
// maintenance window for Payments through the /maintenance form; an alert
// it matches, posted inside the window, opens an incident that pages
// nobody and is shown silenced, and the public page shows Payments under
// maintenance. Screenshots are checked for size and content.
func TestStatusUpdatesAndMaintenanceInTheBrowser(t *testing.T) {
	needBrowser(t)
	parallel(t, 35*time.Second)
	wd, id := startCheckoutPaging(t, statusPageConfig)
	secret := strings.TrimSpace(wd.cli(t, "user", "token", "create", "--user", "alice", "--scope", "admin", "--name", "status", "--expires", "1d"))

	ctx := newBrowser(t)
	open(t, ctx, wd.url+"/incidents/"+id)
	clickTo(t, ctx, "#signin-link", "/signin")
	do(t, ctx, "type the token", chromedp.WaitVisible(chromedp.CSS("#token")), chromedp.SendKeys(chromedp.CSS("#token"), secret))
	clickTo(t, ctx, "#signin", "/incidents/"+id)
	updates := []struct{ status, text string }{
		{"investigating", "Some card payments fail at checkout; we are looking into it."},
		{"resolved", "Card payments work again since 10:42."},
	}
	for i, u := range updates {
		mustJS[bool](t, ctx, fmt.Sprintf(`(document.querySelector('#update-status').value = %q, document.querySelector('#update-text').value = %q, true)`, u.status, u.text))
		click(t, ctx, "#post-update")
		waitJS(t, ctx, 15*time.Second, "update "+u.status, fmt.Sprintf(`document.querySelectorAll('#public-updates li.update').length === %d`, i+1))
	}

	open(t, ctx, wd.url+"/status")
	waitJS(t, ctx, 15*time.Second, "updates on the public page", `document.querySelectorAll('#history li.update').length === 2`)
	html := mustJS[string](t, ctx, `document.documentElement.outerHTML`)
	for _, u := range updates {
		if !strings.Contains(html, u.text) {
			t.Errorf("the public page lacks %q", u.text)
		}
	}
	for _, internal := range []string{"CheckoutDown", "checkout_probe", "severity", "alertname", "alice", "/incidents/"} {
		if strings.Contains(html, internal) {
			t.Errorf("the public page shows %q", internal)
		}
	}
	checkedScreenshots(t, ctx, "status-updates")

	// Schedule maintenance for Payments from the console: running now.
	open(t, ctx, wd.url+"/maintenance")
	start := time.Now().UTC().Truncate(time.Minute)
	mustJS[bool](t, ctx, fmt.Sprintf(`(document.querySelector('#mw-title').value = 'Payment provider upgrade',
		document.querySelector('#mw-text').value = 'Card payments may be slow.',
		document.querySelector('input[name=component][value=Payments]').checked = true,
		document.querySelector('#mw-matchers').value = 'alertname="PaymentsBatch"',
		document.querySelector('#mw-start').value = %q, document.querySelector('#mw-end').value = %q, true)`,
		start.Format("2006-01-02T15:04"), start.Add(time.Hour).Format("2006-01-02T15:04")))
	click(t, ctx, "#mw-submit")
	waitJS(t, ctx, 15*time.Second, "window scheduled", `document.querySelector('#mw-active tr[data-phase="active"]')`)
	checkedScreenshots(t, ctx, "maintenance-scheduled")

	wd.api(t, "POST", "/api/v2/alerts", `[{"labels":{"alertname":"PaymentsBatch","severity":"page","service":"payments"}}]`, nil)
	var silenced string
	eventually(t, 30*time.Second, func() error {
		var open []struct {
			ID          string            `json:"id"`
			Suppressed  bool              `json:"suppressed"`
			GroupLabels map[string]string `json:"groupLabels"`
		}
		wd.api(t, "GET", "/api/v1/pager/incidents?status=open&limit=100", "", &open)
		for _, inc := range open {
			if inc.GroupLabels["alertname"] == "PaymentsBatch" {
				if !inc.Suppressed {
					return fmt.Errorf("incident %s of the alert inside the window is not silenced", inc.ID)
				}
				silenced = inc.ID
				return nil
			}
		}
		return fmt.Errorf("no incident for PaymentsBatch yet")
	})
	open(t, ctx, wd.url+"/incidents/"+silenced)
	waitJS(t, ctx, 15*time.Second, "shown silenced", `document.querySelector('.badge.suppressed')`)
	checkedScreenshots(t, ctx, "maintenance-silenced")
	open(t, ctx, wd.url+"/status")
	waitJS(t, ctx, 15*time.Second, "Payments under maintenance",
		`document.querySelector('li.component[data-component="Payments"][data-state="under_maintenance"]') && document.querySelector('li.maintenance[data-state="in_progress"]')`)
	checkedScreenshots(t, ctx, "status-maintenance")
	// The Checkout incident paged within a second; this one never does.
	if pages := wd.triggerPages(silenced); len(pages) != 0 {
		t.Errorf("the alert inside the maintenance window paged: %q", pages)
	}
}

// checkedScreenshots takes screenshots (NAME-desktop.png, NAME-phone.png)
// and checks each: a PNG of the viewport's width (1280, or 390 at scale
// 2), at least a viewport high, and not blank (its top band, where the
// header is, and the whole image have more than a few colours).
func checkedScreenshots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	screenshots(t, ctx, name)
	for _, s := range []struct {
		suffix        string
		width, height int
	}{{"desktop", 1280, 800}, {"phone", 780, 1688}} {
		path := filepath.Join(screenshotDir(t), name+"-"+s.suffix+".png")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b := img.Bounds()
		if b.Dx() != s.width || b.Dy() < s.height {
			t.Errorf("%s is %dx%d, want %d wide and at least %d high", path, b.Dx(), b.Dy(), s.width, s.height)
		}
		if n := colours(img, image.Rect(0, 0, b.Dx(), min(b.Dy(), 120))); n < 3 {
			t.Errorf("%s: its top band has %d colours: no header drawn", path, n)
		}
		if n := colours(img, b); n < 16 {
			t.Errorf("%s has %d colours: blank", path, n)
		}
	}
}

// colours counts the distinct colours in r of img (up to 1000), sampling
// every other pixel.
func colours(img image.Image, r image.Rectangle) int {
	seen := map[[4]uint32]bool{}
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			c1, c2, c3, c4 := img.At(x, y).RGBA()
			seen[[4]uint32{c1, c2, c3, c4}] = true
			if len(seen) >= 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}
