package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/watchdog-sre/watchdog/config"
)

// MaxRedirects is the most redirects an HTTP probe follows.
const MaxRedirects = 10

// UserAgent is the User-Agent of HTTP probes that set none.
const UserAgent = "Watchdog-Probe/1"

// httpRequest is one HTTP request to make: the module's settings with the
// URL, headers and body of this run (a journey substitutes variables).
type httpRequest struct {
	url     string
	module  *config.HTTPProbe
	headers map[string]string
	body    string
	jar     http.CookieJar
}

// httpOutcome is what a request brought back, for a journey's captures.
type httpOutcome struct {
	status int
	header http.Header
	body   []byte
}

// probeHTTP runs the http prober against target.
func (p *Prober) probeHTTP(ctx context.Context, r *recorder, target string, m *config.HTTPProbe) bool {
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	_, ok := p.doHTTP(ctx, r, httpRequest{url: target, module: m, headers: m.Headers, body: m.Body})
	return ok
}

// trace is the timing of one round trip.
type trace struct {
	start, dnsDone, connectDone, tlsStart, tlsDone, gotConn, firstByte time.Time
	tls                                                                bool
}

type tracer struct {
	mu     sync.Mutex
	traces []*trace
}

func (t *tracer) cur() *trace {
	if len(t.traces) == 0 {
		t.traces = append(t.traces, &trace{start: time.Now()})
	}
	return t.traces[len(t.traces)-1]
}

func (t *tracer) clientTrace() *httptrace.ClientTrace {
	at := func(f func(tr *trace)) {
		t.mu.Lock()
		defer t.mu.Unlock()
		f(t.cur())
	}
	return &httptrace.ClientTrace{
		GetConn: func(string) {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.traces = append(t.traces, &trace{start: time.Now()})
		},
		DNSDone:              func(httptrace.DNSDoneInfo) { at(func(tr *trace) { tr.dnsDone = time.Now() }) },
		ConnectStart:         func(string, string) { at(func(tr *trace) { tr.dnsDone = orNow(tr.dnsDone) }) },
		ConnectDone:          func(string, string, error) { at(func(tr *trace) { tr.connectDone = time.Now() }) },
		TLSHandshakeStart:    func() { at(func(tr *trace) { tr.tlsStart = time.Now(); tr.tls = true }) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { at(func(tr *trace) { tr.tlsDone = time.Now() }) },
		GotConn:              func(httptrace.GotConnInfo) { at(func(tr *trace) { tr.gotConn = time.Now() }) },
		GotFirstResponseByte: func() { at(func(tr *trace) { tr.firstByte = time.Now() }) },
	}
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// doHTTP makes one request with the module's checks, recording blackbox
// series in r. The outcome is nil when no response came.
func (p *Prober) doHTTP(ctx context.Context, r *recorder, req httpRequest) (*httpOutcome, bool) {
	m := req.module
	for _, ph := range []string{"resolve", "connect", "tls", "processing", "transfer"} {
		r.add("probe_http_duration_seconds", 0, "phase", ph)
	}
	for _, n := range []string{"probe_http_content_length", "probe_http_uncompressed_body_length", "probe_http_redirects",
		"probe_http_ssl", "probe_http_status_code", "probe_http_version", "probe_failed_due_to_regex"} {
		r.set(n, 0)
	}
	u, err := url.Parse(req.url)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, r.fail(0, nil, "invalid URL %q", req.url)
	}
	host := u.Hostname()
	ip, lookup, err := resolve(ctx, r, p.resolver, host, m.IPProtocol, fallbackOf(m.IPProtocolFallback))
	r.add("probe_http_duration_seconds", lookup.Seconds(), "phase", "resolve")
	if err != nil {
		return nil, r.fail(0, nil, "%v", err)
	}
	serverName := host
	for k, v := range req.headers {
		if strings.EqualFold(k, "Host") {
			serverName = v
		}
	}
	tc, err := tlsConfig(m.TLSConfig, serverName)
	if err != nil {
		return nil, r.fail(0, nil, "%v", err)
	}
	redirects := 0
	client := newClient(m, tc, host, ip, req.jar, &redirects)
	defer client.CloseIdleConnections()
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	hreq, err := http.NewRequestWithContext(ctx, m.Method, u.String(), body)
	if err != nil {
		return nil, r.fail(0, nil, "build request: %v", err)
	}
	hreq.Header.Set("User-Agent", UserAgent)
	for k, v := range req.headers {
		if strings.EqualFold(k, "Host") {
			hreq.Host = v
			continue
		}
		hreq.Header.Set(k, v)
	}
	if err := setAuth(hreq, m); err != nil {
		return nil, r.fail(0, nil, "%v", err)
	}
	tr := &tracer{}
	hreq = hreq.WithContext(httptrace.WithClientTrace(ctx, tr.clientTrace()))
	resp, err := client.Do(hreq)
	r.set("probe_http_redirects", float64(redirects))
	if err != nil {
		recordPhases(r, tr, time.Now())
		return nil, r.fail(0, nil, "%s", requestError(err))
	}
	defer resp.Body.Close()
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, int64(m.BodySizeLimit)+1))
	end := time.Now()
	recordPhases(r, tr, end)
	out := &httpOutcome{status: resp.StatusCode, header: resp.Header, body: data}
	r.set("probe_http_status_code", float64(resp.StatusCode))
	r.set("probe_http_content_length", float64(resp.ContentLength))
	r.set("probe_http_uncompressed_body_length", float64(len(data)))
	r.set("probe_http_version", httpVersion(resp))
	if resp.TLS != nil {
		r.set("probe_http_ssl", 1)
		recordTLS(r, resp.TLS)
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		r.set("probe_http_last_modified_timestamp_seconds", float64(lm.Unix()))
	}
	switch {
	case readErr != nil:
		return out, r.fail(resp.StatusCode, data, "read body: %s", requestError(readErr))
	case int64(len(data)) > int64(m.BodySizeLimit):
		return out, r.fail(resp.StatusCode, data[:len(data)-1], "body larger than body_size_limit %s", m.BodySizeLimit)
	}
	return out, p.checkHTTP(r, resp, data, m)
}

// newClient returns the client of one probe: no keep-alive, connections
// to host go to ip (the address resolve chose), redirects counted into
// *redirects and followed unless the module says not to.
func newClient(m *config.HTTPProbe, tc *tls.Config, host string, ip net.IP, jar http.CookieJar, redirects *int) *http.Client {
	dialer := &net.Dialer{}
	transport := &http.Transport{
		TLSClientConfig:        tc,
		DisableKeepAlives:      true,
		ForceAttemptHTTP2:      true,
		MaxResponseHeaderBytes: 64 << 10,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			h, port, err := net.SplitHostPort(addr)
			if err == nil && h == host {
				addr = net.JoinHostPort(ip.String(), port)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	follow := !(m.NoFollowRedirects != nil && *m.NoFollowRedirects) && !(m.FollowRedirects != nil && !*m.FollowRedirects)
	return &http.Client{
		Transport: transport,
		Jar:       jar,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if !follow {
				return http.ErrUseLastResponse
			}
			*redirects = len(via)
			if len(via) > MaxRedirects {
				return fmt.Errorf("stopped after %d redirects", MaxRedirects)
			}
			return nil
		},
	}
}

// checkHTTP runs a response's assertions; the first failing one is the
// failure.
func (p *Prober) checkHTTP(r *recorder, resp *http.Response, data []byte, m *config.HTTPProbe) bool {
	code := resp.StatusCode
	if len(m.ValidStatusCodes) > 0 {
		if !slices.Contains(m.ValidStatusCodes, code) {
			return r.fail(code, data, "status %d is not one of valid_status_codes %v", code, m.ValidStatusCodes)
		}
	} else if code < 200 || code > 299 {
		return r.fail(code, data, "status %d is not 2xx", code)
	}
	if len(m.ValidHTTPVersions) > 0 {
		ok := false
		for _, v := range m.ValidHTTPVersions {
			if v == resp.Proto || (v == "HTTP/2" && resp.Proto == "HTTP/2.0") || (v == "HTTP/2.0" && resp.Proto == "HTTP/2") {
				ok = true
			}
		}
		if !ok {
			return r.fail(code, data, "%s is not one of valid_http_versions %v", resp.Proto, m.ValidHTTPVersions)
		}
	}
	if m.FailIfSSL && resp.TLS != nil {
		return r.fail(code, data, "the final response came over TLS (fail_if_ssl)")
	}
	if m.FailIfNotSSL && resp.TLS == nil {
		return r.fail(code, data, "the final response did not come over TLS (fail_if_not_ssl)")
	}
	for _, re := range m.FailIfBodyMatchesRegexp {
		if re.Match(data) {
			r.set("probe_failed_due_to_regex", 1)
			return r.fail(code, data, "body matched fail_if_body_matches_regexp %q", re.String())
		}
	}
	for _, re := range m.FailIfBodyNotMatchesRegexp {
		if !re.Match(data) {
			r.set("probe_failed_due_to_regex", 1)
			return r.fail(code, data, "body did not match fail_if_body_not_matches_regexp %q", re.String())
		}
	}
	for _, hm := range m.FailIfHeaderMatchesRegexp {
		vals := resp.Header.Values(hm.Header)
		if len(vals) == 0 && !hm.AllowMissing {
			r.set("probe_failed_due_to_regex", 1)
			return r.fail(code, data, "header %s is missing", hm.Header)
		}
		for _, v := range vals {
			if hm.Regexp.MatchString(v) {
				r.set("probe_failed_due_to_regex", 1)
				return r.fail(code, data, "header %s matched fail_if_header_matches %q", hm.Header, hm.Regexp.String())
			}
		}
	}
	for _, hm := range m.FailIfHeaderNotMatchesRegexp {
		vals := resp.Header.Values(hm.Header)
		if len(vals) == 0 && !hm.AllowMissing {
			r.set("probe_failed_due_to_regex", 1)
			return r.fail(code, data, "header %s is missing", hm.Header)
		}
		matched := len(vals) == 0
		for _, v := range vals {
			if hm.Regexp.MatchString(v) {
				matched = true
			}
		}
		if !matched {
			r.set("probe_failed_due_to_regex", 1)
			return r.fail(code, data, "header %s did not match fail_if_header_not_matches %q", hm.Header, hm.Regexp.String())
		}
	}
	if len(m.JSON) > 0 {
		doc, err := parseJSON(data)
		if err != nil {
			r.set("probe_failed_due_to_json", 1)
			return r.fail(code, data, "body is not JSON: %v", err)
		}
		for _, a := range m.JSON {
			if err := check(a, doc); err != nil {
				r.set("probe_failed_due_to_json", 1)
				return r.fail(code, data, "%v", err)
			}
		}
		r.set("probe_failed_due_to_json", 0)
	}
	return true
}

func httpVersion(resp *http.Response) float64 {
	switch resp.ProtoMajor {
	case 1:
		if resp.ProtoMinor == 0 {
			return 1.0
		}
		return 1.1
	case 2:
		return 2.0
	case 3:
		return 3.0
	}
	return 0
}

// recordPhases sums the phases of every round trip, as blackbox_exporter
// does: connect from the end of the lookup to the connection, tls the
// handshake, processing to the first response byte, transfer of the last
// response to end.
func recordPhases(r *recorder, t *tracer, end time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, tr := range t.traces {
		if tr.gotConn.IsZero() {
			continue
		}
		from := tr.start
		if !tr.dnsDone.IsZero() {
			r.add("probe_http_duration_seconds", tr.dnsDone.Sub(tr.start).Seconds(), "phase", "resolve")
			from = tr.dnsDone
		}
		if tr.tls && !tr.tlsDone.IsZero() {
			r.add("probe_http_duration_seconds", tr.connectDone.Sub(from).Seconds(), "phase", "connect")
			r.add("probe_http_duration_seconds", tr.tlsDone.Sub(tr.tlsStart).Seconds(), "phase", "tls")
		} else {
			r.add("probe_http_duration_seconds", tr.gotConn.Sub(from).Seconds(), "phase", "connect")
		}
		if tr.firstByte.IsZero() {
			continue
		}
		r.add("probe_http_duration_seconds", tr.firstByte.Sub(tr.gotConn).Seconds(), "phase", "processing")
		if i == len(t.traces)-1 {
			r.add("probe_http_duration_seconds", end.Sub(tr.firstByte).Seconds(), "phase", "transfer")
		}
	}
}

// requestError shortens an error of the HTTP client for a failure reason.
func requestError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout: " + err.Error()
	}
	return err.Error()
}

// setAuth adds the module's basic auth or authorization header, read from
// their files on every run (rotated secrets need no reload).
func setAuth(req *http.Request, m *config.HTTPProbe) error {
	if m.BasicAuth != nil {
		pw := ""
		if m.BasicAuth.PasswordFile != "" {
			b, err := os.ReadFile(m.BasicAuth.PasswordFile)
			if err != nil {
				return fmt.Errorf("read password_file: %w", err)
			}
			pw = strings.TrimSpace(string(b))
		}
		req.SetBasicAuth(m.BasicAuth.Username, pw)
	}
	if a := m.Authorization; a != nil {
		b, err := os.ReadFile(a.CredentialsFile)
		if err != nil {
			return fmt.Errorf("read credentials_file: %w", err)
		}
		req.Header.Set("Authorization", a.Type+" "+strings.TrimSpace(string(b)))
	}
	return nil
}

// newJar returns an empty cookie jar for a journey.
func newJar() http.CookieJar {
	j, _ := cookiejar.New(nil) // never fails without options
	return j
}
