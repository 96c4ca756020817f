package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/internal/secret"
)

// Header values of the Remote-Write specs.
const (
	contentTypeV1 = "application/x-protobuf"
	contentTypeV2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
	versionV1     = "0.1.0"
	versionV2     = "2.0.0"

	headerVersion           = "X-Prometheus-Remote-Write-Version"
	headerSamplesWritten    = "X-Prometheus-Remote-Write-Samples-Written"
	headerHistogramsWritten = "X-Prometheus-Remote-Write-Histograms-Written"
	headerExemplarsWritten  = "X-Prometheus-Remote-Write-Exemplars-Written"
	userAgent               = "watchdog-remote-write"
	maxErrorBody            = 512
	maxRetryAfter           = 10 * time.Minute
)

// verdict is what to do with a request after one attempt.
type verdict int

const (
	sent        verdict = iota // 2xx
	retry                      // network error, timeout, 5xx, 429 with retry_on_http_429
	drop                       // other 4xx (and 429 without retry), bad request
	unconfirmed                // 2.0: 2xx without the written headers
)

// outcome is the result of one attempt.
type outcome struct {
	verdict    verdict
	status     int           // HTTP status, 0 for a network error
	retryAfter time.Duration // the receiver's Retry-After, 0 if none
	err        error         // why, for the log (nil when sent)
}

// client posts request bodies to one receiver.
type client struct {
	url      string
	hc       *http.Client
	v2       bool
	headers  map[string]string
	cfg      *config.RemoteWriteConfig
	retry429 bool
	log      *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	secrets map[string]*fileSecret
}

// defaultHTTPClient is shared by the senders that get no Options.Client.
var defaultHTTPClient = &http.Client{Transport: &http.Transport{
	Proxy:               http.ProxyFromEnvironment,
	MaxIdleConnsPerHost: 64,
	IdleConnTimeout:     90 * time.Second,
	TLSHandshakeTimeout: 10 * time.Second,
	ForceAttemptHTTP2:   true,
}}

// post makes one attempt to send body, within remote_timeout.
func (c *client) post(ctx context.Context, body []byte) outcome {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.RemoteTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return outcome{verdict: drop, err: fmt.Errorf("build request: %w", err)}
	}
	h := req.Header
	for k, v := range c.headers {
		h.Set(k, v)
	}
	h.Set("Content-Encoding", "snappy")
	h.Set("User-Agent", userAgent)
	if c.v2 {
		h.Set("Content-Type", contentTypeV2)
		h.Set(headerVersion, versionV2)
	} else {
		h.Set("Content-Type", contentTypeV1)
		h.Set(headerVersion, versionV1)
	}
	if err := c.authorize(req); err != nil {
		// A missing or unreadable secret may be fixed without a restart:
		// retry rather than lose the samples.
		return outcome{verdict: retry, err: err}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return outcome{verdict: retry, err: fmt.Errorf("send request: %w", err)}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // reuse the connection
	o := outcome{status: resp.StatusCode}
	switch code := resp.StatusCode; {
	case code/100 == 2:
		o.verdict = sent
		if c.v2 && !writtenHeaders(resp.Header) {
			o.verdict = unconfirmed
			o.err = fmt.Errorf("receiver answered %s to a Remote-Write 2.0 request without the %s header: "+
				"it may only understand 1.0 and have written nothing", resp.Status, headerSamplesWritten)
		}
		return o
	case code/100 == 5:
		o.verdict = retry
		o.retryAfter = c.retryAfter(resp.Header.Get("Retry-After"))
	case code == http.StatusTooManyRequests && c.retry429:
		o.verdict = retry
		o.retryAfter = c.retryAfter(resp.Header.Get("Retry-After"))
	default:
		o.verdict = drop
	}
	o.err = fmt.Errorf("server returned HTTP status %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	return o
}

// writtenHeaders reports whether a 2.0 response confirms what was written.
func writtenHeaders(h http.Header) bool {
	return h.Get(headerSamplesWritten) != "" || h.Get(headerHistogramsWritten) != "" || h.Get(headerExemplarsWritten) != ""
}

// retryAfter parses a Retry-After value (seconds or an HTTP date), capped
// at maxRetryAfter; 0 if absent or invalid.
func (c *client) retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(c.now())
	}
	return min(max(d, 0), maxRetryAfter)
}

func (c *client) authorize(req *http.Request) error {
	switch {
	case c.cfg.Authorization != nil:
		a := c.cfg.Authorization
		cred, err := c.secret("credentials file", a.CredentialsFile)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", a.Type+" "+cred)
	case c.cfg.BasicAuth != nil:
		b := c.cfg.BasicAuth
		pw := ""
		if b.PasswordFile != "" {
			var err error
			if pw, err = c.secret("password file", b.PasswordFile); err != nil {
				return err
			}
		}
		req.SetBasicAuth(b.Username, pw)
	}
	return nil
}

// secret reads a secret file with secret.ReadFile, again only when the
// file's mtime or size changed.
func (c *client) secret(what, path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.secrets[path]; ok && s.modTime.Equal(fi.ModTime()) && s.size == fi.Size() {
		return s.value, nil
	}
	v, err := secret.ReadFile(what, path, c.log)
	if err != nil {
		return "", err
	}
	if strings.ContainsAny(v, "\r\n") {
		return "", fmt.Errorf("%s %s %w", what, path, secret.ErrLineBreak)
	}
	if c.secrets == nil {
		c.secrets = map[string]*fileSecret{}
	}
	c.secrets[path] = &fileSecret{modTime: fi.ModTime(), size: fi.Size(), value: v}
	return v, nil
}

type fileSecret struct {
	modTime time.Time
	size    int64
	value   string
}
