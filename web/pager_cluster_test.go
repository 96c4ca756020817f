package web

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// stubPager is a real pager whose cluster status and receiving the test
// sets.
type stubPager struct {
	*pager.Pager
	status     pager.ClusterStatus
	statusErr  error
	receiveErr error

	mu       sync.Mutex
	received int // alerts Receive was called with
}

func (s *stubPager) Cluster() (pager.ClusterStatus, error) {
	if s.statusErr != nil {
		return pager.ClusterStatus{}, s.statusErr
	}
	if s.status.Replica == "" {
		return s.Pager.Cluster()
	}
	return s.status, nil
}

// ReceiveOwned stands in for the embedded pager's, which would bypass
// Receive.
func (s *stubPager) ReceiveOwned(alerts ...pager.Alert) error { return s.Receive(alerts...) }

func (s *stubPager) Receive(alerts ...pager.Alert) error {
	s.mu.Lock()
	s.received += len(alerts)
	s.mu.Unlock()
	if s.receiveErr != nil {
		return s.receiveErr
	}
	return s.Pager.Receive(alerts...)
}

// fakeBuffer records what it holds.
type fakeBuffer struct {
	mu      sync.Mutex
	holding bool
	held    []pager.Alert
}

func (b *fakeBuffer) Holding() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.holding
}

func (b *fakeBuffer) Hold(alerts ...pager.Alert) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held = append(b.held, alerts...)
}

// newStubPagerServer serves the paging API over stub, built on a real
// pager of testdata/pager.yml, with buf (nil for none).
func newStubPagerServer(t *testing.T, stub *stubPager, buf AlertBuffer) *httptest.Server {
	t.Helper()
	data, err := os.ReadFile("testdata/pager.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pager.ParseConfig("testdata/pager.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: pagerEpoch}
	p, err := pager.New(pager.Options{Config: cfg, Now: clk.now, AckKey: []byte("test-key")})
	if err != nil {
		t.Fatal(err)
	}
	stub.Pager = p
	srv, h := newTestServer(t, Options{Token: pagerToken, Now: clk.now})
	o := PagerOptions{Pager: stub}
	if buf != nil {
		o.Buffer = buf
	}
	h.EnablePager(o)
	return srv
}

// TestPagerCluster: GET /api/v1/pager/cluster answers the status the
// pager gives, with no token (it only reads); a pager that cannot read
// its database is 503.
func TestPagerCluster(t *testing.T) {
	lease := pagerEpoch.Add(4 * time.Second)
	three := pager.ClusterStatus{Replica: "b", Leader: "a", Token: 7, LeaseExpires: lease, Replicas: []pager.ReplicaStatus{
		{Name: "a", StartedAt: pagerEpoch.Add(-time.Hour), LastSeen: pagerEpoch, Leader: true, Alive: true},
		{Name: "b", StartedAt: pagerEpoch.Add(-time.Hour), LastSeen: pagerEpoch, Alive: true},
		{Name: "c", StartedAt: pagerEpoch.Add(-time.Hour), LastSeen: pagerEpoch.Add(-time.Minute)},
	}}
	for _, tc := range []struct {
		name   string
		stub   *stubPager
		method string
		code   int
		want   string // the data, or the error, as JSON or text it contains
	}{
		{"single process", &stubPager{}, "GET", 200,
			`{"replica":"","leading":false,"leader":"","token":0,"leaseExpires":"0001-01-01T00:00:00Z","replicas":[]}`},
		{"three replicas", &stubPager{status: three}, "GET", 200,
			`{"replica":"b","leading":false,"leader":"a","token":7,"leaseExpires":"2026-03-02T10:00:04Z","replicas":[` +
				`{"name":"a","startedAt":"2026-03-02T09:00:00Z","lastSeen":"2026-03-02T10:00:00Z","leader":true,"alive":true},` +
				`{"name":"b","startedAt":"2026-03-02T09:00:00Z","lastSeen":"2026-03-02T10:00:00Z","leader":false,"alive":true},` +
				`{"name":"c","startedAt":"2026-03-02T09:00:00Z","lastSeen":"2026-03-02T09:59:00Z","leader":false,"alive":false}]}`},
		{"database down", &stubPager{statusErr: errors.New("dial tcp: connection refused")}, "GET", 503,
			"pager cluster status: dial tcp: connection refused"},
		{"read only", &stubPager{}, "POST", 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newStubPagerServer(t, tc.stub, nil)
			resp := doJSON(t, srv, tc.method, "/api/v1/pager/cluster", "", false)
			if resp.code != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.code, tc.code, resp.body)
			}
			if tc.code == 405 {
				return
			}
			var env struct {
				Status string          `json:"status"`
				Data   json.RawMessage `json:"data"`
				Error  string          `json:"error"`
			}
			if err := json.Unmarshal(resp.body, &env); err != nil {
				t.Fatalf("not an envelope: %v: %s", err, resp.body)
			}
			if tc.code == 200 {
				if env.Status != "success" || string(env.Data) != tc.want {
					t.Fatalf("got %s\nwant data %s", resp.body, tc.want)
				}
				return
			}
			if env.Status != "error" || !strings.Contains(env.Error, tc.want) {
				t.Fatalf("got %s, want an error containing %q", resp.body, tc.want)
			}
		})
	}
}

// TestReceiverBuffer: alerts the pager refuses are held by the buffer and
// answered 200 (queued); while the buffer holds alerts, new ones queue
// behind them without reaching the pager; without a buffer a refusal is a
// 500 that makes the sender retry.
func TestReceiverBuffer(t *testing.T) {
	down := errors.New("pager database: connection refused")
	for _, tc := range []struct {
		name       string
		receiveErr error
		buffer     bool
		holding    bool
		code       int
		queued     bool
		reached    int // alerts the pager's Receive saw
		incidents  int
	}{
		{"pager takes them", nil, true, false, 200, false, 1, 1},
		{"pager down, no buffer", down, false, false, 500, false, 1, 0},
		{"pager down, buffered", down, true, false, 200, true, 1, 0},
		{"earlier alerts held", nil, true, true, 200, true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub := &stubPager{receiveErr: tc.receiveErr}
			var buf *fakeBuffer
			var srv *httptest.Server
			if tc.buffer {
				buf = &fakeBuffer{holding: tc.holding}
				srv = newStubPagerServer(t, stub, buf)
			} else {
				srv = newStubPagerServer(t, stub, nil)
			}
			resp := doJSON(t, srv, "POST", "/api/v2/alerts", loginAlert, true)
			if resp.code != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.code, tc.code, resp.body)
			}
			if got := strings.Contains(string(resp.body), `"queued":true`); got != tc.queued {
				t.Fatalf("queued=%v, want %v: %s", got, tc.queued, resp.body)
			}
			if stub.received != tc.reached {
				t.Fatalf("the pager's Receive saw %d alert(s), want %d", stub.received, tc.reached)
			}
			if got := len(openIncidents(t, stub.Pager)); got != tc.incidents {
				t.Fatalf("%d incident(s), want %d", got, tc.incidents)
			}
			if buf != nil {
				wantHeld := 0
				if tc.queued {
					wantHeld = 1
				}
				if len(buf.held) != wantHeld {
					t.Fatalf("buffer holds %d alert(s), want %d", len(buf.held), wantHeld)
				}
				if wantHeld == 1 && buf.held[0].Labels["alertname"] != "LoginErrors" {
					t.Fatalf("held alert %+v", buf.held[0])
				}
			}
		})
	}
}
