package config

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Probe defaults and limits.
const (
	// DefaultProbeInterval is how often a probe runs when it sets no interval.
	DefaultProbeInterval = model.Duration(time.Minute)
	// DefaultProbeTimeout is a probe's timeout when neither it nor its
	// module sets one (capped at the interval).
	DefaultProbeTimeout = model.Duration(10 * time.Second)
	// MinProbeInterval is the shortest interval a probe may have.
	MinProbeInterval = model.Duration(time.Second)
	// DefaultProbeBodySizeLimit bounds the body an HTTP probe reads (and
	// holds, for its assertions): with DefaultMaxConcurrency probes at
	// once, 256 MiB at worst.
	DefaultProbeBodySizeLimit = ByteSize(1 << 20)
	// MaxProbeTargets is the most targets one probe may list.
	MaxProbeTargets = 10_000
	// MaxJourneySteps is the most steps one journey may have.
	MaxJourneySteps = 32
)

// Probers a module may name.
const (
	ProberHTTP    = "http"
	ProberTCP     = "tcp"
	ProberDNS     = "dns"
	ProberGRPC    = "grpc"
	ProberJourney = "journey"
)

// Regexp is an unanchored regular expression (as blackbox_exporter's
// fail_if_* regexes are), written as its source text.
type Regexp struct {
	*regexp.Regexp
}

// UnmarshalYAML compiles the expression; a bad one is an error at its line.
func (re *Regexp) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("expected a regular expression")
	}
	r, err := regexp.Compile(n.Value)
	if err != nil {
		msg := err.Error()
		var se *syntax.Error
		if errors.As(err, &se) {
			msg = string(se.Code)
		}
		return fmt.Errorf("invalid regex %q: %s", n.Value, msg)
	}
	re.Regexp = r
	return nil
}

// MarshalYAML writes the expression's source.
func (re Regexp) MarshalYAML() (any, error) {
	if re.Regexp == nil {
		return "", nil
	}
	return re.String(), nil
}

// ProbeModule is how a target is probed, in blackbox_exporter's module
// schema so that its modules can be pasted under probe_modules.
type ProbeModule struct {
	// Prober is http, tcp, dns or grpc (journey is implied by steps).
	Prober string `yaml:"prober,omitempty"`
	// Timeout of one probe; 0 takes the probe's (or the default).
	Timeout model.Duration `yaml:"timeout,omitempty"`
	HTTP    *HTTPProbe     `yaml:"http,omitempty"`
	TCP     *TCPProbe      `yaml:"tcp,omitempty"`
	DNS     *DNSProbe      `yaml:"dns,omitempty"`
	GRPC    *GRPCProbe     `yaml:"grpc,omitempty"`
}

// ProbeTLSConfig is blackbox_exporter's (Prometheus's) tls_config.
type ProbeTLSConfig struct {
	CAFile             string `yaml:"ca_file,omitempty"`
	CertFile           string `yaml:"cert_file,omitempty"`
	KeyFile            string `yaml:"key_file,omitempty"`
	ServerName         string `yaml:"server_name,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty"`
	// MinVersion is TLS10, TLS11, TLS12 or TLS13.
	MinVersion string `yaml:"min_version,omitempty"`
}

// HeaderMatch is one fail_if_header_(not_)matches entry.
type HeaderMatch struct {
	Header       string `yaml:"header"`
	Regexp       Regexp `yaml:"regexp"`
	AllowMissing bool   `yaml:"allow_missing,omitempty"`
}

// JSONAssertion checks a value of a JSON body, a watchdog addition: Path
// is dot-separated keys and list indexes ("items.0.sku"); the value there
// must exist and, when set, equal Equals (compared as text) or match Regexp.
type JSONAssertion struct {
	Path   string  `yaml:"path"`
	Equals *string `yaml:"equals,omitempty"`
	Regexp *Regexp `yaml:"regexp,omitempty"`
}

// HTTPProbe is blackbox_exporter's http prober module.
type HTTPProbe struct {
	ValidStatusCodes             []int             `yaml:"valid_status_codes,omitempty"`
	ValidHTTPVersions            []string          `yaml:"valid_http_versions,omitempty"`
	IPProtocol                   string            `yaml:"preferred_ip_protocol,omitempty"`
	IPProtocolFallback           *bool             `yaml:"ip_protocol_fallback,omitempty"`
	NoFollowRedirects            *bool             `yaml:"no_follow_redirects,omitempty"`
	FollowRedirects              *bool             `yaml:"follow_redirects,omitempty"`
	FailIfSSL                    bool              `yaml:"fail_if_ssl,omitempty"`
	FailIfNotSSL                 bool              `yaml:"fail_if_not_ssl,omitempty"`
	Method                       string            `yaml:"method,omitempty"`
	Headers                      map[string]string `yaml:"headers,omitempty"`
	Body                         string            `yaml:"body,omitempty"`
	FailIfBodyMatchesRegexp      []Regexp          `yaml:"fail_if_body_matches_regexp,omitempty"`
	FailIfBodyNotMatchesRegexp   []Regexp          `yaml:"fail_if_body_not_matches_regexp,omitempty"`
	FailIfHeaderMatchesRegexp    []HeaderMatch     `yaml:"fail_if_header_matches,omitempty"`
	FailIfHeaderNotMatchesRegexp []HeaderMatch     `yaml:"fail_if_header_not_matches,omitempty"`
	// JSON is the watchdog's JSON path assertions on the body.
	JSON          []JSONAssertion `yaml:"fail_if_json_not_matches,omitempty"`
	TLSConfig     ProbeTLSConfig  `yaml:"tls_config,omitempty"`
	BodySizeLimit ByteSize        `yaml:"body_size_limit,omitempty"`
	BasicAuth     *BasicAuth      `yaml:"basic_auth,omitempty"`
	Authorization *Authorization  `yaml:"authorization,omitempty"`
}

// QueryResponse is one step of a TCP conversation: send a line, or wait
// for a line matching Expect, or start TLS.
type QueryResponse struct {
	Expect   *Regexp `yaml:"expect,omitempty"`
	Send     string  `yaml:"send,omitempty"`
	StartTLS bool    `yaml:"starttls,omitempty"`
}

// TCPProbe is blackbox_exporter's tcp prober module.
type TCPProbe struct {
	IPProtocol         string          `yaml:"preferred_ip_protocol,omitempty"`
	IPProtocolFallback *bool           `yaml:"ip_protocol_fallback,omitempty"`
	QueryResponse      []QueryResponse `yaml:"query_response,omitempty"`
	TLS                bool            `yaml:"tls,omitempty"`
	TLSConfig          ProbeTLSConfig  `yaml:"tls_config,omitempty"`
}

// DNSRRValidator checks one section of a DNS answer.
type DNSRRValidator struct {
	FailIfMatchesRegexp     []Regexp `yaml:"fail_if_matches_regexp,omitempty"`
	FailIfAllMatchRegexp    []Regexp `yaml:"fail_if_all_match_regexp,omitempty"`
	FailIfNotMatchesRegexp  []Regexp `yaml:"fail_if_not_matches_regexp,omitempty"`
	FailIfNoneMatchesRegexp []Regexp `yaml:"fail_if_none_matches_regexp,omitempty"`
}

// DNSProbe is blackbox_exporter's dns prober module.
type DNSProbe struct {
	IPProtocol         string         `yaml:"preferred_ip_protocol,omitempty"`
	IPProtocolFallback *bool          `yaml:"ip_protocol_fallback,omitempty"`
	TransportProtocol  string         `yaml:"transport_protocol,omitempty"`
	QueryName          string         `yaml:"query_name"`
	QueryType          string         `yaml:"query_type,omitempty"`
	QueryClass         string         `yaml:"query_class,omitempty"`
	RecursionDesired   *bool          `yaml:"recursion_desired,omitempty"`
	ValidRcodes        []string       `yaml:"valid_rcodes,omitempty"`
	ValidateAnswer     DNSRRValidator `yaml:"validate_answer_rrs,omitempty"`
	ValidateAuthority  DNSRRValidator `yaml:"validate_authority_rrs,omitempty"`
	ValidateAdditional DNSRRValidator `yaml:"validate_additional_rrs,omitempty"`
	DNSOverTLS         bool           `yaml:"dns_over_tls,omitempty"`
	TLSConfig          ProbeTLSConfig `yaml:"tls_config,omitempty"`
	SourceIPAddress    string         `yaml:"source_ip_address,omitempty"`
}

// GRPCProbe is blackbox_exporter's grpc prober module: the standard
// health check (grpc.health.v1.Health/Check) of Service ("" is the server).
type GRPCProbe struct {
	Service            string         `yaml:"service,omitempty"`
	TLS                bool           `yaml:"tls,omitempty"`
	TLSConfig          ProbeTLSConfig `yaml:"tls_config,omitempty"`
	IPProtocol         string         `yaml:"preferred_ip_protocol,omitempty"`
	IPProtocolFallback *bool          `yaml:"ip_protocol_fallback,omitempty"`
}

// Capture takes a variable from a journey step's response, for ${name}
// in the later steps' url, headers and body: from a JSON path of the body,
// a response header, or the first group (or whole match) of a regexp on
// the body.
type Capture struct {
	Name     string  `yaml:"name"`
	JSONPath string  `yaml:"json_path,omitempty"`
	Header   string  `yaml:"header,omitempty"`
	Regexp   *Regexp `yaml:"regexp,omitempty"`
}

// JourneyStep is one HTTP request of a journey: its URL (absolute, or a
// path resolved against the probe's target), the request and assertions
// of an http module, and the variables it captures.
type JourneyStep struct {
	Name    string     `yaml:"name"`
	URL     string     `yaml:"url"`
	HTTP    *HTTPProbe `yaml:"http,omitempty"`
	Capture []Capture  `yaml:"capture,omitempty"`
}

// ProbeConfig is one entry of probes: a module (named in probe_modules, or
// written inline with prober/http/tcp/dns/grpc, or journey steps) run
// against each target every interval.
type ProbeConfig struct {
	Name string `yaml:"name"`
	// Module names an entry of probe_modules.
	Module      string `yaml:"module,omitempty"`
	ProbeModule `yaml:",inline"`
	// Steps make the probe a journey (prober journey).
	Steps    []JourneyStep     `yaml:"steps,omitempty"`
	Target   string            `yaml:"target,omitempty"`
	Targets  []string          `yaml:"targets,omitempty"`
	Interval model.Duration    `yaml:"interval,omitempty"`
	Labels   map[string]string `yaml:"labels,omitempty"`

	// Effective is the module the probe runs, after validation: the named
	// module or the inline one, Prober "journey" for steps, and Timeout set
	// (the probe's, else the module's, else the default, never above the
	// interval).
	Effective ProbeModule `yaml:"-"`
}

// AllTargets returns Target and Targets together.
func (p *ProbeConfig) AllTargets() []string {
	if p.Target == "" {
		return p.Targets
	}
	return append([]string{p.Target}, p.Targets...)
}

var probeNameRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// validateProbes checks the probe_modules and probes sections and fills
// in each probe's module (a named one is copied in) and defaults.
func (c *Config) validateProbes(r *report) {
	for name, m := range c.ProbeModules {
		p := "probe_modules." + name
		if m == nil {
			r.errorf(p, "empty module")
			continue
		}
		m.validate(r, p, false)
	}
	names := map[string]string{}
	for i, pc := range c.Probes {
		path := fmt.Sprintf("probes[%d]", i)
		if pc == nil {
			continue
		}
		pc.validate(r, path, c.ProbeModules)
		if pc.Name == "" {
			continue
		}
		if first, dup := names[pc.Name]; dup {
			r.errorf(path+".name", "duplicate probe name %q (first in %s, line %d)", pc.Name, first, r.lineOf(first))
			continue
		}
		names[pc.Name] = path
	}
}

func (pc *ProbeConfig) validate(r *report, path string, modules map[string]*ProbeModule) {
	switch {
	case pc.Name == "":
		r.errorf(path, "name is required")
	case !probeNameRE.MatchString(pc.Name):
		r.errorf(path+".name", "%q may hold only letters, digits and _ . : -", pc.Name)
	}
	inline := pc.Prober != "" || pc.HTTP != nil || pc.TCP != nil || pc.DNS != nil || pc.GRPC != nil
	switch {
	case pc.Module != "" && (inline || len(pc.Steps) > 0):
		r.errorf(path+".module", "give a module name or an inline module (prober, http, ...) or steps, not both")
		return
	case pc.Module != "":
		m, ok := modules[pc.Module]
		if !ok || m == nil {
			r.errorf(path+".module", "no module %q in probe_modules", pc.Module)
			return
		}
		pc.Effective = *m
	case len(pc.Steps) > 0:
		if inline && (pc.Prober != ProberJourney || pc.HTTP != nil || pc.TCP != nil || pc.DNS != nil || pc.GRPC != nil) {
			r.errorf(path+".steps", "steps make a journey: leave out prober, http, tcp, dns and grpc")
			return
		}
		pc.validateSteps(r, path)
		pc.Effective = ProbeModule{Prober: ProberJourney}
	case !inline:
		r.errorf(path, "module, an inline module (prober: http, ...) or steps is required")
		return
	default:
		pc.ProbeModule.validate(r, path, true)
		pc.Effective = pc.ProbeModule
	}
	if pc.Interval == 0 {
		pc.Interval = DefaultProbeInterval
	} else if pc.Interval < MinProbeInterval {
		r.errorf(path+".interval", "%s is shorter than %s", pc.Interval, MinProbeInterval)
	}
	if pc.Timeout != 0 {
		pc.Effective.Timeout = pc.Timeout
	}
	switch {
	case pc.Effective.Timeout == 0:
		pc.Effective.Timeout = min(DefaultProbeTimeout, pc.Interval)
	case pc.Effective.Timeout > pc.Interval:
		r.errorf(path+".timeout", "%q is greater than interval %q", pc.Effective.Timeout, pc.Interval)
	}
	pc.validateTargets(r, path)
	for k := range pc.Labels {
		if !model.LabelName(k).IsValidLegacy() || strings.HasPrefix(k, "__") {
			r.errorf(path+".labels."+k, "%q is not a valid label name", k)
		}
		if k == "job" || k == "probe" || k == "instance" || k == "step" || k == "phase" {
			r.errorf(path+".labels."+k, "label %q is set by the probe", k)
		}
	}
}

func (pc *ProbeConfig) validateTargets(r *report, path string) {
	all := pc.AllTargets()
	if len(all) == 0 {
		r.errorf(path, "target or targets is required")
		return
	}
	if len(all) > MaxProbeTargets {
		r.errorf(path+".targets", "%d targets, more than %d", len(all), MaxProbeTargets)
		return
	}
	seen := map[string]bool{}
	for i, t := range pc.Targets {
		p := fmt.Sprintf("%s.targets[%d]", path, i)
		if seen[t] || t == pc.Target {
			r.errorf(p, "duplicate target %q", t)
		}
		seen[t] = true
		checkProbeTarget(r, p, pc.Effective.Prober, t)
	}
	if pc.Target != "" {
		checkProbeTarget(r, path+".target", pc.Effective.Prober, pc.Target)
	}
}

// checkProbeTarget checks a target's form for the prober: a URL for http
// and journey, host:port for tcp and grpc, a server (host[:port]) for dns.
func checkProbeTarget(r *report, path, prober, t string) {
	switch prober {
	case ProberHTTP, ProberJourney:
		target := t
		if !strings.Contains(target, "://") {
			target = "http://" + target
		}
		u, err := url.Parse(target)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			r.errorf(path, "%q is not an http(s) URL", t)
		}
	case ProberTCP, ProberGRPC:
		if _, port, err := net.SplitHostPort(t); err != nil || port == "" {
			r.errorf(path, "%q must be host:port", t)
		}
	case ProberDNS:
		if strings.Contains(t, "/") {
			r.errorf(path, "%q must be a DNS server's host or host:port", t)
		}
	}
}

func (pc *ProbeConfig) validateSteps(r *report, path string) {
	if len(pc.Steps) > MaxJourneySteps {
		r.errorf(path+".steps", "%d steps, more than %d", len(pc.Steps), MaxJourneySteps)
		return
	}
	names := map[string]bool{}
	for i := range pc.Steps {
		s := &pc.Steps[i]
		p := fmt.Sprintf("%s.steps[%d]", path, i)
		switch {
		case s.Name == "":
			r.errorf(p, "name is required")
		case !probeNameRE.MatchString(s.Name):
			r.errorf(p+".name", "%q may hold only letters, digits and _ . : -", s.Name)
		case names[s.Name]:
			r.errorf(p+".name", "duplicate step name %q", s.Name)
		}
		names[s.Name] = true
		if s.URL == "" {
			r.errorf(p, "url is required")
		}
		if s.HTTP == nil {
			s.HTTP = &HTTPProbe{}
		}
		s.HTTP.validate(r, p+".http")
		for j, c := range s.Capture {
			cp := fmt.Sprintf("%s.capture[%d]", p, j)
			if !model.LabelName(c.Name).IsValidLegacy() {
				r.errorf(cp+".name", "%q is not a valid variable name ([a-zA-Z_][a-zA-Z0-9_]*)", c.Name)
			}
			n := 0
			for _, set := range []bool{c.JSONPath != "", c.Header != "", c.Regexp != nil} {
				if set {
					n++
				}
			}
			if n != 1 {
				r.errorf(cp, "exactly one of json_path, header and regexp is required")
			}
		}
	}
}

func (m *ProbeModule) validate(r *report, path string, _ bool) {
	set := 0
	for _, ok := range []bool{m.HTTP != nil, m.TCP != nil, m.DNS != nil, m.GRPC != nil} {
		if ok {
			set++
		}
	}
	if set > 1 {
		r.errorf(path, "only one of http, tcp, dns and grpc may be set")
	}
	switch m.Prober {
	case ProberHTTP:
		if m.HTTP == nil {
			m.HTTP = &HTTPProbe{}
		}
		m.HTTP.validate(r, path+".http")
	case ProberTCP:
		if m.TCP == nil {
			m.TCP = &TCPProbe{}
		}
		m.TCP.validate(r, path+".tcp")
	case ProberDNS:
		if m.DNS == nil {
			r.errorf(path+".dns", "dns.query_name is required")
			return
		}
		m.DNS.validate(r, path+".dns")
	case ProberGRPC:
		if m.GRPC == nil {
			m.GRPC = &GRPCProbe{}
		}
		m.GRPC.validate(r, path+".grpc")
	case ProberJourney:
		r.errorf(path+".prober", "a journey needs steps")
	case "icmp":
		r.errorf(path+".prober", "icmp is not supported (it needs raw or ICMP datagram sockets); use tcp")
	case "":
		r.errorf(path, "prober is required (http, tcp, dns or grpc)")
	default:
		r.errorf(path+".prober", "%q is not http, tcp, dns or grpc", m.Prober)
	}
	if m.Timeout < 0 {
		r.errorf(path+".timeout", "must not be negative")
	}
}

func validateIPProtocol(r *report, path string, p *string) {
	switch *p {
	case "":
		*p = "ip6" // as blackbox_exporter; ip_protocol_fallback (default true) tries ip4
	case "ip4", "ip6":
	default:
		r.errorf(path+".preferred_ip_protocol", "%q is not ip4 or ip6", *p)
	}
}

func (t *ProbeTLSConfig) validate(r *report, path string) {
	switch t.MinVersion {
	case "", "TLS10", "TLS11", "TLS12", "TLS13":
	default:
		r.errorf(path+".min_version", "%q is not TLS10, TLS11, TLS12 or TLS13", t.MinVersion)
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		r.errorf(path, "cert_file and key_file go together")
	}
}

func (h *HTTPProbe) validate(r *report, path string) {
	validateIPProtocol(r, path, &h.IPProtocol)
	for i, c := range h.ValidStatusCodes {
		if c < 100 || c > 599 {
			r.errorf(fmt.Sprintf("%s.valid_status_codes[%d]", path, i), "%d is not an HTTP status code", c)
		}
	}
	for i, v := range h.ValidHTTPVersions {
		switch v {
		case "HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/2.0":
		default:
			r.errorf(fmt.Sprintf("%s.valid_http_versions[%d]", path, i), "%q is not HTTP/1.0, HTTP/1.1 or HTTP/2.0", v)
		}
	}
	if h.Method == "" {
		h.Method = http.MethodGet
	} else if !validToken(h.Method) {
		r.errorf(path+".method", "%q is not an HTTP method", h.Method)
	}
	for k := range h.Headers {
		if !validToken(k) {
			r.errorf(path+".headers."+k, "%q is not a header name", k)
		}
	}
	for _, l := range []struct {
		key string
		hm  []HeaderMatch
	}{{"fail_if_header_matches", h.FailIfHeaderMatchesRegexp}, {"fail_if_header_not_matches", h.FailIfHeaderNotMatchesRegexp}} {
		for i, m := range l.hm {
			if m.Header == "" || m.Regexp.Regexp == nil {
				r.errorf(fmt.Sprintf("%s.%s[%d]", path, l.key, i), "header and regexp are required")
			}
		}
	}
	for i, j := range h.JSON {
		if j.Path == "" {
			r.errorf(fmt.Sprintf("%s.fail_if_json_not_matches[%d]", path, i), "path is required")
		}
	}
	if h.BodySizeLimit == 0 {
		h.BodySizeLimit = DefaultProbeBodySizeLimit
	} else if h.BodySizeLimit < 0 {
		r.errorf(path+".body_size_limit", "must not be negative")
	}
	if h.FailIfSSL && h.FailIfNotSSL {
		r.errorf(path, "fail_if_ssl and fail_if_not_ssl contradict each other")
	}
	h.TLSConfig.validate(r, path+".tls_config")
	if h.Authorization != nil {
		h.Authorization.validate(r, path+".authorization")
		if h.BasicAuth != nil {
			r.errorf(path, "only one of authorization and basic_auth may be set")
		}
	}
	if h.BasicAuth != nil && h.BasicAuth.Username == "" {
		r.errorf(path+".basic_auth", "username is required")
	}
}

func (t *TCPProbe) validate(r *report, path string) {
	validateIPProtocol(r, path, &t.IPProtocol)
	t.TLSConfig.validate(r, path+".tls_config")
	for i, q := range t.QueryResponse {
		if q.Expect == nil && q.Send == "" && !q.StartTLS {
			r.errorf(fmt.Sprintf("%s.query_response[%d]", path, i), "expect, send or starttls is required")
		}
	}
}

func (d *DNSProbe) validate(r *report, path string) {
	validateIPProtocol(r, path, &d.IPProtocol)
	if d.QueryName == "" {
		r.errorf(path, "query_name is required")
	}
	switch d.TransportProtocol {
	case "":
		d.TransportProtocol = "udp"
	case "udp", "tcp":
	default:
		r.errorf(path+".transport_protocol", "%q is not udp or tcp", d.TransportProtocol)
	}
	if d.QueryType == "" {
		d.QueryType = "ANY"
	}
	if _, ok := DNSTypes[strings.ToUpper(d.QueryType)]; !ok {
		r.errorf(path+".query_type", "unknown record type %q", d.QueryType)
	}
	if d.QueryClass == "" {
		d.QueryClass = "IN"
	}
	if d.QueryClass != "IN" && d.QueryClass != "CH" && d.QueryClass != "ANY" {
		r.errorf(path+".query_class", "%q is not IN, CH or ANY", d.QueryClass)
	}
	for i, c := range d.ValidRcodes {
		if _, ok := DNSRcodes[c]; !ok {
			if _, err := strconv.Atoi(c); err != nil {
				r.errorf(fmt.Sprintf("%s.valid_rcodes[%d]", path, i), "unknown rcode %q", c)
			}
		}
	}
	if d.DNSOverTLS {
		r.errorf(path+".dns_over_tls", "DNS over TLS is not supported")
	}
	if d.SourceIPAddress != "" {
		r.errorf(path+".source_ip_address", "source_ip_address is not supported")
	}
}

func (g *GRPCProbe) validate(r *report, path string) {
	validateIPProtocol(r, path, &g.IPProtocol)
	g.TLSConfig.validate(r, path+".tls_config")
}

// DNSTypes maps the record types a dns module may query to their codes.
var DNSTypes = map[string]uint16{
	"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16,
	"AAAA": 28, "SRV": 33, "CAA": 257, "ANY": 255,
}

// DNSRcodes maps response code names to their values.
var DNSRcodes = map[string]int{
	"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "REFUSED": 5,
}

// validToken reports whether s is an HTTP token (method or header name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// probeFiles lists the probe sections' path-valued fields.
func (c *Config) probeFiles() []fileRef {
	var out []fileRef
	addHTTP := func(h *HTTPProbe, p string) {
		if h == nil {
			return
		}
		out = append(out, h.TLSConfig.files(p+".tls_config")...)
		if h.BasicAuth != nil {
			out = append(out, fileRef{ptr: &h.BasicAuth.PasswordFile, path: p + ".basic_auth.password_file", secret: true})
		}
		if h.Authorization != nil {
			out = append(out, fileRef{ptr: &h.Authorization.CredentialsFile, path: p + ".authorization.credentials_file", secret: true})
		}
	}
	addModule := func(m *ProbeModule, p string) {
		addHTTP(m.HTTP, p+".http")
		if m.TCP != nil {
			out = append(out, m.TCP.TLSConfig.files(p+".tcp.tls_config")...)
		}
		if m.GRPC != nil {
			out = append(out, m.GRPC.TLSConfig.files(p+".grpc.tls_config")...)
		}
	}
	for name, m := range c.ProbeModules {
		if m != nil {
			addModule(m, "probe_modules."+name)
		}
	}
	for i, pc := range c.Probes {
		if pc == nil || pc.Module != "" {
			continue // a named module's files are the module's (resolved above)
		}
		p := fmt.Sprintf("probes[%d]", i)
		addModule(&pc.ProbeModule, p)
		for j := range pc.Steps {
			addHTTP(pc.Steps[j].HTTP, fmt.Sprintf("%s.steps[%d].http", p, j))
		}
	}
	return out
}

func (t *ProbeTLSConfig) files(p string) []fileRef {
	return []fileRef{
		{ptr: &t.CAFile, path: p + ".ca_file", secret: true},
		{ptr: &t.CertFile, path: p + ".cert_file", secret: true},
		{ptr: &t.KeyFile, path: p + ".key_file", secret: true},
	}
}
