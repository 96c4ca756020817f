package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/watchdog-sre/watchdog/config"
)

// maxLine bounds a line read while waiting for an expect.
const maxLine = 64 << 10

// probeTCP connects to target (host:port), optionally over TLS, and plays
// the query_response conversation.
func (p *Prober) probeTCP(ctx context.Context, r *recorder, target string, m *config.TCPProbe) bool {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return r.fail(0, nil, "target %q is not host:port", target)
	}
	ip, _, err := resolve(ctx, r, p.resolver, host, m.IPProtocol, fallbackOf(m.IPProtocolFallback))
	if err != nil {
		return r.fail(0, nil, "%v", err)
	}
	r.set("probe_failed_due_to_regex", 0)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
	if err != nil {
		return r.fail(0, nil, "connect: %v", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	tc, err := tlsConfig(m.TLSConfig, host)
	if err != nil {
		return r.fail(0, nil, "%v", err)
	}
	startTLS := func() bool {
		t := tls.Client(conn, tc)
		if err := t.HandshakeContext(ctx); err != nil {
			return r.fail(0, nil, "TLS handshake: %v", err)
		}
		st := t.ConnectionState()
		recordTLS(r, &st)
		conn = t
		return true
	}
	if m.TLS && !startTLS() {
		return false
	}
	rd := bufio.NewReaderSize(conn, 4096)
	for i, qr := range m.QueryResponse {
		if qr.Expect != nil {
			if !expect(r, rd, qr.Expect, i) {
				return false
			}
		}
		if qr.Send != "" {
			if _, err := fmt.Fprintf(conn, "%s\n", qr.Send); err != nil {
				return r.fail(0, nil, "query_response[%d]: send: %v", i, err)
			}
		}
		if qr.StartTLS {
			if !startTLS() {
				return false
			}
			rd = bufio.NewReaderSize(conn, 4096)
		}
	}
	return true
}

// expect reads lines until one matches re.
func expect(r *recorder, rd *bufio.Reader, re *config.Regexp, i int) bool {
	var last []byte
	for {
		line, err := readLine(rd)
		if line != nil {
			last = line
			if re.Match(line) {
				return true
			}
		}
		if err != nil {
			r.set("probe_failed_due_to_regex", 1)
			return r.fail(0, last, "query_response[%d]: no line matched %q: %v", i, re.String(), err)
		}
	}
}

// readLine reads one line of at most maxLine bytes.
func readLine(rd *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, isPrefix, err := rd.ReadLine()
		line = append(line, frag...)
		if err != nil {
			if len(line) > 0 {
				return line, err
			}
			return nil, err
		}
		if len(line) > maxLine {
			return line[:maxLine], fmt.Errorf("line longer than %d bytes", maxLine)
		}
		if !isPrefix {
			return line, nil
		}
	}
}
