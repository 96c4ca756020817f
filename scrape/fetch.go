package scrape

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/watchdog-sre/watchdog/config"
)

// acceptHeader returns the Accept header of a job asking for protocols in
// this order, as Prometheus builds it: weights from 0.6 down, the escaping
// parameter on the formats that take it (legacy underscores escaping: this
// store's label names are Prometheus's), then anything.
func acceptHeader(protocols []config.ScrapeProtocol) string {
	if len(protocols) == 0 {
		protocols = config.DefaultScrapeProtocols
	}
	var b strings.Builder
	weight := len(config.ScrapeProtocolHeaders) + 1
	for _, p := range protocols {
		h, ok := config.ScrapeProtocolHeaders[p]
		if !ok {
			continue
		}
		b.WriteString(h)
		if p == config.PrometheusText1_0_0 || p == config.OpenMetricsText1_0_0 {
			b.WriteString(";escaping=underscores")
		}
		fmt.Fprintf(&b, ";q=0.%d,", weight)
		weight--
	}
	fmt.Fprintf(&b, "*/*;q=0.%d", weight)
	return b.String()
}

// fetcher performs the HTTP side of a target's scrapes. It is owned by the
// target's goroutine. Its body buffer and gzip reader come from pools
// shared by all targets and go back after each scrape (release), so that a
// fleet holds about as many as it has scrapes in flight, not one per target.
type fetcher struct {
	userAgent string
	buf       *bytes.Buffer // nil between scrapes
	secrets   map[string]*fileSecret
}

// Body buffers and gzip readers are pooled across targets. The body pool
// keeps at most as many buffers as scrapes may be appended at once (the
// default ingest concurrency): a burst of concurrent scrapes (the first
// ones, all creating series) must not leave one buffer per target behind,
// which a sync.Pool would keep until collections, rare once the series
// exist, cleared it. A buffer that grew beyond maxPooledBody (a huge
// exposition) is left to the collector rather than kept for the small ones.
var (
	bodyPool      = make(chan *bytes.Buffer, DefaultIngestConcurrency())
	gunzipPool    sync.Pool // of *gunzipper
	maxPooledBody = 16 << 20
)

// getBody returns an empty body buffer, pooled if one is free.
func getBody() *bytes.Buffer {
	select {
	case b := <-bodyPool:
		return b
	default:
		return new(bytes.Buffer)
	}
}

// putBody pools b if there is room and it is not too large.
func putBody(b *bytes.Buffer) {
	if b.Cap() > maxPooledBody {
		return
	}
	b.Reset()
	select {
	case bodyPool <- b:
	default:
	}
}

// gunzipper is a gzip reader with the buffered reader under it.
type gunzipper struct {
	br *bufio.Reader
	gz *gzip.Reader
}

// gunzip returns a pooled reader decompressing r; put it back with
// gunzipPool.Put once read.
func gunzip(r io.Reader) (*gunzipper, error) {
	z, _ := gunzipPool.Get().(*gunzipper)
	if z == nil {
		z = &gunzipper{br: bufio.NewReader(r)}
	} else {
		z.br.Reset(r)
	}
	var err error
	if z.gz == nil {
		z.gz, err = gzip.NewReader(z.br)
	} else {
		err = z.gz.Reset(z.br)
	}
	if err != nil {
		z.gz = nil
		z.br.Reset(nil)
		gunzipPool.Put(z)
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return z, nil
}

// release returns the body buffer of the last fetch to the pool: the body
// fetch returned must not be used after it.
func (f *fetcher) release() {
	if f.buf == nil {
		return
	}
	putBody(f.buf)
	f.buf = nil
}

// fetch GETs the target and returns the (decompressed) body, valid until
// the next fetch or release, and its Content-Type. ctx carries the scrape timeout,
// which covers the append after the fetch too (scrapeAndReport).
func (f *fetcher) fetch(ctx context.Context, s *loopSettings) ([]byte, string, error) {
	t, cfg := s.target, s.job.cfg
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, http.NoBody)
	if err != nil {
		return nil, "", fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Accept", s.job.accept)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("User-Agent", f.userAgent)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(t.timeout.Seconds(), 'f', -1, 64))
	switch {
	case cfg.Authorization != nil:
		cred, err := f.secret(cfg.Authorization.CredentialsFile)
		if err != nil {
			return nil, "", fmt.Errorf("authorization credentials: %w", err)
		}
		typ := strings.TrimSpace(cfg.Authorization.Type)
		if typ == "" {
			typ = "Bearer"
		}
		req.Header.Set("Authorization", typ+" "+cred)
	case cfg.BearerTokenFile != "":
		tok, err := f.secret(cfg.BearerTokenFile)
		if err != nil {
			return nil, "", fmt.Errorf("bearer token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case cfg.BasicAuth != nil:
		var pw string
		if cfg.BasicAuth.PasswordFile != "" {
			if pw, err = f.secret(cfg.BasicAuth.PasswordFile); err != nil {
				return nil, "", fmt.Errorf("basic auth password: %w", err)
			}
		}
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cfg.BasicAuth.Username+":"+pw)))
	}

	resp, err := s.job.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("server returned HTTP status %s", resp.Status)
	}

	var r io.Reader = resp.Body
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		z, err := gunzip(resp.Body)
		if err != nil {
			return nil, "", err
		}
		defer func() {
			z.br.Reset(nil)
			gunzipPool.Put(z)
		}()
		r = z.gz
	}

	// As Prometheus: a body of body_size_limit bytes or more fails.
	limit := int64(s.job.cfg.BodySizeLimit)
	if limit <= 0 {
		limit = 1<<63 - 1
	}
	if f.buf == nil {
		f.buf = getBody()
	}
	f.buf.Reset()
	if n := resp.ContentLength; n > 0 && r == resp.Body && n < limit && n <= int64(maxPooledBody) {
		// ReadFrom wants room for 512 bytes more before it sees EOF.
		f.buf.Grow(int(n) + bytes.MinRead)
	}
	n, err := f.buf.ReadFrom(io.LimitReader(r, limit))
	if err != nil {
		return nil, "", fmt.Errorf("read body: %w", err)
	}
	if n >= limit {
		return nil, "", fmt.Errorf("%w (%d bytes)", ErrBodySizeLimit, limit)
	}
	return f.buf.Bytes(), resp.Header.Get("Content-Type"), nil
}

func (f *fetcher) secret(path string) (string, error) {
	if f.secrets == nil {
		f.secrets = map[string]*fileSecret{}
	}
	s, ok := f.secrets[path]
	if !ok {
		s = &fileSecret{path: path}
		f.secrets[path] = s
	}
	return s.get()
}

// fileSecret is a secret read from a file and re-read when the file's mtime
// or size changes.
type fileSecret struct {
	path    string
	modTime time.Time
	size    int64
	value   string
	loaded  bool
}

func (s *fileSecret) get() (string, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return "", err
	}
	if s.loaded && fi.ModTime().Equal(s.modTime) && fi.Size() == s.size {
		return s.value, nil
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		return "", err
	}
	s.value = strings.TrimSpace(string(b))
	s.modTime, s.size, s.loaded = fi.ModTime(), fi.Size(), true
	return s.value, nil
}

// acceptHeader is the Accept header of a job with settings h: protobuf
// first when start timestamps are read and the job's scrape_protocols are
// the default (neither the job nor the global section set them: loading
// leaves config.DefaultScrapeProtocols itself there), as Prometheus asks
// with its start timestamp features.
func (m *Manager) acceptHeader(h *config.HistogramSettings) string {
	p := h.ScrapeProtocols
	if (m.opts.StoreStartTimestamps || m.opts.STZeroIngestion) &&
		(len(p) == 0 || &p[0] == &config.DefaultScrapeProtocols[0]) {
		return acceptHeader(config.DefaultProtoFirstScrapeProtocols)
	}
	return acceptHeader(p)
}
