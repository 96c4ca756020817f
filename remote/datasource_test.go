package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// dsFakeAPI answers /api/v1/query with a fixed status and body, and records
// the last request's form and headers.
type dsFakeAPI struct {
	status int
	body   string
	form   map[string]string
	header http.Header
	path   string
}

func (f *dsFakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.path, f.header, f.form = r.URL.Path, r.Header.Clone(), map[string]string{}
	for k := range r.PostForm {
		f.form[k] = r.PostForm.Get(k)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	io.WriteString(w, f.body)
}

func TestDatasourceQuery(t *testing.T) {
	at := time.Unix(1700000000, 500*1e6)
	tests := []struct {
		name   string
		status int
		body   string
		want   string // the vector, one sample a line; "" with err
		err    error
		errHas string
	}{
		{name: "vector", status: 200,
			body: `{"status":"success","data":{"resultType":"vector","result":[` +
				`{"metric":{"__name__":"up","job":"a"},"value":[1700000000.5,"1"]},` +
				`{"metric":{"job":"b"},"value":[1700000000.5,"NaN"]},{"metric":{},"value":[1700000000.5,"+Inf"]}]}}`,
			want: `{__name__="up", job="a"} => 1 @[1700000000500]` + "\n" + `{job="b"} => NaN @[1700000000500]` + "\n" + `{} => +Inf @[1700000000500]`},
		{name: "empty vector", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[]}}`, want: ""},
		{name: "scalar", status: 200, body: `{"status":"success","data":{"resultType":"scalar","result":[1700000000.5,"42"]}}`,
			want: `{} => 42 @[1700000000500]`},
		{name: "string", status: 200, body: `{"status":"success","data":{"resultType":"string","result":[1700000000.5,"x"]}}`,
			err: ErrDatasourceResult, errHas: "string"},
		{name: "matrix", status: 200, body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
			err: ErrDatasourceResult, errHas: "matrix"},
		{name: "native histogram", status: 200,
			body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"h"},"histogram":[1,{"count":"1"}]}]}}`,
			err:  ErrDatasourceResult, errHas: "native histogram"},
		{name: "bad_data", status: 400, body: `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end of input"}`,
			err: ErrDatasource, errHas: "HTTP 400: bad_data: 1:5: parse error"},
		{name: "5xx text", status: 503, body: "upstream connect error", err: ErrDatasource, errHas: "HTTP 503: upstream connect error"},
		{name: "bad json", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[{`, err: ErrDatasource, errHas: "decode answer"},
		{name: "bad value", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x1"]}]}}`,
			err: ErrDatasource, errHas: `decode value "x1"`},
		{name: "warnings", status: 200,
			body: `{"status":"success","warnings":["partial response: store 10.0.0.1 unavailable"],"data":{"resultType":"vector","result":[]}}`,
			err:  ErrDatasourceWarnings, errHas: "store 10.0.0.1 unavailable"},
		{name: "victoriametrics partial", status: 200,
			body: `{"status":"success","isPartial":true,"data":{"resultType":"vector","result":[]}}`,
			err:  ErrDatasourceWarnings, errHas: "isPartial"},
		{name: "error status in 200", status: 200, body: `{"status":"error","errorType":"execution","error":"boom"}`,
			err: ErrDatasource, errHas: "execution: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &dsFakeAPI{status: tc.status, body: tc.body}
			srv := httptest.NewServer(api)
			defer srv.Close()
			ds, err := NewDatasource(DatasourceOptions{URL: srv.URL + "/prom/", Timeout: 7 * time.Second,
				Headers:       map[string]string{"X-Scope-OrgID": "team-a"},
				Authorization: func() (string, error) { return "Bearer s3cret", nil }})
			if err != nil {
				t.Fatal(err)
			}
			vec, err := ds.Query(context.Background(), `up{job="a"}`, at)
			if api.path != "/prom/api/v1/query" || api.form["query"] != `up{job="a"}` || api.form["time"] != "1700000000.5" ||
				api.form["timeout"] != "7s" || api.header.Get("X-Scope-OrgID") != "team-a" || api.header.Get("Authorization") != "Bearer s3cret" {
				t.Errorf("request: path %q form %v headers %v", api.path, api.form, api.header)
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, ErrDatasource) || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want %v wrapping ErrDatasource and containing %q", err, tc.err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := dsVecString(vec); got != tc.want {
				t.Errorf("vector\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func dsVecString(v promql.Vector) string {
	lines := make([]string, len(v))
	for i, s := range v {
		lines[i] = s.String()
	}
	return strings.Join(lines, "\n")
}

// dsBlockingTransport never answers: the query's own timeout must end it.
type dsBlockingTransport struct{}

func (dsBlockingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	<-r.Context().Done()
	return nil, r.Context().Err()
}

func TestDatasourceTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		set := metrics.NewSet()
		ds, err := NewDatasource(DatasourceOptions{URL: "http://ds.invalid", Timeout: 3 * time.Second,
			Client: &http.Client{Transport: dsBlockingTransport{}}, Metrics: set})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = ds.Query(context.Background(), "up", start)
		if !errors.Is(err, ErrDatasource) || !strings.Contains(err.Error(), "no answer within 3s") {
			t.Fatalf("err = %v, want a timeout after 3s", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("gave up after %s, want 3s", d)
		}
		var buf bytes.Buffer
		set.WritePrometheus(&buf)
		if !strings.Contains(buf.String(), `watchdog_datasource_query_failures_total{reason="timeout"} 1`) {
			t.Errorf("timeout not counted:\n%s", buf.String())
		}
	})
}

func TestDatasourceAuthorizationError(t *testing.T) {
	api := &dsFakeAPI{status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[]}}`}
	srv := httptest.NewServer(api)
	defer srv.Close()
	ds, _ := NewDatasource(DatasourceOptions{URL: srv.URL,
		Authorization: func() (string, error) { return "", errors.New("credentials file gone") }})
	if _, err := ds.Query(context.Background(), "up", time.Now()); !errors.Is(err, ErrDatasource) ||
		!strings.Contains(err.Error(), "credentials file gone") || api.path != "" {
		t.Fatalf("err = %v (request sent to %q), want the secret's error and no request", err, api.path)
	}
}

func TestNewDatasourceBadURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8428", "ftp://x", "http://"} {
		if _, err := NewDatasource(DatasourceOptions{URL: u}); err == nil {
			t.Errorf("NewDatasource(%q) succeeded", u)
		}
	}
}

// TestDatasourceQuerier: Select asks for the raw samples of the window
// at maxt and returns them sorted, with the external labels dropped and
// samples outside the window left out.
func TestDatasourceQuerier(t *testing.T) {
	api := &dsFakeAPI{status: 200, body: `{"status":"success","data":{"resultType":"matrix","result":[` +
		`{"metric":{"__name__":"ALERTS_FOR_STATE","alertname":"A","instance":"b","replica":"r1"},"values":[[1000,"900"],[1060,"900"]]},` +
		`{"metric":{"__name__":"ALERTS_FOR_STATE","alertname":"A","instance":"a","replica":"r1"},"values":[[999,"1"],[1030,"1000"]]}]}}`}
	srv := httptest.NewServer(api)
	defer srv.Close()
	ds, _ := NewDatasource(DatasourceOptions{URL: srv.URL, DropLabels: []string{"replica"}})
	q, err := ds.Querier(1000_000, 1060_500)
	if err != nil {
		t.Fatal(err)
	}
	set := q.Select(context.Background(), true, nil,
		labels.MustNewMatcher(labels.MatchEqual, "__name__", "ALERTS_FOR_STATE"),
		labels.MustNewMatcher(labels.MatchEqual, "alertname", "A"))
	if want := `{__name__="ALERTS_FOR_STATE",alertname="A"}[61s]`; api.form["query"] != want || api.form["time"] != "1060.5" {
		t.Errorf("query %q at %q, want %q at 1060.5", api.form["query"], api.form["time"], want)
	}
	var got []string
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		it = s.Iterator(it)
		line := s.Labels().String()
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			line += " " + time.UnixMilli(ts).UTC().Format("04:05") + "=" + strconv.FormatFloat(v, 'g', -1, 64)
		}
		got = append(got, line)
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{__name__="ALERTS_FOR_STATE", alertname="A", instance="a"} 17:10=1000`,
		`{__name__="ALERTS_FOR_STATE", alertname="A", instance="b"} 16:40=900 17:40=900`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("series\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	api.status, api.body = 503, "down"
	if set := q.Select(context.Background(), false, nil); set.Next() || !errors.Is(set.Err(), ErrDatasource) {
		t.Errorf("Select on a failing datasource: err %v, want ErrDatasource", set.Err())
	}
	if _, _, err := q.LabelNames(context.Background(), nil); !errors.Is(err, ErrDatasourceUnsupported) {
		t.Errorf("LabelNames: %v", err)
	}
}
