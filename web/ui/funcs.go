package ui

import (
	"fmt"
	"html/template"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/watchdog-sre/watchdog/internal/querylimit"
)

var funcs = template.FuncMap{
	"ts":          stamp,
	"ago":         ago,
	"updateTitle": func(s string) string { return updateTitles[s] },
	"seconds":     seconds,
	"pairs":       pairs,
	"linkURL":     linkURL,
	"lblstr":      labelString,
	"graphURL":    graphURL,
	"isPromQL":    isPromQL,
	"add":         func(a, b int) int { return a + b },
	"dur":         dur,
}

// stamp formats t in UTC; the zero time is a dash.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago is how long before now t was, rounded for reading: "3m20s ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, " from now"
	}
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Hour:
		d = d.Round(time.Second)
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
	default:
		return fmt.Sprintf("%dd%s", int(d.Hours()/24), suffix)
	}
	return d.String() + suffix
}

// seconds formats a duration given in seconds: "850µs", "12.3ms", "1.5s".
func seconds(s float64) string {
	if s <= 0 {
		return "—"
	}
	return time.Duration(s * float64(time.Second)).Round(time.Microsecond).String()
}

// kv is one label or annotation, for ordered output.
type kv struct{ Key, Value string }

// pairs returns m sorted by key.
func pairs(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, kv{k, m[k]})
	}
	return out
}

// labelString is {a="b", c="d"}, for legends and titles.
func labelString(m map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range pairs(m) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Key + "=" + strconv.Quote(p.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// linkURL returns s when it is an absolute http or https URL, the only
// links the console makes from scraped text (runbooks, dashboards); "" for
// anything else, javascript: and data: included, which stays plain text.
func linkURL(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	return u.String()
}

// graphURL links the graph page to an expression over the last hour.
func graphURL(expr string) string {
	return "/graph?" + url.Values{"expr": {expr}, "range": {"1h"}}.Encode()
}

// promqlParser parses expressions for the console; it keeps no state
// between calls.
var promqlParser = parser.NewParser(parser.Options{})

// isPromQL reports whether expr parses as PromQL: native conditions do not,
// and get no graph link; neither does text beyond the default query limits,
// which is never parsed.
func isPromQL(expr string) bool {
	if (querylimit.Limits{}).CheckText(expr) != nil {
		return false
	}
	_, err := promqlParser.ParseExpr(expr)
	return err == nil
}

// exactDuration formats d to the second with no rounding up: "35s",
// "1m 20s", "2h 0m 5s", "3d 4h 0m 0s". Units above the largest non-zero
// one are left out; a negative d is "0s".
func exactDuration(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	s := int64(d / time.Second)
	parts := []struct {
		n    int64
		unit string
	}{{s / 86400, "d"}, {s / 3600 % 24, "h"}, {s / 60 % 60, "m"}, {s % 60, "s"}}
	var b strings.Builder
	for _, p := range parts {
		if p.n == 0 && b.Len() == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d%s", p.n, p.unit)
	}
	return b.String()
}
