package probe

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// shop is the server the HTTP assertion cases probe.
func shop(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Version", "v2")
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		fmt.Fprint(w, `{"status":"ok","items":[{"sku":"SKU-1","qty":2}],"open":true}`)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database is down\x1b[31m", http.StatusInternalServerError)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u, p, _ := r.BasicAuth()
		fmt.Fprintf(w, "%s %s x=%s user=%s pw=%s", r.Method, b, r.Header.Get("X-Test"), u, p)
	})
	mux.HandleFunc("/redirect/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n <= 0 {
			http.Redirect(w, r, "/ok", http.StatusFound)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/redirect/%d", n-1), http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 4096)) })
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // headers sent, the body never comes
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func TestHTTPAssertions(t *testing.T) {
	s := shop(t)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, module string
		ok                 bool
		reason             string // in the failure
		regex              float64
	}{
		{"ok", "/ok", "prober: http", true, "", 0},
		{"status not 2xx", "/fail", "prober: http", false, "status 500 is not 2xx", 0},
		{"valid status codes pass", "/fail", "prober: http\nhttp: {valid_status_codes: [500]}", true, "", 0},
		{"valid status codes fail", "/ok", "prober: http\nhttp: {valid_status_codes: [204]}", false, "status 200 is not one of valid_status_codes [204]", 0},
		{"body matches pass", "/ok", "prober: http\nhttp: {fail_if_body_matches_regexp: ['error']}", true, "", 0},
		{"body matches fail", "/ok", "prober: http\nhttp: {fail_if_body_matches_regexp: ['\"open\":\\s*true']}", false, "body matched fail_if_body_matches_regexp", 1},
		{"body not matches pass", "/ok", "prober: http\nhttp: {fail_if_body_not_matches_regexp: ['SKU-\\d']}", true, "", 0},
		{"body not matches fail", "/ok", "prober: http\nhttp: {fail_if_body_not_matches_regexp: ['SKU-X']}", false, "body did not match", 1},
		{"header matches pass", "/ok", "prober: http\nhttp: {fail_if_header_matches: [{header: X-Version, regexp: v1}]}", true, "", 0},
		{"header matches fail", "/ok", "prober: http\nhttp: {fail_if_header_matches: [{header: X-Version, regexp: v2}]}", false, "header X-Version matched", 1},
		{"header missing fails", "/ok", "prober: http\nhttp: {fail_if_header_matches: [{header: X-Nope, regexp: a}]}", false, "header X-Nope is missing", 1},
		{"header missing allowed", "/ok", "prober: http\nhttp: {fail_if_header_matches: [{header: X-Nope, regexp: a, allow_missing: true}]}", true, "", 0},
		{"header not matches pass", "/ok", "prober: http\nhttp: {fail_if_header_not_matches: [{header: Content-Type, regexp: json}]}", true, "", 0},
		{"header not matches fail", "/ok", "prober: http\nhttp: {fail_if_header_not_matches: [{header: Content-Type, regexp: html}]}", false, "header Content-Type did not match", 1},
		{"json equals pass", "/ok", "prober: http\nhttp: {fail_if_json_not_matches: [{path: items.0.qty, equals: '2'}]}", true, "", 0},
		{"json equals fail", "/ok", "prober: http\nhttp: {fail_if_json_not_matches: [{path: status, equals: degraded}]}", false, `json status is "ok", want "degraded"`, 0},
		{"json regexp pass", "/ok", "prober: http\nhttp: {fail_if_json_not_matches: [{path: items.0.sku, regexp: '^SKU-'}]}", true, "", 0},
		{"json regexp fail", "/ok", "prober: http\nhttp: {fail_if_json_not_matches: [{path: open, regexp: '^false$'}]}", false, "does not match", 0},
		{"json path missing", "/ok", "prober: http\nhttp: {fail_if_json_not_matches: [{path: items.3.sku}]}", false, "json path not found", 0},
		{"json not json", "/fail", "prober: http\nhttp: {valid_status_codes: [500], fail_if_json_not_matches: [{path: a}]}", false, "body is not JSON", 0},
		{"method headers body", "/echo", "prober: http\nhttp: {method: PUT, body: hello, headers: {X-Test: yes}, fail_if_body_not_matches_regexp: ['^PUT hello x=yes']}", true, "", 0},
		{"basic auth", "/echo", "prober: http\nhttp: {basic_auth: {username: bob, password_file: " + pw + "}, fail_if_body_not_matches_regexp: ['user=bob pw=s3cret$']}", true, "", 0},
		{"not ssl", "/ok", "prober: http\nhttp: {fail_if_not_ssl: true}", false, "did not come over TLS", 0},
		{"http version pass", "/ok", "prober: http\nhttp: {valid_http_versions: [HTTP/1.1]}", true, "", 0},
		{"http version fail", "/ok", "prober: http\nhttp: {valid_http_versions: [HTTP/2.0]}", false, "HTTP/1.1 is not one of valid_http_versions", 0},
		{"body size limit", "/big", "prober: http\nhttp: {body_size_limit: 1KiB}", false, "body larger than body_size_limit 1KiB", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, module(t, tt.module), s.URL+tt.path, 5*time.Second)
			if res.Success != tt.ok {
				t.Fatalf("success = %v, want %v (failure %+v)", res.Success, tt.ok, res.Failure)
			}
			if got := mustValue(t, res, "probe_success"); got != map[bool]float64{true: 1, false: 0}[tt.ok] {
				t.Errorf("probe_success = %v", got)
			}
			if tt.ok != (res.Failure == nil) {
				t.Errorf("failure = %+v with success %v", res.Failure, res.Success)
			}
			if !tt.ok && !strings.Contains(res.Failure.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", res.Failure.Reason, tt.reason)
			}
			if got := mustValue(t, res, "probe_failed_due_to_regex"); got != tt.regex {
				t.Errorf("probe_failed_due_to_regex = %v, want %v", got, tt.regex)
			}
		})
	}
}

func TestHTTPSeries(t *testing.T) {
	s := shop(t)
	res := run(t, module(t, "prober: http"), s.URL+"/ok", 5*time.Second)
	if !res.Success {
		t.Fatalf("failed: %+v", res.Failure)
	}
	for name, want := range map[string]float64{
		"probe_http_status_code": 200, "probe_http_version": 1.1, "probe_http_ssl": 0, "probe_http_redirects": 0,
		"probe_ip_protocol": 4, "probe_http_uncompressed_body_length": 61, "probe_http_last_modified_timestamp_seconds": 1136214245,
	} {
		if got := mustValue(t, res, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for _, ph := range []string{"resolve", "connect", "tls", "processing", "transfer"} {
		if v := mustValue(t, res, "probe_http_duration_seconds", "phase", ph); v < 0 || v > 5 {
			t.Errorf("phase %s = %v", ph, v)
		}
	}
	if v := mustValue(t, res, "probe_http_duration_seconds", "phase", "processing"); v <= 0 {
		t.Errorf("processing = %v, want > 0", v)
	}
	if d := mustValue(t, res, "probe_duration_seconds"); d <= 0 {
		t.Errorf("probe_duration_seconds = %v", d)
	}
}

func TestHTTPFailureBody(t *testing.T) {
	s := shop(t)
	res := run(t, module(t, "prober: http"), s.URL+"/fail", 5*time.Second)
	f := res.Failure
	if f == nil || f.Status != 500 {
		t.Fatalf("failure = %+v", f)
	}
	if f.Body != "database is down\uFFFD[31m\n" {
		t.Errorf("body = %q: want the control character replaced", f.Body)
	}
	long := TrimBody([]byte(strings.Repeat("é", 1000)))
	if len(long) > MaxFailureBody+len("…") || !strings.HasSuffix(long, "é…") {
		t.Errorf("a long body is cut to %d bytes ending %q", len(long), long[len(long)-8:])
	}
}

func TestHTTPRedirects(t *testing.T) {
	s := shop(t)
	tests := []struct {
		name, path, module string
		ok                 bool
		redirects, status  float64
	}{
		{"followed", "/redirect/2", "prober: http", true, 3, 200},
		{"not followed", "/redirect/0", "prober: http\nhttp: {no_follow_redirects: true}", false, 0, 302},
		{"not followed but valid", "/redirect/0", "prober: http\nhttp: {follow_redirects: false, valid_status_codes: [302]}", true, 0, 302},
		{"loop", "/loop", "prober: http", false, MaxRedirects + 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, module(t, tt.module), s.URL+tt.path, 5*time.Second)
			if res.Success != tt.ok {
				t.Fatalf("success = %v (%+v)", res.Success, res.Failure)
			}
			if got := mustValue(t, res, "probe_http_redirects"); got != tt.redirects {
				t.Errorf("redirects = %v, want %v", got, tt.redirects)
			}
			if got := mustValue(t, res, "probe_http_status_code"); got != tt.status {
				t.Errorf("status = %v, want %v", got, tt.status)
			}
		})
	}
}

func TestHTTPTimeouts(t *testing.T) {
	s := shop(t)
	t.Run("hangs after headers", func(t *testing.T) {
		start := time.Now()
		res := run(t, module(t, "prober: http"), s.URL+"/hang", 300*time.Millisecond)
		if res.Success || !strings.Contains(res.Failure.Reason, "timeout") {
			t.Fatalf("want a timeout failure, got %+v", res.Failure)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("took %v: the timeout was not kept", took)
		}
		if got := mustValue(t, res, "probe_http_status_code"); got != 200 {
			t.Errorf("status = %v: the headers came", got)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		res := run(t, module(t, "prober: http"), dead.URL, 2*time.Second)
		if res.Success || !strings.Contains(res.Failure.Reason, "refused") {
			t.Fatalf("failure = %+v", res.Failure)
		}
	})
}

func TestHTTPTLS(t *testing.T) {
	ca := newCA(t)
	caFile := ca.file(t)
	inMonth := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	tlsServer := func(notAfter time.Time) *httptest.Server {
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secure") }))
		s.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, notAfter)}}
		s.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what the cases test
		s.StartTLS()
		t.Cleanup(s.Close)
		return s
	}
	valid := tlsServer(inMonth)
	expired := tlsServer(time.Now().Add(-time.Hour))
	tests := []struct {
		name   string
		url    string
		module string
		ok     bool
		reason string
	}{
		{"self-signed refused", valid.URL, "prober: http", false, "certificate signed by unknown authority"},
		{"ca_file", valid.URL, "prober: http\nhttp: {tls_config: {ca_file: " + caFile + "}}", true, ""},
		{"insecure", valid.URL, "prober: http\nhttp: {tls_config: {insecure_skip_verify: true}}", true, ""},
		{"expired", expired.URL, "prober: http\nhttp: {tls_config: {ca_file: " + caFile + "}}", false, "expired"},
		{"expired insecure", expired.URL, "prober: http\nhttp: {tls_config: {insecure_skip_verify: true}}", true, ""},
		{"fail_if_ssl", valid.URL, "prober: http\nhttp: {fail_if_ssl: true, tls_config: {ca_file: " + caFile + "}}", false, "came over TLS"},
		{"wrong server name", valid.URL, "prober: http\nhttp: {tls_config: {ca_file: " + caFile + ", server_name: shop.example}}", false, "shop.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, module(t, tt.module), tt.url, 5*time.Second)
			if res.Success != tt.ok {
				t.Fatalf("success = %v (%+v)", res.Success, res.Failure)
			}
			if !tt.ok && !strings.Contains(res.Failure.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", res.Failure.Reason, tt.reason)
			}
		})
	}
	res := run(t, module(t, "prober: http\nhttp: {tls_config: {ca_file: "+caFile+"}}"), valid.URL, 5*time.Second)
	if got := mustValue(t, res, "probe_ssl_earliest_cert_expiry"); got != float64(inMonth.Unix()) {
		t.Errorf("probe_ssl_earliest_cert_expiry = %v, want %v", got, inMonth.Unix())
	}
	if got := mustValue(t, res, "probe_http_ssl"); got != 1 {
		t.Errorf("probe_http_ssl = %v", got)
	}
	mustValue(t, res, "probe_tls_version_info", "version", "TLS 1.3")
	if v := mustValue(t, res, "probe_http_duration_seconds", "phase", "tls"); v <= 0 {
		t.Errorf("tls phase = %v, want > 0", v)
	}
	res = run(t, module(t, "prober: http\nhttp: {tls_config: {insecure_skip_verify: true}}"), expired.URL, 5*time.Second)
	if got := mustValue(t, res, "probe_ssl_earliest_cert_expiry"); got >= float64(time.Now().Unix()) {
		t.Errorf("an expired certificate's expiry %v is not in the past", got)
	}
}
