package promtest

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/prometheus/prompb"

	"github.com/watchdog-sre/watchdog/internal/promapi"
)

// TestServer: a real server takes Remote-Write 1.0, answers raw samples
// through the query API, refuses connections while stopped and keeps its
// data across a restart on the same URL.
func TestServer(t *testing.T) {
	s := Start(t, Options{})
	now := time.Now().Truncate(time.Second)
	ts := now.UnixMilli()
	want := []promapi.Sample{{T: ts - 2000, V: 1}, {T: ts - 1000, V: 2}}
	api, err := remote.NewAPI(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "promtest_x"}, {Name: "a", Value: "b"}},
		Samples: []prompb.Sample{{Timestamp: ts - 2000, Value: 1}, {Timestamp: ts - 1000, Value: 2}},
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := api.Write(ctx, remote.WriteV1MessageType, req); err != nil {
		t.Fatalf("remote write: %v", err)
	}
	check := func(step string) {
		t.Helper()
		raw, err := s.Client().Raw(`promtest_x`, now, time.Minute)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		got := promapi.ByKey(raw)
		if k := `promtest_x{a="b"}`; len(got) != 1 || !slices.Equal(got[k], want) {
			t.Fatalf("%s: got %v, want %s %v", step, got, k, want)
		}
	}
	check("running")
	url := s.URL()
	s.Stop(t)
	s.Stop(t)
	if s.Running() {
		t.Fatal("running after Stop")
	}
	if resp, err := http.Get(url + "/-/ready"); err == nil {
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
