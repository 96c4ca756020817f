package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/internal/secret"
	"github.com/watchdog-sre/watchdog/rules"
	"github.com/watchdog-sre/watchdog/rules/alertmanager"
)

// alertSink receives alerts in the Alertmanager shape: the console, an
// Alertmanager sender, and later the pager.
type alertSink func(alerts ...alertmanager.Alert)

// notifyFunc converts the rule engine's alerts as Prometheus's notifier does
// (external labels added, EndsAt set from ValidUntil or ResolvedAt, a
// generator URL pointing at the expression) and hands them to every sink.
func notifyFunc(externalURL string, ext labels.Labels, sinks ...alertSink) rules.NotifyFunc {
	return func(_ context.Context, expr string, alerts ...*rules.Alert) {
		out := make([]alertmanager.Alert, 0, len(alerts))
		gen := externalURL + "/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1"
		for _, a := range alerts {
			lbls := a.Labels.Map()
			ext.Range(func(l labels.Label) {
				if _, ok := lbls[l.Name]; !ok {
					lbls[l.Name] = l.Value
				}
			})
			am := alertmanager.Alert{
				Labels:       lbls,
				Annotations:  a.Annotations.Map(),
				StartsAt:     a.FiredAt,
				GeneratorURL: gen,
			}
			if am.StartsAt.IsZero() {
				am.StartsAt = a.ActiveAt
			}
			if !a.ResolvedAt.IsZero() {
				am.EndsAt = a.ResolvedAt
			} else {
				am.EndsAt = a.ValidUntil
			}
			out = append(out, am)
		}
		for _, s := range sinks {
			s(out...)
		}
	}
}

// amTarget is one configured Alertmanager: its base URL and, if set, its
// authorization (the credentials file is read at each send).
type amTarget struct {
	url, authType, credentialsFile string
}

// alertmanagerTargets lists every configured Alertmanager.
func alertmanagerTargets(cfg *config.Config) []amTarget {
	var out []amTarget
	for _, am := range cfg.Alerting.Alertmanagers {
		for _, u := range am.URLs() {
			t := amTarget{url: u}
			if a := am.Authorization; a != nil {
				t.authType, t.credentialsFile = a.Type, a.CredentialsFile
			}
			out = append(out, t)
		}
	}
	return out
}

// amAuthorization returns the Sender's Authorization function for targets.
func amAuthorization(targets []amTarget) func(base string) (string, error) {
	byURL := map[string]amTarget{}
	for _, t := range targets {
		byURL[t.url] = t
	}
	return func(base string) (string, error) {
		t := byURL[base]
		if t.credentialsFile == "" {
			return "", nil
		}
		// Read at each attempt, so rotated credentials apply; no log, so
		// that a group-readable file does not warn on every send.
		return secret.Header(t.authType, t.credentialsFile, nil)
	}
}

// ruleFiles expands the rule_files globs of cfg (already absolute after
// config.Load), sorted and without duplicates.
func ruleFiles(patterns []string) ([]string, error) {
	var files []string
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("rule_files %q: %w", p, err)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	return slices.Compact(files), nil
}

// amSenders runs the Alertmanager sender of the current configuration and
// replaces it when a reload changes the Alertmanager URLs. Alerts queued for
// a removed Alertmanager are dropped with it.
type amSenders struct {
	opts alertmanager.Options

	mu      sync.Mutex
	targets []amTarget
	cur     *alertmanager.Sender
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// send hands alerts to the current sender.
func (a *amSenders) send(alerts ...alertmanager.Alert) {
	a.mu.Lock()
	s := a.cur
	a.mu.Unlock()
	if s != nil {
		s.Send(alerts...)
	}
}

// apply starts a sender for targets unless the running one already has them.
func (a *amSenders) apply(ctx context.Context, targets []amTarget) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur != nil && slices.Equal(a.targets, targets) {
		return
	}
	if a.cancel != nil {
		a.cancel()
	}
	a.targets, a.cur, a.cancel = targets, nil, nil
	if len(targets) == 0 {
		return
	}
	opts := a.opts
	opts.URLs = nil
	for _, t := range targets {
		opts.URLs = append(opts.URLs, t.url)
	}
	opts.Authorization = amAuthorization(targets)
	s := alertmanager.New(opts)
	runCtx, cancel := context.WithCancel(ctx)
	a.cur, a.cancel = s, cancel
	a.wg.Go(func() {
		if err := s.Run(runCtx); err != nil && opts.Logger != nil {
			opts.Logger.Error("alertmanager sender stopped", "err", err)
		}
	})
}

// wait returns when every sender started by apply has stopped.
func (a *amSenders) wait() { a.wg.Wait() }
