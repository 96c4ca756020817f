package web

import (
	"strings"
	"testing"
	"time"
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
