package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// Help on demand: responders added to an open incident (see
// pager.AddResponders).

// apiResponder is one added responder in an incident's JSON.
type apiResponder struct {
	User        string     `json:"user"`
	Status      string     `json:"status"` // requested, acknowledged, declined
	RequestedBy string     `json:"requestedBy"`
	Via         string     `json:"via,omitempty"`
	RequestedAt time.Time  `json:"requestedAt"`
	From        string     `json:"from"` // user, schedule:NAME, policy:NAME
	Message     string     `json:"message,omitempty"`
	RespondedAt *time.Time `json:"respondedAt,omitempty"`
}

func respondersView(st *pager.IncidentState) []apiResponder {
	var out []apiResponder
	for _, r := range st.Responders {
		out = append(out, apiResponder{User: r.User, Status: r.Status, RequestedBy: r.RequestedBy, Via: r.Via,
			RequestedAt: r.RequestedAt, From: r.From, Message: r.Message, RespondedAt: optTime(r.RespondedAt)})
	}
	return out
}

// addResponders takes {"users": [...], "schedules": [...], "policies":
// [...], "message": "..."}: POST /api/v1/pager/incidents/{id}/responders.
func (a *pagerAPI) addResponders(r *http.Request) apiResult {
	var b struct {
		actorBody
		pager.ResponderRequest
	}
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	req := b.ResponderRequest
	for _, list := range [][]string{req.Users, req.Schedules, req.Policies} {
		for _, s := range list {
			if strings.TrimSpace(s) == "" {
				return apiResult{err: badData(errors.New("empty name in users, schedules or policies"))}
			}
		}
	}
	return a.action(r, func(id string) error { return a.o.Pager.AddResponders(id, b.actor(r), req) })
}

// parseResponderTargets reads the console's "bob schedule:db policy:dba"
// (spaces or commas between targets) into a request.
func parseResponderTargets(s string) (pager.ResponderRequest, error) {
	var req pager.ResponderRequest
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		kind, name, ok := strings.Cut(t, ":")
		if !ok {
			kind, name = "user", t
		}
		switch {
		case name == "":
			return req, fmt.Errorf("%w: empty name in %q", errBadForm, t)
		case kind == "user":
			req.Users = append(req.Users, name)
		case kind == "schedule":
			req.Schedules = append(req.Schedules, name)
		case kind == "policy":
			req.Policies = append(req.Policies, name)
		default:
			return req, fmt.Errorf("%w: target %q: want NAME, user:NAME, schedule:NAME or policy:NAME", errBadForm, t)
		}
	}
	return req, nil
}

// respond takes {"decline": bool}: the caller acknowledges (or declines)
// their own pending request to help: POST
// /api/v1/pager/incidents/{id}/responders/respond.
func (a *pagerAPI) respond(r *http.Request) apiResult {
	var b struct {
		actorBody
		Decline bool `json:"decline"`
	}
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	return a.action(r, func(id string) error { return a.o.Pager.RespondToRequest(id, b.actor(r), b.Decline) })
}
