package web

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
)

var (
	posInf = math.Inf(1)
	nan    = math.NaN()
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "0", want: time.Unix(0, 0)},
		{in: "1714564800", want: time.Unix(1714564800, 0)},
		{in: "1714564800.1234", want: time.Unix(1714564800, 123e6)},
		{in: "-1.5", want: time.Unix(-2, 5e8)},
		{in: "2024-05-01T12:00:00Z", want: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)},
		{in: "2024-05-01T14:00:00.5+02:00", want: time.Date(2024, 5, 1, 12, 0, 0, 5e8, time.UTC)},
		{in: minTimeFormatted, want: minTime},
		{in: maxTimeFormatted, want: maxTime},
		{in: "", wantErr: true},
		{in: "now", wantErr: true},
		{in: "2024-05-01", wantErr: true},
		{in: "NaN", wantErr: true},
		{in: "Inf", wantErr: true},
		{in: "1e300", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTime(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrBadTime) {
					t.Fatalf("ParseTime(%q) = %v, %v; want ErrBadTime", tc.in, got, err)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "15", want: 15 * time.Second},
		{in: "0.5", want: 500 * time.Millisecond},
		{in: "15s", want: 15 * time.Second},
		{in: "1m30s", want: 90 * time.Second},
		{in: "1d", want: 24 * time.Hour},
		{in: "-1", want: -time.Second},
		{in: "", wantErr: true},
		{in: "fast", wantErr: true},
		{in: "1e300", wantErr: true},
		{in: "NaN", wantErr: true},
		{in: "-Inf", wantErr: true},
		{in: "10 s", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrBadDuration) {
					t.Fatalf("ParseDuration(%q) = %v, %v; want ErrBadDuration", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"0", "1714564800.123", "-1.5", "2024-05-01T12:00:00Z", "1e300", "NaN", minTimeFormatted, "+Inf", "0x1p-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err != nil {
			if !errors.Is(err, ErrBadTime) {
				t.Fatalf("error %v does not wrap ErrBadTime", err)
			}
			return
		}
		// Every accepted time must survive the millisecond conversion storage uses.
		ms := tm.UnixMilli()
		if back := time.UnixMilli(ms); back.Sub(tm).Abs() >= time.Millisecond {
			t.Fatalf("ParseTime(%q) = %v does not round-trip through ms (%v)", s, tm, back)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"15", "0.5", "1m30s", "1d", "-1", "1e300", "NaN", "9223372036.854775807", "5y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if !errors.Is(err, ErrBadDuration) {
				t.Fatalf("error %v does not wrap ErrBadDuration", err)
			}
			return
		}
		if strings.ContainsAny(s, "smhdwy") && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v: negative duration string", s, d)
		}
	})
}

// FuzzQueryParams drives the whole request parsing of the query and metadata
// endpoints with arbitrary parameters: nothing may panic, and bad input must
// come back as a 4xx envelope, never a 500.
func FuzzQueryParams(f *testing.F) {
	st := promqltest.LoadedStorage(f, testData)
	opts := DefaultEngineOpts()
	opts.MaxSamples = 100_000
	opts.Timeout = time.Second
	h := New(Options{Queryable: st, Engine: promql.NewEngine(opts), Now: func() time.Time { return time.Unix(600, 0) }})

	for _, s := range []string{
		"query=metric&time=150",
		"query=rate(metric[1m])&start=0&end=600&step=15s",
		"query=1&start=0&end=1e12&step=0.001",
		"match[]=metric&start=x",
		"match[]={a=\"\"}",
		"query=sum(&timeout=1s&limit=3",
		"query=metric&time=2024-05-01T12:00:00Z",
	} {
		for _, path := range []string{"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels", "/api/v1/label/a/values"} {
			f.Add(path, s)
		}
	}
	f.Fuzz(func(t *testing.T, path, rawQuery string) {
		switch path {
		case "/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels", "/api/v1/label/a/values":
		default:
			return
		}
		if _, err := url.ParseQuery(rawQuery); err != nil {
			return
		}
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.URL.RawQuery = rawQuery
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s?%s: status %d: %s", path, rawQuery, rec.Code, rec.Body)
		}
	})
}
