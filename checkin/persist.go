package checkin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// ErrCorrupt is wrapped by the error of a state file that cannot be decoded.
var ErrCorrupt = errors.New("corrupt heartbeat state file")

// maxStateFileBytes bounds the state file read at start: room for
// config.MaxCheckins heartbeats with full messages.
const maxStateFileBytes = 64 << 20

const stateVersion = 1

type stateFile struct {
	Version    int              `json:"version"`
	Heartbeats map[string]State `json:"heartbeats"`
}

// load reads the states at path; a missing file is no state.
func load(path string) (map[string]State, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read heartbeat states: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read heartbeat states: %w", err)
	}
	if len(b) > maxStateFileBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, maxStateFileBytes)
	}
	var sf stateFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if sf.Version != stateVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrCorrupt, sf.Version, stateVersion)
	}
	return sf.Heartbeats, nil
}

// moveAside renames a state file that cannot be read to path.corrupt, so
// that it is kept for a person to look at and not overwritten.
func moveAside(path string, log *slog.Logger) {
	if err := os.Rename(path, path+".corrupt"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Error("cannot move the heartbeat state file aside", "path", path, "err", err)
	}
}

// save writes the states if they changed: a temp file, fsynced, renamed
// over the old one, the directory fsynced. A failure is logged and retried
// at the next save.
func (r *Runner) save() {
	if r.opts.StatePath == "" {
		r.mu.Lock()
		r.dirty = false
		r.mu.Unlock()
		return
	}
	r.mu.Lock()
	if !r.dirty {
		r.mu.Unlock()
		return
	}
	sf := stateFile{Version: stateVersion, Heartbeats: make(map[string]State, len(r.entries))}
	for name, e := range r.entries {
		sf.Heartbeats[name] = e.state
	}
	for name, st := range r.loaded { // not yet applied: keep them
		if _, ok := sf.Heartbeats[name]; !ok {
			sf.Heartbeats[name] = st
		}
	}
	r.dirty = false
	r.mu.Unlock()
	if err := writeFile(r.opts.StatePath, sf); err != nil {
		r.opts.Logger.Error("cannot save heartbeat states", "path", r.opts.StatePath, "err", err)
		r.mu.Lock()
		r.dirty = true
		r.mu.Unlock()
	}
}

func writeFile(path string, sf stateFile) (err error) {
	b, err := json.Marshal(sf)
	if err != nil {
		return fmt.Errorf("encode heartbeat states: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write heartbeat states: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("write heartbeat states: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write heartbeat states: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write heartbeat states: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write heartbeat states: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write heartbeat states: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("write heartbeat states: %w", err)
	}
	return nil
}

// Series names written to the store, per heartbeat (label heartbeat).
const (
	SeriesLastSuccess  = "watchdog_checkin_last_success_timestamp_seconds"
	SeriesLastDuration = "watchdog_checkin_last_duration_seconds"
	SeriesUp           = "watchdog_checkin_up"
	// SeriesState is 1 for the heartbeat's status (label state) and 0 for
	// the others, as kube-state-metrics does.
	SeriesState = "watchdog_checkin_state"
)

// writeSeries appends the series of every heartbeat at now.
func (r *Runner) writeSeries(now time.Time) {
	if r.opts.Appender == nil {
		return
	}
	type sample struct {
		l labels.Labels
		v float64
	}
	var samples []sample
	r.mu.Lock()
	for name, e := range r.entries {
		st := e.state.Status(e.spec, now)
		if !e.state.LastSuccess.IsZero() {
			samples = append(samples, sample{labels.FromStrings("__name__", SeriesLastSuccess, "heartbeat", name),
				float64(e.state.LastSuccess.UnixMilli()) / 1e3})
		}
		if e.state.LastDuration > 0 {
			samples = append(samples, sample{labels.FromStrings("__name__", SeriesLastDuration, "heartbeat", name),
				e.state.LastDuration.Seconds()})
		}
		up := 0.0
		if st == StatusNew || st == StatusUp || st == StatusLate {
			up = 1
		}
		samples = append(samples, sample{labels.FromStrings("__name__", SeriesUp, "heartbeat", name), up})
		for _, s := range Statuses {
			v := 0.0
			if s == st {
				v = 1
			}
			samples = append(samples, sample{labels.FromStrings("__name__", SeriesState, "heartbeat", name, "state", string(s)), v})
		}
	}
	r.mu.Unlock()
	app := r.opts.Appender()
	t := now.UnixMilli()
	var failed int
	var lastErr error
	for _, s := range samples {
		if _, err := app.Append(0, s.l, t, s.v); err != nil {
			failed, lastErr = failed+1, err
		}
	}
	if failed > 0 {
		r.opts.Logger.Warn("heartbeat samples refused by the store", "count", failed, "err", lastErr)
	}
	if err := app.Commit(); err != nil {
		r.opts.Logger.Error("cannot write the heartbeat series", "err", err)
	}
}
