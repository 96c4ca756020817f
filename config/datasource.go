package config

import (
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// DefaultDatasourceTimeout is the timeout of one datasource query.
const DefaultDatasourceTimeout = model.Duration(30 * time.Second)

// DatasourceConfig is the `datasource:` section (vmalert's model): when set,
// every rule group's PromQL evaluates against this Prometheus query API
// (URL + /api/v1/query) instead of the local store, and alert state is
// restored from it at start. Recording results and ALERTS series are still
// written locally, from where remote_write ships them. Native (`series` +
// `when`) rules are refused while it is set. Secrets come from files only.
// The section is read at start; a reload that changes it is refused.
type DatasourceConfig struct {
	// URL is the base URL of the query API, such as http://127.0.0.1:8428
	// or https://mimir.example/prometheus.
	URL string `yaml:"url"`
	// Timeout of one query (default 30s).
	Timeout model.Duration `yaml:"timeout"`
	// Headers are sent with every query (X-Scope-OrgID...); not for
	// secrets (see Authorization).
	Headers map[string]string `yaml:"headers,omitempty"`
	// Authorization sends "Authorization: <type> <credentials_file contents>".
	Authorization *Authorization `yaml:"authorization,omitempty"`
	// BasicAuth sends basic auth with the password of password_file.
	BasicAuth *BasicAuth `yaml:"basic_auth,omitempty"`
}

func (d *DatasourceConfig) validate(r *report, path string) {
	if d == nil {
		return
	}
	if d.URL == "" {
		r.errorf(path+".url", "url is required")
	} else if u, err := url.Parse(d.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.errorf(path+".url", "%q is not an http or https URL", d.URL)
	} else if u.RawQuery != "" || u.Fragment != "" {
		r.errorf(path+".url", "%q: the base URL takes no query or fragment (/api/v1/query is appended)", d.URL)
	} else if u.User != nil {
		r.errorf(path+".url", "credentials in the URL are secrets: use basic_auth.password_file or authorization.credentials_file")
	}
	switch {
	case d.Timeout == 0:
		d.Timeout = DefaultDatasourceTimeout
	case d.Timeout < 0:
		r.errorf(path+".timeout", "timeout must be positive")
	}
	for name, v := range d.Headers {
		switch {
		case !validHeaderName(name):
			r.errorf(path+".headers", "%q is not a valid header name", name)
		case strings.EqualFold(name, "Authorization"):
			r.errorf(path+".headers", "an Authorization header is a secret: use authorization.credentials_file")
		case strings.ContainsAny(v, "\r\n\x00"):
			r.errorf(path+".headers", "header %q has an invalid value", name)
		}
	}
	if d.Authorization != nil {
		d.Authorization.validate(r, path+".authorization")
	}
	if d.BasicAuth != nil && d.BasicAuth.Username == "" {
		r.errorf(path+".basic_auth", "username is required")
	}
	if d.Authorization != nil && d.BasicAuth != nil {
		r.errorf(path, "only one of authorization and basic_auth may be set")
	}
}

// files lists the secret files of the section, for Config.files.
func (d *DatasourceConfig) files(path string) []fileRef {
	if d == nil {
		return nil
	}
	var out []fileRef
	if d.Authorization != nil {
		out = append(out, fileRef{ptr: &d.Authorization.CredentialsFile, path: path + ".authorization.credentials_file", secret: true})
	}
	if d.BasicAuth != nil {
		out = append(out, fileRef{ptr: &d.BasicAuth.PasswordFile, path: path + ".basic_auth.password_file", secret: true})
	}
	return out
}
