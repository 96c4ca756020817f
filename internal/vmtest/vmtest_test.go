package vmtest

import (
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/promapi"
)

// TestParseExport: export lines decode with bare NaN and Inf values, label
// values that look like them stay as they are, and broken lines are errors.
func TestParseExport(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []promapi.Sample
		labels  map[string]string
		wantErr bool
	}{
		{"plain", `{"metric":{"__name__":"x","a":"b"},"values":[1,2.5],"timestamps":[1000,2000]}`,
			[]promapi.Sample{{T: 1000, V: 1}, {T: 2000, V: 2.5}}, map[string]string{"__name__": "x", "a": "b"}, false},
		{"nan and inf", `{"metric":{"__name__":"x","a":",NaN"},"values":[NaN,+Inf,-Inf,Inf],"timestamps":[1,2,3,4]}`,
			[]promapi.Sample{{T: 1, V: math.NaN()}, {T: 2, V: math.Inf(1)}, {T: 3, V: math.Inf(-1)}, {T: 4, V: math.Inf(1)}},
			map[string]string{"__name__": "x", "a": ",NaN"}, false},
		{"length mismatch", `{"metric":{"__name__":"x"},"values":[1],"timestamps":[1,2]}`, nil, nil, true},
		{"not json", `{"metric":`, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExport([]byte(tt.body + "\n"))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error for %s", tt.body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || promapi.Key(got[0].Labels) != promapi.Key(tt.labels) {
				t.Fatalf("got %+v, want one series %v", got, tt.labels)
			}
			if !slices.EqualFunc(got[0].Samples, tt.want, sameSample) {
				t.Fatalf("samples %v, want %v", got[0].Samples, tt.want)
			}
		})
	}
}

func sameSample(a, b promapi.Sample) bool {
	return a.T == b.T && (a.V == b.V || math.IsNaN(a.V) && math.IsNaN(b.V))
}

// TestServer: a real server keeps a duplicate sample (no deduplication),
// answers the query API, refuses connections while stopped and keeps its
// data across a restart on the same URL.
func TestServer(t *testing.T) {
	s := Start(t, Options{})
	now := time.Now().Truncate(time.Second)
	ts := now.UnixMilli()
	in := []promapi.Series{{Labels: map[string]string{"__name__": "vmtest_x", "a": "b"},
		Samples: []promapi.Sample{{T: ts - 2000, V: 1}, {T: ts - 2000, V: 1}, {T: ts - 1000, V: 2}}}}
	s.Import(t, in)
	want := in[0].Samples
	check := func(step string) {
		t.Helper()
		got := promapi.ByKey(s.Export(t, `{__name__="vmtest_x"}`, now.Add(-time.Minute), now))
		if k := `vmtest_x{a="b"}`; len(got) != 1 || !slices.EqualFunc(got[k], want, sameSample) {
			t.Fatalf("%s: export %v, want %s %v (duplicate kept)", step, got, k, want)
		}
		raw, err := s.Client().Raw(`vmtest_x`, now, time.Minute)
		if err != nil || len(raw) != 1 || len(raw[0].Samples) != 3 {
			t.Fatalf("%s: raw query: %v %+v, want 3 samples", step, err, raw)
		}
	}
	check("running")
	url := s.URL()
	s.Stop(t)
	s.Stop(t)
	if s.Running() {
		t.Fatal("running after Stop")
	}
	if resp, err := http.Get(url + "/health"); err == nil {
		resp.Body.Close()
		t.Fatalf("stopped server answered %d", resp.StatusCode)
	}
	s.Start(t)
	s.Start(t)
	if s.URL() != url {
		t.Fatalf("URL changed from %s to %s", url, s.URL())
	}
	check("restarted")
}
