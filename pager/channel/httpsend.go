package channel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults shared by the HTTP channels.
const (
	// DefaultTimeout bounds one HTTP attempt when HTTPOptions.Timeout is 0.
	DefaultTimeout = 10 * time.Second
	// maxErrorBody is how much of a failed response's body goes into errors.
	maxErrorBody = 512
	// maxReadBody bounds how much of any response is read.
	maxReadBody = 64 << 10
	userAgent   = "Watchdog-Pager/1"
)

// HTTPOptions are shared by every HTTP channel. The zero value is usable.
type HTTPOptions struct {
	// Timeout bounds each attempt (DefaultTimeout when 0). Every attempt
	// gets its own context.WithTimeout, nested inside the caller's context.
	Timeout time.Duration `yaml:"timeout"`
	// Client overrides the HTTP client, e.g. for proxies or custom TLS.
	// Redirects are not followed by the default client: a 3xx is an error.
	Client *http.Client `yaml:"-"`
}

var defaultClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     defaultTransport(),
}

// maxIdleConnsPerHost is how many idle connections the default client keeps
// to one host. http.DefaultTransport keeps 2: a channel with more pages in
// flight to one receiver (max_concurrency, 64 for webhooks) then closes
// and dials connections all the time, and each dial is one more wait on
// the network per page.
const maxIdleConnsPerHost = 64

// defaultTransport is http.DefaultTransport keeping up to
// maxIdleConnsPerHost idle connections per host.
func defaultTransport() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return t
}

// StatusError is returned for a non-2xx response. Body is a truncated copy of
// the response body with known secrets removed. RetryAfter is the delay the
// server asked for with a Retry-After header (0 when absent).
type StatusError struct {
	StatusCode int
	Body       string
	RetryAfter time.Duration
}

// Error implements error.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("http status %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Unwrap makes errors.Is(err, ErrHTTPStatus) true.
func (e *StatusError) Unwrap() error { return ErrHTTPStatus }

// RetryAfter returns the delay a server requested (via Retry-After) for the
// failure err, if any error in its chain carries one.
func RetryAfter(err error) (time.Duration, bool) {
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		return se.RetryAfter, true
	}
	return 0, false
}

// retryableStatus reports whether a non-2xx status is worth retrying.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500
}

// parseRetryAfter understands both delay-seconds and HTTP-date forms.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > 24*3600 {
			secs = 24 * 3600
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// redactedError hides secrets in the text of an underlying error while
// keeping it reachable for errors.Is/As (e.g. context.DeadlineExceeded).
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact replaces every non-empty secret in s with "<redacted>".
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "<redacted>")
		}
	}
	return s
}

// safeURL returns scheme://host of raw, dropping paths and queries that may
// hold secrets (Slack webhook URLs are themselves secrets).
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<invalid url>"
	}
	return u.Scheme + "://" + u.Host
}

// httpRequest is one outbound call made by an HTTP channel.
type httpRequest struct {
	method string
	url    string
	header http.Header
	body   []byte
	// user and pass, when user is set, are sent as basic auth.
	user, pass string
	// secrets are scrubbed from any error text.
	secrets []string
}

// jsonRequest builds a POST of v as JSON to url.
func jsonRequest(url string, v any) (httpRequest, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return httpRequest{}, fmt.Errorf("%w: encode json: %v", ErrInvalidMessage, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return httpRequest{method: http.MethodPost, url: url, header: h, body: b}, nil
}

// do performs r with its own timeout and classifies the outcome: 2xx is
// success; network errors, 408, 429 and 5xx are retryable; other statuses are
// final. The response body of a failure is included (truncated, redacted).
func (o *HTTPOptions) do(ctx context.Context, r httpRequest) (retry bool, err error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		return false, fmt.Errorf("%w: bad url %s", ErrInvalidConfig, safeURL(r.url))
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent)
	}
	if r.user != "" {
		req.SetBasicAuth(r.user, r.pass)
	}
	client := o.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		inner := err
		var ue *url.Error
		if errors.As(err, &ue) {
			inner = ue.Err // url.Error's text contains the full URL
		}
		msg := fmt.Sprintf("%s %s: %s", r.method, safeURL(r.url), redact(inner.Error(), r.secrets))
		return true, &redactedError{msg: msg, err: inner}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxReadBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxReadBody))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	se := &StatusError{
		StatusCode: resp.StatusCode,
		Body:       truncate(oneLine(strings.TrimSpace(redact(string(body), r.secrets))), maxErrorBody),
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		se.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return retryableStatus(resp.StatusCode), fmt.Errorf("%s %s: %w", r.method, safeURL(r.url), se)
}

// PostJSON posts body (JSON) with header to url under o's client and
// timeout, classified as for the HTTP channels: 2xx is success; network
// errors, 408, 429 and 5xx are retryable (a *StatusError carries the
// Retry-After delay, see RetryAfter); other statuses are final.
func (o *HTTPOptions) PostJSON(ctx context.Context, url string, header http.Header, body []byte) (retry bool, err error) {
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	return o.do(ctx, httpRequest{method: http.MethodPost, url: url, header: h, body: body})
}
