package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// newBrowser starts a headless chromium with a fresh profile for the test
// and returns a context for its first tab. The browser stops when the test
// ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browserPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// The status page's poll runs in a second tab: keep its timers.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		// Back loads the page anew, so the DOM queries see the new document.
		chromedp.Flag("disable-features", "BackForwardCache"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start %s: %v", browserPath, err)
	}
	return ctx
}

// newTab opens another tab of the browser of ctx, closed when the test
// ends. It has its own sessionStorage (no token).
func newTab(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	// As for the browser, the tab's first Run must not carry a timeout.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return tab
}

// do runs browser steps with a timeout, failing the test on error.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := withTimeout(ctx, 30*time.Second, func(ctx context.Context) error {
		return chromedp.Do(ctx, steps...)
	}); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// open navigates to url and waits for the page to load.
func open(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	do(t, ctx, "open "+url, chromedp.Navigate(url))
}

// evalJS evaluates a JavaScript expression in the page.
func evalJS[T any](ctx context.Context, expr string) (T, error) {
	var v T
	err := withTimeout(ctx, 10*time.Second, func(ctx context.Context) error {
		var err error
		v, err = chromedp.Run(ctx, chromedp.Evaluate[T](expr))
		return err
	})
	return v, err
}

// mustJS evaluates expr and fails the test on a script error.
func mustJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := evalJS[T](ctx, expr)
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// errNotYet is what a poll function returns while its condition is false.
var errNotYet = errors.New("not yet")

// waitJS waits until the boolean expression is true in the page. Script
// errors (a navigation in progress, an element not there yet) count as
// false, so it also waits across page loads and reloads.
func waitJS(t *testing.T, ctx context.Context, timeout time.Duration, what, expr string) {
	t.Helper()
	var last error
	err := poll(timeout, 150*time.Millisecond, nil, func() error {
		ok, err := evalJS[bool](ctx, "!!("+expr+") && document.readyState === 'complete'")
		if err == nil && ok {
			return nil
		}
		last = err
		return errNotYet
	})
	if err == nil {
		return
	}
	loc, _ := evalJS[string](ctx, "location.href")
	t.Fatalf("%s: not true after %v: %s (page %s, last error %v)", what, timeout, expr, loc, last)
}

// click clicks the first element matching the CSS selector, waiting for it
// to be visible.
func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	do(t, ctx, "click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// clickTo clicks a link and waits until the browser shows path (pathname,
// plus the query string when path has one).
func clickTo(t *testing.T, ctx context.Context, sel, path string) {
	t.Helper()
	click(t, ctx, sel)
	loc := "location.pathname"
	if strings.Contains(path, "?") {
		loc = "location.pathname + location.search"
	}
	waitJS(t, ctx, 15*time.Second, "after clicking "+sel, loc+" === "+strconv.Quote(path))
}

// screenshotDir is where screenshots go: WATCHDOG_E2E_SCREENSHOTS or
// e2e/screenshots.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("WATCHDOG_E2E_SCREENSHOTS")
	if dir == "" {
		dir = "screenshots"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshots writes full-page PNGs of the current page at desktop
// (1280×800) and phone (390×844, mobile) sizes as NAME-desktop.png and
// NAME-phone.png, and leaves the desktop size set.
func screenshots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := screenshotDir(t)
	sizes := []struct {
		suffix string
		size   chromedp.Action[chromedp.Void]
	}{
		{"phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2))},
		{"desktop", chromedp.EmulateViewport(1280, 800)},
	}
	for _, s := range sizes {
		var png []byte
		err := withTimeout(ctx, 30*time.Second, func(ctx context.Context) error {
			if err := chromedp.Do(ctx, s.size, chromedp.Sleep(200*time.Millisecond)); err != nil {
				return err
			}
			var err error
			png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
			return err
		})
		if err != nil {
			t.Fatalf("screenshot %s-%s: %v", name, s.suffix, err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%s.png", name, s.suffix))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s (%d KiB)", path, len(png)/1024)
	}
}

// back goes one step back in the tab's history, as the browser's back
// button does, and waits until the browser shows path.
func back(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	if _, err := evalJS[chromedp.Void](ctx, "history.back()"); err != nil {
		t.Fatalf("history.back(): %v", err)
	}
	waitJS(t, ctx, 10*time.Second, "back to "+path, "location.pathname === "+strconv.Quote(path))
}
