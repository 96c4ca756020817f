package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestIncidentResponders: the incident page shows the urgency, who was
// asked to help and how they answered, the form to ask for more help
// and the buttons to answer while the incident is open; a resolved one
// has neither the form nor the buttons.
func TestIncidentResponders(t *testing.T) {
	f := newFixture(t)
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i := range f.pager.incidents {
		f.pager.incidents[i].Urgency = pager.UrgencyLow
		f.pager.incidents[i].Responders = []pager.Responder{
			{User: "bob", Status: pager.ResponderAcknowledged, RequestedBy: "alice", Via: pager.ViaConsole, RequestedAt: at, From: "user", Message: "<b>db</b> help"},
			{User: "carol", Status: pager.ResponderRequested, RequestedBy: "alice", Via: pager.ViaCLI, RequestedAt: at, From: "schedule:dba"},
		}
	}
	_, body, _ := f.get(t, "/incidents/inc-2")
	for _, want := range []string{
		`<span class="badge low" id="urgency">low urgency</span>`,
		`<h2>Responders <span class="count">2</span></h2>`,
		`<li data-user="bob" data-state="acknowledged"><b>bob</b>`,
		`asked by alice (console)`,
		`“&lt;b&gt;db&lt;/b&gt; help”`,
		`<li data-user="carol" data-state="requested"><b>carol</b>`,
		` · schedule:dba`,
		`id="responder-targets"`,
		`id="responders" type="button" data-action="responders"`,
		`id="respond-decline" type="button" data-action="responders/respond" data-decline="true"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("incident page lacks %s", want)
		}
	}
	_, body, _ = f.get(t, "/incidents/inc-1")
	if !strings.Contains(body, `data-user="bob"`) || strings.Contains(body, `id="responder-targets"`) || strings.Contains(body, `id="respond-ack"`) {
		t.Error("a resolved incident: responders must show, the form and the answer buttons must not")
	}
}
