package inbound

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/channel"
)

const (
	ext        = "https://watchdog.example"
	authToken  = "twilio-auth-token"
	signSecret = "slack-signing-secret"
	alicePhone = "+15550000001"
	bobPhone   = "+15550000002"
	uid7       = "00000000000000000000000000000007"
)

var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

const testConfig = `pager:
  users:
    - name: alice
      contact: {sms: "+1 555 000 0001", voice: "+15550000001", slack_user_id: U1ALICE}
    - name: bob
      contact: {sms: "+15550000002"}
  escalation_policies:
    - name: p
      levels: [{targets: [user:alice]}]
  routes:
    - escalation_policy: p
`

// act is one action the fake pager performed.
type act struct{ Action, ID, User, Via string }

// fakePager holds incidents and the deliveries that paged them; signed
// tokens are checked by a real pager with the same key.
type fakePager struct {
	cfg    *pager.Config
	signer *pager.Pager
	mu     sync.Mutex
	inc    map[string]pager.IncidentState
	del    map[string][]pager.Delivery
	acts   []act
}

func newFakePager(t *testing.T) *fakePager {
	t.Helper()
	cfg, err := pager.ParseConfig("test.yaml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := pager.New(pager.Options{Config: cfg, AckKey: []byte("ack-key"), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePager{cfg: cfg, signer: signer, inc: map[string]pager.IncidentState{}, del: map[string][]pager.Delivery{}}
	// inc-7 and inc-9 paged alice, inc-8 paged bob, inc-5 (resolved)
	// paged alice, inc-6 is open but was never sent to anyone.
	f.add("inc-5", pager.StatusResolved, "alice")
	f.add("inc-6", pager.StatusTriggered)
	f.add("inc-7", pager.StatusTriggered, "alice")
	f.add("inc-8", pager.StatusTriggered, "bob")
	f.add("inc-9", pager.StatusAcknowledged, "alice")
	return f
}

func (f *fakePager) add(id string, s pager.Status, users ...string) {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "inc-"))
	f.inc[id] = pager.IncidentState{ID: id, UID: fmt.Sprintf("%032x", n), Status: s}
	for _, u := range users {
		f.del[id] = append(f.del[id], pager.Delivery{Key: id + u, IncidentID: id, Kind: pager.KindNotify, User: u})
	}
	f.del[id] = append(f.del[id], pager.Delivery{Key: id + "fwd", IncidentID: id, Kind: pager.KindForward, Channel: "slack"})
}

func (f *fakePager) Config() *pager.Config { return f.cfg }

func (f *fakePager) Incidents(flt pager.IncidentFilter) ([]pager.IncidentState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []pager.IncidentState
	for _, st := range f.inc {
		if flt.Match(&st) {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b pager.IncidentState) int { return strings.Compare(b.ID, a.ID) })
	return out, nil
}

func (f *fakePager) Incident(id string) (pager.IncidentState, []pager.TimelineEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.inc[id]
	if !ok {
		return st, nil, pager.ErrNotFound
	}
	return st, nil, nil
}

func (f *fakePager) Deliveries(id string) ([]pager.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.del[id]), nil
}

func (f *fakePager) VerifyAck(token string) (pager.AckClaim, error) { return f.signer.VerifyAck(token) }

// act applies an action as the pager would, refusing what it refuses.
func (f *fakePager) act(action, id, user, via string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.inc[id]
	switch {
	case !ok:
		return pager.ErrNotFound
	case !st.Open():
		return pager.ErrResolved
	case action == ActionAck && st.Status != pager.StatusTriggered:
		return pager.ErrNotTriggered
	}
	f.acts = append(f.acts, act{action, id, user, via})
	return nil
}

func (f *fakePager) done() []act {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.acts)
}

// slackServer records the message updates posted to response_url.
type slackServer struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []map[string]any
}

func newSlackServer(t *testing.T) *slackServer {
	s := &slackServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &m)
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *slackServer) messages() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

type env struct {
	f     *fakePager
	mux   *http.ServeMux
	slack *slackServer
	tw    *channel.Twilio
}

func (e *env) twilio() []TwilioVerifier { return []TwilioVerifier{e.tw} }

func channelSig(fullURL string, form url.Values) string {
	return channel.TwilioSignature(authToken, fullURL, form)
}

func newTwilioRequest(pathQuery string, form url.Values, sig string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9090"+pathQuery, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", sig)
	return r
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func newEnv(t *testing.T) *env {
	t.Helper()
	f := newFakePager(t)
	tw, err := channel.NewTwilio(channel.TwilioOptions{AccountSID: "AC1", AuthToken: authToken, From: "+15559999999", Replies: true})
	if err != nil {
		t.Fatal(err)
	}
	ss := newSlackServer(t)
	sl, err := channel.NewSlack(channel.SlackOptions{WebhookURL: "https://hooks.slack.com/services/x", SigningSecret: signSecret,
		ResponseURLPrefix: ss.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Pager: f, Act: f.act, ExternalURL: ext + "/", Twilio: []TwilioVerifier{tw}, Slack: []SlackVerifier{sl},
		Now: func() time.Time { return now }})
	mux := http.NewServeMux()
	h.Register(func(p string, hd http.Handler) { mux.Handle(p, hd) })
	return &env{f: f, mux: mux, slack: ss, tw: tw}
}

// twilioPost posts form to path (with query) signed as Twilio signs it
// for the public URL, or with sig when it is not empty.
func (e *env) twilioPost(t *testing.T, pathQuery string, form url.Values, sig string) *httptest.ResponseRecorder {
	t.Helper()
	if sig == "" {
		sig = channelSig(ext+pathQuery, form)
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, newTwilioRequest(pathQuery, form, sig))
	return w
}

// twimlText returns the text of the TwiML response's Message or Say.
func twimlText(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Fatalf("Content-Type %q, body %q", ct, w.Body)
	}
	body := w.Body.String()
	for _, el := range []string{"Message", "Say"} {
		if i := strings.Index(body, "<"+el+">"); i >= 0 {
			return html.UnescapeString(body[i+len(el)+2 : strings.Index(body, "</"+el+">")])
		}
	}
	return ""
}
