package ui

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestEscaping renders every page with labels, annotations, errors, notes
// and titles carrying markup and checks that none of it reaches the HTML
// unescaped and that javascript: and data: URLs are never made links.
func TestEscaping(t *testing.T) {
	f := newFixture(t)
	pages := []struct {
		path string
		// shows says the page displays the hostile text (escaped).
		shows bool
	}{
		{"/", true}, {"/incidents/inc-2", true}, {"/incidents/inc-2/postmortem", true}, {"/alerts", true},
		{"/targets", true}, {"/probes", true}, {"/heartbeats", true}, {"/graph?expr=" + url.QueryEscape(`rate(errors_total[5m]) > 0.5`), true},
		{"/graph?expr=" + url.QueryEscape(xssScript+xssAttr), true}, {"/oncall", false}, {"/health", false},
		{"/health?route=" + url.QueryEscape(xssScript) + "&user=" + url.QueryEscape(xssAttr), true}, {"/status", false},
		{"/status.json", false},
	}
	raw := []string{xssScript, xssAttr, `<img`, `onerror=alert(1)>`}
	links := regexp.MustCompile(`(?i)(?:href|src|action)\s*=\s*"([^"]*)"`)
	for _, p := range pages {
		t.Run(p.path, func(t *testing.T) {
			code, body, _ := f.get(t, p.path)
			if code != 200 && code != 400 {
				t.Fatalf("GET %s = %d", p.path, code)
			}
			for _, r := range raw {
				if strings.Contains(body, r) {
					t.Errorf("GET %s: unescaped %q in the page", p.path, r)
				}
			}
			if p.shows && !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") && !strings.Contains(body, "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;") {
				t.Errorf("GET %s: the escaped hostile text is missing (is the fixture shown?)", p.path)
			}
			for _, m := range links.FindAllStringSubmatch(body, -1) {
				u := strings.ToLower(strings.TrimSpace(m[1]))
				if strings.HasPrefix(u, "javascript:") || strings.HasPrefix(u, "data:") || strings.Contains(u, "zgotmplz") {
					t.Errorf("GET %s: unsafe link %q", p.path, m[0])
				}
			}
		})
	}
	// The status page is public: it shows no internal text at all.
	for _, p := range []string{"/status", "/status.json"} {
		_, body, _ := f.get(t, p)
		for _, internal := range []string{"HighErrorRate", "alert(1)", "runbooks.example", "alice", "inc-2"} {
			if strings.Contains(body, internal) {
				t.Errorf("GET %s shows internal text %q", p, internal)
			}
		}
	}
}

func TestRunbookLinks(t *testing.T) {
	f := newFixture(t)
	_, body, _ := f.get(t, "/incidents/inc-2")
	if !strings.Contains(body, `<a class="runbook" href="https://runbooks.example/high-error?x=1"`) {
		t.Error("the https runbook is not a link")
	}
	if !strings.Contains(body, "<dt>dashboard</dt><dd>javascript:alert(1)</dd>") {
		t.Error("the javascript: annotation is not plain text")
	}
	if strings.Contains(body, `href="javascript`) {
		t.Error("a javascript: URL became a link (generator URL or annotation)")
	}
}

func TestLinkURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://wiki.example/rb#x":   "https://wiki.example/rb#x",
		" http://wiki/rb ":            "http://wiki/rb",
		"javascript:alert(1)":         "",
		"JaVaScRiPt:alert(1)":         "",
		"data:text/html,<b>":          "",
		"//evil.example/x":            "",
		"/relative/path":              "",
		"vbscript:msgbox":             "",
		"https:/no-host":              "",
		"see the wiki":                "",
		"\x01javascript:alert(1)":     "",
		"ftp://files.example/runbook": "",
	} {
		if got := linkURL(in); got != want {
			t.Errorf("linkURL(%q) = %q, want %q", in, got, want)
		}
	}
}
