package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/tsdb"
	"github.com/watchdog-sre/watchdog/web"
)

// configState is what /api/v1/status/config and runtimeinfo say of the
// configuration: the one running, and how the last load went.
type configState struct {
	mu      sync.Mutex
	cfg     *config.Config
	ok      bool
	at      time.Time
	started time.Time
}

func newConfigState(cfg *config.Config, now time.Time) *configState {
	return &configState{cfg: cfg, ok: true, at: now, started: now}
}

// loaded records a successful reload of cfg at now.
func (s *configState) loaded(cfg *config.Config, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg, s.ok, s.at = cfg, true, now
}

// failed records a refused reload: the running configuration stays.
func (s *configState) failed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ok = false
}

// yaml is the running configuration with its secrets redacted.
func (s *configState) yaml() string {
	s.mu.Lock()
	cfg := s.cfg
	s.mu.Unlock()
	return redactConfigYAML(cfg.String())
}

// runtime is the part of runtimeinfo the configuration knows.
func (s *configState) runtime() web.RuntimeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return web.RuntimeInfo{
		StartTime:           s.started.UTC(),
		ReloadConfigSuccess: s.ok,
		LastConfigTime:      s.at.UTC(),
		StorageRetention:    model.Duration(s.cfg.Storage.Retention).String(),
	}
}

// secretKeys are the keys whose values are secrets wherever they appear,
// shown as Prometheus shows its secrets. The configuration refuses most of
// them inline (they come from *_file keys), so this is a second line.
var secretKeys = map[string]bool{
	"password": true, "bearer_token": true, "credentials": true, "api_key": true,
	"routing_key": true, "auth_token": true, "token": true, "webhook_url": true,
	"secret": true, "client_secret": true, "secret_key": true, "access_key": true,
	"service_key": true, "key": true,
}

// secretQueryParams are URL query parameters that carry credentials.
var secretQueryParams = []string{"token", "key", "secret", "password", "passwd", "auth", "sig", "signature", "credential"}

const redacted = "<secret>"

// redactConfigYAML replaces every secret of a configuration document by
// "<secret>": the values of secretKeys, and in any URL the password and
// the query parameters that look like credentials. A document that does
// not parse is not shown at all.
func redactConfigYAML(text string) string {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return "# the configuration cannot be shown: " + err.Error() + "\n"
	}
	redactNode(&doc)
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "# the configuration cannot be shown: " + err.Error() + "\n"
	}
	_ = enc.Close()
	return b.String()
}

func redactNode(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			redactNode(c)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.ScalarNode && secretKeys[strings.ToLower(k.Value)] && v.Value != "" {
				v.Value, v.Tag, v.Style = redacted, "!!str", 0
				continue
			}
			redactNode(v)
		}
	case yaml.ScalarNode:
		n.Value = redactURL(n.Value)
	}
}

// redactURL returns s with the password and the credential-like query
// parameters of a URL replaced; other strings as they are.
func redactURL(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(s, "@") || strings.Contains(s, "?") {
			return redacted // unparsable but may hold credentials
		}
		return s
	}
	changed := false
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "secret")
		changed = true
	}
	if u.RawQuery != "" {
		q := u.Query()
		for name := range q {
			lower := strings.ToLower(name)
			for _, p := range secretQueryParams {
				if strings.Contains(lower, p) {
					q.Set(name, "secret")
					changed = true
				}
			}
		}
		u.RawQuery = q.Encode()
	}
	if !changed {
		return s
	}
	out := u.String()
	out = strings.Replace(out, ":secret@", ":"+redacted+"@", 1)
	return strings.ReplaceAll(out, "=secret", "="+redacted)
}

// flagValues maps each flag of fs to its value, for /api/v1/status/flags.
// Flags only name secret files, never hold secrets.
func flagValues(fs *flag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { out[f.Name] = f.Value.String() })
	return out
}

// tsdbStatus converts the store's cardinality to the API's.
func tsdbStatus(db *tsdb.DB) func(limit int) web.TSDBStatus {
	conv := func(in []tsdb.Stat) []web.TSDBStat {
		out := make([]web.TSDBStat, len(in))
		for i, s := range in {
			out[i] = web.TSDBStat{Name: s.Name, Value: s.Count}
		}
		return out
	}
	return func(limit int) web.TSDBStatus {
		st := db.CardinalityStats(limit)
		return web.TSDBStatus{
			HeadStats: web.HeadStats{NumSeries: st.NumSeries, NumLabelPairs: st.NumLabelPairs,
				ChunkCount: st.ChunkCount, MinTime: st.MinTime, MaxTime: st.MaxTime},
			SeriesCountByMetricName:     conv(st.SeriesCountByMetricName),
			LabelValueCountByLabelName:  conv(st.LabelValueCountByLabelName),
			MemoryInBytesByLabelName:    conv(st.MemoryInBytesByLabelName),
			SeriesCountByLabelValuePair: conv(st.SeriesCountByLabelValuePair),
		}
	}
}

// storeAdmin carries out the admin endpoints on the store.
type storeAdmin struct {
	db           *tsdb.DB
	snapshotPath string
}

var errNoSnapshotPath = fmt.Errorf("%w: snapshots are disabled: set storage.snapshot_path or --storage.snapshot-path", web.ErrUnsupported)

// Snapshot writes the store's snapshot file now; its name is the file's.
// The store is all head, so skipHead would leave nothing: it is ignored.
func (a storeAdmin) Snapshot(bool) (string, error) {
	if a.snapshotPath == "" {
		return "", errNoSnapshotPath
	}
	if err := a.db.Snapshot(); err != nil {
		return "", err
	}
	return filepath.Base(a.snapshotPath), nil
}

// DeleteSeries deletes whole series; one with samples outside the range is
// the client's to fix.
func (a storeAdmin) DeleteSeries(ctx context.Context, mint, maxt int64, ms ...*labels.Matcher) error {
	_, err := a.db.DeleteSeries(ctx, mint, maxt, ms...)
	if errors.Is(err, tsdb.ErrPartialDelete) {
		return fmt.Errorf("%w: %w", web.ErrUnsupported, err)
	}
	return err
}

// CleanTombstones has nothing to do: deletions free their memory at once.
func (storeAdmin) CleanTombstones() error { return nil }

// alertmanagerURLs lists where alerts go, as Prometheus's
// /api/v1/alertmanagers does: each configured Alertmanager's alerts
// endpoint, and the pager's own receiver when there is a pager.
func alertmanagerURLs(ams *amSenders, pagerURL string) func() []string {
	return func() []string {
		var out []string
		for _, t := range ams.current() {
			out = append(out, redactURL(strings.TrimSuffix(t.url, "/")+"/api/v2/alerts"))
		}
		if pagerURL != "" {
			out = append(out, pagerURL+"/api/v2/alerts")
		}
		return out
	}
}

// current returns the targets alerts are sent to now.
func (a *amSenders) current() []amTarget {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.targets)
}
