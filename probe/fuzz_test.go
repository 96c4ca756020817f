package probe

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseHealthResponse feeds the hand-written gRPC answer decoder
// arbitrary bytes: it must never panic, and a status it returns comes from
// a well-formed frame.
func FuzzParseHealthResponse(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 2, 8, 1})
	f.Add([]byte{0, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 4, 0x12, 2, 'h', 'i'})
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 8})
	f.Add([]byte{0, 0, 0, 0, 3, 8, 0x80, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseHealthResponse(b)
		if err == nil && (len(b) < 5 || b[0] != 0 || st < 0) {
			t.Fatalf("accepted %x as status %d", b, st)
		}
	})
}

// FuzzJSONPath parses arbitrary bodies and looks up arbitrary paths.
func FuzzJSONPath(f *testing.F) {
	f.Add([]byte(`{"items":[{"sku":"SKU-1"}]}`), "items.0.sku")
	f.Add([]byte(`[1,2,[3]]`), "2.0")
	f.Add([]byte(strings.Repeat("[", 100)), "0")
	f.Add([]byte(`{"a":"\"}"}`), "a")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		doc, err := parseJSON(body)
		if err != nil {
			return
		}
		if v, err := lookupJSON(doc, path); err == nil {
			_ = jsonText(v)
		}
	})
}

// FuzzTrimBody checks that a failure's body is always short, valid UTF-8
// without control characters other than newline and tab.
func FuzzTrimBody(f *testing.F) {
	f.Add([]byte("database is down\x1b[31m"))
	f.Add(bytes.Repeat([]byte("é"), 600))
	f.Add([]byte{0xff, 0xfe, '\r', 0x85})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := TrimBody(b)
		if !utf8.ValidString(s) || len(s) > 3*MaxFailureBody+len("…") {
			t.Fatalf("TrimBody(%q) = %q", b, s)
		}
		for _, r := range s {
			if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("control character %U in %q", r, s)
			}
		}
	})
}

// TestHostileAnswers: a server's worst answers must end in a failure with
// bounded work, never a hang or a crash.
func TestHostileAnswers(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/deep", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("[", 100_000)))
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		for i := range 2000 {
			w.Header().Add("X-Junk", strings.Repeat("j", 100)+string(rune('a'+i%26)))
		}
	})
	mux.HandleFunc("/capture", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"token":"` + strings.Repeat("t", 10_000) + `"}`))
	})
	s := httptest.NewServer(mux)
	defer s.Close()
	tests := []struct{ name, path, module, reason string }{
		{"deep json", "/deep", "prober: http\nhttp: {fail_if_json_not_matches: [{path: a}]}", "nested deeper than 64"},
		{"endless body", "/endless", "prober: http", "body larger than body_size_limit 1MiB"},
		{"huge headers", "/headers", "prober: http", "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res := run(t, module(t, tt.module), s.URL+tt.path, 5*time.Second)
			if res.Success || !strings.Contains(res.Failure.Reason, tt.reason) {
				t.Fatalf("failure = %+v, want %q", res.Failure, tt.reason)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	t.Run("huge capture", func(t *testing.T) {
		pc := parseProbes(t, "probes:\n  - name: j\n    target: "+s.URL+"\n    steps:\n      - name: a\n        url: /capture\n        capture: [{name: tok, json_path: token}]\n").Probes[0]
		res := NewProber().Run(context.Background(), &pc.Effective, pc.Steps, s.URL)
		if res.Success || !strings.Contains(res.Failure.Reason, "longer than 4096 bytes") {
			t.Fatalf("failure = %+v", res.Failure)
		}
	})
}
