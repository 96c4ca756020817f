package ui

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// emailSubscriber is what the public subscription pages need
// (*pager.Pager implements it); without it, or with e-mail subscriptions
// off, there is no form.
type emailSubscriber interface {
	EmailSubscriptions() bool
	SubscribeEmail(addr, client string) error
	ConfirmSubscription(token string) error
	Unsubscribe(token string) error
}

// OpenMux is a Mux that also registers public routes whose POSTs need no
// credential (*web.Handler is one). With a plain Mux the subscription
// forms are registered with Handle.
type OpenMux interface {
	Mux
	HandleOpen(pattern string, h http.Handler)
}

// maxSubscribeForm bounds the subscribe form's body.
const maxSubscribeForm = 4 << 10

// subscriptionView is the subscription page.
type subscriptionView struct {
	Heading, Message string
	Error            bool
	// Action, when set, is where the page's form posts; Email adds the
	// address field.
	Action, Button string
	Email          bool
}

// emailSubscriptions returns the pager's subscriptions when e-mail
// subscriptions are on, else nil.
func (c *console) emailSubscriptions() emailSubscriber {
	es, ok := c.o.Pager.(emailSubscriber)
	if !ok || !es.EmailSubscriptions() {
		return nil
	}
	return es
}

// registerSubscriptions adds the subscription pages. A GET only shows a
// page whose button POSTs: mail scanners that follow links change
// nothing.
func (c *console) registerSubscriptions(mux Mux) {
	open := func(pattern string, f http.HandlerFunc) {
		if om, ok := mux.(OpenMux); ok {
			om.HandleOpen(pattern, withHeaders(f))
		} else {
			mux.Handle(pattern, withHeaders(f))
		}
	}
	open("POST /status/subscribe", c.subscribe)
	open("GET /status/subscriptions/confirm/{token}", func(w http.ResponseWriter, r *http.Request) {
		c.subscriptionPage(w, http.StatusOK, subscriptionView{Heading: "Confirm your subscription",
			Message: "Press the button to receive the status page's updates by e-mail.", Action: r.URL.Path, Button: "Confirm subscription"})
	})
	open("POST /status/subscriptions/confirm/{token}", c.confirmSubscription)
	open("GET /status/subscriptions/unsubscribe/{token}", func(w http.ResponseWriter, r *http.Request) {
		c.subscriptionPage(w, http.StatusOK, subscriptionView{Heading: "Unsubscribe",
			Message: "Press the button to stop receiving the status page's updates by e-mail.", Action: r.URL.Path, Button: "Unsubscribe"})
	})
	open("POST /status/subscriptions/unsubscribe/{token}", c.unsubscribe)
}

func (c *console) subscriptionPage(w http.ResponseWriter, code int, v subscriptionView) {
	w.Header().Set("Cache-Control", "no-store")
	c.render(w, code, "subscription", pageData{Title: "Status updates by e-mail", Public: true, Data: v})
}

// clientOf is the requester's address for the subscription rate limit.
func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (c *console) subscribe(w http.ResponseWriter, r *http.Request) {
	es := c.emailSubscriptions()
	if es == nil {
		c.subscriptionPage(w, http.StatusNotFound, subscriptionView{Heading: "Not available", Message: "E-mail subscriptions are not offered here.", Error: true})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSubscribeForm)
	if err := r.ParseForm(); err != nil {
		c.subscriptionPage(w, http.StatusBadRequest, subscriptionView{Heading: "Subscribe", Message: "The form could not be read.", Error: true})
		return
	}
	err := es.SubscribeEmail(r.PostForm.Get("email"), clientOf(r))
	retry := subscriptionView{Heading: "Subscribe", Error: true, Action: "/status/subscribe", Button: "Subscribe", Email: true}
	switch {
	case errors.Is(err, pager.ErrBadSubscriber):
		retry.Message = "That is not an e-mail address we can send to: give a plain address such as name@example.com."
		c.subscriptionPage(w, http.StatusBadRequest, retry)
	case errors.Is(err, pager.ErrSubscriberLimit):
		w.Header().Set("Retry-After", "3600")
		retry.Message = "Too many subscriptions were asked for lately. Please try again later."
		c.subscriptionPage(w, http.StatusTooManyRequests, retry)
	case err != nil:
		c.o.Logger.Error("status page: subscribe", "err", err)
		retry.Message = "The subscription could not be recorded. Please try again later."
		c.subscriptionPage(w, http.StatusServiceUnavailable, retry)
	default:
		// The same answer whether the address is new, pending or
		// subscribed already: the page tells nobody who subscribed.
		c.subscriptionPage(w, http.StatusOK, subscriptionView{Heading: "Check your inbox",
			Message: "If the address can receive our updates, a mail with a confirmation link is on its way. Nothing is sent until you confirm."})
	}
}

func (c *console) confirmSubscription(w http.ResponseWriter, r *http.Request) {
	es, ok := c.o.Pager.(emailSubscriber)
	var err error = pager.ErrBadToken
	if ok {
		err = es.ConfirmSubscription(r.PathValue("token"))
	}
	switch {
	case errors.Is(err, pager.ErrBadToken):
		c.subscriptionPage(w, http.StatusNotFound, subscriptionView{Heading: "Link not valid", Error: true,
			Message: "This confirmation link is not valid: it was used already or has expired. Subscribe again on the status page."})
	case errors.Is(err, pager.ErrSubscriberLimit):
		c.subscriptionPage(w, http.StatusServiceUnavailable, subscriptionView{Heading: "List full", Error: true,
			Message: "The subscriber list is full for now. Please try again later or follow the status page's Atom feed."})
	case err != nil:
		c.o.Logger.Error("status page: confirm subscription", "err", err)
		c.subscriptionPage(w, http.StatusServiceUnavailable, subscriptionView{Heading: "Try again", Error: true,
			Message: "The subscription could not be confirmed. Please try again later.", Action: r.URL.Path, Button: "Confirm subscription"})
	default:
		c.subscriptionPage(w, http.StatusOK, subscriptionView{Heading: "Subscribed",
			Message: "You will receive the status page's updates by e-mail. Every mail has a link to unsubscribe."})
	}
}

// unsubscribe is also RFC 8058's one-click POST (body
// "List-Unsubscribe=One-Click", no cookies). A token that matches nothing
// gets the same answer: the address is not subscribed either way.
func (c *console) unsubscribe(w http.ResponseWriter, r *http.Request) {
	es, ok := c.o.Pager.(emailSubscriber)
	var err error
	if ok {
		err = es.Unsubscribe(r.PathValue("token"))
	}
	if err != nil && !errors.Is(err, pager.ErrBadToken) {
		c.o.Logger.Error("status page: unsubscribe", "err", err)
		c.subscriptionPage(w, http.StatusServiceUnavailable, subscriptionView{Heading: "Try again", Error: true,
			Message: "The address could not be unsubscribed. Please try again later.", Action: r.URL.Path, Button: "Unsubscribe"})
		return
	}
	c.subscriptionPage(w, http.StatusOK, subscriptionView{Heading: "Unsubscribed",
		Message: "This address will receive no more status updates. You can subscribe again on the status page."})
}

// ErrStatusUnavailable: the status page could not read the pager.
var ErrStatusUnavailable = errors.New("status unavailable")

// StatusComponents returns a function that reports each status page
// component's public state as /status shows it ("operational",
// "degraded", "major_outage", "under_maintenance"), for the pager's
// subscriber loop (pager.SubscriberRunOptions.Components). It reads
// o.Pager, o.StatusPage, o.Now and o.Logger only.
func StatusComponents(o Options) (func() (map[string]string, error), error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &console{o: o}
	sc, err := compileStatus(c.statusSource())
	if err != nil {
		return nil, fmt.Errorf("status_page: %w", err)
	}
	c.status.Store(sc)
	return func() (map[string]string, error) {
		v := c.currentStatus()
		if !v.Available {
			return nil, ErrStatusUnavailable
		}
		out := make(map[string]string, len(v.Components))
		for _, comp := range v.Components {
			out[comp.Name] = comp.State
		}
		return out, nil
	}, nil
}
