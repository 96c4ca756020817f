// Package calendar renders on-call shifts as iCalendar (RFC 5545) feeds
// that calendar applications subscribe to.
//
// A feed is one VCALENDAR with one VEVENT per shift. Times are written in
// UTC ("Z" form), so no VTIMEZONE is needed and DST changes need no special
// treatment: a shift is exactly the instants the schedule package resolved.
// Each event's UID is derived from what the shift is (the schedule, the
// user, the layer or override, and its start), so a calendar application
// that refreshes the feed updates the same events instead of duplicating
// them. Text values are escaped (backslash, semicolon, comma, newlines),
// control characters are dropped, lines end in CRLF and are folded at 75
// octets without splitting a UTF-8 sequence.
//
// The package is pure: the caller passes the shifts and the time stamp.
package calendar

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager/schedule"
)

// Event is one VEVENT.
type Event struct {
	UID         string
	Summary     string
	Description string
	Start, End  time.Time
}

// Feed is one VCALENDAR.
type Feed struct {
	// Name is shown by calendar applications (X-WR-CALNAME).
	Name   string
	Events []Event
}

// ScheduleEvents returns one event per shift of schedule name, summarised
// as "USER on call".
func ScheduleEvents(name string, shifts []schedule.Shift) []Event {
	out := make([]Event, 0, len(shifts))
	for _, sh := range shifts {
		out = append(out, Event{
			UID:         uid(name, sh),
			Summary:     sh.User + " on call",
			Description: describe(name, sh),
			Start:       sh.Start, End: sh.End,
		})
	}
	return out
}

// UserEvents returns one event per shift of user in schedule name,
// summarised as "On call: SCHEDULE". Shifts of other users are skipped.
func UserEvents(user, name string, shifts []schedule.Shift) []Event {
	var out []Event
	for _, sh := range shifts {
		if sh.User != user {
			continue
		}
		out = append(out, Event{
			UID:         uid(name, sh),
			Summary:     "On call: " + name,
			Description: describe(name, sh),
			Start:       sh.Start, End: sh.End,
		})
	}
	return out
}

func describe(name string, sh schedule.Shift) string {
	src := "layer " + sh.Layer
	if sh.Override {
		src = "an override"
	}
	return fmt.Sprintf("%s is on call in schedule %s through %s.", sh.User, name, src)
}

// uid identifies a shift: the same shift gets the same UID in every
// rendering (and in the schedule's and the user's feed, which is what
// RFC 5545 wants of one event).
func uid(name string, sh schedule.Shift) string {
	h := sha256.New()
	src := "layer:" + sh.Layer
	if sh.Override {
		src = "override"
	}
	for _, part := range []string{name, sh.User, src, strconv.FormatInt(sh.Start.Unix(), 10)} {
		h.Write([]byte(strconv.Itoa(len(part)) + ":" + part + ";"))
	}
	return hex.EncodeToString(h.Sum(nil)[:16]) + "@watchdog"
}

// Write renders f with stamp as every event's DTSTAMP (the time the feed
// was generated).
func Write(w io.Writer, f Feed, stamp time.Time) error {
	bw := bufio.NewWriter(w)
	lw := &lineWriter{w: bw}
	lw.line("BEGIN:VCALENDAR")
	lw.line("VERSION:2.0")
	lw.line("PRODID:-//watchdog//pager on-call calendar//EN")
	lw.line("CALSCALE:GREGORIAN")
	lw.line("METHOD:PUBLISH")
	lw.line("X-WR-CALNAME:" + Escape(f.Name))
	lw.line("NAME:" + Escape(f.Name))
	lw.line("REFRESH-INTERVAL;VALUE=DURATION:PT1H")
	lw.line("X-PUBLISHED-TTL:PT1H")
	st := utc(stamp)
	for _, e := range f.Events {
		lw.line("BEGIN:VEVENT")
		lw.line("UID:" + Escape(e.UID))
		lw.line("DTSTAMP:" + st)
		lw.line("DTSTART:" + utc(e.Start))
		lw.line("DTEND:" + utc(e.End))
		lw.line("SUMMARY:" + Escape(e.Summary))
		if e.Description != "" {
			lw.line("DESCRIPTION:" + Escape(e.Description))
		}
		lw.line("TRANSP:TRANSPARENT")
		lw.line("END:VEVENT")
	}
	lw.line("END:VCALENDAR")
	if lw.err != nil {
		return fmt.Errorf("write calendar: %w", lw.err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write calendar: %w", err)
	}
	return nil
}

// utc formats t as a DATE-TIME in UTC; iCalendar has no sub-second times,
// so t is truncated to the second.
func utc(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// Escape escapes s as an RFC 5545 TEXT value: backslash, semicolon and
// comma get a backslash, a line break (CRLF, LF or CR) becomes \n, and
// other control characters, which TEXT may not hold, are dropped.
func Escape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == ';' || c == ',':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			b.WriteString(`\n`)
		case c == '\n':
			b.WriteString(`\n`)
		case c < 0x20 && c != '\t', c == 0x7f:
			// dropped
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// maxLine is the longest a content line may be, in octets, without CRLF.
const maxLine = 75

// lineWriter writes folded content lines, remembering the first error.
type lineWriter struct {
	w   *bufio.Writer
	err error
}

// line writes s folded: every physical line is at most 75 octets, a
// continuation starts with a space, and no UTF-8 sequence is split.
func (l *lineWriter) line(s string) {
	if l.err != nil {
		return
	}
	first := true
	for {
		limit := maxLine
		if !first {
			limit-- // the leading space
		}
		if len(s) <= limit {
			l.write(first, s)
			return
		}
		cut := limit
		for cut > 0 && s[cut]&0xC0 == 0x80 { // inside a UTF-8 sequence
			cut--
		}
		l.write(first, s[:cut])
		s = s[cut:]
		first = false
	}
}

func (l *lineWriter) write(first bool, s string) {
	if !first {
		l.w.WriteByte(' ')
	}
	l.w.WriteString(s)
	_, l.err = l.w.WriteString("\r\n")
}

// Feed window: how far back and ahead a feed reaches from now.
const (
	Back  = 14 * 24 * time.Hour
	Ahead = 90 * 24 * time.Hour
	// grid aligns the start of the range shifts are resolved over, so
	// that a shift running into the window from before it keeps its
	// (clipped) start, and so its UID, for 28 days instead of changing
	// with every refresh.
	grid = 28 * 24 * time.Hour
)

// Window returns the range a feed generated at now shows, [from, to), and
// the earlier start to resolve shifts from (resolveFrom): pass
// Shifts(resolveFrom, to) to Clip.
func Window(now time.Time) (resolveFrom, from, to time.Time) {
	day := now.UTC().Truncate(24 * time.Hour)
	from, to = day.Add(-Back), day.Add(Ahead+24*time.Hour)
	resolveFrom = time.Unix(0, 0).UTC().Add(from.Sub(time.Unix(0, 0)).Truncate(grid))
	return resolveFrom, from, to
}

// Clip drops the shifts that end at or before from; the others keep
// their times (a shift that began before from shows its real start, up to
// the grid of Window).
func Clip(shifts []schedule.Shift, from time.Time) []schedule.Shift {
	for i, sh := range shifts {
		if sh.End.After(from) {
			return shifts[i:]
		}
	}
	return nil
}
