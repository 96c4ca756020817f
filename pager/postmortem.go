package pager

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// PostmortemState is where a postmortem document is in its review.
type PostmortemState string

// The postmortem states: draft → in review → published; a document in
// review may go back to draft, a published one back to review.
const (
	PostmortemDraft     PostmortemState = "draft"
	PostmortemInReview  PostmortemState = "in_review"
	PostmortemPublished PostmortemState = "published"
)

// PostmortemSections are the Markdown sections of a postmortem.
type PostmortemSections struct {
	Summary             string `json:"summary"`
	Impact              string `json:"impact"`
	Timeline            string `json:"timeline"`
	RootCause           string `json:"root_cause"`
	ContributingFactors string `json:"contributing_factors"`
	WentWell            string `json:"what_went_well"`
	Lessons             string `json:"lessons"`
}

// PostmortemSection names one section: its JSON key and its heading.
type PostmortemSection struct {
	Key, Heading string
	Field        func(*PostmortemSections) *string
}

// PostmortemSectionList lists the sections in document order.
var PostmortemSectionList = []PostmortemSection{
	{"summary", "Summary", func(s *PostmortemSections) *string { return &s.Summary }},
	{"impact", "Impact", func(s *PostmortemSections) *string { return &s.Impact }},
	{"timeline", "Timeline", func(s *PostmortemSections) *string { return &s.Timeline }},
	{"root_cause", "Root cause", func(s *PostmortemSections) *string { return &s.RootCause }},
	{"contributing_factors", "Contributing factors", func(s *PostmortemSections) *string { return &s.ContributingFactors }},
	{"what_went_well", "What went well", func(s *PostmortemSections) *string { return &s.WentWell }},
	{"lessons", "Lessons", func(s *PostmortemSections) *string { return &s.Lessons }},
}

// PostmortemRevision is a previous version of a postmortem, kept when it
// was replaced: its sections and state, and who wrote it when.
type PostmortemRevision struct {
	Version  int                `json:"version"`
	State    PostmortemState    `json:"state"`
	Sections PostmortemSections `json:"sections"`
	At       time.Time          `json:"at"`
	By       string             `json:"by"`
	Via      string             `json:"via,omitempty"`
}

// ActionItem is a follow-up of a postmortem, owned by a pager user.
type ActionItem struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Owner     string    `json:"owner"`
	Due       time.Time `json:"due"` // a UTC date (midnight)
	Status    string    `json:"status"`
	Link      string    `json:"link,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	DoneAt    time.Time `json:"done_at,omitzero"`
	DoneBy    string    `json:"done_by,omitempty"`
}

// Action item statuses.
const (
	ActionOpen = "open"
	ActionDone = "done"
)

// Overdue reports whether the item is open past its due date at now.
func (a ActionItem) Overdue(now time.Time) bool {
	return a.Status == ActionOpen && !a.Due.IsZero() && now.After(a.Due.Add(24*time.Hour))
}

// Postmortem is the postmortem document of an incident. Version grows
// with every change of its sections or state; an edit names the version
// it started from and is refused (ErrStalePostmortem) when another edit
// came first. History keeps the previous versions, newest last, up to
// MaxPostmortemHistory.
type Postmortem struct {
	IncidentID  string               `json:"incident_id"`
	Title       string               `json:"title"`
	Version     int                  `json:"version"`
	State       PostmortemState      `json:"state"`
	Sections    PostmortemSections   `json:"sections"`
	CreatedAt   time.Time            `json:"created_at"`
	CreatedBy   string               `json:"created_by"`
	UpdatedAt   time.Time            `json:"updated_at"`
	UpdatedBy   string               `json:"updated_by"`
	UpdatedVia  string               `json:"updated_via,omitempty"`
	History     []PostmortemRevision `json:"history,omitempty"`
	ActionItems []ActionItem         `json:"action_items,omitempty"`
	NextItem    int                  `json:"next_item,omitempty"`
}

// Clone returns a deep copy.
func (pm Postmortem) Clone() Postmortem {
	pm.History = slices.Clone(pm.History)
	pm.ActionItems = slices.Clone(pm.ActionItems)
	return pm
}

// Postmortem errors.
var (
	// ErrBadPostmortem: a section too long, an unknown state or a
	// transition that is not allowed, a malformed action item.
	ErrBadPostmortem = errors.New("invalid postmortem")
	// ErrStalePostmortem: the edit started from an older version.
	ErrStalePostmortem = errors.New("postmortem changed since it was loaded")
	// ErrPostmortemExists: the incident has a postmortem already.
	ErrPostmortemExists = errors.New("postmortem exists")
)

// Postmortem limits.
const (
	// MaxPostmortemBytes bounds the sections of one version together.
	MaxPostmortemBytes = 128 << 10
	// MaxPostmortemHistory is how many previous versions are kept.
	MaxPostmortemHistory = 50
	// MaxActionItems bounds the action items of one postmortem.
	MaxActionItems    = 200
	maxActionTitleLen = 300
	maxActionLinkLen  = 2048
)

func checkSections(s *PostmortemSections) error {
	n := 0
	for _, sec := range PostmortemSectionList {
		v := *sec.Field(s)
		if !utf8.ValidString(v) {
			return fmt.Errorf("%w: %s is not UTF-8", ErrBadPostmortem, sec.Key)
		}
		n += len(v)
	}
	if n > MaxPostmortemBytes {
		return fmt.Errorf("%w: sections total %d bytes, at most %d", ErrBadPostmortem, n, MaxPostmortemBytes)
	}
	return nil
}

// Postmortem returns the postmortem document of incident id, or
// ErrNotFound.
func (p *Pager) Postmortem(id string) (Postmortem, error) {
	var pm Postmortem
	err := p.store.View(func(tx ReadTx) error {
		var err error
		pm, err = tx.Postmortem(id)
		return err
	})
	return pm, err
}

// CreatePostmortem stores a postmortem for incident id from draft (the
// generated sections) as version 1 in state draft. It fails with
// ErrNotFound for an unknown incident and ErrPostmortemExists when there
// is one already.
func (p *Pager) CreatePostmortem(id string, draft PostmortemSections, by Actor) (Postmortem, error) {
	if err := checkSections(&draft); err != nil {
		return Postmortem{}, err
	}
	now := p.now()
	var pm Postmortem
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.update(func(tx Tx) error {
		st, err := tx.Incident(id)
		if err != nil {
			return err
		}
		if _, err := tx.Postmortem(id); err == nil {
			return ErrPostmortemExists
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		pm = Postmortem{IncidentID: id, Title: st.Title, Version: 1, State: PostmortemDraft, Sections: draft,
			CreatedAt: now, CreatedBy: by.User, UpdatedAt: now, UpdatedBy: by.User, UpdatedVia: by.Via}
		return tx.PutPostmortem(pm)
	})
	if err != nil {
		return Postmortem{}, fmt.Errorf("create postmortem: %w", err)
	}
	return pm, nil
}

// EditPostmortem replaces the sections of incident id's postmortem, if it
// is still at version; the previous version goes to the history. A
// published postmortem is not edited (move it back to review first).
func (p *Pager) EditPostmortem(id string, version int, s PostmortemSections, by Actor) (Postmortem, error) {
	if err := checkSections(&s); err != nil {
		return Postmortem{}, err
	}
	return p.changePostmortem(id, version, by, func(pm *Postmortem) error {
		if pm.State == PostmortemPublished {
			return fmt.Errorf("%w: it is published; move it back to review to edit", ErrBadPostmortem)
		}
		pm.Sections = s
		return nil
	})
}

// SetPostmortemState moves incident id's postmortem to state, if it is
// still at version: draft ↔ in review → published → in review.
func (p *Pager) SetPostmortemState(id string, version int, state PostmortemState, by Actor) (Postmortem, error) {
	return p.changePostmortem(id, version, by, func(pm *Postmortem) error {
		ok := false
		switch pm.State {
		case PostmortemDraft:
			ok = state == PostmortemInReview
		case PostmortemInReview:
			ok = state == PostmortemDraft || state == PostmortemPublished
		case PostmortemPublished:
			ok = state == PostmortemInReview
		}
		if !ok {
			return fmt.Errorf("%w: cannot go from %q to %q", ErrBadPostmortem, pm.State, state)
		}
		pm.State = state
		return nil
	})
}

func (p *Pager) changePostmortem(id string, version int, by Actor, fn func(*Postmortem) error) (Postmortem, error) {
	now := p.now()
	var pm Postmortem
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.update(func(tx Tx) error {
		var err error
		if pm, err = tx.Postmortem(id); err != nil {
			return err
		}
		if pm.Version != version {
			return fmt.Errorf("%w: at version %d, the edit started from %d", ErrStalePostmortem, pm.Version, version)
		}
		prev := PostmortemRevision{Version: pm.Version, State: pm.State, Sections: pm.Sections,
			At: pm.UpdatedAt, By: pm.UpdatedBy, Via: pm.UpdatedVia}
		if err := fn(&pm); err != nil {
			return err
		}
		pm.History = append(pm.History, prev)
		if n := len(pm.History) - MaxPostmortemHistory; n > 0 {
			pm.History = slices.Delete(pm.History, 0, n)
		}
		pm.Version++
		pm.UpdatedAt, pm.UpdatedBy, pm.UpdatedVia = now, by.User, by.Via
		return tx.PutPostmortem(pm)
	})
	if err != nil {
		return Postmortem{}, fmt.Errorf("change postmortem: %w", err)
	}
	return pm, nil
}

// AddActionItem adds an open action item to incident id's postmortem and
// returns it with its ID. The owner must be a pager user; the link, if
// any, an absolute http or https URL.
func (p *Pager) AddActionItem(id string, it ActionItem, by Actor) (ActionItem, error) {
	it.Title = strings.TrimSpace(it.Title)
	if err := p.checkActionItem(&it); err != nil {
		return ActionItem{}, err
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.update(func(tx Tx) error {
		pm, err := tx.Postmortem(id)
		if err != nil {
			return err
		}
		if len(pm.ActionItems) >= MaxActionItems {
			return fmt.Errorf("%w: at most %d action items", ErrBadPostmortem, MaxActionItems)
		}
		pm.NextItem++
		it.ID = strconv.Itoa(pm.NextItem)
		it.Status, it.CreatedAt, it.CreatedBy = ActionOpen, now, by.User
		it.Due = it.Due.UTC().Truncate(24 * time.Hour)
		pm.ActionItems = append(pm.ActionItems, it)
		return tx.PutPostmortem(pm)
	})
	if err != nil {
		return ActionItem{}, fmt.Errorf("add action item: %w", err)
	}
	return it, nil
}

func (p *Pager) checkActionItem(it *ActionItem) error {
	if it.Title == "" || len(it.Title) > maxActionTitleLen || !utf8.ValidString(it.Title) {
		return fmt.Errorf("%w: a title of 1 to %d bytes is required", ErrBadPostmortem, maxActionTitleLen)
	}
	if p.config().User(it.Owner) == nil {
		return fmt.Errorf("%w: owner %q is not a pager user", ErrBadPostmortem, it.Owner)
	}
	if it.Link != "" {
		u, err := url.Parse(it.Link)
		if len(it.Link) > maxActionLinkLen || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: the link must be an http or https URL", ErrBadPostmortem)
		}
	}
	return nil
}

// SetActionItemStatus marks action item itemID of incident id's
// postmortem open or done.
func (p *Pager) SetActionItemStatus(id, itemID, status string, by Actor) (ActionItem, error) {
	if status != ActionOpen && status != ActionDone {
		return ActionItem{}, fmt.Errorf("%w: status must be open or done", ErrBadPostmortem)
	}
	now := p.now()
	var it ActionItem
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.update(func(tx Tx) error {
		pm, err := tx.Postmortem(id)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(pm.ActionItems, func(a ActionItem) bool { return a.ID == itemID })
		if i < 0 {
			return ErrNotFound
		}
		a := &pm.ActionItems[i]
		a.Status, a.DoneAt, a.DoneBy = status, time.Time{}, ""
		if status == ActionDone {
			a.DoneAt, a.DoneBy = now, by.User
		}
		it = *a
		return tx.PutPostmortem(pm)
	})
	if err != nil {
		return ActionItem{}, fmt.Errorf("set action item: %w", err)
	}
	return it, nil
}

// ActionItemFilter selects action items; zero fields select everything.
type ActionItemFilter struct {
	Status  string
	Owner   string
	Overdue bool
}

// ActionItemRef is an action item with the incident of its postmortem.
type ActionItemRef struct {
	IncidentID string `json:"incident_id"`
	ActionItem
	Overdue bool `json:"overdue"`
}

// ActionItems returns the action items of every postmortem that f
// selects, by due date then incident and item.
func (p *Pager) ActionItems(f ActionItemFilter) ([]ActionItemRef, error) {
	now := p.now()
	var out []ActionItemRef
	err := p.store.View(func(tx ReadTx) error {
		pms, err := tx.Postmortems()
		if err != nil {
			return err
		}
		for _, pm := range pms {
			for _, a := range pm.ActionItems {
				od := a.Overdue(now)
				if (f.Status != "" && a.Status != f.Status) || (f.Owner != "" && a.Owner != f.Owner) || (f.Overdue && !od) {
					continue
				}
				out = append(out, ActionItemRef{IncidentID: pm.IncidentID, ActionItem: a, Overdue: od})
			}
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b ActionItemRef) int { return a.Due.Compare(b.Due) })
	return out, err
}
