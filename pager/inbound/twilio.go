package inbound

import (
	"encoding/xml"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/channel"
)

// Reply is a parsed SMS reply: an action and, optionally, the incident's
// reply code (channel.ReplyCode).
type Reply struct {
	Action string
	Code   string
}

// smsHelp is the answer to a text that is not a reply.
const smsHelp = "Reply 1 or ACK <code> to acknowledge, 2 or ESC <code> to escalate, RES <code> to resolve."

// maxReplyBytes bounds a text read as a reply.
const maxReplyBytes = 160

var verbs = map[string]string{
	"1": ActionAck, "a": ActionAck, "ack": ActionAck, "acknowledge": ActionAck, "ok": ActionAck,
	"2": ActionEscalate, "e": ActionEscalate, "esc": ActionEscalate, "escalate": ActionEscalate,
	"3": ActionResolve, "r": ActionResolve, "res": ActionResolve, "resolve": ActionResolve,
}

// ParseReply reads a text reply. The grammar, case-insensitive, with any
// spaces:
//
//	reply := verb [code]
//	verb  := "1" | "a" | "ack" | "acknowledge" | "ok"       (acknowledge)
//	       | "2" | "e" | "esc" | "escalate"                  (escalate)
//	       | "3" | "r" | "res" | "resolve"                   (resolve)
//	code  := digits | "#" digits | "inc-" digits             (the incident)
//
// ok is false for anything else (and for texts over 160 bytes).
func ParseReply(text string) (Reply, bool) {
	if len(text) > maxReplyBytes {
		return Reply{}, false
	}
	f := strings.Fields(strings.ToLower(text))
	if len(f) == 0 || len(f) > 2 {
		return Reply{}, false
	}
	r := Reply{Action: verbs[strings.TrimRight(f[0], ".!")]}
	if r.Action == "" {
		return Reply{}, false
	}
	if len(f) == 2 {
		code := strings.TrimPrefix(strings.TrimPrefix(f[1], "#"), "inc-")
		if channel.ReplyCode(code) != code || code == "" {
			return Reply{}, false
		}
		r.Code = code
	}
	return r, true
}

// twiml writes a TwiML response with one element (Message or Say).
func twiml(w http.ResponseWriter, status int, elem, text string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	var b strings.Builder
	b.WriteString(xml.Header + "<Response>")
	if text != "" {
		b.WriteString("<" + elem + ">")
		_ = xml.EscapeText(&b, []byte(text))
		b.WriteString("</" + elem + ">")
	}
	b.WriteString("</Response>")
	_, _ = w.Write([]byte(b.String()))
}

// serveSMS answers Twilio's incoming-message webhook (From, Body, …).
func (h *Handler) serveSMS(w http.ResponseWriter, r *http.Request) {
	form, ok := h.verifyTwilio(w, r)
	if !ok {
		h.count("twilio_sms", "forged")
		h.o.Logger.Warn("inbound sms: refused: signature invalid", "remote", r.RemoteAddr)
		http.Error(w, "signature invalid", http.StatusForbidden)
		return
	}
	result, text := h.sms(form.Get("From"), form.Get("Body"))
	h.count("twilio_sms", result)
	h.o.Logger.Info("inbound sms", "result", result, "answer", text)
	twiml(w, http.StatusOK, "Message", text)
}

// sms acts on a verified text and returns the result and the answer.
func (h *Handler) sms(from, body string) (string, string) {
	user, ok := userByPhone(h.o.Pager.Config(), from)
	if !ok {
		return "unknown_sender", "This number is not registered with Watchdog."
	}
	reply, ok := ParseReply(body)
	if !ok {
		return "unparsed", smsHelp
	}
	pages, err := h.openPages(user)
	if err != nil {
		return "error", "Could not look up your pages; nothing changed. Use the console."
	}
	var target *pager.IncidentState
	switch {
	case reply.Code != "":
		i := slices.IndexFunc(pages, func(st pager.IncidentState) bool { return channel.ReplyCode(st.ID) == reply.Code })
		if i < 0 {
			return "stale", "No open page " + reply.Code + " for you (resolved, or not sent to you); nothing changed."
		}
		target = &pages[i]
	case len(pages) == 0:
		return "stale", "You have no open pages; nothing changed."
	case len(pages) > 1:
		codes := make([]string, 0, min(len(pages), 10))
		for _, st := range pages[:min(len(pages), 10)] {
			codes = append(codes, channel.ReplyCode(st.ID))
		}
		return "ambiguous", "You have " + strconv.Itoa(len(pages)) + " open pages; nothing changed. Reply with a code, e.g. ACK " +
			codes[0] + " (codes: " + strings.Join(codes, ", ") + ")."
	default:
		target = &pages[0]
	}
	return outcome(reply.Action, target.ID, user, h.o.Act(reply.Action, target.ID, user, ViaSMS))
}

// voiceAction maps a keypress to an action.
var voiceActions = map[string]string{"1": ActionAck, "2": ActionEscalate}

// serveVoice answers the <Gather> action of a call placed by the Twilio
// voice channel: ?t= is the page's signed token (incident and user), the
// form carries CallSid, From, To and Digits.
func (h *Handler) serveVoice(w http.ResponseWriter, r *http.Request) {
	form, ok := h.verifyTwilio(w, r)
	if !ok {
		h.count("twilio_voice", "forged")
		h.o.Logger.Warn("inbound voice: refused: signature invalid", "remote", r.RemoteAddr)
		http.Error(w, "signature invalid", http.StatusForbidden)
		return
	}
	result, text := h.voice(r.URL.Query().Get("t"), form)
	h.count("twilio_voice", result)
	h.o.Logger.Info("inbound voice", "result", result, "call", form.Get("CallSid"), "answer", text)
	twiml(w, http.StatusOK, "Say", text+" Goodbye.")
}

// voice acts on a verified keypress.
func (h *Handler) voice(token string, form map[string][]string) (string, string) {
	claim, err := h.o.Pager.VerifyAck(token)
	if errors.Is(err, pager.ErrAckExpired) {
		return "stale", "This page has expired; nothing changed."
	} else if err != nil {
		return "forged", "This call cannot be answered by keypress; nothing changed."
	}
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	// The call went to the user's phone: it must be one end of it.
	var u *pager.User
	if cfg := h.o.Pager.Config(); cfg != nil {
		u = cfg.User(claim.User)
	}
	if u == nil || !slices.ContainsFunc([]string{get("To"), get("From"), get("Called")}, func(n string) bool {
		return n != "" && (normPhone(n) == normPhone(u.Contact.Voice) || normPhone(n) == normPhone(u.Contact.SMS))
	}) {
		return "unknown_sender", "This call is not one of your pages; nothing changed."
	}
	action := voiceActions[get("Digits")]
	if action == "" {
		return "unparsed", "Unknown key; nothing changed."
	}
	st, _, err := h.o.Pager.Incident(claim.IncidentID)
	if err != nil || st.UID != claim.UID {
		return "stale", "This incident no longer exists; nothing changed."
	}
	return outcome(action, st.ID, claim.User, h.o.Act(action, st.ID, claim.User, ViaVoice))
}
