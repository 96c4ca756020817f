package scrape

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/config"
)

// TestFetchRealServer checks the HTTP side against a real local server (no
// scrape loop, so no timing is involved).
func TestFetchRealServer(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	credFile := filepath.Join(dir, "cred")
	for p, v := range map[string]string{pwFile: "hunter2\n", credFile: "abc"} {
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		body := []byte(strings.Repeat("m 1\n", 10))
		if r.URL.Query().Get("gz") == "1" {
			var b bytes.Buffer
			gz := gzip.NewWriter(&b)
			_, _ = gz.Write(body)
			_ = gz.Close()
			body = b.Bytes()
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	for _, tc := range []struct {
		name     string
		mod      func(c *config.ScrapeConfig)
		wantAuth string
		wantErr  error
		wantLen  int
	}{
		{name: "plain", wantLen: 40},
		{name: "gzip", mod: func(c *config.ScrapeConfig) { c.Params = url.Values{"gz": {"1"}} }, wantLen: 40},
		{name: "basic auth", mod: func(c *config.ScrapeConfig) { c.BasicAuth = &config.BasicAuth{Username: "u", PasswordFile: pwFile} },
			wantAuth: "Basic dTpodW50ZXIy", wantLen: 40},
		{name: "authorization", mod: func(c *config.ScrapeConfig) {
			c.Authorization = &config.Authorization{Type: "Token", CredentialsFile: credFile}
		}, wantAuth: "Token abc", wantLen: 40},
		{name: "body limit", mod: func(c *config.ScrapeConfig) { c.BodySizeLimit = 40 }, wantErr: ErrBodySizeLimit},
		{name: "body limit after gunzip", mod: func(c *config.ScrapeConfig) {
			c.BodySizeLimit = 39
			c.Params = url.Values{"gz": {"1"}}
		}, wantErr: ErrBodySizeLimit},
		{name: "body just under limit", mod: func(c *config.ScrapeConfig) { c.BodySizeLimit = 41 }, wantLen: 40},
		{name: "missing secret file", mod: func(c *config.ScrapeConfig) { c.BearerTokenFile = filepath.Join(dir, "nope") }, wantErr: os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotAuth = ""
			jc := &jobConfig{cfg: scrapeCfg("j", addr), client: srv.Client()}
			if tc.mod != nil {
				tc.mod(jc.cfg)
			}
			tg, err := newTarget(labelsBuilder(), jc.cfg, addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			f := &fetcher{userAgent: "test"}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b, ct, err := f.fetch(ctx, &loopSettings{target: tg, job: jc})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tc.wantLen || !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("body %d bytes, content type %q", len(b), ct)
			}
			if gotAuth != tc.wantAuth {
				t.Fatalf("Authorization %q, want %q", gotAuth, tc.wantAuth)
			}
			// Between scrapes the fetcher holds no buffer; the next
			// fetch takes one (and a gzip reader) from the pools.
			f.release()
			if f.buf != nil {
				t.Fatal("release kept the body buffer")
			}
			if b, _, err = f.fetch(ctx, &loopSettings{target: tg, job: jc}); err != nil || string(b) != strings.Repeat("m 1\n", 10) {
				t.Fatalf("second fetch: %q, %v", b, err)
			}
			f.release()
		})
	}
}

// TestBodyPoolBounded: the body pool keeps at most its capacity of
// buffers, never one above maxPooledBody, and hands them out empty.
func TestBodyPoolBounded(t *testing.T) {
	for len(bodyPool) > 0 {
		<-bodyPool
	}
	var bufs []*bytes.Buffer
	for range 3 * cap(bodyPool) {
		b := getBody()
		b.WriteString("m 1\n")
		bufs = append(bufs, b)
	}
	for _, b := range bufs {
		putBody(b)
	}
	if len(bodyPool) != cap(bodyPool) {
		t.Fatalf("pool holds %d buffers, want its capacity %d", len(bodyPool), cap(bodyPool))
	}
	if b := getBody(); b.Len() != 0 {
		t.Fatalf("pooled buffer not empty: %q", b.String())
	}
	<-bodyPool
	big := bytes.NewBuffer(make([]byte, 0, maxPooledBody+1))
	putBody(big)
	for len(bodyPool) > 0 {
		if <-bodyPool == big {
			t.Fatal("a buffer above maxPooledBody was pooled")
		}
	}
}

// TestScrapeKeepsNoBody: after a scrape the loop holds no pooled body
// buffer (the parser's views are dropped too: promtext's
// TestReleaseKeepsMemo), scrape after scrape, and the samples are those of
// each body.
func TestScrapeKeepsNoBody(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP m a gauge\n# TYPE m gauge\nm %d\n", n)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	rec := newRecorder()
	m := NewManager(Options{Appender: rec.appender})
	jc := &jobConfig{cfg: scrapeCfg("j", addr), client: srv.Client()}
	tg, err := newTarget(labelsBuilder(), jc.cfg, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	sl := newScrapeLoop(m.loopDeps("j"), &loopSettings{target: tg, job: jc})
	for i := range 3 {
		ran, err := sl.scrapeAndReport(context.Background(), time.UnixMilli(int64(1000*(i+1))))
		if !ran || err != nil {
			t.Fatalf("scrape %d: ran %v, %v", i, ran, err)
		}
		if sl.fetch.buf != nil {
			t.Fatalf("scrape %d: the loop kept the body buffer", i)
		}
	}
	if got := values(rec.samples("m")); strings.Join(got, " ") != "1000=1 2000=2 3000=3" {
		t.Fatalf("samples of m: %v, want 1, 2, 3 at 1 s, 2 s, 3 s", got)
	}
}
