// Package provimport turns exports of hosted paging services — PagerDuty
// REST API v2 and Opsgenie API responses saved as JSON files — into the
// watchdog's `pager:` section: users with their contacts and notification
// rules, schedules with layers, restrictions and overrides, escalation
// policies and routes. What the pager has no equivalent for is listed in
// Result.NotImported with the file and the JSON path it came from, never
// dropped silently. The output is checked with the pager's own loader
// before it is returned.
//
// It backs `watchdog pager import-pagerduty` and `watchdog pager
// import-opsgenie`.
package provimport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/schedule"
)

// ErrInvalid is wrapped by every error about unusable input: a file that
// is not JSON, not an API response of the provider, or too large.
var ErrInvalid = errors.New("invalid export")

// Limits on the input, so that hostile files cannot exhaust memory or CPU.
const (
	// MaxFileBytes bounds one file.
	MaxFileBytes = 32 << 20
	// MaxTotalBytes bounds all files together.
	MaxTotalBytes = 128 << 20
	// MaxFiles bounds the number of files (a directory's *.json).
	MaxFiles = 2000
	// maxItems bounds users, schedules, policies, … of each kind.
	maxItems = 20_000
	// maxMembers bounds the members of one generated layer (a rotation
	// whose turns last several days repeats each member).
	maxMembers = 2_000
	// maxRestrictions bounds the restriction windows of one layer.
	maxRestrictions = 400
)

// File is one input file.
type File struct {
	Name string
	Data []byte
}

// Options tune a conversion. The zero value is usable.
type Options struct {
	// Now is the time of the import: layers, rotations and overrides that
	// ended before it are left out. Zero keeps them all.
	Now time.Time
}

// Note is one thing of the input that was not imported, or imported with
// a difference in behaviour, at its file and JSON path.
type Note struct {
	File string
	Path string
	Msg  string
}

// String formats the note as "file: path: message".
func (n Note) String() string {
	if n.Path == "" {
		return n.File + ": " + n.Msg
	}
	return n.File + ": " + n.Path + ": " + n.Msg
}

// Result is an imported configuration.
type Result struct {
	// YAML is the output: a comment block (what was not imported) and a
	// top-level `pager:` section that pager.ParseConfig accepts.
	YAML        []byte
	NotImported []Note
	// Config is YAML parsed and validated by the pager's loader.
	Config *pager.Config
}

// Report is the human-readable summary for stderr: every note, one a line.
func (r *Result) Report() string {
	if len(r.NotImported) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "not imported (%d):\n", len(r.NotImported))
	for _, n := range r.NotImported {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	return b.String()
}

// ReadFiles reads the named files; a directory contributes its *.json
// files (not recursively), in name order. Sizes and counts are bounded.
func ReadFiles(paths []string) ([]File, error) {
	var names []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read export: %w", err)
		}
		if !st.IsDir() {
			names = append(names, p)
			continue
		}
		m, err := filepath.Glob(filepath.Join(p, "*.json"))
		if err != nil {
			return nil, fmt.Errorf("read export: %w", err)
		}
		sort.Strings(m)
		names = append(names, m...)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no files (a directory contributes its *.json files)", ErrInvalid)
	}
	if len(names) > MaxFiles {
		return nil, fmt.Errorf("%w: %d files, at most %d", ErrInvalid, len(names), MaxFiles)
	}
	var files []File
	total := 0
	for _, name := range names {
		data, err := readBounded(name)
		if err != nil {
			return nil, err
		}
		total += len(data)
		if total > MaxTotalBytes {
			return nil, fmt.Errorf("%w: files larger than %d bytes together", ErrInvalid, MaxTotalBytes)
		}
		files = append(files, File{Name: name, Data: data})
	}
	return files, nil
}

func readBounded(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read export: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read export %s: %w", name, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrInvalid, name, MaxFileBytes)
	}
	return data, nil
}

// decode unmarshals file data into v, turning JSON errors into
// "file:line:col: message" errors wrapping ErrInvalid.
func decode(f File, v any) error {
	if len(f.Data) > MaxFileBytes {
		return fmt.Errorf("%w: %s: larger than %d bytes", ErrInvalid, f.Name, MaxFileBytes)
	}
	err := json.Unmarshal(f.Data, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		// Offset counts the offending byte; at the end of the data there
		// is none.
		at := se.Offset
		if at > 0 && at < int64(len(f.Data)) {
			at--
		}
		line, col := position(f.Data, at)
		return fmt.Errorf("%w: %s:%d:%d (offset %d): %v", ErrInvalid, f.Name, line, col, se.Offset, se)
	case errors.As(err, &te):
		line, col := position(f.Data, max(te.Offset-1, 0)) // the value's last byte
		return fmt.Errorf("%w: %s:%d:%d (offset %d): %s: %s is not a %s", ErrInvalid, f.Name, line, col, te.Offset, te.Field, te.Value, te.Type)
	}
	return fmt.Errorf("%w: %s: %v", ErrInvalid, f.Name, err)
}

// position returns the 1-based line and column of byte offset off.
func position(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// out is the configuration being built.
type out struct {
	notes     []Note
	users     []*outUser
	schedules []*schedule.Schedule
	policies  []*outPolicy
	routes    []*outRoute
	names     map[string]map[string]bool // kind → used names
	next      map[string]int             // kind and base name → last suffix used
}

type outUser struct {
	Name              string     `yaml:"name"`
	TimeZone          string     `yaml:"time_zone,omitempty"`
	Contact           outContact `yaml:"contact"`
	NotificationRules []outRule  `yaml:"notification_rules,omitempty"`
}

type outContact struct {
	Push  string `yaml:"push,omitempty"`
	SMS   string `yaml:"sms,omitempty"`
	Voice string `yaml:"voice,omitempty"`
	Email string `yaml:"email,omitempty"`
	Slack string `yaml:"slack,omitempty"`
}

func (c *outContact) set(method, addr string) bool {
	p := map[string]*string{pager.MethodSMS: &c.SMS, pager.MethodVoice: &c.Voice, pager.MethodEmail: &c.Email, pager.MethodPush: &c.Push}[method]
	if p == nil || *p != "" {
		return false
	}
	*p = addr
	return true
}

func (c *outContact) get(method string) string {
	return pager.Contact{Push: c.Push, SMS: c.SMS, Voice: c.Voice, Email: c.Email, Slack: c.Slack}.Address(method)
}

type outRule struct {
	After  string `yaml:"after"`
	Method string `yaml:"method"`
	after  time.Duration
}

type outPolicy struct {
	Name       string     `yaml:"name"`
	Levels     []outLevel `yaml:"levels"`
	Repeat     int        `yaml:"repeat,omitempty"`
	AckTimeout string     `yaml:"ack_timeout,omitempty"`
}

type outLevel struct {
	Targets       []string `yaml:"targets,flow"`
	EscalateAfter string   `yaml:"escalate_after"`
}

type outRoute struct {
	Name             string      `yaml:"name"`
	Matchers         []string    `yaml:"matchers,flow,omitempty"`
	EscalationPolicy string      `yaml:"escalation_policy,omitempty"`
	Routes           []*outRoute `yaml:"routes,omitempty"`
}

func (o *out) note(file, path, format string, args ...any) {
	o.notes = append(o.notes, Note{File: file, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// addSchedule adds s when the schedule package accepts it (odd dates in
// an export, such as a year outside 1970 to 9999, are refused there), and
// notes why not otherwise.
func (o *out) addSchedule(file, path string, s *schedule.Schedule) bool {
	if err := s.Validate(); err != nil {
		o.note(file, path, "not accepted by the watchdog (%s): skipped", strings.ReplaceAll(err.Error(), "\n", "; "))
		return false
	}
	o.schedules = append(o.schedules, s)
	return true
}

// name returns a unique name of kind made from the first usable
// candidate: lower case, letters, digits, '.', '_' and '-' only.
func (o *out) name(kind string, candidates ...string) string {
	if o.names == nil {
		o.names = map[string]map[string]bool{}
	}
	used := o.names[kind]
	if used == nil {
		used = map[string]bool{}
		o.names[kind] = used
	}
	base := ""
	for _, c := range candidates {
		if base = slug(c); base != "" {
			break
		}
	}
	if base == "" {
		base = kind
	}
	// next remembers the last suffix tried per base, so that thousands of
	// equal names cost linear time.
	if o.next == nil {
		o.next = map[string]int{}
	}
	n := base
	for used[n] {
		o.next[kind+"\x00"+base]++
		n = fmt.Sprintf("%s-%d", base, o.next[kind+"\x00"+base]+1)
	}
	used[n] = true
	return n
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_'
		if ok {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	return strings.Trim(b.String(), "-.")
}

// dur formats a duration the way people write it ("5m", "1h30m").
func dur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// sortRules orders notification rules by after (stable) and drops exact
// duplicates.
func sortRules(rs []outRule) []outRule {
	slices.SortStableFunc(rs, func(a, b outRule) int { return int(a.after - b.after) })
	return slices.CompactFunc(rs, func(a, b outRule) bool { return a.after == b.after && a.Method == b.Method })
}

// render writes the comment block and the pager section, and checks the
// result with the pager's loader.
func (o *out) render(provider, command string, files []File) (*Result, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Imported from %s (%d files) by `watchdog pager %s`.\n", provider, len(files), command)
	b.WriteString("# Routes match the label named in each route's matchers; label your alerts accordingly.\n")
	if len(o.notes) > 0 {
		b.WriteString("#\n# not imported:\n")
		for _, n := range o.notes {
			fmt.Fprintf(&b, "#   %s\n", printable(n.String()))
		}
	}
	section := struct {
		Users              []*outUser           `yaml:"users"`
		Schedules          []*schedule.Schedule `yaml:"schedules,omitempty"`
		EscalationPolicies []*outPolicy         `yaml:"escalation_policies,omitempty"`
		Routes             []*outRoute          `yaml:"routes,omitempty"`
	}{o.users, o.schedules, o.policies, o.routes}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]any{"pager": section}); err != nil {
		return nil, fmt.Errorf("encode pager section: %w", err)
	}
	_ = enc.Close()
	cfg, err := pager.ParseConfig("imported.yml", b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("check imported config: %w", err)
	}
	return &Result{YAML: b.Bytes(), NotImported: o.notes, Config: cfg}, nil
}

// printable makes s safe for a one-line YAML comment: invalid UTF-8 and
// control characters become U+FFFD.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\ufeff' {
			return '\ufffd'
		}
		return r
	}, strings.ToValidUTF8(s, "\ufffd"))
}

// window is a weekly window: it opens at minute start of the week (0 is
// Monday 00:00) and lasts length minutes (1 to a week).
type window struct{ start, length int }

var weekdays = [7]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// restrictions turns weekly windows into the schedule's daily windows:
// each window is cut into pieces of at most a day opening on one weekday.
// daily windows (every day) are given with everyDay.
func restrictions(ws []window, everyDay bool) []schedule.Restriction {
	var rs []schedule.Restriction
	hm := func(m int) string { return fmt.Sprintf("%02d:%02d", m/60%24, m%60) }
	for _, w := range ws {
		if everyDay {
			l := min(w.length, 1440)
			rs = append(rs, schedule.Restriction{From: hm(w.start % 1440), To: hm(w.start%1440 + l)})
			continue
		}
		for cur, left := w.start, min(w.length, 7*1440); left > 0; {
			l := min(left, 1440)
			rs = append(rs, schedule.Restriction{Days: []string{weekdays[cur/1440%7]}, From: hm(cur % 1440), To: hm(cur%1440 + l)})
			cur, left = (cur+l)%(7*1440), left-l
		}
	}
	return rs
}

// wallString formats t's wall clock in loc as the schedule package reads
// layer starts.
func wallString(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	if t.Second() != 0 {
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04")
}

// rotation is a provider's rotation in neutral terms: members take turns
// of period (days, weeks or an absolute length), the first turn starting at
// anchor; the layer is on call from start on.
type rotation struct {
	members []string
	anchor  time.Time
	start   time.Time // zero: anchor
	days    int       // turn length in whole days (wall clock), or 0
	length  time.Duration
}

// layer maps a rotation to a schedule layer: turns of several days or
// weeks repeat each member; the layer starts at the last handoff at or
// before the rotation's start, with the members rotated so that the one
// on call then comes first. It returns ok false (and why) when the
// rotation cannot be expressed.
func (r rotation) layer(name string, loc *time.Location) (l schedule.Layer, note string, ok bool) {
	if len(r.members) == 0 {
		return l, "no members", false
	}
	start := r.start
	if start.IsZero() {
		start = r.anchor
	}
	l.Name = name
	if r.days > 0 {
		period, rep := 1, r.days
		l.Rotation = schedule.RotationDaily
		if r.days%7 == 0 {
			period, rep = 7, r.days/7
			l.Rotation = schedule.RotationWeekly
		}
		if len(r.members)*rep > maxMembers {
			return l, fmt.Sprintf("turns of %d days with %d members exceed %d layer members", r.days, len(r.members), maxMembers), false
		}
		var ms []string
		for _, m := range r.members {
			for range rep {
				ms = append(ms, m)
			}
		}
		aw := wallOf(r.anchor, loc)
		sw := wallOf(start, loc)
		days := int64(dayNumber(sw) - dayNumber(aw))
		if sw.Before(time.Date(sw.Year(), sw.Month(), sw.Day(), aw.Hour(), aw.Minute(), aw.Second(), 0, time.UTC)) {
			days-- // before the handoff time of day
		}
		j := floorDiv(days, int64(period))
		first := aw.AddDate(0, 0, int(j)*period)
		l.Members = rotate(ms, j)
		l.Start = first.Format("2006-01-02T15:04:05")
		if first.Second() == 0 {
			l.Start = first.Format("2006-01-02T15:04")
		}
		return l, "", true
	}
	if r.length < time.Hour || r.length%time.Minute != 0 {
		return l, fmt.Sprintf("turns of %s: the watchdog's rotations are whole minutes and at least an hour", r.length), false
	}
	k := floorDiv(int64(start.Sub(r.anchor)/time.Second), int64(r.length/time.Second))
	l.Rotation = schedule.RotationCustom
	l.Length = dur(r.length)
	l.Members = rotate(r.members, k)
	l.Start = r.anchor.Add(time.Duration(k) * r.length).In(loc).Format(time.RFC3339)
	return l, "", true
}

// wallOf returns t's wall clock in loc as a UTC time.
func wallOf(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

func dayNumber(w time.Time) int {
	return int(floorDiv(w.Unix(), 86400))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// fillGaps gives each empty member (a turn of someone or something not
// imported) to the member before it, cyclically, so that every other turn
// keeps its time. ok is false when no member is left.
func fillGaps(ms []string) ([]string, bool) {
	first := slices.IndexFunc(ms, func(m string) bool { return m != "" })
	if first < 0 {
		return nil, false
	}
	for k := range ms {
		j := (first + k) % len(ms)
		if ms[j] == "" {
			ms[j] = ms[(j+len(ms)-1)%len(ms)]
		}
	}
	return ms, true
}

// rotate returns ms rotated left by k (mod len).
func rotate(ms []string, k int64) []string {
	n := int64(len(ms))
	k = ((k % n) + n) % n
	return append(slices.Clone(ms[k:]), ms[:k]...)
}
