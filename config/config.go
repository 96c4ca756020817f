// Package config is the watchdog's configuration file model: a Prometheus-compatible
// YAML document (global, scrape_configs, rule_files) plus the watchdog's own sections
// (storage, and later alerting and pager). It is a leaf package: it imports nothing
// of the watchdog, and every other package takes the parts of it that concern it.
//
// Load and Parse decode the YAML through yaml.Node so that every problem is
// reported as "file:line: key.path: message", all of a file's problems at
// once, each wrapping ErrInvalid. Unknown keys are errors, and secrets are
// never written inline: they are read from files named by *_file keys.
package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/internal/dburl"
	"github.com/watchdog-sre/watchdog/internal/yamlnode"
)

// Load reads the configuration file at path, parses and validates it, makes
// the relative paths inside it (rule_files, file_sd_configs files, *_file
// secrets, storage.snapshot_path, storage.chunks_dir) absolute against the
// file's directory, checks that the secret files can be read and that
// directories are directories, and sets Config.Path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	c, r := parse(data, path)
	if err := r.Err(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	c.Path = path
	for _, f := range c.files() {
		if *f.ptr == "" {
			continue
		}
		*f.ptr = resolve(dir, *f.ptr)
		if f.secret {
			if err := checkReadable(*f.ptr); err != nil {
				r.errorf(f.path, "cannot read secret file: %s", err)
			}
		}
		if f.dir {
			if err := checkDirPath(*f.ptr); err != nil {
				r.errorf(f.path, "%s", err)
			}
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes and validates a configuration document. filename is used in
// error messages only: Parse does not touch the file system, so relative
// paths stay as written and Config.Path is "".
func Parse(data []byte, filename string) (*Config, error) {
	c, r := parse(data, filename)
	if err := r.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func parse(data []byte, filename string) (*Config, *report) {
	r := newReport(filename)
	c := &Config{}
	root, ok := parseYAML(data, r)
	if ok && root != nil {
		decode(r, root, c)
	}
	if !ok {
		return nil, r
	}
	r.decoded = len(r.Errs)
	c.validate(r)
	if len(r.Errs) > 0 {
		return nil, r
	}
	return c, r
}

// parseYAML parses one YAML document into a node tree. A nil node with ok
// means an empty document.
func parseYAML(data []byte, r *report) (root *yaml.Node, ok bool) {
	doc := yamlnode.Parse(data)
	switch {
	case doc.Empty:
		return nil, true
	case doc.Err != nil:
		r.AddYAMLError(doc.Err)
		tabHint(data, r)
		return nil, false
	case doc.ExtraErr != nil:
		r.AddYAMLError(doc.ExtraErr)
		return nil, false
	case doc.Extra != nil:
		r.add(doc.Extra.Line, "", "more than one YAML document")
		return nil, false
	}
	return doc.Root, true
}

// tabHint explains a syntax error on a line indented with a tab, the most
// common cause of "found character that cannot start any token".
func tabHint(data []byte, r *report) {
	lines := bytes.Split(data, []byte("\n"))
	for _, e := range r.Errs {
		if e.Line > 0 && e.Line <= len(lines) {
			l := lines[e.Line-1]
			if i := bytes.IndexByte(l, '\t'); i >= 0 && len(bytes.TrimLeft(l[:i], " ")) == 0 {
				e.Msg += " (YAML indents with spaces, not tabs)"
			}
		}
	}
}

// fileRef is a path-valued field of the configuration.
type fileRef struct {
	ptr    *string
	path   string // key path, for errors
	secret bool   // must be readable at load time
	dir    bool   // a directory, or none yet where one can be created
}

// files lists the path-valued fields that Load resolves. A new section with
// file names adds them here.
func (c *Config) files() []fileRef {
	var out []fileRef
	for i := range c.RuleFiles {
		out = append(out, fileRef{ptr: &c.RuleFiles[i], path: fmt.Sprintf("rule_files[%d]", i)})
	}
	for i, sc := range c.ScrapeConfigs {
		p := fmt.Sprintf("scrape_configs[%d]", i)
		for j := range sc.FileSDConfigs {
			for k := range sc.FileSDConfigs[j].Files {
				out = append(out, fileRef{ptr: &sc.FileSDConfigs[j].Files[k], path: fmt.Sprintf("%s.file_sd_configs[%d].files[%d]", p, j, k)})
			}
		}
		if a := sc.Authorization; a != nil {
			out = append(out, fileRef{ptr: &a.CredentialsFile, path: p + ".authorization.credentials_file", secret: true})
		}
		if b := sc.BasicAuth; b != nil {
			out = append(out, fileRef{ptr: &b.PasswordFile, path: p + ".basic_auth.password_file", secret: true})
		}
		out = append(out, fileRef{ptr: &sc.BearerTokenFile, path: p + ".bearer_token_file", secret: true})
	}
	for i, am := range c.Alerting.Alertmanagers {
		if am != nil && am.Authorization != nil {
			out = append(out, fileRef{ptr: &am.Authorization.CredentialsFile,
				path: fmt.Sprintf("alerting.alertmanagers[%d].authorization.credentials_file", i), secret: true})
		}
	}
	out = append(out, fileRef{ptr: &c.Storage.SnapshotPath, path: "storage.snapshot_path"})
	out = append(out, fileRef{ptr: &c.Storage.ChunksDir, path: "storage.chunks_dir", dir: true})
	if !dburl.IsPostgres(c.Storage.PagerDB) {
		out = append(out, fileRef{ptr: &c.Storage.PagerDB, path: "storage.pager_db"})
	}
	out = append(out, fileRef{ptr: &c.Storage.PagerDBFile, path: "storage.pager_db_file", secret: true})
	out = append(out, c.Heartbeat.files("heartbeat")...)
	out = append(out, checkinFiles("heartbeats", c.Heartbeats)...)
	for i, rw := range c.RemoteWrite {
		if rw != nil {
			out = append(out, rw.files(fmt.Sprintf("remote_write[%d]", i))...)
		}
	}
	out = append(out, c.Datasource.files("datasource")...)
	out = append(out, c.probeFiles()...)
	return out
}

func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func checkReadable(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	return nil
}

// String returns the effective configuration (defaults filled in) as YAML,
// for a status page. Secrets are held in the configuration only as the
// names of the files and variables they are read from, except for the
// password a storage.pager_db URL may carry, which is redacted; a future
// inline-secret field must marshal as "<secret>".
func (c *Config) String() string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	shown := *c
	shown.Storage.PagerDB = dburl.Redact(c.Storage.PagerDB)
	if err := enc.Encode(&shown); err != nil {
		return "# cannot marshal configuration: " + err.Error() + "\n"
	}
	_ = enc.Close()
	return b.String()
}

// checkDirPath checks that p is a directory, or that it does not exist and
// its nearest existing ancestor is one (so that it can be created at start;
// whether it is writable is found out then).
func checkDirPath(p string) error {
	for q := p; ; q = filepath.Dir(q) {
		st, err := os.Stat(q)
		switch {
		case err == nil && st.IsDir():
			return nil
		case err == nil:
			return fmt.Errorf("%s is not a directory", q)
		case filepath.Dir(q) == q:
			return err
		}
	}
}
