package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/heartbeat"
	"github.com/watchdog-sre/watchdog/rules"
)

// errHeartbeatRestart refuses a reload that changes the heartbeat section.
var errHeartbeatRestart = errors.New("changing the heartbeat section needs a restart")

// staleEvaluations is how many intervals a rule group may go without an
// evaluation before the heartbeat is withheld.
const staleEvaluations = 3

// groupEval is what the heartbeat's health check needs of a rule group.
type groupEval struct {
	name     string
	interval time.Duration
	last     time.Time // zero before the first evaluation
}

// ruleEvals lists the rule manager's groups for the health check.
func ruleEvals(m *rules.Manager) func() []groupEval {
	return func() []groupEval {
		gs := m.Groups()
		out := make([]groupEval, 0, len(gs))
		for _, g := range gs {
			out = append(out, groupEval{name: g.File() + ":" + g.Name(), interval: g.Interval(), last: g.LastEvaluation()})
		}
		return out
	}
}

// watchdogHealth is the heartbeat's gate: every rule group has been
// evaluated within staleEvaluations of its intervals (a group not yet
// evaluated counts from when the check first saw it, so a group added by
// a reload gets its time too), and the pager, when there is one, is up.
// Without rule groups only the pager is checked. The returned func is
// called by the heartbeat's one goroutine.
func watchdogHealth(groups func() []groupEval, pagerUp func() bool) heartbeat.HealthFunc {
	firstSeen := map[string]time.Time{}
	return func(now time.Time) error {
		if pagerUp != nil && !pagerUp() {
			return errors.New("the pager is down (watchdog_pager_up 0)")
		}
		seen := make(map[string]time.Time, len(firstSeen))
		var stale error
		for _, g := range groups() {
			first, ok := firstSeen[g.name]
			if !ok {
				first = now
			}
			seen[g.name] = first
			last := g.last
			if last.Before(first) {
				last = first
			}
			if age := now.Sub(last); age > staleEvaluations*g.interval && stale == nil {
				stale = fmt.Errorf("rule group %s last evaluated %s ago (interval %s)", g.name, age.Round(time.Second), g.interval)
			}
		}
		firstSeen = seen
		return stale
	}
}

// newHeartbeat builds the sender of the heartbeat section, reading its
// secrets (files refused when other users can read them, see
// readSecretFile, or environment variables).
func newHeartbeat(h *config.HeartbeatConfig, healthy heartbeat.HealthFunc, log *slog.Logger, set *metrics.Set) (*heartbeat.Sender, error) {
	ep, err := heartbeatEndpoint(h, log)
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	return heartbeat.New(heartbeat.Options{
		Endpoint: ep,
		Interval: time.Duration(h.Interval),
		Timeout:  time.Duration(h.Timeout),
		Healthy:  healthy,
		Logger:   log,
		Metrics:  set,
	}), nil
}

// heartbeatEndpoint is the request the section describes.
func heartbeatEndpoint(h *config.HeartbeatConfig, log *slog.Logger) (heartbeat.Endpoint, error) {
	header := http.Header{}
	for k, v := range h.Headers {
		header.Set(k, v)
	}
	if h.Kind == config.HeartbeatOpsgenie {
		key, err := secretValue("heartbeat api key", h.APIKeyFile, h.APIKeyEnv, log)
		if err != nil {
			return heartbeat.Endpoint{}, err
		}
		ep := heartbeat.Opsgenie(h.URL, h.Name, key, h.Method)
		for k, v := range header {
			ep.Header[k] = v
		}
		return ep, nil
	}
	u := h.URL
	if u == "" {
		var err error
		if u, err = secretValue("heartbeat url", h.URLFile, h.URLEnv, log); err != nil {
			return heartbeat.Endpoint{}, err
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return heartbeat.Endpoint{}, errors.New("the heartbeat url (from url_file or url_env) is not an http or https URL")
		}
	}
	if a := h.Authorization; a != nil {
		cred, err := readSecretFile("heartbeat credentials file", a.CredentialsFile, log)
		if err != nil {
			return heartbeat.Endpoint{}, err
		}
		header.Set("Authorization", a.Type+" "+cred)
	}
	return heartbeat.Endpoint{URL: u, Method: h.Method, Header: header, Body: []byte(h.Body)}, nil
}

// secretValue reads a secret from file, else from the environment
// variable env (exactly one is set; config checked that).
func secretValue(what, file, env string, log *slog.Logger) (string, error) {
	if file != "" {
		return readSecretFile(what+" file", file, log)
	}
	v := strings.TrimSpace(os.Getenv(env))
	if v == "" {
		return "", fmt.Errorf("%s: environment variable %s is empty or not set", what, env)
	}
	return v, nil
}

// startHeartbeat builds the sender of the heartbeat section h (nil without
// one), gated on the rule groups of ruler and on pg (nil without a pager).
func startHeartbeat(h *config.HeartbeatConfig, ruler *rules.Manager, pg *pagerRuntime, logger *slog.Logger, set *metrics.Set) (*heartbeat.Sender, error) {
	if h == nil {
		return nil, nil
	}
	var pagerUp func() bool
	if pg != nil {
		pagerUp = pg.healthy
	}
	return newHeartbeat(h, watchdogHealth(ruleEvals(ruler), pagerUp), logger.With("component", "heartbeat"), set)
}
