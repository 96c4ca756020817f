package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"
)

// decodePostableAlerts decodes a POST /api/v2/alerts body exactly as
// json.Decoder with DisallowUnknownFields does (and refuses trailing
// data), but the plain bodies senders post (no escapes in strings, every
// key known and given once) take a fast path: no reflection, and the label
// and annotation names and values repeated in one body share one string.
// Anything else, valid or not, goes through encoding/json, which also
// words every error.
func decodePostableAlerts(body []byte) ([]postableAlert, error) {
	if alerts, ok := fastPostableAlerts(body); ok {
		return alerts, nil
	}
	var alerts []postableAlert
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(&alerts)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON array")
	}
	return alerts, err
}

// alertScanner is the fast path's cursor over a body.
type alertScanner struct {
	b      []byte
	i      int
	intern map[string]string
}

// fastPostableAlerts parses body when it is a plain array of plain
// alerts; ok is false for anything else (then nothing is decided).
func fastPostableAlerts(body []byte) (alerts []postableAlert, ok bool) {
	s := &alertScanner{b: body, intern: map[string]string{}}
	if !s.consume('[') {
		return nil, false
	}
	alerts = []postableAlert{}
	if s.consume(']') {
		return alerts, s.end()
	}
	for {
		a, ok := s.alert()
		if !ok {
			return nil, false
		}
		alerts = append(alerts, a)
		if s.consume(']') {
			return alerts, s.end()
		}
		if !s.consume(',') {
			return nil, false
		}
	}
}

// end reports whether only white space is left.
func (s *alertScanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

func (s *alertScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// consume skips white space and c, reporting whether c was there.
func (s *alertScanner) consume(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// raw returns the bytes of a plain JSON string (no escapes, no control
// characters, valid UTF-8), without its quotes.
func (s *alertScanner) raw() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start := s.i
	ascii := true
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, ascii || utf8.Valid(v)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// str returns a plain JSON string, shared with the same string earlier in
// the body.
func (s *alertScanner) str() (string, bool) {
	v, ok := s.raw()
	if !ok {
		return "", false
	}
	if x, ok := s.intern[string(v)]; ok { // no allocation for the look-up
		return x, true
	}
	x := string(v)
	s.intern[x] = x
	return x, true
}

// strMap parses an object of plain strings, each key once.
func (s *alertScanner) strMap() (map[string]string, bool) {
	if !s.consume('{') {
		return nil, false
	}
	m := map[string]string{}
	if s.consume('}') {
		return m, true
	}
	for {
		k, ok := s.str()
		if !ok || !s.consume(':') {
			return nil, false
		}
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		if _, dup := m[k]; dup {
			return nil, false
		}
		m[k] = v
		if s.consume('}') {
			return m, true
		}
		if !s.consume(',') {
			return nil, false
		}
	}
}

// timeValue parses a JSON string as time.Time's UnmarshalJSON does.
func (s *alertScanner) timeValue() (time.Time, bool) {
	s.space()
	start := s.i
	if _, ok := s.raw(); !ok {
		return time.Time{}, false
	}
	var t time.Time
	if err := t.UnmarshalJSON(s.b[start:s.i]); err != nil {
		return time.Time{}, false
	}
	return t, true
}

// alert parses one alert object whose keys are postableAlert's, each once.
func (s *alertScanner) alert() (postableAlert, bool) {
	var a postableAlert
	if !s.consume('{') {
		return a, false
	}
	if s.consume('}') {
		return a, true
	}
	var seen [5]bool
	for {
		key, ok := s.raw()
		if !ok || !s.consume(':') {
			return a, false
		}
		var field int
		switch string(key) {
		case "labels":
			field = 0
			a.Labels, ok = s.strMap()
		case "annotations":
			field = 1
			a.Annotations, ok = s.strMap()
		case "startsAt":
			field = 2
			a.StartsAt, ok = s.timeValue()
		case "endsAt":
			field = 3
			a.EndsAt, ok = s.timeValue()
		case "generatorURL":
			field = 4
			a.GeneratorURL, ok = s.str()
		default:
			return a, false // another spelling, or unknown: encoding/json decides
		}
		if !ok || seen[field] {
			return a, false
		}
		seen[field] = true
		if s.consume('}') {
			return a, true
		}
		if !s.consume(',') {
			return a, false
		}
	}
}
