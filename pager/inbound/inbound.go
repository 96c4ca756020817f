// Package inbound takes responders' answers back from the channels that
// paged them: Twilio SMS replies, Twilio voice keypresses (<Gather>) and
// Slack interactive buttons. Every request is authenticated by its
// provider's signature (X-Twilio-Signature, X-Slack-Signature with
// X-Slack-Request-Timestamp), matched to a pager user and an incident,
// and acted on through the pager as that user with Via "sms", "voice" or
// "slack". Anything unverified, unknown, stale or ambiguous changes
// nothing, and the answer says why (never anything about incidents to a
// number or Slack account that is not a pager user's).
package inbound

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/pager"
)

// Paths of the webhooks, under the external URL.
const (
	PathSMS   = "/api/v1/pager/inbound/twilio/sms"
	PathVoice = "/api/v1/pager/inbound/twilio/voice"
	PathSlack = "/api/v1/pager/inbound/slack/interactive"
)

// Actions a reply can ask for.
const (
	ActionAck      = "ack"
	ActionEscalate = "escalate"
	ActionResolve  = "resolve"
)

// Ways of answering, recorded as the actor's Via.
const (
	ViaSMS   = pager.ViaSMS
	ViaVoice = pager.ViaVoice
	ViaSlack = pager.ViaSlack
)

// MaxBodyBytes bounds a webhook's body (Slack's payloads carry the
// message's blocks; Twilio's forms are small).
const MaxBodyBytes = 256 << 10

// maxOpenScan bounds the open incidents looked at to find a user's pages.
const maxOpenScan = 5000

// Pager is what the webhooks read of the pager. *pager.Pager implements it.
type Pager interface {
	Config() *pager.Config
	Incidents(f pager.IncidentFilter) ([]pager.IncidentState, error)
	Incident(id string) (pager.IncidentState, []pager.TimelineEntry, error)
	Deliveries(incidentID string) ([]pager.Delivery, error)
	VerifyAck(token string) (pager.AckClaim, error)
}

// ActFunc performs action (ActionAck, …) on an incident as user, who
// answered by via. It returns the pager's errors (pager.ErrNotTriggered,
// pager.ErrResolved, pager.ErrNotFound, …).
type ActFunc func(action, incidentID, user, via string) error

// Acter is the pager's action API (*pager.Pager).
type Acter interface {
	Ack(id string, by pager.Actor) error
	Resolve(id string, by pager.Actor) error
	EscalateNow(id string, by pager.Actor) error
}

// ActWith returns the ActFunc that acts through a.
func ActWith(a Acter) ActFunc {
	return func(action, id, user, via string) error {
		by := pager.Actor{User: user, Via: via}
		switch action {
		case ActionAck:
			return a.Ack(id, by)
		case ActionResolve:
			return a.Resolve(id, by)
		case ActionEscalate:
			return a.EscalateNow(id, by)
		}
		return fmt.Errorf("inbound: unknown action %q", action)
	}
}

// TwilioVerifier checks X-Twilio-Signature (*channel.Twilio).
type TwilioVerifier interface {
	VerifyWebhook(fullURL string, form url.Values, sig string) error
}

// SlackVerifier checks Slack's request signature and bounds where the
// message is updated (*channel.Slack).
type SlackVerifier interface {
	VerifyInteraction(ts, sig string, body []byte, now time.Time) error
	ResponseURLAllowed(u string) bool
}

// Options configure the webhooks. Without Pager and Act nothing is
// registered; without verifiers a provider's webhook refuses everything.
type Options struct {
	Pager Pager
	Act   ActFunc
	// ExternalURL is the watchdog's public URL: Twilio signs the URL it
	// was configured with, so the signature is checked against
	// ExternalURL + the request's path and query.
	ExternalURL string
	Twilio      []TwilioVerifier
	Slack       []SlackVerifier
	// HTTPClient posts message updates to Slack's response_url (default
	// a client with a 10s timeout).
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
	Metrics    *metrics.Set
}

// Handler serves the webhooks.
type Handler struct{ o Options }

// New returns the webhooks' handler.
func New(o Options) *Handler {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{o: o}
}

// Register adds the webhooks through handle (web.Handler.HandleOwnAuth:
// they authenticate by signature, not by the API token).
func (h *Handler) Register(handle func(pattern string, hd http.Handler)) {
	handle("POST "+PathSMS, http.HandlerFunc(h.serveSMS))
	handle("POST "+PathVoice, http.HandlerFunc(h.serveVoice))
	handle("POST "+PathSlack, http.HandlerFunc(h.serveSlack))
}

// count adds one to watchdog_pager_inbound_total{provider,result}.
func (h *Handler) count(provider, result string) {
	if h.o.Metrics != nil {
		h.o.Metrics.GetOrCreateCounter(`watchdog_pager_inbound_total{provider="` + provider + `",result="` + result + `"}`).Inc()
	}
}

// publicURL is the URL the provider signed: the external URL's scheme,
// host and path prefix with the request's path and query.
func (h *Handler) publicURL(r *http.Request) string {
	ext, err := url.Parse(strings.TrimSuffix(h.o.ExternalURL, "/"))
	if err != nil || ext.Host == "" {
		return ""
	}
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, ext.EscapedPath()+"/") {
		path = ext.EscapedPath() + path
	}
	u := ext.Scheme + "://" + ext.Host + path
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}

// verifyTwilio parses the form and checks its signature against every
// configured Twilio account.
func (h *Handler) verifyTwilio(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		return nil, false
	}
	full, sig := h.publicURL(r), r.Header.Get("X-Twilio-Signature")
	if full == "" || sig == "" {
		return nil, false
	}
	for _, v := range h.o.Twilio {
		if v.VerifyWebhook(full, r.PostForm, sig) == nil {
			return r.PostForm, true
		}
	}
	return nil, false
}

// normPhone keeps the digits of a phone number (and a leading +).
func normPhone(s string) string {
	var b strings.Builder
	for i, c := range strings.TrimSpace(s) {
		if c >= '0' && c <= '9' || c == '+' && i == 0 {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// userByPhone returns the one user whose SMS or voice contact is phone.
func userByPhone(cfg *pager.Config, phone string) (string, bool) {
	phone = normPhone(phone)
	if cfg == nil || len(phone) < 3 {
		return "", false
	}
	found := ""
	for _, u := range cfg.Users {
		if normPhone(u.Contact.SMS) == phone || normPhone(u.Contact.Voice) == phone {
			if found != "" && found != u.Name {
				return "", false // shared number: whose answer is it?
			}
			found = u.Name
		}
	}
	return found, found != ""
}

// userBySlack returns the one user whose slack_user_id is id.
func userBySlack(cfg *pager.Config, id string) (string, bool) {
	if cfg == nil || id == "" {
		return "", false
	}
	found := ""
	for _, u := range cfg.Users {
		if u.Contact.SlackUserID == id {
			if found != "" && found != u.Name {
				return "", false // shared ID: whose click is it?
			}
			found = u.Name
		}
	}
	return found, found != ""
}

// openPages returns the open incidents user was paged for, newest first.
func (h *Handler) openPages(user string) ([]pager.IncidentState, error) {
	open, err := h.o.Pager.Incidents(pager.IncidentFilter{
		Statuses: []pager.Status{pager.StatusTriggered, pager.StatusAcknowledged}, Limit: maxOpenScan})
	if err != nil {
		return nil, err
	}
	var out []pager.IncidentState
	for _, st := range open {
		ds, err := h.o.Pager.Deliveries(st.ID)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if d.Kind == pager.KindNotify && d.User == user {
				out = append(out, st)
				break
			}
		}
	}
	return out, nil
}

// outcome words the result of an action for the responder.
func outcome(action, id, user string, err error) (string, string) {
	past := map[string]string{ActionAck: "Acknowledged", ActionEscalate: "Escalated", ActionResolve: "Resolved"}[action]
	switch {
	case err == nil:
		return "ok", past + " " + id + " as " + user + "."
	case errors.Is(err, pager.ErrNotTriggered):
		return "stale", id + " is already acknowledged; nothing changed."
	case errors.Is(err, pager.ErrResolved):
		return "stale", id + " is already resolved; nothing changed."
	case errors.Is(err, pager.ErrNotFound):
		return "stale", id + " no longer exists; nothing changed."
	}
	return "error", "Could not update " + id + "; nothing changed. Use the console."
}
