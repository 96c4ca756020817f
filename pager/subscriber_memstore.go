package pager

import (
	"maps"
	"slices"
	"strings"
	"time"
)

func (t *memTx) Subscribers() ([]Subscriber, error) {
	out := slices.Collect(maps.Values(t.d.subs))
	slices.SortFunc(out, func(a, b Subscriber) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (t *memTx) Subscriber(id string) (Subscriber, error) {
	s, ok := t.d.subs[id]
	if !ok {
		return Subscriber{}, ErrNotFound
	}
	return s, nil
}

func (t *memTx) SubscriberEvent(key string) (SubscriberEvent, error) {
	ev, ok := t.d.subEvents[key]
	if !ok {
		return SubscriberEvent{}, ErrNotFound
	}
	ev.Components = slices.Clone(ev.Components)
	return ev, nil
}

func (t *memTx) SubscriberNotes(f SubscriberNoteFilter) ([]SubscriberNote, error) {
	var out []SubscriberNote
	for _, n := range t.d.subNotes {
		if f.Match(&n) {
			out = append(out, n)
		}
	}
	return sortNotes(out, f.Limit), nil
}

func (t *memTx) SubscriberMark(key string) (string, error) {
	v, ok := t.d.subMarks[key]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}

func (t *memTx) PutSubscriber(s Subscriber) error {
	save(&t.undo.subs, t.d.subs, s.ID)
	t.d.subs[s.ID] = s
	return nil
}

func (t *memTx) DeleteSubscriber(id string) error {
	if _, ok := t.d.subs[id]; !ok {
		return ErrNotFound
	}
	save(&t.undo.subs, t.d.subs, id)
	delete(t.d.subs, id)
	for k, n := range t.d.subNotes {
		if n.SubscriberID == id {
			save(&t.undo.subNotes, t.d.subNotes, k)
			delete(t.d.subNotes, k)
		}
	}
	return nil
}

func (t *memTx) AddSubscriberEvent(ev SubscriberEvent) (bool, error) {
	if _, ok := t.d.subEvents[ev.Key]; ok {
		return false, nil
	}
	save(&t.undo.subEvents, t.d.subEvents, ev.Key)
	ev.Components = slices.Clone(ev.Components)
	t.d.subEvents[ev.Key] = ev
	return true, nil
}

func (t *memTx) PutSubscriberNote(n SubscriberNote) error {
	save(&t.undo.subNotes, t.d.subNotes, n.ID)
	t.d.subNotes[n.ID] = n
	return nil
}

func (t *memTx) PutSubscriberMark(key, value string) error {
	save(&t.undo.subMarks, t.d.subMarks, key)
	t.d.subMarks[key] = value
	return nil
}

func (t *memTx) PruneSubscriberEvents(before time.Time) error {
	for k, ev := range t.d.subEvents {
		if ev.At.Before(before) {
			save(&t.undo.subEvents, t.d.subEvents, k)
			delete(t.d.subEvents, k)
		}
	}
	for k, n := range t.d.subNotes {
		if n.Status != DeliveryPending && n.CreatedAt.Before(before) {
			save(&t.undo.subNotes, t.d.subNotes, k)
			delete(t.d.subNotes, k)
		}
	}
	return nil
}
