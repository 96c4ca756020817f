package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/watchdog-sre/watchdog/config"
)

// The gRPC health check is one unary call, small enough to speak by hand
// over net/http's HTTP/2 (h2c without TLS), so that the binary does not
// carry google.golang.org/grpc.

// servingStatus names grpc.health.v1.HealthCheckResponse.ServingStatus.
var servingStatus = []string{"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"}

// maxGRPCMessage bounds the answer read.
const maxGRPCMessage = 64 << 10

// probeGRPC calls grpc.health.v1.Health/Check on target (host:port).
func (p *Prober) probeGRPC(ctx context.Context, r *recorder, target string, m *config.GRPCProbe) bool {
	r.set("probe_grpc_duration_seconds", 0, "phase", "resolve")
	r.set("probe_grpc_duration_seconds", 0, "phase", "check")
	r.set("probe_grpc_ssl", 0)
	r.set("probe_grpc_status_code", 0)
	for _, s := range servingStatus {
		r.set("probe_grpc_healthcheck_response", 0, "serving_status", s)
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return r.fail(0, nil, "target %q is not host:port", target)
	}
	ip, lookup, err := resolve(ctx, r, p.resolver, host, m.IPProtocol, fallbackOf(m.IPProtocolFallback))
	r.set("probe_grpc_duration_seconds", lookup.Seconds(), "phase", "resolve")
	if err != nil {
		return r.fail(0, nil, "%v", err)
	}
	tc, err := tlsConfig(m.TLSConfig, host)
	if err != nil {
		return r.fail(0, nil, "%v", err)
	}
	var protos http.Protocols
	scheme := "http"
	if m.TLS {
		protos.SetHTTP2(true)
		scheme = "https"
	} else {
		protos.SetUnencryptedHTTP2(true)
	}
	var d net.Dialer
	addr := net.JoinHostPort(ip.String(), port)
	transport := &http.Transport{
		Protocols:         &protos,
		TLSClientConfig:   tc,
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}
	defer transport.CloseIdleConnections()
	start := time.Now()
	msg := appendString(nil, 1, m.Service) // HealthCheckRequest{service}
	frame := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		scheme+"://"+net.JoinHostPort(host, port)+"/grpc.health.v1.Health/Check", bytes.NewReader(append(frame, msg...)))
	if err != nil {
		return r.fail(0, nil, "build request: %v", err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header.Set("User-Agent", UserAgent)
	resp, err := transport.RoundTrip(req)
	if err != nil {
		r.set("probe_grpc_duration_seconds", time.Since(start).Seconds(), "phase", "check")
		return r.fail(0, nil, "health check: %s", requestError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGRPCMessage))
	r.set("probe_grpc_duration_seconds", time.Since(start).Seconds(), "phase", "check")
	if resp.TLS != nil {
		r.set("probe_grpc_ssl", 1)
		recordTLS(r, resp.TLS)
	}
	if err != nil {
		return r.fail(0, nil, "read answer: %s", requestError(err))
	}
	if resp.StatusCode != http.StatusOK {
		return r.fail(resp.StatusCode, body, "HTTP status %d", resp.StatusCode)
	}
	code := resp.Trailer.Get("Grpc-Status")
	if code == "" {
		code = resp.Header.Get("Grpc-Status") // a trailers-only answer
	}
	n, err := strconv.Atoi(code)
	if err != nil {
		return r.fail(0, nil, "answer without grpc-status")
	}
	r.set("probe_grpc_status_code", float64(n))
	if n != 0 {
		m := resp.Trailer.Get("Grpc-Message")
		if m == "" {
			m = resp.Header.Get("Grpc-Message")
		}
		return r.fail(0, nil, "gRPC status %d: %s", n, m)
	}
	st, err := parseHealthResponse(body)
	if err != nil {
		return r.fail(0, nil, "%v", err)
	}
	name := strconv.Itoa(st)
	if st >= 0 && st < len(servingStatus) {
		name = servingStatus[st]
	}
	r.set("probe_grpc_healthcheck_response", 1, "serving_status", name)
	if st != 1 {
		return r.fail(0, nil, "serving status %s", name)
	}
	return true
}

// appendString appends a protobuf string field.
func appendString(b []byte, field int, s string) []byte {
	if s == "" {
		return b
	}
	b = binary.AppendUvarint(b, uint64(field<<3|2))
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errBadAnswer = errors.New("malformed health check answer")

// parseHealthResponse reads the status (field 1, varint) of a framed
// HealthCheckResponse.
func parseHealthResponse(b []byte) (int, error) {
	if len(b) < 5 || b[0] != 0 {
		return 0, fmt.Errorf("%w: bad frame", errBadAnswer)
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if uint32(len(b)-5) < n {
		return 0, fmt.Errorf("%w: short message", errBadAnswer)
	}
	msg := b[5 : 5+n]
	status := 0
	for len(msg) > 0 {
		key, k := binary.Uvarint(msg)
		if k <= 0 {
			return 0, errBadAnswer
		}
		msg = msg[k:]
		switch key & 7 {
		case 0:
			v, k := binary.Uvarint(msg)
			if k <= 0 {
				return 0, errBadAnswer
			}
			msg = msg[k:]
			if key>>3 == 1 {
				status = int(v)
			}
		case 2:
			l, k := binary.Uvarint(msg)
			if k <= 0 || uint64(len(msg)-k) < l {
				return 0, errBadAnswer
			}
			msg = msg[k+int(l):]
		default:
			return 0, errBadAnswer
		}
	}
	return status, nil
}
