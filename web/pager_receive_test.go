package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

func openIncidents(t *testing.T, p *pager.Pager) []pager.IncidentState {
	t.Helper()
	list, err := p.Incidents(pager.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestReceiverRefusesBadBodies: every malformed body gets a clear 4xx and
// opens no incident.
func TestReceiverRefusesBadBodies(t *testing.T) {
	srv, p, _ := newPagerServer(t)
	huge := `[{"labels":{"alertname":"X","severity":"page","pad":"` + strings.Repeat("x", MaxRequestBodyBytes) + `"}}]`
	valid := `{"labels":{"alertname":"Ok","severity":"page"}}`
	for _, tc := range []struct {
		name, body string
		token      bool
		code       int
		msg        string
	}{
		{"no token", loginAlert, false, http.StatusUnauthorized, "missing bearer token"},
		{"empty", "", true, http.StatusBadRequest, "invalid body"},
		{"object not array", valid, true, http.StatusBadRequest, "cannot unmarshal object"},
		{"labels wrong type", `[{"labels":5}]`, true, http.StatusBadRequest, `field "labels"`},
		{"label value wrong type", `[{"labels":{"a":1}}]`, true, http.StatusBadRequest, `expected string`},
		{"bad time", `[{"labels":{"a":"b"},"startsAt":"yesterday"}]`, true, http.StatusBadRequest, "invalid body"},
		{"unknown field", `[{"labels":{"a":"b"},"status":"firing"}]`, true, http.StatusBadRequest, `unknown field "status"`},
		{"no labels", `[` + valid + `,{"labels":{}}]`, true, http.StatusBadRequest, "alert 1: labels: at least one label is required"},
		{"ends before start", `[{"labels":{"a":"b"},"startsAt":"2026-03-02T10:00:00Z","endsAt":"2026-03-02T09:00:00Z"}]`, true, http.StatusBadRequest, "endsAt is before startsAt"},
		{"trailing data", `[` + valid + `] []`, true, http.StatusBadRequest, "unexpected data"},
		{"huge", huge, true, http.StatusRequestEntityTooLarge, "request body larger than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := doJSON(t, srv, "POST", "/api/v2/alerts", tc.body, tc.token)
			var env envelope
			if err := json.Unmarshal(resp.body, &env); err != nil {
				t.Fatalf("not an envelope: %v: %.300s", err, resp.body)
			}
			if resp.code != tc.code || env.Status != "error" || !strings.Contains(env.Error, tc.msg) {
				t.Fatalf("status %d body %.300s; want %d containing %q", resp.code, resp.body, tc.code, tc.msg)
			}
			if got := openIncidents(t, p); len(got) != 0 {
				t.Fatalf("a refused body opened %d incidents", len(got))
			}
		})
	}
	// A resolved alert (endsAt passed) opens nothing either; a firing one does.
	resp := doJSON(t, srv, "POST", "/api/v2/alerts",
		`[{"labels":{"alertname":"Old","severity":"page"},"startsAt":"2026-03-02T08:00:00Z","endsAt":"2026-03-02T09:00:00Z"}]`, true)
	if resp.code != 200 || len(openIncidents(t, p)) != 0 {
		t.Fatalf("resolved alert: %d %s, %d incidents", resp.code, resp.body, len(openIncidents(t, p)))
	}
	if resp := doJSON(t, srv, "POST", "/api/v2/alerts", "["+valid+"]", true); resp.code != 200 {
		t.Fatalf("valid alert: %d %s", resp.code, resp.body)
	}
	if got := openIncidents(t, p); len(got) != 1 || got[0].Title != "Ok" {
		t.Fatalf("incidents after a valid alert: %+v", got)
	}
}

// TestAckLink: a signed link shows a confirmation page on GET and HEAD,
// as a link unfurler or mail scanner fetches it, and changes nothing;
// only a POST (the page's button) acknowledges. Forged and expired links
// get 403, a link whose incident is gone (another UID under the same
// number) 410; none of them changes anything, whatever the method.
func TestAckLink(t *testing.T) {
	srv, p, clk := newPagerServer(t)
	if resp := doJSON(t, srv, "POST", "/api/v2/alerts", loginAlert, true); resp.code != 200 {
		t.Fatalf("receive: %d %s", resp.code, resp.body)
	}
	st, _, err := p.Incident("inc-1")
	if err != nil {
		t.Fatal(err)
	}
	exp := clk.now().Add(time.Hour)
	good, err := p.SignAck("inc-1", st.UID, "alice", exp)
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := p.SignAck("inc-1", st.UID, "alice", clk.now().Add(-time.Second))
	forged := good[:len(good)-2] + "AA"
	if forged == good {
		forged = good[:len(good)-2] + "BB"
	}
	otherIncident, _ := p.SignAck("inc-2", "0123456789abcdef0123456789abcdef", "alice", exp)
	// The same number, another incident: what a link from before a lost
	// database looks like.
	lostDB, _ := p.SignAck("inc-1", "0123456789abcdef0123456789abcdef", "alice", exp)
	status := func() pager.Status {
		st, _, err := p.Incident("inc-1")
		if err != nil {
			t.Fatal(err)
		}
		return st.Status
	}
	slackbot := map[string]string{"User-Agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"}
	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		code               int
		text               string
		want               pager.Status
	}{
		{"forged", "GET", "/ack/" + forged, nil, 403, "not valid", pager.StatusTriggered},
		{"forged post", "POST", "/ack/" + forged, nil, 403, "not valid", pager.StatusTriggered},
		{"garbage", "POST", "/ack/not-a-token", nil, 403, "not valid", pager.StatusTriggered},
		{"expired", "GET", "/ack/" + expired, nil, 403, "expired", pager.StatusTriggered},
		{"expired post", "POST", "/ack/" + expired, nil, 403, "expired", pager.StatusTriggered},
		{"unknown incident", "GET", "/ack/" + otherIncident, nil, 410, "no longer exists", pager.StatusTriggered},
		{"lost database", "GET", "/ack/" + lostDB, nil, 410, "no longer exists", pager.StatusTriggered},
		{"lost database post", "POST", "/ack/" + lostDB, nil, 410, "no longer exists", pager.StatusTriggered},
		{"get confirms", "GET", "/ack/" + good, nil, 200, `<form method="post" action="/ack/` + good, pager.StatusTriggered},
		{"get names user", "GET", "/api/v1/pager/ack/" + good, nil, 200, "Acknowledge as alice", pager.StatusTriggered},
		{"head", "HEAD", "/ack/" + good, nil, 200, "", pager.StatusTriggered},
		{"unfurler", "GET", "/ack/" + good, slackbot, 200, "changed nothing", pager.StatusTriggered},
		{"options", "OPTIONS", "/ack/" + good, nil, 405, "", pager.StatusTriggered},
		{"put", "PUT", "/ack/" + good, nil, 405, "", pager.StatusTriggered},
		{"cross-site post", "POST", "/ack/" + good, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "Cross-site",
			pager.StatusTriggered},
		{"foreign origin post", "POST", "/ack/" + good, map[string]string{"Origin": "https://evil.example"}, 403, "Cross-site",
			pager.StatusTriggered},
		{"post", "POST", "/ack/" + good, map[string]string{"Sec-Fetch-Site": "same-origin"}, 200, "acknowledged by alice",
			pager.StatusAcknowledged},
		{"again", "POST", "/api/v1/pager/ack/" + good, nil, 200, "already acknowledged by alice", pager.StatusAcknowledged},
		{"get after", "GET", "/ack/" + good, nil, 200, "already acknowledged by alice", pager.StatusAcknowledged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var form url.Values
			if tc.method == "POST" {
				form = url.Values{"confirm": {"ack"}}
			}
			resp := do(t, srv, tc.method, tc.path, form, tc.hdr)
			if resp.code != tc.code || !strings.Contains(string(resp.body), tc.text) {
				t.Errorf("%d %s; want %d containing %q", resp.code, resp.body, tc.code, tc.text)
			}
			if got := status(); got != tc.want {
				t.Errorf("incident %s, want %s", got, tc.want)
			}
			if tc.code == 405 {
				return
			}
			for k, v := range map[string]string{"Content-Type": "text/html", "Cache-Control": "no-store",
				"X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
				if !strings.HasPrefix(resp.hdr.Get(k), v) {
					t.Errorf("%s: %q, want %q", k, resp.hdr.Get(k), v)
				}
			}
			if strings.Contains(string(resp.body), "<form") != (tc.method == "GET" && tc.want == pager.StatusTriggered && tc.code == 200) {
				t.Errorf("a button where there should be none, or none where there should be one:\n%s", resp.body)
			}
		})
	}
	if err := p.Resolve("inc-1", pager.Actor{User: "bob", Via: pager.ViaCLI}); err != nil {
		t.Fatal(err)
	}
	if resp := doJSON(t, srv, "GET", "/ack/"+good, "", false); resp.code != 200 || !strings.Contains(string(resp.body), "resolved") {
		t.Errorf("after resolve: %d %s", resp.code, resp.body)
	}
}

// TestPostmortemOngoing renders an open, unacknowledged incident.
func TestPostmortemOngoing(t *testing.T) {
	st := pager.IncidentState{ID: "inc-7", Status: pager.StatusTriggered, Route: "r", Policy: "p",
		CreatedAt: pagerEpoch, Alerts: []pager.IncidentAlert{{Alert: pager.Alert{
			Labels: map[string]string{"alertname": "Disk|Full"}, StartsAt: pagerEpoch}}}}
	md := Postmortem(st, nil)
	for _, want := range []string{"# Postmortem: incident inc-7 (inc-7)", "– ongoing", "| Time to acknowledge | not acknowledged |",
		"| Time to resolve | not resolved |", `Disk\|Full`, "| firing |", "No timeline entries.", "## Action items"} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in:\n%s", want, md)
		}
	}
}

// gatedPager is a Pager whose first Receive call blocks until release is
// closed; later calls return at once. It counts the alerts received.
type gatedPager struct {
	*pager.Pager
	entered, release chan struct{}
	mu               sync.Mutex
	calls, received  int
}

func (g *gatedPager) ReceiveOwned(alerts ...pager.Alert) error { return g.Receive(alerts...) }

func (g *gatedPager) Receive(alerts ...pager.Alert) error {
	g.mu.Lock()
	g.calls++
	first := g.calls == 1
	g.received += len(alerts)
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.release
	}
	return nil
}

// TestReceiverConcurrencyBound: with MaxConcurrentReceives 1, a POST
// waits for the one decoding slot; one whose sender gives up meanwhile is
// answered 503 and reaches the pager with nothing. The slot is not held
// while the pager receives: a POST goes through while another waits in
// the pager's Receive (where the group commit takes both).
func TestReceiverConcurrencyBound(t *testing.T) {
	data, err := os.ReadFile("testdata/pager.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pager.ParseConfig("testdata/pager.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: pagerEpoch}
	p, err := pager.New(pager.Options{Config: cfg, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedPager{Pager: p, entered: make(chan struct{}), release: make(chan struct{})}
	_, h := newTestServer(t, Options{Token: pagerToken, Now: clk.now})
	a := &pagerAPI{o: PagerOptions{Pager: g, MaxConcurrentReceives: 1}, now: clk.now, ingest: make(chan struct{}, 1)}
	post := func(ctx context.Context) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(ctx, "POST", "/api/v2/alerts", strings.NewReader(loginAlert))
		rec := httptest.NewRecorder()
		a.receive(h, rec, req)
		return rec
	}
	calls := func() int {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.calls
	}

	a.ingest <- struct{}{} // another body is being decoded
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a sender that gave up while waiting
	if rec := post(ctx); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "gave up waiting") {
		t.Fatalf("POST while the slot is taken: %d %s; want 503", rec.Code, rec.Body)
	}
	if n := calls(); n != 0 {
		t.Fatalf("the pager's Receive was called %d times for a POST refused before decoding", n)
	}
	<-a.ingest

	first := make(chan int, 1)
	go func() { first <- post(context.Background()).Code }()
	<-g.entered // the first POST waits in the pager's Receive
	if rec := post(context.Background()); rec.Code != http.StatusOK {
		t.Fatalf("POST while another waits in Receive: %d %s", rec.Code, rec.Body)
	}
	close(g.release)
	if code := <-first; code != http.StatusOK {
		t.Fatalf("first POST: status %d, want 200", code)
	}
	if n := calls(); n != 2 || len(a.ingest) != 0 {
		t.Fatalf("Receive calls %d, slots taken %d; want 2 and 0", n, len(a.ingest))
	}
}
