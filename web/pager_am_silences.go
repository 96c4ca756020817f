package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/pager"
)

// amMatcher is Alertmanager's structured matcher.
type amMatcher struct {
	IsEqual *bool  `json:"isEqual"`
	IsRegex bool   `json:"isRegex"`
	Name    string `json:"name"`
	Value   string `json:"value"`
}

type amSilenceStatus struct {
	State string `json:"state"` // expired, active, pending
}

// amSilence is Alertmanager's gettableSilence.
type amSilence struct {
	ID string `json:"id"`
	// Annotations of silences (Alertmanager 0.3x) are not kept: {}.
	Annotations map[string]string `json:"annotations"`
	Status      amSilenceStatus   `json:"status"`
	UpdatedAt   time.Time         `json:"updatedAt"`
	Comment     string            `json:"comment"`
	CreatedBy   string            `json:"createdBy"`
	EndsAt      time.Time         `json:"endsAt"`
	Matchers    []amMatcher       `json:"matchers"`
	StartsAt    time.Time         `json:"startsAt"`
}

// amPostableSilence is Alertmanager's postableSilence.
type amPostableSilence struct {
	ID        string      `json:"id"`
	Comment   string      `json:"comment"`
	CreatedBy string      `json:"createdBy"`
	EndsAt    time.Time   `json:"endsAt"`
	Matchers  []amMatcher `json:"matchers"`
	StartsAt  time.Time   `json:"startsAt"`
}

// amSilenceOf converts a stored silence; its matchers are stored as text.
func amSilenceOf(s pager.Silence, now time.Time) amSilence {
	v := silenceView(s, now)
	out := amSilence{ID: s.ID, Annotations: map[string]string{}, Status: amSilenceStatus{State: v.Status}, UpdatedAt: s.StartsAt,
		Comment: s.Comment, CreatedBy: s.CreatedBy, StartsAt: s.StartsAt, EndsAt: s.EndsAt, Matchers: []amMatcher{}}
	if v.Status == "expired" {
		out.UpdatedAt = s.EndsAt
	}
	for _, ms := range s.Matchers {
		m, err := pager.ParseMatcher(ms)
		if err != nil {
			continue // refused by validation; stored by an older version
		}
		eq := m.Type == labels.MatchEqual || m.Type == labels.MatchRegexp
		out.Matchers = append(out.Matchers, amMatcher{Name: m.Name, Value: m.Value, IsEqual: &eq,
			IsRegex: m.Type == labels.MatchRegexp || m.Type == labels.MatchNotRegexp})
	}
	return out
}

// silenceMatchesFilter reports whether every filter matcher is one of the
// matchers of s: same name, type and value (Alertmanager's
// silence.HasLabelMatchers).
func silenceMatchesFilter(s *amSilence, filter []*labels.Matcher) bool {
	for _, f := range filter {
		if !slices.ContainsFunc(s.Matchers, func(m amMatcher) bool {
			eq := m.IsEqual == nil || *m.IsEqual
			return m.Name == f.Name && m.Value == f.Value && m.IsRegex == (f.Type == labels.MatchRegexp || f.Type == labels.MatchNotRegexp) &&
				eq == (f.Type == labels.MatchEqual || f.Type == labels.MatchRegexp)
		}) {
			return false
		}
	}
	return true
}

// amSilences serves GET /api/v2/silences (filter=MATCHER, repeated; the
// states active, pending and expired, each true by default): active
// silences first (soonest end first), then pending (soonest start), then
// expired (latest end).
func (a *pagerAPI) amSilences(w http.ResponseWriter, r *http.Request) {
	filter, err := parseAMMatchers(r.URL.Query()["filter"])
	if err != nil {
		amError(w, http.StatusBadRequest, err.Error())
		return
	}
	states := map[string]bool{"active": true, "pending": true, "expired": true}
	for name := range states {
		if v := r.URL.Query().Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				amError(w, http.StatusBadRequest, fmt.Sprintf("parse %s: %v", name, err))
				return
			}
			states[name] = b
		}
	}
	list, err := a.o.Pager.Silences()
	if err != nil {
		amPagerError(w, err)
		return
	}
	now := a.now()
	out := make([]amSilence, 0, len(list))
	for _, s := range list {
		if v := amSilenceOf(s, now); states[v.Status.State] && silenceMatchesFilter(&v, filter) {
			out = append(out, v)
		}
	}
	rank := map[string]int{"active": 0, "pending": 1, "expired": 2}
	slices.SortStableFunc(out, func(x, y amSilence) int {
		if d := rank[x.Status.State] - rank[y.Status.State]; d != 0 {
			return d
		}
		switch x.Status.State {
		case "active":
			return x.EndsAt.Compare(y.EndsAt)
		case "pending":
			return x.StartsAt.Compare(y.StartsAt)
		}
		return y.EndsAt.Compare(x.EndsAt)
	})
	writeAM(w, http.StatusOK, out)
}

// amSilence serves GET /api/v2/silence/{id}.
func (a *pagerAPI) amSilence(w http.ResponseWriter, r *http.Request) {
	list, err := a.o.Pager.Silences()
	if err != nil {
		amPagerError(w, err)
		return
	}
	i := slices.IndexFunc(list, func(s pager.Silence) bool { return s.ID == r.PathValue("id") })
	if i < 0 {
		amError(w, http.StatusNotFound, "silence "+r.PathValue("id")+" not found")
		return
	}
	writeAM(w, http.StatusOK, amSilenceOf(list[i], a.now()))
}

// amPostSilence serves POST /api/v2/silences: a postableSilence without id
// is created, one with an id updates that silence (in place when only its
// times, comment or author change, else it is replaced under a new id, as
// Alertmanager does). The answer is {"silenceID": id}. Stored before the
// answer, so it survives a restart; open incidents are re-muted at once.
func (a *pagerAPI) amPostSilence(w http.ResponseWriter, r *http.Request) {
	var b amPostableSilence
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&b); err != nil {
		e := bodyError(err)
		amError(w, e.status(), e.msg)
		return
	}
	if len(b.Matchers) == 0 {
		amError(w, http.StatusBadRequest, "matchers: at least one matcher is required")
		return
	}
	if len(b.Matchers) > maxAMFilters {
		amError(w, http.StatusBadRequest, fmt.Sprintf("%d matchers, at most %d", len(b.Matchers), maxAMFilters))
		return
	}
	s := pager.Silence{ID: b.ID, StartsAt: b.StartsAt, EndsAt: b.EndsAt, CreatedBy: strings.TrimSpace(b.CreatedBy), Comment: b.Comment}
	if s.CreatedBy == "" {
		s.CreatedBy = defaultActor
	}
	for _, m := range b.Matchers {
		typ := labels.MatchEqual
		switch eq := m.IsEqual == nil || *m.IsEqual; {
		case m.IsRegex && eq:
			typ = labels.MatchRegexp
		case m.IsRegex:
			typ = labels.MatchNotRegexp
		case !eq:
			typ = labels.MatchNotEqual
		}
		lm, err := labels.NewMatcher(typ, m.Name, m.Value)
		if err != nil || m.Name == "" {
			amError(w, http.StatusBadRequest, fmt.Sprintf("invalid silence: matcher %q: %v", m.Name, cmpErr(err, "empty label name")))
			return
		}
		s.Matchers = append(s.Matchers, pager.FormatMatcher(lm))
	}
	var id string
	var err error
	if s.ID == "" {
		id, err = a.o.Pager.CreateSilence(s)
	} else {
		id, err = a.o.Pager.UpdateSilence(s)
	}
	if err != nil {
		amPagerError(w, err)
		return
	}
	writeAM(w, http.StatusOK, map[string]string{"silenceID": id})
}

func cmpErr(err error, otherwise string) error {
	if err != nil {
		return err
	}
	return errors.New(otherwise)
}

// amDeleteSilence serves DELETE /api/v2/silence/{id}: the silence expires
// now and what it muted pages again.
func (a *pagerAPI) amDeleteSilence(w http.ResponseWriter, r *http.Request) {
	if err := a.o.Pager.ExpireSilence(r.PathValue("id")); err != nil {
		amPagerError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
