package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The pager's part of the hostile suite (issue #11, reproductions 4, 6 and
// 8): a reload may not strand an open incident, silences that match every
// alert and absurd snoozes are refused, a failing channel is loud, and
// absurd preview times answer 400.

// hookServer is a loopback receiver for webhook channels: one path per
// channel; paths in fail answer 500.
type hookServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
	fail map[string]bool
}

func newHookServer(t *testing.T, fail ...string) *hookServer {
	t.Helper()
	s := &hookServer{hits: map[string]int{}, fail: map[string]bool{}}
	for _, p := range fail {
		s.fail[p] = true
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		failing := s.fail[r.URL.Path]
		s.mu.Unlock()
		if failing {
			http.Error(w, "receiver down", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *hookServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// waitHit waits until path has been hit at least n times.
func (s *hookServer) waitHit(t *testing.T, path string, n int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() error {
		if got := s.count(path); got < n {
			return fmt.Errorf("%s hit %d time(s), want %d", path, got, n)
		}
		return nil
	})
}

// pagerIncident is the part of an incident of the paging API the tests read.
type pagerIncident struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Policy   string `json:"policy"`
	Level    int    `json:"level"`
	Stuck    string `json:"stuck"`
	Timeline []struct {
		Kind string `json:"kind"`
		Text string `json:"text"`
	} `json:"timeline"`
}

// fire posts one paging alert to the Alertmanager-compatible receiver.
func (h *hostile) fire(t *testing.T, name string) {
	t.Helper()
	body := fmt.Sprintf(`[{"labels":{"alertname":%q,"severity":"page"},"annotations":{"summary":"hostile pager test"}}]`, name)
	if code, b := h.post(t, "/api/v2/alerts", "application/json", []byte(body), true); code != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %d %s", code, b)
	}
}

// openIncident returns the only open incident, with its timeline.
func (h *hostile) openIncident(t *testing.T) pagerIncident {
	t.Helper()
	var list struct {
		Data []pagerIncident `json:"data"`
	}
	code, body := h.get(t, "/api/v1/pager/incidents?status=open")
	if err := json.Unmarshal(body, &list); code != http.StatusOK || err != nil || len(list.Data) != 1 {
		t.Fatalf("open incidents: %d %s (%v)", code, body, err)
	}
	var one struct {
		Data pagerIncident `json:"data"`
	}
	code, body = h.get(t, "/api/v1/pager/incidents/"+list.Data[0].ID)
	if err := json.Unmarshal(body, &one); code != http.StatusOK || err != nil {
		t.Fatalf("incident %s: %d %s (%v)", list.Data[0].ID, code, body, err)
	}
	return one.Data
}

func (inc pagerIncident) has(kind, text string) bool {
	for _, e := range inc.Timeline {
		if e.Kind == kind && strings.Contains(e.Text, text) {
			return true
		}
	}
	return false
}

// twoLevelPager is a pager section that pages alice by push at once and,
// unless she acknowledges, bob by sms after escalate, through webhooks at
// hook (paths /push and /sms); extra holds more top-level pager keys.
func twoLevelPager(hook, escalate, extra string) string {
	return extra + `users:
  - {name: alice, contact: {push: alice}}
  - {name: bob, contact: {sms: "+15550001"}}
escalation_policies:
  - name: default
    levels:
      - {targets: [user:alice], escalate_after: ` + escalate + `}
      - {targets: [user:bob], escalate_after: 1h}
channels:
  - {name: push, type: webhook, url: "` + hook + `/push"}
  - {name: sms, type: webhook, url: "` + hook + `/sms"}
routes:
  - {name: pages, matchers: ['severity="page"'], group_wait: 0s, escalation_policy: default}
`
}

// reloadPager is the pager section of TestHostilePagerReload: alice is
// paged first; an hour later bob and dave.
const reloadPager = `
users:
  - {name: alice, contact: {push: alice}}
  - {name: bob, contact: {sms: "+15550001"}}
  - {name: dave, contact: {email: dave@example.com}}
escalation_policies:
  - name: default
    levels:
      - {targets: [user:alice], escalate_after: 1h}
      - {targets: [user:bob, user:dave], escalate_after: 1h}
channels:
  - {name: push, type: webhook, url: "HOOK/push"}
  - {name: sms, type: webhook, url: "HOOK/sms"}
  - {name: email, type: webhook, url: "HOOK/email"}
routes:
  - {name: pages, matchers: ['severity="page"'], group_wait: 0s, escalation_policy: default}
`

// TestHostilePagerReload (reproduction 4): renaming the policy an open
// incident uses is refused with a non-200 naming the incident; a reload
// that removes a user no open incident uses and shortens escalate_after is
// accepted, the open incident escalates on the new, shorter timer, and the
// removed user is never paged.
func TestHostilePagerReload(t *testing.T) {
	hook := newHookServer(t)
	// Peak RSS measured at 24 MiB; the bound leaves room for other machines.
	hc := hostileConfig{Pager: strings.ReplaceAll(reloadPager, "HOOK", hook.URL), MaxRSSMiB: 64}
	h := startHostile(t, hc)
	h.fire(t, "ReloadTest")
	hook.waitHit(t, "/push", 1, 15*time.Second)
	inc := h.openIncident(t)

	// Rename the policy: refused, nothing changes.
	renamed := hc
	renamed.Pager = strings.NewReplacer("name: default", "name: renamed", "escalation_policy: default", "escalation_policy: renamed").
		Replace(hc.Pager)
	h.writeConfig(t, h.configWith(renamed))
	code, body := h.reload(t)
	want := fmt.Sprintf(`escalation policy "default" is used by open incidents %s`, inc.ID)
	if code == http.StatusOK || !strings.Contains(string(body), want) {
		t.Fatalf("reload renaming the policy in use: %d %s, want a refusal with %s", code, body, want)
	}
	h.waitLog(t, regexp.MustCompile(`reload refused`)) // stderr reaches the test through a pipe, a little later

	// Remove dave (not used by the open incident: level 2 has not started)
	// and shorten level 1: accepted, and the incident moves on at once.
	shorter := hc
	shorter.Pager = strings.NewReplacer("  - {name: dave, contact: {email: dave@example.com}}\n", "",
		"[user:bob, user:dave]", "[user:bob]", "{targets: [user:alice], escalate_after: 1h}", "{targets: [user:alice], escalate_after: 2s}").
		Replace(hc.Pager)
	h.writeConfig(t, h.configWith(shorter))
	if code, body := h.reload(t); code != http.StatusOK {
		t.Fatalf("reload removing an unused user: %d %s", code, body)
	}
	hook.waitHit(t, "/sms", 1, 15*time.Second) // bob, level 2, long before the old hour
	eventually(t, 10*time.Second, func() error {
		inc = h.openIncident(t)
		if inc.Level != 1 || !inc.has("escalated", "level 2 (pass 1): bob") {
			return fmt.Errorf("incident at level %d, timeline %+v", inc.Level, inc.Timeline)
		}
		return nil
	})
	if !inc.has("reconfigured", "next level change") {
		t.Errorf("no reconfigured entry on the timeline: %+v", inc.Timeline)
	}
	if inc.has("escalated", "dave") || hook.count("/email") != 0 {
		t.Errorf("dave, removed, was paged: %d e-mail(s), timeline %+v", hook.count("/email"), inc.Timeline)
	}
	if v, ok := h.metric(t, "watchdog_pager_incidents_stuck"); !ok || v != 0 {
		t.Errorf("watchdog_pager_incidents_stuck = %v (present %v), want 0", v, ok)
	}
	h.assertHealthy(t)
}

// inputsPager is the pager section of TestHostilePagerInputs: carol is
// paged by voice, whose receiver answers 500; then bob by sms.
const inputsPager = `
users:
  - {name: carol, contact: {voice: "+15550003"}}
  - {name: bob, contact: {sms: "+15550001"}}
schedules:
  - name: primary
    time_zone: UTC
    layers: [{name: l, members: [carol, bob], rotation: daily, start: 2026-01-05T09:00}]
escalation_policies:
  - name: default
    levels:
      - {targets: [user:carol], escalate_after: 1h}
      - {targets: [user:bob], escalate_after: 1h}
channels:
  - {name: sms, type: webhook, url: "HOOK/sms"}
  - name: voice
    type: webhook
    url: "HOOK/voice"
    retry: {max_attempts: 2, initial_backoff: 50ms, jitter: -1}
routes:
  - {name: pages, matchers: ['severity="page"'], group_wait: 0s, escalation_policy: default}
`

// TestHostilePagerInputs (reproductions 6 and 8): silences that match
// every alert, a silence or snooze until year 9999 and a preview starting
// in year 318857 answer 400; a channel whose receiver answers 500 is
// logged and counted per attempt in /metrics, and the page moves on to
// the next level at once.
func TestHostilePagerInputs(t *testing.T) {
	hook := newHookServer(t, "/voice")
	// Peak RSS measured at 24 MiB.
	h := startHostile(t, hostileConfig{Pager: strings.ReplaceAll(inputsPager, "HOOK", hook.URL), MaxRSSMiB: 64})

	// The channel counters are exported before the first page.
	if v, ok := h.metric(t, `watchdog_pager_channel_failures_total{channel="voice"}`); !ok || v != 0 {
		t.Errorf(`watchdog_pager_channel_failures_total{channel="voice"} = %v (present %v), want 0`, v, ok)
	}

	for _, s := range []struct{ name, body, want string }{
		{"regexp matching all", `{"matchers":["x=~\".*\""],"duration":"1h"}`, "must not match the empty string"},
		{"equal empty", `{"matchers":["foo=\"\""],"duration":"1h"}`, "must not match the empty string"},
		{"not regexp non-empty", `{"matchers":["foo!~\".+\""],"duration":"1h"}`, "must not match the empty string"},
		{"until year 9999", `{"matchers":["alertname=\"X\""],"endsAt":"9999-12-31T00:00:00Z"}`, "longer than the maximum"},
	} {
		code, body := h.post(t, "/api/v1/pager/silences", "application/json", []byte(s.body), true)
		if code != http.StatusBadRequest || !strings.Contains(string(body), s.want) {
			t.Errorf("silence %s: %d %s, want 400 with %q", s.name, code, body, s.want)
		}
	}
	if code, body := h.get(t, "/api/v1/pager/silences"); code != http.StatusOK || !strings.Contains(string(body), `"data":[]`) {
		t.Errorf("silences stored: %d %s", code, body)
	}
	if code, body := h.get(t, "/api/v1/pager/schedules/primary/preview?start=9999999999999"); code != http.StatusBadRequest {
		t.Errorf("preview start=9999999999999: %d %s, want 400", code, body)
	}

	// A page whose voice receiver fails: every attempt logged and counted,
	// then bob is paged at once instead of an hour later.
	h.fire(t, "FailingChannel")
	hook.waitHit(t, "/voice", 2, 15*time.Second)
	hook.waitHit(t, "/sms", 1, 15*time.Second)
	inc := h.openIncident(t)
	if !inc.has("failover", "nobody reached at level 1") || !inc.has("delivery", "failed after 2 attempt(s)") {
		t.Errorf("timeline lacks the failure and the failover: %+v", inc.Timeline)
	}
	logs := h.logs()
	for _, want := range []string{"channel=voice incident=" + inc.ID + " user=carol attempt=1",
		"channel=voice incident=" + inc.ID + " user=carol attempt=2", "pager: delivery failed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no log line with %q", want)
		}
	}
	for series, want := range map[string]float64{
		`watchdog_pager_channel_attempts_total{channel="voice"}`: 2,
		`watchdog_pager_channel_retries_total{channel="voice"}`:  1,
		`watchdog_pager_channel_failures_total{channel="voice"}`: 1,
		`watchdog_pager_channel_sent_total{channel="sms"}`:       1,
	} {
		if v, ok := h.metric(t, series); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}

	// Snoozes are bounded.
	for _, body := range []string{`{"until":"9999-12-31T00:00:00Z"}`, `{"duration":"8760h"}`} {
		code, b := h.post(t, "/api/v1/pager/incidents/"+inc.ID+"/snooze", "application/json", []byte(body), true)
		if code != http.StatusBadRequest || !strings.Contains(string(b), "invalid snooze") {
			t.Errorf("snooze %s: %d %s, want 400", body, code, b)
		}
	}
	if inc := h.openIncident(t); inc.Status != "triggered" {
		t.Errorf("a refused snooze changed the incident: %s", inc.Status)
	}
	h.assertHealthy(t)
}
