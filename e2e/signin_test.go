package e2e

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// signinConfig pages alice for a probe that always fires (the console
// tests' paging setup).
const signinConfig = xssConfig

const signinRules = `groups:
  - name: signin
    interval: 1s
    rules:
      - alert: CheckoutDown
        expr: checkout_probe > 0
        labels: {severity: page}
        annotations: {summary: checkout is down}
`

// startCheckoutPaging runs the watchdog with config (a format string
// taking the probe target's address; rules signinRules) against a target
// whose checkout probe always fails, and returns it with the id of the
// CheckoutDown incident once that has paged.
func startCheckoutPaging(t *testing.T, config string) (*watchdog, string) {
	t.Helper()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# TYPE checkout_probe gauge\ncheckout_probe 1\n")
	}))
	t.Cleanup(target.Close)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"watchdog.yml": fmt.Sprintf(config, strings.TrimPrefix(target.URL, "http://")),
		"rules.yml":    signinRules,
	})
	wd := startWatchdog(t, "run", "--config", filepath.Join(dir, "watchdog.yml"),
		"--web.listen-address", "127.0.0.1:0", "--storage.snapshot-path", filepath.Join(dir, "snapshot.wds"),
		"--storage.pager-db", filepath.Join(dir, "pager.db"))
	var id string
	eventually(t, 30*time.Second, func() error {
		var err error
		id, err = wd.firstPage("CheckoutDown")
		return err
	})
	return wd, id
}

// cli runs `watchdog pager ARGS…` against w with the shared API token
// and returns its stdout.
func (w *watchdog) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"pager", "--url", w.url}, args...)...)
	cmd.Env = append(os.Environ(), "WATCHDOG_TOKEN="+w.token)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("watchdog pager %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// TestConsoleSignInInTheBrowser: an operator creates a personal token for
// alice with the CLI; alice signs in to the console with it in Chromium,
// acknowledges the incident with the form, and the timeline names her
// and the console. A page on another origin that auto-submits a resolve
// form to the watchdog (carrying even the right CSRF token) is refused
// and changes nothing; after sign-out the console asks to sign in again.
func TestConsoleSignInInTheBrowser(t *testing.T) {
	needBrowser(t)
	parallel(t, 35*time.Second)
	wd, id := startCheckoutPaging(t, signinConfig)

	secret := strings.TrimSpace(wd.cli(t, "user", "token", "create", "--user", "alice", "--scope", "respond", "--name", "browser", "--expires", "1d"))
	if !strings.HasPrefix(secret, "wdp_") {
		t.Fatalf("token create printed %q", secret)
	}
	if list := wd.cli(t, "user", "token", "list"); !strings.Contains(list, "alice") || !strings.Contains(list, "browser") ||
		strings.Contains(list, secret) {
		t.Errorf("token list:\n%s", list)
	}

	ctx := newBrowser(t)
	open(t, ctx, wd.url+"/incidents/"+id)
	clickTo(t, ctx, "#signin-link", "/signin")
	do(t, ctx, "type the token", chromedp.WaitVisible(chromedp.CSS("#token")), chromedp.SendKeys(chromedp.CSS("#token"), secret))
	clickTo(t, ctx, "#signin", "/incidents/"+id)
	waitJS(t, ctx, 10*time.Second, "signed in", `document.querySelector('#signed-in b') && document.querySelector('#signed-in b').textContent === 'alice'`)
	if n := mustJS[int](t, ctx, `document.cookie.length`); n != 0 {
		t.Errorf("the session cookie is readable by scripts (document.cookie has %d bytes)", n)
	}
	click(t, ctx, "#ack")
	waitJS(t, ctx, 15*time.Second, "acknowledged", `document.querySelector('#incident[data-state="acknowledged"]')`)
	tl := mustJS[string](t, ctx, `document.querySelector('#timeline').innerText`)
	if !strings.Contains(tl, "acknowledged by alice (console)") {
		t.Errorf("timeline does not name alice and the console:\n%s", tl)
	}
	if inc := wd.incident(t, id); inc.Status != "acknowledged" || inc.AckedBy != "alice" {
		t.Errorf("API: %s by %q", inc.Status, inc.AckedBy)
	}
	screenshots(t, ctx, "signin-acknowledged")

	// Another origin (another port of the same host: same site, so the
	// SameSite=Strict cookie goes along) auto-submits a resolve form.
	csrf := mustJS[string](t, ctx, `document.querySelector('#act-form input[name=csrf]').value`)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><body><form id="f" method="post" action="%s">
<input type="hidden" name="action" value="resolve"><input type="hidden" name="csrf" value="%s"></form>
<script>document.getElementById('f').submit()</script></body></html>`,
			html.EscapeString(wd.url+"/incidents/"+id+"/act"), html.EscapeString(csrf))
	}))
	defer evil.Close()
	open(t, ctx, evil.URL+"/")
	waitJS(t, ctx, 15*time.Second, "the forged post answered", `location.pathname === '/incidents/`+id+`/act'`)
	if txt := mustJS[string](t, ctx, `document.body.innerText`); !strings.Contains(txt, "Cross-site request refused") {
		t.Errorf("the cross-origin form was not refused:\n%s", txt)
	}
	screenshots(t, ctx, "signin-cross-origin-refused")
	if inc := wd.incident(t, id); inc.Status != "acknowledged" {
		t.Errorf("the cross-origin form changed the incident: %s", inc.Status)
	}

	// Sign out: the forms are gone, the sign-in link is back.
	open(t, ctx, wd.url+"/incidents/"+id)
	clickTo(t, ctx, "#signout", "/signin")
	open(t, ctx, wd.url+"/incidents/"+id)
	waitJS(t, ctx, 10*time.Second, "signed out", `document.querySelector('#signin-link') && !document.querySelector('#act-form')`)
}
