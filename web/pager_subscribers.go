package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// StatusSubscribers manages the status page's webhook subscribers
// (*pager.Pager implements it). The paging API serves them when its Pager
// does.
type StatusSubscribers interface {
	AddWebhookSubscriber(url, secret string, by pager.Actor) (pager.Subscriber, string, error)
	Subscribers() ([]pager.Subscriber, error)
	DeleteSubscriber(id string, by pager.Actor) error
}

// apiSubscriber is a webhook subscriber in the API. Secret is set only in
// the answer that creates it.
type apiSubscriber struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	URL       string    `json:"url"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	By        string    `json:"by,omitempty"`
}

// apiSubscribers lists the webhooks and counts the e-mail addresses
// (which are not listed).
type apiSubscribers struct {
	Webhooks       []apiSubscriber `json:"webhooks"`
	EmailConfirmed int             `json:"emailConfirmed"`
	EmailPending   int             `json:"emailPending"`
}

// enableSubscribers registers /api/v1/pager/status-subscribers: every
// method, GET included, needs an admin credential (webhook URLs may carry
// secrets of their own).
func (h *Handler) enableSubscribers(ss StatusSubscribers) {
	const path = "/api/v1/pager/status-subscribers"
	list := h.wrap(func(r *http.Request) apiResult {
		subs, err := ss.Subscribers()
		if err != nil {
			return apiResult{err: pagerError(err)}
		}
		out := apiSubscribers{Webhooks: []apiSubscriber{}}
		for _, s := range subs {
			switch {
			case s.Kind == pager.SubscriberWebhook:
				out.Webhooks = append(out.Webhooks, apiSubscriber{ID: s.ID, Type: s.Kind, URL: s.Target, CreatedAt: s.CreatedAt, By: s.By.User})
			case s.Confirmed:
				out.EmailConfirmed++
			default:
				out.EmailPending++
			}
		}
		return apiResult{data: out}
	})
	h.Handle("GET "+path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r, ok := h.authorize(w, r, path); ok {
			list.ServeHTTP(w, r)
		}
	}))
	h.Handle("POST "+path, h.wrap(func(r *http.Request) apiResult {
		var b struct {
			actorBody
			Type   string `json:"type"`
			URL    string `json:"url"`
			Secret string `json:"secret"`
		}
		if e := decodeBody(r, &b); e != nil {
			return apiResult{err: e}
		}
		if b.Type != "" && b.Type != pager.SubscriberWebhook {
			return apiResult{err: &apiError{typ: errorBadData, msg: `type must be "webhook" (e-mail addresses subscribe on the status page)`}}
		}
		s, secret, err := ss.AddWebhookSubscriber(b.URL, b.Secret, b.actor(r))
		if err != nil {
			return apiResult{err: subscriberError(err)}
		}
		return apiResult{data: apiSubscriber{ID: s.ID, Type: s.Kind, URL: s.Target, Secret: secret, CreatedAt: s.CreatedAt, By: s.By.User}}
	}))
	h.Handle("DELETE "+path+"/{id}", h.wrap(func(r *http.Request) apiResult {
		var b actorBody
		if e := decodeBody(r, &b); e != nil {
			return apiResult{err: e}
		}
		if err := ss.DeleteSubscriber(r.PathValue("id"), b.actor(r)); err != nil {
			return apiResult{err: pagerError(err)}
		}
		return apiResult{data: map[string]string{"id": r.PathValue("id")}}
	}))
}

func subscriberError(err error) *apiError {
	switch {
	case errors.Is(err, pager.ErrBadSubscriber):
		return badData(err)
	case errors.Is(err, pager.ErrSubscriberLimit):
		return &apiError{typ: errorConflict, code: http.StatusConflict, msg: err.Error()}
	}
	return pagerError(err)
}
