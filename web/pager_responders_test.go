package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestPagerRespondersAPI: help on demand over the API. bob acknowledges,
// asks alice to help; alice (the operator acting for her) acknowledges
// her part and the incident stays acknowledged by bob; bad requests are
// refused with 400, answers without a pending request with 409.
func TestPagerRespondersAPI(t *testing.T) {
	srv, _, clk := newPagerServer(t)
	long := strings.Repeat("x", 1025)
	steps := []struct {
		name   string
		path   string
		body   string
		token  bool
		code   int
		golden bool
	}{
		{"receive", "/api/v2/alerts", loginAlert, true, 200, false},
		{"ack", "/api/v1/pager/incidents/inc-1/ack", `{"by":"bob"}`, true, 200, false},
		{"no_token", "/api/v1/pager/incidents/inc-1/responders", `{"users":["alice"]}`, false, 401, false},
		{"empty", "/api/v1/pager/incidents/inc-1/responders", `{"by":"bob"}`, true, 400, false},
		{"empty_name", "/api/v1/pager/incidents/inc-1/responders", `{"users":[" "]}`, true, 400, false},
		{"unknown_user", "/api/v1/pager/incidents/inc-1/responders", `{"users":["mallory"]}`, true, 400, false},
		{"unknown_schedule", "/api/v1/pager/incidents/inc-1/responders", `{"schedules":["nope"]}`, true, 400, false},
		{"long_message", "/api/v1/pager/incidents/inc-1/responders", `{"users":["alice"],"message":"` + long + `"}`, true, 400, false},
		{"unknown_incident", "/api/v1/pager/incidents/inc-9/responders", `{"users":["alice"]}`, true, 404, false},
		{"add", "/api/v1/pager/incidents/inc-1/responders", `{"by":"bob","users":["alice"],"message":"need a second pair of eyes"}`, true, 200, true},
		{"respond_not_asked", "/api/v1/pager/incidents/inc-1/responders/respond", `{"by":"bob"}`, true, 409, false},
		{"respond", "/api/v1/pager/incidents/inc-1/responders/respond", `{"by":"alice"}`, true, 200, true},
		{"respond_again", "/api/v1/pager/incidents/inc-1/responders/respond", `{"by":"alice","decline":true}`, true, 409, false},
	}
	for _, s := range steps {
		clk.advance(10 * time.Second)
		resp := doJSON(t, srv, "POST", s.path, s.body, s.token)
		if resp.code != s.code {
			t.Errorf("%s: status %d, want %d: %s", s.name, resp.code, s.code, resp.body)
		}
		if s.golden {
			checkGolden(t, "pager_responders_"+s.name, resp.body)
		}
	}
}

// TestConsoleResponders: signed-in people ask for help and answer their
// own request through the incident page's CSRF-checked form.
func TestConsoleResponders(t *testing.T) {
	srv, p, _ := newPeopleServer(t)
	post := func(c *http.Client, form url.Values) int {
		t.Helper()
		resp, err := c.PostForm(srv.URL+"/incidents/inc-1/act", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	alice, acsrf := signInAs(t, srv, p, "alice", "respond")
	bob, bcsrf := signInAs(t, srv, p, "bob", "respond")
	for _, tc := range []struct {
		name string
		c    *http.Client
		form url.Values
		code int
	}{
		{"bad target", alice, url.Values{"action": {"responders"}, "targets": {"team:x"}, "csrf": {acsrf}}, 400},
		{"unknown user", alice, url.Values{"action": {"responders"}, "targets": {"mallory"}, "csrf": {acsrf}}, 400},
		{"nobody", alice, url.Values{"action": {"responders"}, "targets": {" , "}, "csrf": {acsrf}}, 400},
		{"no csrf", alice, url.Values{"action": {"responders"}, "targets": {"bob"}}, 403},
		{"not asked", bob, url.Values{"action": {"respond"}, "csrf": {bcsrf}}, 409},
		{"add", alice, url.Values{"action": {"responders"}, "targets": {"bob"}, "message": {"eyes on the DB"}, "csrf": {acsrf}}, 303},
		{"decline", bob, url.Values{"action": {"decline"}, "csrf": {bcsrf}}, 303},
		{"again", bob, url.Values{"action": {"respond"}, "csrf": {bcsrf}}, 409},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := post(tc.c, tc.form); code != tc.code {
				t.Errorf("%d, want %d", code, tc.code)
			}
		})
	}
	st, _, err := p.Incident("inc-1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != pager.StatusTriggered || len(st.Responders) != 1 {
		t.Fatalf("incident %s, responders %+v", st.Status, st.Responders)
	}
	if r := st.Responders[0]; r.User != "bob" || r.Status != pager.ResponderDeclined || r.RequestedBy != "alice" || r.Via != pager.ViaConsole || r.Message != "eyes on the DB" {
		t.Errorf("responder %+v", r)
	}
	if e := lastEntry(t, p, pager.EntryResponderAnswer); e.By != "bob" || e.Via != pager.ViaConsole {
		t.Errorf("answer entry %+v", e)
	}
}

// TestAckLinkResponder: the ack link of a page to an added responder
// acknowledges their request only, and says so, also on an incident that
// is already acknowledged.
func TestAckLinkResponder(t *testing.T) {
	srv, p, clk := newPagerServer(t)
	if resp := doJSON(t, srv, "POST", "/api/v2/alerts", loginAlert, true); resp.code != 200 {
		t.Fatalf("receive: %d %s", resp.code, resp.body)
	}
	if err := p.Ack("inc-1", pager.Actor{User: "alice", Via: pager.ViaAPI}); err != nil {
		t.Fatal(err)
	}
	if err := p.AddResponders("inc-1", pager.Actor{User: "alice", Via: pager.ViaAPI}, pager.ResponderRequest{Users: []string{"bob"}}); err != nil {
		t.Fatal(err)
	}
	st, _, err := p.Incident("inc-1")
	if err != nil {
		t.Fatal(err)
	}
	link, err := p.SignAck("inc-1", st.UID, "bob", clk.now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	same := map[string]string{"Sec-Fetch-Site": "same-origin"}
	for _, tc := range []struct {
		name, method, text string
		form               url.Values
	}{
		{"get", "GET", "Acknowledge your request to help with incident inc-1?", nil},
		{"post", "POST", "bob acknowledged the request to help with incident inc-1", url.Values{"confirm": {"ack"}}},
		{"again", "POST", "already acknowledged by alice", url.Values{"confirm": {"ack"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, srv, tc.method, "/ack/"+link, tc.form, same)
			if resp.code != 200 || !strings.Contains(string(resp.body), tc.text) {
				t.Errorf("%d %s; want 200 containing %q", resp.code, resp.body, tc.text)
			}
		})
	}
	st, _, _ = p.Incident("inc-1")
	if st.AckedBy != "alice" || len(st.Responders) != 1 || st.Responders[0].Status != pager.ResponderAcknowledged {
		t.Errorf("incident acked by %q, responders %+v", st.AckedBy, st.Responders)
	}
}
