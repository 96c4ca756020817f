package pager

import (
	"fmt"
	"strings"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// Paths of the public subscription pages, under the external URL.
const (
	SubscriptionConfirmPath     = "/status/subscriptions/confirm/"
	SubscriptionUnsubscribePath = "/status/subscriptions/unsubscribe/"
)

// subscriberMail composes an address's confirmation mail (confirm) or
// the mail of ev. Every mail carries a one-click unsubscribe link (RFC
// 8058); it holds public texts only.
func (p *Pager) subscriberMail(lim subSettings, s Subscriber, ev SubscriberEvent, confirm bool) channel.Mail {
	base := strings.TrimSuffix(p.o.ExternalURL, "/")
	unsub := base + SubscriptionUnsubscribePath + s.ID + "." + s.Secret
	var subject string
	var b strings.Builder
	if confirm {
		subject = "Confirm your subscription to status updates"
		fmt.Fprintf(&b, "Someone (hopefully you) asked for status updates of %s to be sent to this address.\n\n", p.statusPageURL())
		fmt.Fprintf(&b, "To confirm, open this link and press the button on the page:\n%s%s%s.%s\n\n", base, SubscriptionConfirmPath, s.ID, s.ConfirmToken)
		fmt.Fprintf(&b, "If you did not ask for this, ignore this mail: nothing will be sent unless the link is confirmed within %s.\n", lim.PendingTTL)
	} else {
		subject = subscriberSubject(ev)
		if ev.Title != "" {
			fmt.Fprintf(&b, "%s\n\n", ev.Title)
		}
		if ev.Text != "" {
			fmt.Fprintf(&b, "%s\n\n", ev.Text)
		}
		if len(ev.Components) > 0 {
			fmt.Fprintf(&b, "Components: %s\n", strings.Join(ev.Components, ", "))
		}
		if !ev.StartsAt.IsZero() {
			fmt.Fprintf(&b, "Window: %s to %s\n", ev.StartsAt.Format("2006-01-02 15:04 MST"), ev.EndsAt.Format("2006-01-02 15:04 MST"))
		}
		fmt.Fprintf(&b, "Time: %s\n\nStatus page: %s\n", ev.At.Format("2006-01-02 15:04:05 MST"), p.statusPageURL())
	}
	fmt.Fprintf(&b, "\nUnsubscribe: %s\n", unsub)
	return channel.Mail{To: s.Target, From: lim.From, Subject: subject, Body: b.String(), Headers: [][2]string{
		{"List-Unsubscribe", "<" + unsub + ">"},
		{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
	}}
}

var componentStateText = map[string]string{"operational": "Operational", "degraded": "Degraded performance",
	"major_outage": "Major outage", "under_maintenance": "Under maintenance"}

var maintenancePhaseText = map[string]string{MaintenanceScheduled: "Maintenance scheduled",
	MaintenanceInProgress: "Maintenance in progress", MaintenanceCompleted: "Maintenance completed",
	MaintenanceCancelled: "Maintenance cancelled"}

func subscriberSubject(ev SubscriberEvent) string {
	switch ev.Type {
	case SubEventComponent:
		st := componentStateText[ev.Status]
		if st == "" {
			st = ev.Status
		}
		return ev.Title + ": " + st
	case SubEventMaintenance:
		return maintenancePhaseText[ev.Status] + ": " + ev.Title
	default:
		return ev.Title
	}
}
