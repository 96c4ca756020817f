package probe

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/config"
)

// ErrNoAddress is returned when a name has no address of the wanted family.
var ErrNoAddress = errors.New("no address of the preferred IP protocol")

// resolve looks host up as blackbox_exporter does: the first address of
// the preferred family (ip6 unless "ip4"), else, when fallback, one of the
// other. It records probe_dns_lookup_time_seconds, probe_ip_protocol and
// probe_ip_addr_hash.
func resolve(ctx context.Context, r *recorder, resolver *net.Resolver, host, proto string, fallback bool) (net.IP, time.Duration, error) {
	start := time.Now()
	r.set("probe_ip_protocol", 0)
	r.set("probe_ip_addr_hash", 0)
	var ips []net.IPAddr
	var err error
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IPAddr{{IP: ip}}
	} else {
		ips, err = resolver.LookupIPAddr(ctx, host)
	}
	took := time.Since(start)
	r.add("probe_dns_lookup_time_seconds", took.Seconds())
	if err != nil {
		return nil, took, fmt.Errorf("resolve %s: %w", host, err)
	}
	want6 := proto != "ip4"
	var other net.IP
	for _, a := range ips {
		is6 := a.IP.To4() == nil
		if is6 == want6 {
			setIP(r, a.IP)
			return a.IP, took, nil
		}
		if other == nil {
			other = a.IP
		}
	}
	if other == nil || !fallback {
		return nil, took, fmt.Errorf("resolve %s: %w", host, ErrNoAddress)
	}
	setIP(r, other)
	return other, took, nil
}

func setIP(r *recorder, ip net.IP) {
	h := fnv.New32a()
	if v4 := ip.To4(); v4 != nil {
		r.set("probe_ip_protocol", 4)
		h.Write(v4)
	} else {
		r.set("probe_ip_protocol", 6)
		h.Write(ip.To16())
	}
	r.set("probe_ip_addr_hash", float64(h.Sum32()))
}

func fallbackOf(b *bool) bool { return b == nil || *b }

// tlsConfig builds the client TLS configuration of a module; serverName is
// used when the module names none.
func tlsConfig(c config.ProbeTLSConfig, serverName string) (*tls.Config, error) {
	tc := &tls.Config{ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // the user's choice
	if tc.ServerName == "" {
		tc.ServerName = serverName
	}
	switch c.MinVersion {
	case "TLS10":
		tc.MinVersion = tls.VersionTLS10
	case "TLS11":
		tc.MinVersion = tls.VersionTLS11
	case "TLS13":
		tc.MinVersion = tls.VersionTLS13
	default:
		tc.MinVersion = tls.VersionTLS12
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// recordTLS records the series of a TLS connection's state.
func recordTLS(r *recorder, st *tls.ConnectionState) {
	if st == nil || len(st.PeerCertificates) == 0 {
		return
	}
	earliest := st.PeerCertificates[0].NotAfter
	for _, c := range st.PeerCertificates {
		if c.NotAfter.Before(earliest) {
			earliest = c.NotAfter
		}
	}
	r.set("probe_ssl_earliest_cert_expiry", float64(earliest.Unix()))
	// The verified chain whose earliest expiry is the latest: how long the
	// connection will still verify.
	var last time.Time
	for _, chain := range st.VerifiedChains {
		var e time.Time
		for i, c := range chain {
			if i == 0 || c.NotAfter.Before(e) {
				e = c.NotAfter
			}
		}
		if e.After(last) {
			last = e
		}
	}
	if !last.IsZero() {
		r.set("probe_ssl_last_chain_expiry_timestamp_seconds", float64(last.Unix()))
	} else {
		r.set("probe_ssl_last_chain_expiry_timestamp_seconds", float64(earliest.Unix()))
	}
	r.set("probe_tls_version_info", 1, "version", tlsVersion(st.Version))
	r.set("probe_tls_cipher_info", 1, "cipher", tls.CipherSuiteName(st.CipherSuite))
	leaf := st.PeerCertificates[0]
	sum := sha256.Sum256(leaf.Raw)
	r.set("probe_ssl_last_chain_info", 1,
		"fingerprint_sha256", hex.EncodeToString(sum[:]),
		"subject", leaf.Subject.String(),
		"issuer", leaf.Issuer.String(),
		"subjectalternative", strings.Join(leaf.DNSNames, ","),
		"serialnumber", fmt.Sprintf("%x", leaf.SerialNumber))
}

func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS 1.0"
	case tls.VersionTLS11:
		return "TLS 1.1"
	case tls.VersionTLS12:
		return "TLS 1.2"
	case tls.VersionTLS13:
		return "TLS 1.3"
	}
	return "unknown"
}
