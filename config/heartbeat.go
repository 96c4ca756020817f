package config

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Heartbeat defaults.
const (
	DefaultHeartbeatInterval = model.Duration(time.Minute)
	DefaultHeartbeatTimeout  = model.Duration(10 * time.Second)
	// HeartbeatHTTP calls URL (healthchecks.io, Dead Man's Snitch, Better
	// Stack, an Uptime Kuma push monitor, ...).
	HeartbeatHTTP = "http"
	// HeartbeatOpsgenie pings an Opsgenie heartbeat by name.
	HeartbeatOpsgenie = "opsgenie"
)

// HeartbeatConfig is the `heartbeat:` section, the watchdog's dead man's
// switch: a call to an outside service every Interval while the watchdog
// is healthy (its rule groups evaluate, its pager runs), so that the
// service pages when the calls stop. Secrets (a URL that holds a token,
// an API key, an Authorization header) come from files or environment
// variables only. The section is read at start; a reload that changes it
// is refused (restart to apply).
type HeartbeatConfig struct {
	// Kind is "http" (default) or "opsgenie".
	Kind string `yaml:"kind"`
	// URL is called by kind http (give it here, or in URLFile or URLEnv
	// when the URL itself is the secret, as healthchecks.io's is). For
	// opsgenie it is the API's base URL (default https://api.opsgenie.com).
	URL     string `yaml:"url,omitempty"`
	URLFile string `yaml:"url_file,omitempty"`
	URLEnv  string `yaml:"url_env,omitempty"`
	// Name is the Opsgenie heartbeat's name.
	Name string `yaml:"name,omitempty"`
	// APIKeyFile or APIKeyEnv hold the Opsgenie API key (sent as
	// "Authorization: GenieKey <key>").
	APIKeyFile string `yaml:"api_key_file,omitempty"`
	APIKeyEnv  string `yaml:"api_key_env,omitempty"`
	// Method is GET (default), POST, PUT or HEAD.
	Method string `yaml:"method"`
	// Body is sent with POST and PUT.
	Body string `yaml:"body,omitempty"`
	// Headers are sent with every call; not for secrets (see
	// Authorization).
	Headers map[string]string `yaml:"headers,omitempty"`
	// Authorization sends "Authorization: <type> <credentials_file contents>".
	Authorization *Authorization `yaml:"authorization,omitempty"`
	// Interval between calls (default 1m).
	Interval model.Duration `yaml:"interval"`
	// Timeout of one call (default 10s, at most Interval).
	Timeout model.Duration `yaml:"timeout"`
}

func (h *HeartbeatConfig) validate(r *report, path string) {
	if h == nil {
		return
	}
	switch h.Kind {
	case "":
		h.Kind = HeartbeatHTTP
	case HeartbeatHTTP, HeartbeatOpsgenie:
	case "pagerduty":
		r.errorf(path+".kind", "PagerDuty has no heartbeat API: use kind http with a check of healthchecks.io "+
			"(or a similar service) that notifies PagerDuty, or kind opsgenie")
		return
	default:
		r.errorf(path+".kind", "%q is not http or opsgenie", h.Kind)
		return
	}
	h.validateTarget(r, path)
	switch h.Method {
	case "":
		h.Method = http.MethodGet
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodHead:
	default:
		r.errorf(path+".method", "%q is not GET, POST, PUT or HEAD", h.Method)
	}
	if h.Body != "" && h.Method != http.MethodPost && h.Method != http.MethodPut {
		r.errorf(path+".body", "a body needs method POST or PUT, not %s", h.Method)
	}
	for name := range h.Headers {
		switch {
		case !validHeaderName(name):
			r.errorf(path+".headers", "%q is not a valid header name", name)
		case strings.EqualFold(name, "Authorization"):
			r.errorf(path+".headers", "an Authorization header is a secret: use authorization.credentials_file")
		case strings.ContainsAny(h.Headers[name], "\r\n\x00"):
			r.errorf(path+".headers", "header %q has an invalid value", name)
		}
	}
	if a := h.Authorization; a != nil {
		a.validate(r, path+".authorization")
	}
	for _, e := range [...]struct{ key, name string }{{"url_env", h.URLEnv}, {"api_key_env", h.APIKeyEnv}} {
		if e.name != "" && !envName.MatchString(e.name) {
			r.errorf(path+"."+e.key, "%q is not an environment variable name", e.name)
		}
	}
	if h.Interval == 0 {
		h.Interval = DefaultHeartbeatInterval
	} else if h.Interval < model.Duration(time.Second) {
		r.errorf(path+".interval", "%q is shorter than 1s", h.Interval)
	}
	if h.Timeout == 0 {
		h.Timeout = min(DefaultHeartbeatTimeout, h.Interval)
	} else if h.Timeout < 0 {
		r.errorf(path+".timeout", "timeout must be positive")
	} else if h.Timeout > h.Interval {
		r.errorf(path+".timeout", "%q is greater than interval %q", h.Timeout, h.Interval)
	}
}

// validateTarget checks where the calls go for the kind.
func (h *HeartbeatConfig) validateTarget(r *report, path string) {
	var urls []string
	for k, v := range map[string]string{"url": h.URL, "url_file": h.URLFile, "url_env": h.URLEnv} {
		if v != "" {
			urls = append(urls, k)
		}
	}
	if h.URL != "" {
		if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.errorf(path+".url", "%q is not an http or https URL", h.URL)
		}
	}
	if h.Kind == HeartbeatHTTP {
		if len(urls) != 1 {
			r.errorf(path, "kind http needs exactly one of url, url_file and url_env")
		}
		if h.Name != "" || h.APIKeyFile != "" || h.APIKeyEnv != "" {
			r.errorf(path, "name, api_key_file and api_key_env are for kind opsgenie")
		}
		return
	}
	if h.Name == "" {
		r.errorf(path, "kind opsgenie needs the heartbeat's name")
	}
	if (h.APIKeyFile == "") == (h.APIKeyEnv == "") {
		r.errorf(path, "kind opsgenie needs exactly one of api_key_file and api_key_env")
	}
	if h.URLFile != "" || h.URLEnv != "" {
		r.errorf(path, "kind opsgenie takes url (the API's base URL), not url_file or url_env")
	}
	if h.Authorization != nil {
		r.errorf(path+".authorization", "kind opsgenie sends the API key; authorization is for kind http")
	}
}

// files lists the path-valued fields of the section, for Config.files.
func (h *HeartbeatConfig) files(path string) []fileRef {
	if h == nil {
		return nil
	}
	out := []fileRef{
		{ptr: &h.URLFile, path: path + ".url_file", secret: true},
		{ptr: &h.APIKeyFile, path: path + ".api_key_file", secret: true},
	}
	if h.Authorization != nil {
		out = append(out, fileRef{ptr: &h.Authorization.CredentialsFile, path: path + ".authorization.credentials_file", secret: true})
	}
	return out
}

// validHeaderName reports whether name is an HTTP token (RFC 9110 5.1).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
