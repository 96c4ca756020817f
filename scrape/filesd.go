package scrape

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/config"
)

// ErrFileSD wraps every error ReadFileSD returns for a file it cannot use.
var ErrFileSD = errors.New("invalid file_sd file")

// maxFileSDSize bounds how much of a file_sd file is read.
const maxFileSDSize = 64 << 20

// ReadFileSD reads a file_sd file: a JSON (.json) or YAML (.yml, .yaml, or any
// other extension) list of {targets: [...], labels: {...}} objects. Entries
// with invalid label names or an empty target are refused, as Prometheus does.
func ReadFileSD(path string) ([]config.StaticConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read file_sd: %w", err)
	}
	return parseFileSD(b, strings.EqualFold(filepath.Ext(path), ".json"))
}

func parseFileSD(b []byte, isJSON bool) ([]config.StaticConfig, error) {
	if len(b) > maxFileSDSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrFileSD, maxFileSDSize)
	}
	var groups []config.StaticConfig
	if isJSON {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&groups); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFileSD, err)
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&groups); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %w", ErrFileSD, err)
		}
	}
	for i, g := range groups {
		for _, t := range g.Targets {
			if t == "" {
				return nil, fmt.Errorf("%w: group %d: empty target", ErrFileSD, i)
			}
		}
		for n, v := range g.Labels {
			if !model.UTF8Validation.IsValidLabelName(n) {
				return nil, fmt.Errorf("%w: group %d: invalid label name %q", ErrFileSD, i, n)
			}
			if !model.LabelValue(v).IsValid() {
				return nil, fmt.Errorf("%w: group %d: invalid value for label %q", ErrFileSD, i, n)
			}
		}
	}
	return groups, nil
}

// fileStat is what a poll compares to decide whether a file changed.
type fileStat struct {
	modTime time.Time
	size    int64
}

// fileSD tracks the files of one job's file_sd_configs. It is owned by the
// goroutine running Manager.Run.
type fileSD struct {
	patterns    []string
	refresh     time.Duration
	lastRefresh time.Time
	files       map[string]*fileEntry
}

type fileEntry struct {
	stat   fileStat
	groups []config.StaticConfig
}

func newFileSD(cfgs []config.FileSDConfig) *fileSD {
	f := &fileSD{files: map[string]*fileEntry{}}
	for _, c := range cfgs {
		f.patterns = append(f.patterns, c.Files...)
		r := time.Duration(c.RefreshInterval)
		if r <= 0 {
			r = defaultRefreshInterval
		}
		if f.refresh == 0 || r < f.refresh {
			f.refresh = r
		}
	}
	return f
}

// poll re-reads the files that changed since the last poll (all of them when
// force is set or refresh_interval has passed), forgets files that are gone,
// and reports whether the job's targets may have changed. A file that fails to
// read or parse keeps its previous targets; its error is returned.
func (f *fileSD) poll(now time.Time, force bool) (changed bool, errs []error) {
	if len(f.patterns) == 0 {
		return false, nil
	}
	if now.Sub(f.lastRefresh) >= f.refresh {
		force = true
	}
	if force {
		f.lastRefresh = now
	}
	present := map[string]bool{}
	for _, p := range f.patterns {
		matches, err := filepath.Glob(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("file_sd pattern %q: %w", p, err))
			continue
		}
		for _, path := range matches {
			present[path] = true
		}
	}
	for path := range f.files {
		if !present[path] {
			delete(f.files, path)
			changed = true
		}
	}
	for path := range present {
		fi, err := os.Stat(path)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("file_sd: %w", err))
			} else if _, ok := f.files[path]; ok {
				delete(f.files, path)
				changed = true
			}
			continue
		}
		st := fileStat{modTime: fi.ModTime(), size: fi.Size()}
		e, ok := f.files[path]
		if ok && e.stat == st && !force {
			continue
		}
		groups, err := ReadFileSD(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("file_sd %s: %w", path, err))
			if !ok {
				// Remember the stat so a broken new file is not re-read
				// every poll; it has no targets until it is fixed.
				f.files[path] = &fileEntry{stat: st}
			} else {
				e.stat = st
			}
			continue
		}
		if !ok {
			f.files[path] = &fileEntry{stat: st, groups: groups}
			changed = true
			continue
		}
		e.stat = st
		if !equalGroups(e.groups, groups) {
			e.groups = groups
			changed = true
		}
	}
	return changed, errs
}

// groups returns the groups of every file, ordered by path.
func (f *fileSD) groups() []config.StaticConfig {
	paths := make([]string, 0, len(f.files))
	for p := range f.files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var out []config.StaticConfig
	for _, p := range paths {
		out = append(out, f.files[p].groups...)
	}
	return out
}

func equalGroups(a, b []config.StaticConfig) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !slices.Equal(a[i].Targets, b[i].Targets) || len(a[i].Labels) != len(b[i].Labels) {
			return false
		}
		for k, v := range a[i].Labels {
			if w, ok := b[i].Labels[k]; !ok || w != v {
				return false
			}
		}
	}
	return true
}
