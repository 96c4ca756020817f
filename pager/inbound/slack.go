package inbound

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// slackActions maps the buttons' action IDs to actions.
var slackActions = map[string]string{
	channel.SlackActionAck:      ActionAck,
	channel.SlackActionResolve:  ActionResolve,
	channel.SlackActionEscalate: ActionEscalate,
}

// SlackInteraction is the part of Slack's block_actions payload the
// webhook reads.
type SlackInteraction struct {
	Type string `json:"type"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Actions []struct {
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
	} `json:"actions"`
	ResponseURL string `json:"response_url"`
	Message     struct {
		Text   string            `json:"text"`
		Blocks []json.RawMessage `json:"blocks"`
	} `json:"message"`
}

// serveSlack answers Slack's interactivity request: a form with one
// field, payload, holding the JSON of a block_actions interaction.
func (h *Handler) serveSlack(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	ts, sig := r.Header.Get("X-Slack-Request-Timestamp"), r.Header.Get("X-Slack-Signature")
	verr := channel.ErrForged
	for _, v := range h.o.Slack {
		if verr = v.VerifyInteraction(ts, sig, body, h.o.Now()); verr == nil || errors.Is(verr, channel.ErrReplayed) {
			break
		}
	}
	if verr != nil {
		result := "forged"
		if errors.Is(verr, channel.ErrReplayed) {
			result = "replayed"
		}
		h.count("slack", result)
		h.o.Logger.Warn("inbound slack: refused", "err", verr, "remote", r.RemoteAddr)
		http.Error(w, verr.Error(), http.StatusUnauthorized)
		return
	}
	form, err := url.ParseQuery(string(body))
	var in SlackInteraction
	if err == nil {
		err = json.Unmarshal([]byte(form.Get("payload")), &in)
	}
	if err != nil || in.Type != "block_actions" || len(in.Actions) != 1 {
		h.count("slack", "unparsed")
		w.WriteHeader(http.StatusOK) // nothing to do: not one of our buttons
		return
	}
	result, text := h.slack(&in)
	h.count("slack", result)
	h.o.Logger.Info("inbound slack", "result", result, "answer", text)
	// Answer Slack (it waits 3 s at most) before updating the message.
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	h.respondSlack(r.Context(), &in, result == "ok", text)
}

// slack acts on a verified button click.
func (h *Handler) slack(in *SlackInteraction) (string, string) {
	action, id := slackActions[in.Actions[0].ActionID], in.Actions[0].Value
	if action == "" {
		return "unparsed", ""
	}
	user, ok := userBySlack(h.o.Pager.Config(), in.User.ID)
	if !ok {
		return "unknown_sender", "Your Slack account is not linked to a Watchdog user (contact.slack_user_id); nothing changed."
	}
	if _, _, err := h.o.Pager.Incident(id); err != nil {
		return "stale", "No incident " + id + "; nothing changed."
	}
	return outcome(action, id, user, h.o.Act(action, id, user, ViaSlack))
}

// respondSlack posts the result to the interaction's response_url: on
// success the message is replaced by itself without its buttons and with
// who acted; otherwise only the clicker sees why nothing changed.
func (h *Handler) respondSlack(ctx context.Context, in *SlackInteraction, ok bool, text string) {
	if text == "" || !h.responseURLAllowed(in.ResponseURL) {
		return
	}
	var msg map[string]any
	if ok {
		blocks := make([]json.RawMessage, 0, len(in.Message.Blocks)+1)
		for _, b := range in.Message.Blocks {
			var t struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(b, &t) == nil && t.Type != "actions" {
				blocks = append(blocks, b)
			}
		}
		note, _ := json.Marshal(map[string]any{"type": "context", "elements": []any{
			map[string]string{"type": "mrkdwn", "text": ":white_check_mark: " + slackEscape(text) + " (Slack)"}}})
		blocks = append(blocks, note)
		msg = map[string]any{"replace_original": true, "text": in.Message.Text + " — " + text, "blocks": blocks}
	} else {
		msg = map[string]any{"replace_original": false, "response_type": "ephemeral", "text": text}
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.ResponseURL, bytes.NewReader(b))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.o.HTTPClient.Do(req)
	if err != nil {
		h.o.Logger.Warn("inbound slack: updating the message failed", "err", err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		h.o.Logger.Warn("inbound slack: updating the message failed", "status", resp.Status)
	}
}

// responseURLAllowed reports whether some Slack channel allows u.
func (h *Handler) responseURLAllowed(u string) bool {
	for _, v := range h.o.Slack {
		if v.ResponseURLAllowed(u) {
			return true
		}
	}
	return false
}

// slackEscape escapes Slack mrkdwn's control characters.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
