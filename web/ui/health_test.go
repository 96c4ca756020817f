package ui

import (
	"context"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

func TestHealthPage(t *testing.T) {
	f := newFixture(t)
	// A db incident two hours ago: alice paged at 08:00 UTC (awake, her
	// zone is UTC), acknowledged at +4m, resolved at +8m with no note:
	// noise (within 5 minutes of the acknowledgement).
	at := testNow.Add(-2 * time.Hour)
	f.pager.add(pager.IncidentState{ID: "inc-3", Route: "db", CreatedAt: at, Status: pager.StatusResolved,
		ResolvedAt: at.Add(8 * time.Minute), ResolvedBy: "alice"})
	f.pager.mu.Lock()
	f.pager.timeline["inc-3"] = []pager.TimelineEntry{
		{IncidentID: "inc-3", Seq: 1, At: at, Kind: pager.EntryNotify, By: pager.BySystem, User: "alice"},
		{IncidentID: "inc-3", Seq: 2, At: at.Add(4 * time.Minute), Kind: pager.EntryAck, By: "alice"},
		{IncidentID: "inc-3", Seq: 3, At: at.Add(8 * time.Minute), Kind: pager.EntryResolved, By: "alice"},
	}
	f.pager.mu.Unlock()

	code, body, _ := f.get(t, "/health?window=7d&route=db")
	if code != 200 {
		t.Fatalf("GET /health = %d", code)
	}
	row := func(name string) string {
		_, rest, ok := strings.Cut(body, `<tr data-name="`+name+`">`)
		if !ok {
			t.Fatalf("no row for %s in:\n%s", name, body)
		}
		r, _, _ := strings.Cut(rest, "</tr>")
		return r
	}
	for _, name := range []string{"alice", "db"} {
		r := row(name)
		// incidents, pages, the 08:00 bar, off hours, TTA, TTR, noise.
		for _, want := range []string{"<td>1</td><td>1</td>", "<title>8:00–8:59: 1 pages</title>", "<td>0</td>",
			"4m0s / 4m0s", "8m0s / 8m0s", "<td>0</td><td>1</td>"} {
			if !strings.Contains(r, want) {
				t.Errorf("%s row lacks %q:\n%s", name, want, r)
			}
		}
	}
	// A person's name comes from the API's "by" (any text): escaped.
	f.pager.add(pager.IncidentState{ID: "inc-4", Route: "db", CreatedAt: at, Status: pager.StatusAcknowledged})
	f.pager.mu.Lock()
	f.pager.timeline["inc-4"] = []pager.TimelineEntry{{IncidentID: "inc-4", Seq: 1, At: at.Add(time.Minute), Kind: pager.EntryAck, By: xssScript + xssAttr}}
	f.pager.mu.Unlock()
	_, evil, _ := f.get(t, "/health?route=db&user="+url.QueryEscape(xssScript+xssAttr))
	if strings.Contains(evil, xssScript) || strings.Contains(evil, "<img") || !strings.Contains(evil, "<b>&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img") {
		t.Errorf("hostile name not escaped:\n%s", evil)
	}
	if strings.Contains(body, `data-name="pages"`) {
		t.Error("the route filter shows route pages")
	}
	if !strings.Contains(body, `<option value="7d" selected>`) {
		t.Error("the window is not selected")
	}

	for _, path := range []string{"/health?window=1y", "/health?window=91d", "/health?route=" + strings.Repeat("r", maxHealthName+1)} {
		if code, _, _ := f.get(t, path); code != http.StatusBadRequest {
			t.Errorf("GET %s = %d, want 400", path[:min(len(path), 40)], code)
		}
	}
}

func TestHealthPageWithoutPager(t *testing.T) {
	h, err := New(Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptestGet(h, "/health")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "The pager is not configured") {
		t.Errorf("%d %s", rec.Code, rec.Body.String())
	}
}

// TestHealthPageBusy: a request that gives up while another report runs
// gets 503.
func TestHealthPageBusy(t *testing.T) {
	c := &console{o: Options{Pager: newFakePager(t), Now: func() time.Time { return testNow }}, healthGate: make(chan struct{}, 1)}
	c.healthGate <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	c.pages = map[string]*template.Template{"error": template.Must(template.New("layout.html").Parse(`{{.Data}}`))}
	c.healthPage(rec, httptest.NewRequestWithContext(ctx, "GET", "/health", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("busy: %d %s", rec.Code, rec.Body)
	}
}
