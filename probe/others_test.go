package probe

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// listen returns a TCP listener on a free 127.0.0.1 port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// smtpLike answers a banner, then "250 ok" to HELO, or closes on QUIT.
func smtpLike(t *testing.T, ln net.Listener, banner string) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte(banner + "\r\n"))
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "HELO") {
						c.Write([]byte("250 ok\r\n"))
					}
				}
			}()
		}
	}()
}

func TestTCP(t *testing.T) {
	ln := listen(t)
	smtpLike(t, ln, "220 mail ready")
	silent := listen(t) // accepts, never speaks
	closed := listen(t)
	closedAddr := closed.Addr().String()
	closed.Close()
	ca := newCA(t)
	tlsLn := tls.NewListener(listen(t), &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, time.Now().Add(time.Hour))}})
	smtpLike(t, tlsLn, "220 secure")
	caFile := ca.file(t)
	tests := []struct {
		name, module, target string
		ok                   bool
		reason               string
	}{
		{"connect", "prober: tcp", ln.Addr().String(), true, ""},
		{"refused", "prober: tcp", closedAddr, false, "refused"},
		{"expect send expect", "prober: tcp\ntcp: {query_response: [{expect: '^220 '}, {send: HELO x}, {expect: '^250'}]}", ln.Addr().String(), true, ""},
		{"expect fails", "prober: tcp\ntcp: {query_response: [{expect: '^554'}]}", ln.Addr().String(), false, "no line matched"},
		{"silent server times out", "prober: tcp\ntcp: {query_response: [{expect: 'x'}]}", silent.Addr().String(), false, "timeout"},
		{"tls", "prober: tcp\ntcp: {tls: true, tls_config: {ca_file: " + caFile + "}, query_response: [{expect: '^220 secure'}]}", tlsLn.Addr().String(), true, ""},
		{"tls unverified", "prober: tcp\ntcp: {tls: true}", tlsLn.Addr().String(), false, "unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, module(t, tt.module), tt.target, 2*time.Second)
			if res.Success != tt.ok {
				t.Fatalf("success = %v (%+v)", res.Success, res.Failure)
			}
			if !tt.ok && !strings.Contains(res.Failure.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", res.Failure.Reason, tt.reason)
			}
		})
	}
	res := run(t, module(t, "prober: tcp\ntcp: {tls: true, tls_config: {ca_file: "+caFile+"}}"), tlsLn.Addr().String(), time.Second)
	mustValue(t, res, "probe_ssl_earliest_cert_expiry")
}

// dnsServer answers on 127.0.0.1 UDP: shop.example A 192.0.2.7 (two
// records with "two.example"), anything else NXDOMAIN.
func dnsServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var q dnsmessage.Message
			if q.Unpack(buf[:n]) != nil || len(q.Questions) != 1 {
				continue
			}
			qq := q.Questions[0]
			resp := dnsmessage.Message{Header: dnsmessage.Header{ID: q.ID, Response: true, RCode: dnsmessage.RCodeNameError}, Questions: q.Questions}
			add := func(ip [4]byte) {
				resp.Answers = append(resp.Answers, dnsmessage.Resource{
					Header: dnsmessage.ResourceHeader{Name: qq.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 300},
					Body:   &dnsmessage.AResource{A: ip}})
			}
			switch qq.Name.String() {
			case "shop.example.":
				resp.RCode = dnsmessage.RCodeSuccess
				add([4]byte{192, 0, 2, 7})
			case "two.example.":
				resp.RCode = dnsmessage.RCodeSuccess
				add([4]byte{192, 0, 2, 7})
				add([4]byte{198, 51, 100, 1})
			}
			out, _ := resp.Pack()
			pc.WriteTo(out, addr)
		}
	}()
	return pc.LocalAddr().String()
}

func TestDNS(t *testing.T) {
	srv := dnsServer(t)
	tests := []struct {
		name, module string
		ok           bool
		reason       string
		answers      float64
	}{
		{"answer", "prober: dns\ndns: {query_name: shop.example, query_type: A}", true, "", 1},
		{"nxdomain", "prober: dns\ndns: {query_name: gone.example, query_type: A}", false, "rcode NXDOMAIN", 0},
		{"nxdomain valid", "prober: dns\ndns: {query_name: gone.example, query_type: A, valid_rcodes: [NXDOMAIN]}", true, "", 0},
		{"answer matches", "prober: dns\ndns: {query_name: shop.example, query_type: A, validate_answer_rrs: {fail_if_not_matches_regexp: ['shop\\.example\\.\\t300\\tIN\\tA\\t192\\.0\\.2\\.7']}}", true, "", 1},
		{"answer does not match", "prober: dns\ndns: {query_name: two.example, query_type: A, validate_answer_rrs: {fail_if_not_matches_regexp: ['192\\.0\\.2\\.7']}}", false, "does not match fail_if_not_matches_regexp", 2},
		{"fail if matches", "prober: dns\ndns: {query_name: two.example, query_type: A, validate_answer_rrs: {fail_if_matches_regexp: ['198\\.51']}}", false, "matches fail_if_matches_regexp", 2},
		{"fail if all match", "prober: dns\ndns: {query_name: two.example, query_type: A, validate_answer_rrs: {fail_if_all_match_regexp: ['IN\\tA']}}", false, "every record", 2},
		{"fail if none matches", "prober: dns\ndns: {query_name: two.example, query_type: A, validate_answer_rrs: {fail_if_none_matches_regexp: ['203\\.0']}}", false, "no record matches", 2},
		{"none matches passes", "prober: dns\ndns: {query_name: two.example, query_type: A, validate_answer_rrs: {fail_if_none_matches_regexp: ['198\\.51']}}", true, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, module(t, tt.module), srv, 2*time.Second)
			if res.Success != tt.ok {
				t.Fatalf("success = %v (%+v)", res.Success, res.Failure)
			}
			if !tt.ok && !strings.Contains(res.Failure.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", res.Failure.Reason, tt.reason)
			}
			if got := mustValue(t, res, "probe_dns_answer_rrs"); got != tt.answers {
				t.Errorf("answers = %v, want %v", got, tt.answers)
			}
			mustValue(t, res, "probe_dns_lookup_time_seconds")
			mustValue(t, res, "probe_dns_duration_seconds", "phase", "request")
		})
	}
	t.Run("no server", func(t *testing.T) {
		pc, _ := net.ListenPacket("udp", "127.0.0.1:0") // bound, never answers
		defer pc.Close()
		res := run(t, module(t, "prober: dns\ndns: {query_name: shop.example}"), pc.LocalAddr().String(), 300*time.Millisecond)
		if res.Success || !strings.Contains(res.Failure.Reason, "timeout") {
			t.Fatalf("failure = %+v", res.Failure)
		}
	})
}

func TestGRPCHealth(t *testing.T) {
	hs := health.NewServer()
	hs.SetServingStatus("cart", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("payments", healthpb.HealthCheckResponse_NOT_SERVING)
	start := func(opts ...grpc.ServerOption) string {
		s := grpc.NewServer(opts...)
		healthpb.RegisterHealthServer(s, hs)
		ln := listen(t)
		go s.Serve(ln)
		t.Cleanup(s.Stop)
		return ln.Addr().String()
	}
	plain := start()
	ca := newCA(t)
	secure := start(grpc.Creds(credentials.NewServerTLSFromCert(ptr(ca.leaf(t, time.Now().Add(time.Hour))))))
	caFile := ca.file(t)
	tests := []struct {
		name, module, target string
		ok                   bool
		reason               string
		status               string
	}{
		{"server", "prober: grpc", plain, true, "", "SERVING"},
		{"service serving", "prober: grpc\ngrpc: {service: cart}", plain, true, "", "SERVING"},
		{"service not serving", "prober: grpc\ngrpc: {service: payments}", plain, false, "serving status NOT_SERVING", "NOT_SERVING"},
		{"unknown service", "prober: grpc\ngrpc: {service: nope}", plain, false, "gRPC status 5", ""},
		{"tls", "prober: grpc\ngrpc: {tls: true, service: cart, tls_config: {ca_file: " + caFile + "}}", secure, true, "", "SERVING"},
		{"tls unverified", "prober: grpc\ngrpc: {tls: true}", secure, false, "unknown authority", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, module(t, tt.module), tt.target, 2*time.Second)
			if res.Success != tt.ok {
				t.Fatalf("success = %v (%+v)", res.Success, res.Failure)
			}
			if !tt.ok && !strings.Contains(res.Failure.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", res.Failure.Reason, tt.reason)
			}
			if tt.status != "" {
				if got := mustValue(t, res, "probe_grpc_healthcheck_response", "serving_status", tt.status); got != 1 {
					t.Errorf("serving_status %s = %v", tt.status, got)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
