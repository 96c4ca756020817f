package ui

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestEveryPageLinkedFromOverview follows links from "/" (same origin, no
// query typed by hand) and checks that every page of the console is
// reached and answers 200.
func TestEveryPageLinkedFromOverview(t *testing.T) {
	f := newFixture(t)
	hrefs := regexp.MustCompile(`href="([^"]*)"`)
	seen := map[string]bool{"/": true}
	queue := []string{"/"}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		code, body, _ := f.get(t, p)
		if code != 200 {
			t.Errorf("GET %s = %d", p, code)
			continue
		}
		if !strings.Contains(body, "<html") {
			continue
		}
		for _, m := range hrefs.FindAllStringSubmatch(body, -1) {
			u, err := url.Parse(html.UnescapeString(m[1]))
			if err != nil || u.Host != "" || !strings.HasPrefix(u.Path, "/") {
				continue
			}
			u.Fragment = ""
			next := u.String()
			if !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	pages := map[string]*regexp.Regexp{
		"overview":            regexp.MustCompile(`^/$`),
		"incident":            regexp.MustCompile(`^/incidents/inc-2$`),
		"postmortem":          regexp.MustCompile(`^/incidents/[^/]+/postmortem$`),
		"postmortem download": regexp.MustCompile(`^/incidents/[^/]+/postmortem\.md$`),
		"alerts and rules":    regexp.MustCompile(`^/alerts$`),
		"targets":             regexp.MustCompile(`^/targets$`),
		"probes":              regexp.MustCompile(`^/probes$`),
		"heartbeats":          regexp.MustCompile(`^/heartbeats$`),
		"graph":               regexp.MustCompile(`^/graph$`),
		"graph of a rule":     regexp.MustCompile(`^/graph\?expr=`),
		"on call":             regexp.MustCompile(`^/oncall$`),
		"on-call health":      regexp.MustCompile(`^/health$`),
		"status page":         regexp.MustCompile(`^/status$`),
	}
	for name, re := range pages {
		found := false
		for p := range seen {
			if re.MatchString(p) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("the %s page is not reachable from the overview (reached %d URLs)", name, len(seen))
		}
	}
}
