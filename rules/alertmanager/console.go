package alertmanager

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Console writes one line per alert transition, such as
//
//	2026-11-24T12:00:00Z FIRING   LoginErrorsUp instance=a:80 severity=page — login errors at 3/s
//	2026-11-24T12:07:00Z RESOLVED LoginErrorsUp instance=a:80 severity=page — login errors at 3/s
//
// An alert that is re-sent unchanged in state is not printed again. It has
// the same Send method as Sender, so either can stand behind one interface.
type Console struct {
	w   io.Writer
	now func() time.Time

	mu     sync.Mutex
	firing map[string]struct{} // keys of alerts last printed as firing
}

// NewConsole returns a Console writing to w. now tells a resolved alert
// (EndsAt not after now) from a firing one; nil uses time.Now.
func NewConsole(w io.Writer, now func() time.Time) *Console {
	if now == nil {
		now = time.Now
	}
	return &Console{w: w, now: now, firing: map[string]struct{}{}}
}

// Send prints the alerts whose state changed. Write errors are ignored: the
// console is best effort.
func (c *Console) Send(alerts ...Alert) {
	now := c.now()
	var b strings.Builder
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range alerts {
		key := labelKey(a.Labels)
		_, wasFiring := c.firing[key]
		resolved := !a.EndsAt.IsZero() && !a.EndsAt.After(now)
		switch {
		case resolved && wasFiring:
			delete(c.firing, key)
			formatLine(&b, a.EndsAt, "RESOLVED", a)
		case !resolved && !wasFiring:
			c.firing[key] = struct{}{}
			at := a.StartsAt
			if at.IsZero() {
				at = now
			}
			formatLine(&b, at, "FIRING", a)
		}
	}
	if b.Len() > 0 {
		_, _ = io.WriteString(c.w, b.String())
	}
}

// labelKey identifies an alert by its sorted labels.
func labelKey(lbls map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(lbls) {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(lbls[k])
		b.WriteByte(0)
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// formatLine writes "time STATE  alertname k=v ... — summary\n".
func formatLine(b *strings.Builder, at time.Time, state string, a Alert) {
	fmt.Fprintf(b, "%s %-8s %s", at.UTC().Format(time.RFC3339), state, oneLine(a.Labels["alertname"]))
	for _, k := range sortedKeys(a.Labels) {
		if k == "alertname" {
			continue
		}
		b.WriteByte(' ')
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(quoteIfNeeded(a.Labels[k]))
	}
	text := a.Annotations["summary"]
	if text == "" {
		text = a.Annotations["description"]
	}
	if text != "" {
		b.WriteString(" — ")
		b.WriteString(oneLine(text))
	}
	b.WriteByte('\n')
}

// quoteIfNeeded quotes label values that would not read as one word.
func quoteIfNeeded(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\n\r\"=—") {
		return strconv.Quote(v)
	}
	return v
}

// oneLine folds runs of whitespace, newlines included, into single spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
