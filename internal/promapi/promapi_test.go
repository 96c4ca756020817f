package promapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// TestParseResponse: vectors, matrices and scalars decode to series with
// millisecond timestamps; error answers and other result types are errors.
func TestParseResponse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    map[string][]Sample
		wantErr error
	}{
		{"vector", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a"},"value":[1.5,"1"]}]}}`,
			map[string][]Sample{`up{job="a"}`: {{1500, 1}}}, nil},
		{"matrix", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"b":"2","a":"1"},"values":[[1,"1"],[2.001,"+Inf"]]}]}}`,
			map[string][]Sample{`{a="1", b="2"}`: {{1000, 1}, {2001, inf}}}, nil},
		{"scalar", `{"status":"success","data":{"resultType":"scalar","result":[3,"4"]}}`,
			map[string][]Sample{`{}`: {{3000, 4}}}, nil},
		{"error", `{"status":"error","error":"bad"}`, nil, ErrAPI},
		{"string", `{"status":"success","data":{"resultType":"string","result":[3,"x"]}}`, nil, ErrAPI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseResponse([]byte(tt.body))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			byKey := ByKey(got)
			if len(byKey) != len(tt.want) {
				t.Fatalf("got %v, want %v", byKey, tt.want)
			}
			for k, w := range tt.want {
				if !slices.Equal(byKey[k], w) {
					t.Fatalf("%s: got %v, want %v", k, byKey[k], w)
				}
			}
		})
	}
}

var inf = func() float64 { var z float64; return 1 / z }()

// TestByKey: parts of one series merge in time order and equal timestamps
// stay (duplicates remain visible).
func TestByKey(t *testing.T) {
	l := map[string]string{"__name__": "x", "a": "1"}
	got := ByKey([]Series{
		{Labels: l, Samples: []Sample{{3, 3}, {1, 1}}},
		{Labels: map[string]string{"a": "1", "__name__": "x"}, Samples: []Sample{{1, 1}, {2, 2}}},
	})
	want := []Sample{{1, 1}, {1, 1}, {2, 2}, {3, 3}}
	if len(got) != 1 || !slices.Equal(got[`x{a="1"}`], want) {
		t.Fatalf("got %v, want x{a=\"1\"} %v", got, want)
	}
}

// TestClient: Raw sends selector[window] at the given time with the
// client's headers, and a non-200 answer is ErrAPI.
func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if q, at := r.FormValue("query"), r.FormValue("time"); q != `up[90000ms]` || at != "100.250" {
			http.Error(w, "query "+q+" at "+at, http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up"},"values":[[100,"1"]]}]}}`))
	}))
	defer srv.Close()
	c := Client{URL: srv.URL, Header: http.Header{"Authorization": {"Bearer t"}}}
	got, err := c.Raw("up", time.UnixMilli(100250), 90*time.Second)
	if err != nil || len(got) != 1 || !slices.Equal(got[0].Samples, []Sample{{100000, 1}}) {
		t.Fatalf("Raw: %v %+v", err, got)
	}
	c.Header = nil
	if _, err := c.Raw("up", time.UnixMilli(100250), 90*time.Second); !errors.Is(err, ErrAPI) {
		t.Fatalf("without token: err %v, want ErrAPI", err)
	}
}
