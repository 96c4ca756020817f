package remote

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"github.com/watchdog-sre/watchdog/tsdb"
)

// TestWire checks one request as it crosses a real HTTP connection: the
// headers of Remote-Write 1.0, basic auth from a file, and a body that is
// a snappy block (not the framed format) of a prompb.WriteRequest with
// sorted labels.
func TestWire(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	type got struct {
		h    http.Header
		user string
		pass string
		req  prompb.WriteRequest
		err  error
	}
	reqs := make(chan got, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var g got
		g.h = r.Header.Clone()
		g.user, g.pass, _ = r.BasicAuth()
		body, err := io.ReadAll(r.Body)
		if err == nil {
			var raw []byte
			if raw, err = snappy.Decode(nil, body); err == nil {
				err = g.req.Unmarshal(raw)
			}
		}
		g.err = err
		reqs <- g
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	db, _ := tsdb.Open(tsdb.Options{})
	cfg := rwConfig(t, `url: `+srv.URL+`/api/v1/write
basic_auth: {username: wd, password_file: `+pw+`}
queue_config: {batch_send_deadline: 10ms}`)
	s, err := New(Options{Config: cfg, Store: db, ScanInterval: 10 * time.Millisecond,
		ExternalLabels: labels.FromStrings("a_first", "x")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	appendAt(t, db, []labels.Labels{labels.FromStrings("__name__", "up", "zone", "z", "job", "j")}, now(), 1)

	var g got
	select {
	case g = <-reqs:
	case <-time.After(10 * time.Second):
		t.Fatal("no request within 10s")
	}
	if g.err != nil {
		t.Fatalf("body: %v", g.err)
	}
	for k, want := range map[string]string{
		"Content-Encoding":                  "snappy",
		"Content-Type":                      "application/x-protobuf",
		"X-Prometheus-Remote-Write-Version": "0.1.0",
	} {
		if v := g.h.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if g.user != "wd" || g.pass != "hunter2" {
		t.Errorf("basic auth %q:%q", g.user, g.pass)
	}
	if len(g.req.Timeseries) != 1 {
		t.Fatalf("%d series, want 1", len(g.req.Timeseries))
	}
	var names []string
	for _, l := range g.req.Timeseries[0].Labels {
		names = append(names, l.Name)
	}
	if want := []string{"__name__", "a_first", "job", "zone"}; !slices.Equal(names, want) {
		t.Errorf("label names %v, want %v (sorted, external label added)", names, want)
	}
	if ss := g.req.Timeseries[0].Samples; len(ss) != 1 || ss[0].Value != 1 {
		t.Errorf("samples %v", ss)
	}
}
