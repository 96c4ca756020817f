package web

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestRenderMarkdownInert: scripts, event handlers, javascript: and data:
// URLs and raw HTML in postmortem Markdown render inert, while ordinary
// Markdown still renders.
func TestRenderMarkdownInert(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // substrings of the output
		bad       []string // substrings (lower-cased output) that must not appear
	}{
		{"script", "hi <script>alert(1)</script> there\n\n<script>alert(2)</script>", []string{"hi"}, []string{"<script", "alert(2)"}},
		{"event handler", `<img src="x" onerror="alert(1)">` + "\n\n" + `text <b onmouseover=alert(1)>b</b>`, nil, []string{"onerror", "onmouseover"}},
		{"javascript link", "[click](javascript:alert(1)) and <javascript:alert(2)>", []string{"click"}, []string{`="javascript:`, `href="javascript`}},
		{"javascript entity link", "[x](jav&#x09;ascript:alert(1)) [y](JaVaScRiPt:alert(1))", nil, []string{`="javascript:`, `="jav`}},
		{"data url", "![p](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) [d](data:text/html,<b>x</b>)", nil, []string{`="data:`}},
		{"raw html block", "<div style=\"position:fixed\"><iframe src=\"https://evil.example\"></iframe></div>", nil, []string{"<iframe", "<div", "style="}},
		{"svg", "<svg onload=alert(1)><a xlink:href=javascript:alert(2)>x</a></svg>", nil, []string{"<svg", "onload", `="javascript:`}},
		{"heading with html", "## <img src=x onerror=alert(1)>Impact", []string{"<h2"}, []string{"onerror"}},
		{"table cell", "| a | b |\n| - | - |\n| <script>x</script> | [l](javascript:x) |", []string{"<table>"}, []string{"<script", `="javascript:`}},
		{"ordinary", "**bold** _it_ [docs](https://example.com/a?b=1) `code`\n\n- one\n- two", []string{"<strong>bold</strong>", `href="https://example.com/a?b=1"`, "<code>code</code>", "<li>one</li>"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := RenderMarkdown(tc.src)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			low := strings.ToLower(out)
			for _, b := range tc.bad {
				if strings.Contains(low, b) {
					t.Errorf("output contains %q:\n%s", b, out)
				}
			}
		})
	}
}

// TestPostmortemAPI: a postmortem is created from the draft, edited with
// a version (a stale edit is refused with 409 and lost nothing),
// published, exported as Markdown and sanitised HTML, and action items
// are added, filtered and closed.
func TestPostmortemAPI(t *testing.T) {
	_, p, clk := newTestPager(t)
	srv, h := newTestServer(t, Options{Token: pagerToken, Now: clk.now})
	h.EnablePager(PagerOptions{Pager: p, Postmortems: p})
	if resp := doJSON(t, srv, "POST", "/api/v2/alerts", loginAlert, true); resp.code != 200 {
		t.Fatalf("receive: %d %s", resp.code, resp.body)
	}
	base := "/api/v1/pager/incidents/inc-1/postmortem"
	steps := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"export draft", "GET", base + ".md", "", 200, "## Root cause"},
		{"create unauthenticated", "POST", base, `{}`, 401, ""},
		{"create", "POST", base, `{"by":"alice"}`, 200, `"version":1`},
		{"create again", "POST", base, `{"by":"alice"}`, 409, ""},
		{"create unknown", "POST", "/api/v1/pager/incidents/inc-9/postmortem", `{}`, 404, ""},
		{"edit", "PUT", base, `{"by":"bob","version":1,"sections":{"summary":"Shop down <script>alert(1)</script> [x](javascript:alert(1))"}}`, 200, `"version":2`},
		{"edit stale", "PUT", base, `{"by":"alice","version":1,"sections":{"summary":"lost?"}}`, 409, ""},
		{"review", "POST", base + "/state", `{"version":2,"state":"in_review"}`, 200, `"state":"in_review"`},
		{"publish stale", "POST", base + "/state", `{"version":2,"state":"published"}`, 409, ""},
		{"publish", "POST", base + "/state", `{"version":3,"state":"published"}`, 200, `"state":"published"`},
		{"item bad link", "POST", base + "/action-items", `{"title":"x","owner":"alice","link":"javascript:alert(1)"}`, 400, ""},
		{"item bad owner", "POST", base + "/action-items", `{"title":"x","owner":"mallory"}`, 400, ""},
		{"item bad due", "POST", base + "/action-items", `{"title":"x","owner":"alice","due":"tomorrow"}`, 400, ""},
		{"item", "POST", base + "/action-items", `{"title":"Add a replica","owner":"bob","due":"2026-03-01","link":"https://t.example/1"}`, 200, `"id":"1"`},
		{"item 2", "POST", base + "/action-items", `{"title":"Alert on lag","owner":"alice","due":"2026-04-01"}`, 200, `"id":"2"`},
		{"overdue", "GET", "/api/v1/pager/action-items?overdue=true", "", 200, `"title":"Add a replica"`},
		{"bad status filter", "GET", "/api/v1/pager/action-items?status=maybe", "", 400, ""},
		{"close", "POST", base + "/action-items/1", `{"status":"done","by":"bob"}`, 200, `"status":"done"`},
		{"close unknown", "POST", base + "/action-items/9", `{"status":"done"}`, 404, ""},
		{"preview", "POST", "/api/v1/pager/postmortem/preview", `{"markdown":"**b** <img src=x onerror=alert(1)>"}`, 200, `\u003cstrong\u003eb\u003c/strong\u003e`},
	}
	for _, s := range steps {
		resp := doJSON(t, srv, s.method, s.path, s.body, s.code != 401)
		if resp.code != s.code || !strings.Contains(string(resp.body), s.want) {
			t.Errorf("%s: %d, want %d with %q: %s", s.name, resp.code, s.code, s.want, resp.body)
		}
		if s.name == "preview" && strings.Contains(string(resp.body), "onerror") {
			t.Errorf("preview kept an event handler: %s", resp.body)
		}
	}
	clk.advance(0)
	pm, err := p.Postmortem("inc-1")
	if err != nil || pm.Version != 4 || !strings.HasPrefix(pm.Sections.Summary, "Shop down") || len(pm.History) != 3 || pm.History[1].By != "bob" {
		t.Fatalf("stored postmortem %+v, %v", pm, err)
	}
	open := doJSON(t, srv, "GET", "/api/v1/pager/action-items?status=open&owner=alice", "", false)
	var env struct{ Data []pager.ActionItemRef }
	if err := json.Unmarshal(open.body, &env); err != nil || len(env.Data) != 1 || env.Data[0].ID != "2" || env.Data[0].Due != time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) {
		t.Errorf("open items of alice: %s (%v)", open.body, err)
	}
	md := doJSON(t, srv, "GET", base+".md", "", false)
	if !strings.Contains(string(md.body), "_State: published · version 4") || !strings.Contains(string(md.body), "| Add a replica | bob | 2026-03-01 | done | <https://t.example/1> |") {
		t.Errorf("markdown export:\n%s", md.body)
	}
	page := doJSON(t, srv, "GET", base+".html", "", false)
	body := strings.ToLower(string(page.body))
	if !strings.HasPrefix(page.hdr.Get("Content-Type"), "text/html") || page.hdr.Get("Content-Security-Policy") == "" ||
		strings.Contains(body, "<script") || strings.Contains(body, `="javascript:`) || !strings.Contains(body, "<h2>summary</h2>") {
		t.Errorf("html export (%s):\n%s", page.hdr, page.body)
	}
}
