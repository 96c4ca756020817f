package channel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestWebhookContract checks the Alertmanager webhook payload (version 4,
// notify/webhook.Message + template.Data field names).
func TestWebhookContract(t *testing.T) {
	srv := newFakeServer(t, reply{Status: 200})
	ch, _ := NewWebhook(WebhookOptions{URL: srv.URL + "/alerts", BearerToken: "tok"})
	m := sampleMessage()
	m.Key = "inc-42/p0/l0/r0/s0/alice/push"
	if _, err := ch.Send(bg(), m); err != nil {
		t.Fatal(err)
	}
	r := srv.only(t)
	wantEq(t, "method", r.Method, "POST")
	wantEq(t, "path", r.Path, "/alerts")
	wantEq(t, "Content-Type", r.Header.Get("Content-Type"), "application/json")
	wantEq(t, "Authorization", r.Header.Get("Authorization"), "Bearer tok")
	wantEq(t, "Idempotency-Key", r.Header.Get("Idempotency-Key"), m.Key)

	var keys map[string]json.RawMessage
	_ = json.Unmarshal(r.Body, &keys)
	for _, k := range []string{"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
		"commonLabels", "commonAnnotations", "externalURL", "alerts"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("payload lacks %q", k)
		}
	}
	var p WebhookPayload
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	wantEq(t, "version", p.Version, "4")
	wantEq(t, "groupKey", p.GroupKey, m.GroupKey)
	wantEq(t, "truncatedAlerts", p.TruncatedAlerts, 0)
	wantEq(t, "status", p.Status, "firing")
	wantEq(t, "receiver", p.Receiver, "identity-oncall")
	wantEq(t, "externalURL", p.ExternalURL, "https://watchdog.example")
	wantEq(t, "groupLabels", fmt.Sprint(p.GroupLabels), fmt.Sprint(m.Labels))
	wantEq(t, "commonLabels", fmt.Sprint(p.CommonLabels), "map[alertname:LoginErrorSpike service:auth]")
	wantEq(t, "commonAnnotations", fmt.Sprint(p.CommonAnnotations), "map[runbook_url:https://runbooks.example/login]")
	if len(p.Alerts) != 2 {
		t.Fatalf("alerts = %d, want 2", len(p.Alerts))
	}
	a := p.Alerts[0]
	var ak map[string]json.RawMessage
	var raw struct{ Alerts []map[string]json.RawMessage }
	_ = json.Unmarshal(r.Body, &raw)
	ak = raw.Alerts[0]
	for _, k := range []string{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"} {
		if _, ok := ak[k]; !ok {
			t.Errorf("alert lacks %q", k)
		}
	}
	wantEq(t, "alerts[0].status", a.Status, "firing")
	wantEq(t, "alerts[1].status", p.Alerts[1].Status, "resolved")
	wantEq(t, "alerts[0].startsAt", a.StartsAt, m.Alerts[0].StartsAt)
	wantEq(t, "alerts[1].endsAt", p.Alerts[1].EndsAt, m.Alerts[1].EndsAt)
	wantEq(t, "alerts[0].generatorURL", a.GeneratorURL, m.Alerts[0].GeneratorURL)
	wantEq(t, "alerts[0].labels.instance", a.Labels["instance"], "a:9090")
	wantEq(t, "alerts[0].annotations.summary", a.Annotations["summary"], "a is bad")
	if len(a.Fingerprint) != 16 || a.Fingerprint == p.Alerts[1].Fingerprint {
		t.Errorf("fingerprints %q %q: want distinct 16-hex", a.Fingerprint, p.Alerts[1].Fingerprint)
	}
	wantEq(t, "fingerprint stable", fingerprint(m.Alerts[0].Labels), a.Fingerprint)
}

func TestWebhookEvents(t *testing.T) {
	tests := []struct {
		name       string
		opts       WebhookOptions
		mutate     func(*Message)
		wantSent   bool
		wantStatus string
		wantAlerts int
		wantTrunc  uint64
	}{
		{"max_alerts truncates", WebhookOptions{MaxAlerts: 1}, func(*Message) {}, true, "firing", 1, 1},
		{"resolve marks all resolved", WebhookOptions{}, func(m *Message) { m.Event = EventResolve }, true, "resolved", 2, 0},
		{"acknowledge skipped by default", WebhookOptions{}, func(m *Message) { m.Event = EventAcknowledge }, false, "", 0, 0},
		{"acknowledge sent when asked", WebhookOptions{SendAcknowledge: true}, func(m *Message) { m.Event = EventAcknowledge }, true, "firing", 2, 0},
		{"no alerts synthesizes one", WebhookOptions{}, func(m *Message) { m.Alerts = nil }, true, "firing", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t)
			tt.opts.URL = srv.URL
			ch, _ := NewWebhook(tt.opts)
			m := sampleMessage()
			tt.mutate(&m)
			if _, err := ch.Send(bg(), m); err != nil {
				t.Fatal(err)
			}
			reqs := srv.requests()
			if (len(reqs) == 1) != tt.wantSent {
				t.Fatalf("sent %d requests, want sent=%v", len(reqs), tt.wantSent)
			}
			if !tt.wantSent {
				return
			}
			var p WebhookPayload
			_ = json.Unmarshal(reqs[0].Body, &p)
			wantEq(t, "status", p.Status, tt.wantStatus)
			wantEq(t, "len(alerts)", len(p.Alerts), tt.wantAlerts)
			wantEq(t, "truncatedAlerts", p.TruncatedAlerts, tt.wantTrunc)
		})
	}
}

func TestSlackContract(t *testing.T) {
	srv := newFakeServer(t, reply{Status: 200, Body: "ok"})
	ch, _ := NewSlack(SlackOptions{WebhookURL: srv.URL + "/services/T0/B0/x", Channel: "#oncall"})
	m := sampleMessage()
	m.Summary = "errors <b> & more"
	if _, err := ch.Send(bg(), m); err != nil {
		t.Fatal(err)
	}
	r := srv.only(t)
	wantEq(t, "method", r.Method, "POST")
	wantEq(t, "path", r.Path, "/services/T0/B0/x")
	wantEq(t, "Content-Type", r.Header.Get("Content-Type"), "application/json")
	p := decodeJSON(t, r.Body)
	text, _ := p["text"].(string)
	for _, want := range []string{"[TRIGGER] LoginErrorSpike", "errors &lt;b&gt; &amp; more",
		"<https://watchdog.example/ack?i=inc-42&sig=abc123|Acknowledge>", "<https://runbooks.example/login|Runbook>"} {
		if !strings.Contains(text, want) {
			t.Errorf("text %q lacks %q", text, want)
		}
	}
	wantEq(t, "channel", p["channel"], any("#oncall"))
	blocks, _ := p["blocks"].([]any)
	var types []string
	var buttons []map[string]any
	for _, b := range blocks {
		bm := b.(map[string]any)
		types = append(types, bm["type"].(string))
		if bm["type"] == "actions" {
			for _, e := range bm["elements"].([]any) {
				buttons = append(buttons, e.(map[string]any))
			}
		}
	}
	wantEq(t, "block types", strings.Join(types, ","), "header,section,actions,context")
	if len(buttons) != 2 {
		t.Fatalf("buttons = %v", buttons)
	}
	wantEq(t, "ack button url", buttons[0]["url"], any(m.AckURL))
	wantEq(t, "ack button type", buttons[0]["type"], any("button"))
	wantEq(t, "ack button label", buttons[0]["text"].(map[string]any)["text"], any("Acknowledge"))
	wantEq(t, "runbook button url", buttons[1]["url"], any("https://runbooks.example/login"))

	// Follow-ups carry no ack button.
	m.Event = EventResolve
	p2 := buildSlack(m, false)
	if strings.Contains(p2.Text, "Acknowledge") {
		t.Errorf("resolve text has an ack link: %q", p2.Text)
	}
}

func TestPagerDutyContract(t *testing.T) {
	srv := newFakeServer(t, reply{Status: 202, Body: `{"status":"success","message":"Event processed","dedup_key":"wd-9f2c"}`})
	ch, _ := NewPagerDuty(PagerDutyOptions{RoutingKey: "R0UT1NGKEY", BaseURL: srv.URL + "/"})
	m := sampleMessage()
	for _, ev := range []string{EventTrigger, EventAcknowledge, EventResolve} {
		m.Event = ev
		if _, err := ch.Send(bg(), m); err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
	}
	reqs := srv.requests()
	if len(reqs) != 3 {
		t.Fatalf("requests = %d", len(reqs))
	}
	for i, ev := range []string{"trigger", "acknowledge", "resolve"} {
		r := reqs[i]
		wantEq(t, ev+" method", r.Method, "POST")
		wantEq(t, ev+" path", r.Path, "/v2/enqueue")
		wantEq(t, ev+" Content-Type", r.Header.Get("Content-Type"), "application/json")
		p := decodeJSON(t, r.Body)
		wantEq(t, ev+" routing_key", p["routing_key"], any("R0UT1NGKEY"))
		wantEq(t, ev+" event_action", p["event_action"], any(ev))
		wantEq(t, ev+" dedup_key", p["dedup_key"], any("wd-9f2c"))
		if _, has := p["payload"]; has != (ev == "trigger") {
			t.Errorf("%s: payload present = %v", ev, has)
		}
	}
	p := decodeJSON(t, reqs[0].Body)
	pl := p["payload"].(map[string]any)
	wantEq(t, "summary", pl["summary"], any("LoginErrorSpike: login error ratio 12% > 5% for 10m"))
	wantEq(t, "source", pl["source"], any("prod-eu-1"))
	wantEq(t, "severity", pl["severity"], any("critical"))
	wantEq(t, "timestamp", pl["timestamp"], any("2026-03-04T05:06:07Z"))
	cd := pl["custom_details"].(map[string]any)
	wantEq(t, "custom_details.incident_id", cd["incident_id"], any("inc-42"))
	wantEq(t, "custom_details.labels.service", cd["labels"].(map[string]any)["service"], any("auth"))
	wantEq(t, "client", p["client"], any("Watchdog"))
	wantEq(t, "client_url", p["client_url"], any("https://watchdog.example"))
	links := p["links"].([]any)
	wantEq(t, "links[0].href", links[0].(map[string]any)["href"], any(m.AckURL))
	wantEq(t, "links[1].href", links[1].(map[string]any)["href"], any("https://runbooks.example/login"))
	if _, ok := links[0].(map[string]any)["text"]; !ok {
		t.Error("link lacks text")
	}
}

func TestPagerDutyFieldRules(t *testing.T) {
	pd, _ := NewPagerDuty(PagerDutyOptions{RoutingKey: "k"})
	sev := map[string]string{"critical": "critical", "page": "critical", "error": "error", "warning": "warning",
		"WARN": "warning", "info": "info", "low": "info", "": "error", "bogus": "error"}
	for in, want := range sev {
		m := sampleMessage()
		m.Severity = in
		ev, _ := pd.build(m)
		wantEq(t, "severity("+in+")", ev.Payload.Severity, want)
	}
	m := sampleMessage()
	m.Summary = strings.Repeat("ü", 2000)
	ev, _ := pd.build(m)
	if n := len(ev.Payload.Summary); n > 1024 || n < 1000 {
		t.Errorf("summary length %d, want ≤1024 and close to it", n)
	}
	m.DedupKey = strings.Repeat("k", 300)
	ev1, _ := pd.build(m)
	m.Event = EventResolve
	ev2, _ := pd.build(m)
	if len(ev1.DedupKey) > 255 || ev1.DedupKey != ev2.DedupKey {
		t.Errorf("long dedup key not stably shortened: %q vs %q", ev1.DedupKey, ev2.DedupKey)
	}
}

func TestOpsgenieContract(t *testing.T) {
	srv := newFakeServer(t, reply{Status: 202, Body: `{"result":"Request will be processed","requestId":"x"}`})
	ch, _ := NewOpsgenie(OpsgenieOptions{APIKey: "genie", BaseURL: srv.URL, Tags: []string{"watchdog"}})
	m := sampleMessage()
	m.DedupKey = "wd/9f 2c"
	m.Summary = strings.Repeat("x", 300)
	for _, ev := range []string{EventTrigger, EventAcknowledge, EventResolve} {
		m.Event = ev
		if _, err := ch.Send(bg(), m); err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
	}
	reqs := srv.requests()
	if len(reqs) != 3 {
		t.Fatalf("requests = %d", len(reqs))
	}
	wantPaths := []string{"/v2/alerts", "/v2/alerts/wd%2F9f%202c/acknowledge", "/v2/alerts/wd%2F9f%202c/close"}
	wantQuery := []string{"", "identifierType=alias", "identifierType=alias"}
	for i, r := range reqs {
		wantEq(t, "method", r.Method, "POST")
		wantEq(t, "path", r.Path, wantPaths[i])
		wantEq(t, "query", r.Query, wantQuery[i])
		wantEq(t, "Authorization", r.Header.Get("Authorization"), "GenieKey genie")
		wantEq(t, "Content-Type", r.Header.Get("Content-Type"), "application/json")
	}
	c := decodeJSON(t, reqs[0].Body)
	msg := c["message"].(string)
	if n := len([]rune(msg)); n > 130 || !strings.HasPrefix(msg, "LoginErrorSpike: xxx") {
		t.Errorf("message %q (%d runes), want ≤130", msg, n)
	}
	wantEq(t, "alias", c["alias"], any("wd/9f 2c"))
	wantEq(t, "priority", c["priority"], any("P1"))
	desc := c["description"].(string)
	if !strings.Contains(desc, m.AckURL) || !strings.Contains(desc, "https://runbooks.example/login") {
		t.Errorf("description lacks links: %q", desc)
	}
	wantEq(t, "tags", fmt.Sprint(c["tags"]), "[watchdog severity:critical alertname:LoginErrorSpike]")
	d := c["details"].(map[string]any)
	wantEq(t, "details.service", d["service"], any("auth"))
	wantEq(t, "details.incident_id", d["incident_id"], any("inc-42"))
	ack := decodeJSON(t, reqs[1].Body)
	wantEq(t, "ack.user", ack["user"], any("Watchdog"))
	if _, ok := ack["note"]; !ok {
		t.Error("ack lacks note")
	}

	prio := map[string]string{"critical": "P1", "error": "P2", "warning": "P3", "info": "P5", "": "P3"}
	for sev, want := range prio {
		wantEq(t, "priority("+sev+")", ch.priority(sev), want)
	}
	over, _ := NewOpsgenie(OpsgenieOptions{APIKey: "k", Priorities: map[string]string{"warning": "P2"}})
	wantEq(t, "override", over.priority("Warning"), "P2")
}

func TestTwilioContract(t *testing.T) {
	tests := []struct {
		name, mode, event, wantPath string
		wantSent                    bool
		check                       func(t *testing.T, r recorded)
	}{
		{"sms trigger", "sms", EventTrigger, "/2010-04-01/Accounts/AC123/Messages.json", true, func(t *testing.T, r recorded) {
			f := formOf(t, r)
			wantEq(t, "To", f.Get("To"), "+15557654321")
			wantEq(t, "From", f.Get("From"), "+15550001111")
			body := f.Get("Body")
			if !strings.HasPrefix(body, "[TRIGGER] LoginErrorSpike") || !strings.HasSuffix(body, "Ack: "+sampleMessage().AckURL) {
				t.Errorf("Body = %q", body)
			}
		}},
		{"sms resolve", "sms", EventResolve, "/2010-04-01/Accounts/AC123/Messages.json", true, func(t *testing.T, r recorded) {
			if b := formOf(t, r).Get("Body"); !strings.HasPrefix(b, "[RESOLVE]") || strings.Contains(b, "Ack:") {
				t.Errorf("Body = %q", b)
			}
		}},
		{"voice trigger", "voice", EventTrigger, "/2010-04-01/Accounts/AC123/Calls.json", true, func(t *testing.T, r recorded) {
			f := formOf(t, r)
			wantEq(t, "To", f.Get("To"), "+15557654321")
			tw := f.Get("Twiml")
			if !strings.HasPrefix(tw, "<Response><Say>Watchdog page. LoginErrorSpike") || !strings.HasSuffix(tw, "</Say></Response>") {
				t.Errorf("Twiml = %q", tw)
			}
			if !strings.Contains(tw, "errors &lt;b&gt; &amp; more") {
				t.Errorf("Twiml not escaped: %q", tw)
			}
		}},
		{"voice resolve skipped", "voice", EventResolve, "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, reply{Status: 201, Body: `{"sid":"SM1"}`})
			ch, _ := NewTwilio(TwilioOptions{Mode: tt.mode, AccountSID: "AC123", AuthToken: "tok", From: "+15550001111", BaseURL: srv.URL})
			m := sampleMessage()
			m.Event = tt.event
			m.Summary = "errors <b> & more"
			m.Recipient = Contact{Name: "alice", Address: "+15557654321"}
			if _, err := ch.Send(bg(), m); err != nil {
				t.Fatal(err)
			}
			reqs := srv.requests()
			if (len(reqs) == 1) != tt.wantSent {
				t.Fatalf("requests = %d, want sent=%v", len(reqs), tt.wantSent)
			}
			if !tt.wantSent {
				return
			}
			r := reqs[0]
			wantEq(t, "method", r.Method, "POST")
			wantEq(t, "path", r.Path, tt.wantPath)
			wantEq(t, "Content-Type", r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
			if !r.HasBA || r.User != "AC123" || r.Pass != "tok" {
				t.Errorf("basic auth = %q:%q (%v)", r.User, r.Pass, r.HasBA)
			}
			tt.check(t, r)
		})
	}
	ch, _ := NewTwilio(TwilioOptions{AccountSID: "AC123", AuthToken: "tok", From: "+1"})
	m := sampleMessage()
	m.Recipient = Contact{Name: "bob"}
	if _, err := ch.Send(bg(), m); err == nil || !strings.Contains(err.Error(), "bob") {
		t.Errorf("missing number: err = %v", err)
	}
	m.Summary = strings.Repeat("z", 5000)
	if b := smsBody(m, false); len([]rune(b)) > 1600 || !strings.HasSuffix(b, m.AckURL) {
		t.Errorf("long SMS body %d runes, ack kept=%v", len([]rune(b)), strings.HasSuffix(b, m.AckURL))
	}
}

func TestNtfyContract(t *testing.T) {
	srv := newFakeServer(t, reply{Status: 200, Body: `{"id":"x"}`})
	ch, _ := NewNtfy(NtfyOptions{BaseURL: srv.URL, Topic: "fallback", Token: "tk_abc"})
	m := sampleMessage()
	m.Recipient = Contact{Name: "alice", Address: "alice-pager"}
	m.Title = "Ünïcode\r\nInjected: yes"
	if _, err := ch.Send(bg(), m); err != nil {
		t.Fatal(err)
	}
	r := srv.only(t)
	wantEq(t, "method", r.Method, "POST")
	wantEq(t, "path", r.Path, "/alice-pager")
	wantEq(t, "Authorization", r.Header.Get("Authorization"), "Bearer tk_abc")
	wantEq(t, "Priority", r.Header.Get("Priority"), "5")
	wantEq(t, "Tags", r.Header.Get("Tags"), "rotating_light,critical")
	wantEq(t, "Click", r.Header.Get("Click"), m.AckURL)
	wantEq(t, "Actions", r.Header.Get("Actions"), `http, Acknowledge, "`+m.AckURL+`", method=POST, clear=true`)
	if r.Header.Get("Injected") != "" {
		t.Error("title injected a header")
	}
	title := r.Header.Get("Title")
	if !strings.HasPrefix(title, "=?utf-8?b?") {
		t.Errorf("non-ASCII title not RFC 2047 encoded: %q", title)
	}
	if !bytes.Contains(r.Body, []byte(m.Summary)) || !bytes.Contains(r.Body, []byte(m.AckURL)) {
		t.Errorf("body = %q", r.Body)
	}

	tests := []struct {
		event, sev, prio, tags string
	}{
		{EventTrigger, "error", "4", "rotating_light,error"},
		{EventTrigger, "warning", "3", "rotating_light,warning"},
		{EventTrigger, "info", "2", "rotating_light,info"},
		{EventAcknowledge, "critical", "2", "eyes,critical"},
		{EventResolve, "critical", "2", "white_check_mark,critical"},
	}
	for _, tt := range tests {
		m := Message{Event: tt.event, Severity: tt.sev, Title: "plain"}
		wantEq(t, tt.event+"/"+tt.sev+" priority", fmt.Sprint(ntfyPriority(m)), tt.prio)
		wantEq(t, tt.event+"/"+tt.sev+" tags", ntfyTags(m), tt.tags)
	}
	nt, _ := NewNtfy(NtfyOptions{BaseURL: srv.URL})
	if _, err := nt.Send(bg(), Message{Event: EventTrigger}); err == nil {
		t.Error("no topic: want ErrNoRecipient")
	}
}

func TestConsole(t *testing.T) {
	tests := []struct {
		name   string
		opts   ConsoleOptions
		mutate func(*Message)
		want   string
	}{
		{"trigger", ConsoleOptions{Name: "push"}, func(*Message) {},
			"PAGE push → alice: [TRIGGER] LoginErrorSpike (critical) login error ratio 12% > 5% for 10m incident=inc-42 ack: https://watchdog.example/ack?i=inc-42&sig=abc123\n"},
		{"resolve has no ack", ConsoleOptions{}, func(m *Message) { m.Event = EventResolve; m.Summary = "" },
			"PAGE console → alice: [RESOLVE] LoginErrorSpike (critical) incident=inc-42\n"},
		{"newlines flattened", ConsoleOptions{}, func(m *Message) {
			m.Title = "a\nb"
			m.Recipient = Contact{}
			m.Severity = ""
			m.Summary = ""
			m.AckURL = ""
		},
			"PAGE console → -: [TRIGGER] a b incident=inc-42\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.opts.Writer = &buf
			m := sampleMessage()
			tt.mutate(&m)
			if _, err := NewConsole(tt.opts).Send(bg(), m); err != nil {
				t.Fatal(err)
			}
			wantEq(t, "line", buf.String(), tt.want)
		})
	}
}
