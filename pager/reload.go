package pager

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrInUse is wrapped by every reason CheckReload refuses a configuration:
// it removes or renames something open incidents still use.
var ErrInUse = errors.New("used by open incidents")

// CheckReload reports whether next may replace old while the incidents of
// open are open. It is the reload rule of the package (see Reload):
//
//   - an escalation policy an open incident escalates along (its own or a
//     parallel one of a major incident) must still exist in next;
//   - a user an open incident will still notify (a pending personal step)
//     or has been reassigned to must still exist in next;
//   - a schedule that a level of such a policy targets in old must still
//     exist in next (the incident may enter that level again).
//
// Everything else may change. The error joins one error per missing name,
// each wrapping ErrInUse and naming the incidents, e.g.
// `escalation policy "db" is used by open incidents inc-3, inc-7`. Resolved
// incidents in open are ignored. CheckReload is a pure function.
func CheckReload(open []IncidentState, old, next *Config) error {
	type uses map[string]map[string]bool // name → incident IDs
	policies, users, schedules := uses{}, uses{}, uses{}
	add := func(u uses, name, id string) {
		if name == "" {
			return
		}
		if u[name] == nil {
			u[name] = map[string]bool{}
		}
		u[name][id] = true
	}
	for i := range open {
		st := &open[i]
		if !st.Open() {
			continue
		}
		pols := []string{st.Policy}
		planned := slices.Clone(st.Planned)
		for _, e := range st.Parallel {
			pols = append(pols, e.Policy)
			planned = append(planned, e.Planned...)
		}
		for _, name := range pols {
			add(policies, name, st.ID)
			if pol := old.Policy(name); pol != nil {
				for _, l := range pol.Levels {
					for _, t := range l.Targets {
						if kind, sched, _ := strings.Cut(t, ":"); kind == "schedule" {
							add(schedules, sched, st.ID)
						}
					}
				}
			}
		}
		add(users, st.Assignee, st.ID)
		for _, p := range planned {
			add(users, p.User, st.ID)
		}
	}
	var errs []error
	check := func(what string, u uses, exists func(string) bool) {
		for _, name := range slices.Sorted(maps.Keys(u)) {
			if exists(name) {
				continue
			}
			ids := slices.SortedFunc(maps.Keys(u[name]), compareIDs)
			errs = append(errs, fmt.Errorf("%s %q is %w %s", what, name, ErrInUse, strings.Join(ids, ", ")))
		}
	}
	check("escalation policy", policies, func(n string) bool { return next.Policy(n) != nil })
	check("schedule", schedules, func(n string) bool { return next.Schedule(n) != nil })
	check("user", users, func(n string) bool { return next.User(n) != nil })
	return errors.Join(errs...)
}

// compareIDs orders incident IDs by length, then text, so that inc-9 comes
// before inc-10.
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// CheckReload reports whether Reload would accept c now (see the package
// function CheckReload). A caller that reloads several components checks
// them all before committing any; Reload checks again.
func (p *Pager) CheckReload(c *Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	open, err := p.checkReloadLocked(c)
	if err != nil {
		return err
	}
	return CheckReload(open, p.config(), c)
}

// checkReloadLocked checks that c was validated and returns the open
// incidents, sorted; p.mu is held.
func (p *Pager) checkReloadLocked(c *Config) ([]IncidentState, error) {
	if c == nil || c.c == nil {
		return nil, ErrNotValidated
	}
	if err := p.loadOpen(); err != nil {
		return nil, fmt.Errorf("load open incidents: %w", err)
	}
	return p.open.sorted(), nil
}

// Reload switches to a new validated config, or refuses it, changing
// nothing, when CheckReload does. The reload rule:
//
//   - A reload may not remove or rename what an open incident uses: its
//     escalation policies, the users it will still notify or is assigned
//     to, the schedules its policies target (CheckReload names them).
//   - Open incidents keep the route settings they were opened with;
//     everything else is looked up in the new config from the next step
//     on: a level entered later resolves its targets in the new config, so
//     a user no longer in the config is never paged again, and a personal
//     step whose user disappeared anyway (a restart with another config)
//     is skipped with a timeline entry.
//   - New timings apply to steps that have not fired yet: the next level
//     change (LevelAt + the level's new escalate_after), the pending
//     personal steps of the current level (LevelAt + the rule's new
//     after) and an acknowledgement's timeout (AckedAt + the new
//     ack_timeout). A step whose new time has passed fires at once. Each
//     incident whose timers moved gets a timeline entry.
//
// All open incidents are re-stepped in one transaction; if it fails the
// old config stays and the error is returned.
func (p *Pager) Reload(c *Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	open, err := p.checkReloadLocked(c)
	if err != nil {
		return err
	}
	old := p.config()
	if err := CheckReload(open, old, c); err != nil {
		return err
	}
	p.cfg.Store(c)
	cs := make([]change, 0, len(open))
	for _, st := range open {
		cs = append(cs, change{st: st, ev: Reconfigured{}})
	}
	if err := p.applyAll(cs, nil); err != nil {
		p.cfg.Store(old)
		return fmt.Errorf("apply the new config to %d open incident(s): %w", len(cs), err)
	}
	p.signal()
	return nil
}
