package pager

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// ActionItemReminders configures the reminders of overdue action items
// (the pager config's action_item_reminders section).
type ActionItemReminders struct {
	// Cadence is the time between two reminders of one overdue item
	// (default DefaultReminderCadence); 0 turns reminders off.
	Cadence *time.Duration `yaml:"cadence"`
}

// Reminder bounds.
const (
	// DefaultReminderCadence is how often an overdue action item's owner
	// is reminded of it unless action_item_reminders.cadence says.
	DefaultReminderCadence = 24 * time.Hour
	// MinReminderCadence bounds the cadence from below (0 aside).
	MinReminderCadence = time.Hour
	// MaxReminderCadence bounds the cadence from above.
	MaxReminderCadence = 366 * 24 * time.Hour
	// reminderRecheck is the longest the reminder loop sleeps: it reads
	// the action items again at least this often to see new ones, closed
	// ones and a reloaded cadence.
	reminderRecheck = time.Hour
	// reminderFloor is the shortest it sleeps (a failing store is not
	// read in a tight loop).
	reminderFloor = time.Minute
)

// ActionItemReminder is the durable record of the reminders of one
// action item: when the last was sent and how many were.
type ActionItemReminder struct {
	IncidentID string    `json:"incident_id"`
	ItemID     string    `json:"item_id"`
	At         time.Time `json:"at"`
	Count      int       `json:"count"`
}

// Key identifies the item the record is of.
func (r ActionItemReminder) Key() string { return r.IncidentID + "/" + r.ItemID }

// validateReminders checks action_item_reminders into cc.
func (c *Config) validateReminders(p *problems, cc *compiled, prefix string) {
	cc.reminderCadence = DefaultReminderCadence
	if c.ActionItemReminders == nil || c.ActionItemReminders.Cadence == nil {
		return
	}
	d := *c.ActionItemReminders.Cadence
	if d != 0 && (d < MinReminderCadence || d > MaxReminderCadence) {
		p.add(prefix+".action_item_reminders.cadence", "must be 0 (off) or between %s and %s", MinReminderCadence, MaxReminderCadence)
		return
	}
	cc.reminderCadence = d
}

// ReminderCadence returns the time between two reminders of an overdue
// action item; 0 means reminders are off.
func (c *Config) ReminderCadence() time.Duration {
	if c.c == nil {
		return DefaultReminderCadence
	}
	return c.c.reminderCadence
}

// remindLoop reminds the owners of overdue open action items, each at
// most once per cadence, until ctx ends. It runs inside escalate, so only
// the replica that holds the lease sends reminders.
func (p *Pager) remindLoop(ctx context.Context, token int64) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := p.now()
		next := p.remindDue(ctx, token, now)
		t.Reset(min(max(next.Sub(now), reminderFloor), reminderRecheck))
	}
}

// remindDue sends the reminders due at now and returns when the next one
// falls due (at most reminderRecheck ahead).
func (p *Pager) remindDue(ctx context.Context, token int64, now time.Time) time.Time {
	next := now.Add(reminderRecheck)
	cfg := p.config()
	cadence := cfg.ReminderCadence()
	if cadence <= 0 || (token != 0 && !p.leaseLive()) {
		return next
	}
	items, err := p.ActionItems(ActionItemFilter{Status: ActionOpen})
	if err != nil {
		p.log.Error("pager: action item reminders: read action items", "err", err)
		return next
	}
	var sent map[string]ActionItemReminder
	err = p.store.View(func(tx ReadTx) error {
		list, err := tx.ActionItemReminders()
		sent = make(map[string]ActionItemReminder, len(list))
		for _, r := range list {
			sent[r.Key()] = r
		}
		return err
	})
	if err != nil {
		p.log.Error("pager: action item reminders: read the reminders sent", "err", err)
		return next
	}
	for _, it := range items {
		u := cfg.User(it.Owner)
		if it.Due.IsZero() || u == nil || ctx.Err() != nil {
			continue
		}
		r := sent[ActionItemReminder{IncidentID: it.IncidentID, ItemID: it.ID}.Key()]
		due := it.Due.Add(24 * time.Hour) // overdue from the end of its due day
		if !r.At.IsZero() {
			due = latest(due, r.At.Add(cadence))
		}
		due = cfg.Awake(it.Owner, latest(due, now)) // low urgency: waking hours only
		if due.After(now) {
			next = earliest(next, due)
			continue
		}
		r = ActionItemReminder{IncidentID: it.IncidentID, ItemID: it.ID, At: now.UTC(), Count: r.Count + 1}
		if !p.recordReminder(r) {
			continue
		}
		next = earliest(next, now.Add(cadence))
		p.sendReminder(ctx, u, it, r)
	}
	return next
}

// recordReminder commits r before the reminder is sent: a crash between
// the two loses that one reminder rather than sending it twice.
func (p *Pager) recordReminder(r ActionItemReminder) bool {
	var err error
	p.mu.Lock()
	p.asLeader(func() { err = p.update(func(tx Tx) error { return tx.PutActionItemReminder(r) }) })
	p.mu.Unlock()
	if err != nil {
		p.log.Error("pager: action item reminders: record a reminder", "incident", r.IncidentID, "item", r.ItemID, "err", err)
		return false
	}
	return true
}

// sendReminder notifies the owner of an overdue item through the first
// step of their low urgency notification rules (every method of it):
// push, e-mail or Slack, never a call or a text.
func (p *Pager) sendReminder(ctx context.Context, u *User, it ActionItemRef, r ActionItemReminder) {
	rules := u.rulesFor(UrgencyLow)
	if len(rules) == 0 {
		p.log.Warn("pager: action item reminders: the owner has no quiet notification method", "user", u.Name)
		return
	}
	due := it.Due.Format(time.DateOnly)
	for _, rule := range rules {
		if rule.After != rules[0].After || !quiet(rule.Method) {
			continue
		}
		m := channel.Message{
			IncidentID: it.IncidentID, DedupKey: "action-item:" + it.IncidentID + ":" + it.ID,
			Key:   "reminder:" + it.IncidentID + ":" + it.ID + ":" + strconv.Itoa(r.Count) + ":" + rule.Method,
			Event: channel.EventTrigger, Title: "Overdue action item: " + it.Title,
			Summary:  fmt.Sprintf("Due %s, from the postmortem of incident %s. Close it when done.", due, it.IncidentID),
			Severity: "info", Urgency: UrgencyLow, Source: "watchdog", ExternalURL: p.o.ExternalURL, Time: r.At,
			Recipient:   channel.Contact{Name: u.Name, Address: u.Contact.Address(rule.Method), TimeZone: u.TimeZone},
			Annotations: map[string]string{"action_item": it.Title, "due": due, "postmortem": p.postmortemURL(it.IncidentID)},
		}
		ch := p.o.Channels[rule.Method]
		if ch == nil {
			p.log.Error("pager: action item reminders: no channel", "method", rule.Method)
			continue
		}
		retrier := channel.NewRetrier(channel.RetrierOptions{Policy: p.o.Retry, Metrics: p.o.Metrics, Logger: p.log})
		if _, err := retrier.Send(ctx, ch, m); err != nil {
			p.log.Error("pager: action item reminders: send", "user", u.Name, "method", rule.Method, "err", err)
			p.inc("watchdog_pager_reminder_errors_total")
			continue
		}
		p.inc("watchdog_pager_reminders_sent_total")
	}
}

// postmortemURL is the console page of incident id's postmortem ("" when
// the external URL is not known).
func (p *Pager) postmortemURL(id string) string {
	if p.o.ExternalURL == "" {
		return ""
	}
	return p.o.ExternalURL + "/incidents/" + id + "/postmortem"
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
