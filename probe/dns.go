package probe

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/watchdog-sre/watchdog/config"
)

// probeDNS sends one query to the DNS server target (host or host:port,
// port 53 by default) and checks the answer's rcode and records.
func (p *Prober) probeDNS(ctx context.Context, r *recorder, target string, m *config.DNSProbe) bool {
	for _, ph := range []string{"resolve", "connect", "request"} {
		r.set("probe_dns_duration_seconds", 0, "phase", ph)
	}
	for _, n := range []string{"probe_dns_answer_rrs", "probe_dns_authority_rrs", "probe_dns_additional_rrs", "probe_dns_query_succeeded"} {
		r.set(n, 0)
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		host, port = strings.Trim(target, "[]"), "53"
	}
	ip, lookup, err := resolve(ctx, r, p.resolver, host, m.IPProtocol, fallbackOf(m.IPProtocolFallback))
	r.set("probe_dns_duration_seconds", lookup.Seconds(), "phase", "resolve")
	if err != nil {
		return r.fail(0, nil, "%v", err)
	}
	query, id, err := buildQuery(m)
	if err != nil {
		return r.fail(0, nil, "build query: %v", err)
	}
	start := time.Now()
	var d net.Dialer
	conn, err := d.DialContext(ctx, m.TransportProtocol, net.JoinHostPort(ip.String(), port))
	if err != nil {
		return r.fail(0, nil, "connect: %v", err)
	}
	defer conn.Close()
	connected := time.Now()
	r.set("probe_dns_duration_seconds", connected.Sub(start).Seconds(), "phase", "connect")
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	resp, err := exchange(conn, m.TransportProtocol == "tcp", query, id)
	r.set("probe_dns_duration_seconds", time.Since(connected).Seconds(), "phase", "request")
	if err != nil {
		return r.fail(0, nil, "query: %v", err)
	}
	r.set("probe_dns_query_succeeded", 1)
	r.set("probe_dns_answer_rrs", float64(len(resp.Answers)))
	r.set("probe_dns_authority_rrs", float64(len(resp.Authorities)))
	r.set("probe_dns_additional_rrs", float64(len(resp.Additionals)))
	for _, rr := range append(append([]dnsmessage.Resource{}, resp.Answers...), resp.Authorities...) {
		if soa, ok := rr.Body.(*dnsmessage.SOAResource); ok {
			r.set("probe_dns_serial", float64(soa.Serial))
			break
		}
	}
	valid := m.ValidRcodes
	if len(valid) == 0 {
		valid = []string{"NOERROR"}
	}
	if !rcodeOK(resp.RCode, valid) {
		return r.fail(0, nil, "rcode %s is not one of valid_rcodes %v", rcodeName(resp.RCode), valid)
	}
	for _, sec := range []struct {
		name string
		v    config.DNSRRValidator
		rrs  []dnsmessage.Resource
	}{{"answer", m.ValidateAnswer, resp.Answers}, {"authority", m.ValidateAuthority, resp.Authorities},
		{"additional", m.ValidateAdditional, resp.Additionals}} {
		if err := validateRRs(sec.v, sec.rrs); err != nil {
			return r.fail(0, []byte(rrText(sec.rrs)), "%s section: %v", sec.name, err)
		}
	}
	return true
}

func buildQuery(m *config.DNSProbe) ([]byte, uint16, error) {
	name, err := dnsmessage.NewName(dnsName(m.QueryName))
	if err != nil {
		return nil, 0, err
	}
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	class := dnsmessage.ClassINET
	switch m.QueryClass {
	case "CH":
		class = dnsmessage.ClassCHAOS
	case "ANY":
		class = dnsmessage.ClassANY
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: m.RecursionDesired == nil || *m.RecursionDesired})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, 0, err
	}
	q := dnsmessage.Question{Name: name, Type: dnsmessage.Type(config.DNSTypes[strings.ToUpper(m.QueryType)]), Class: class}
	if err := b.Question(q); err != nil {
		return nil, 0, err
	}
	msg, err := b.Finish()
	return msg, id, err
}

func dnsName(s string) string {
	if strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// exchange sends the query and reads the answer with the same ID.
func exchange(conn net.Conn, tcp bool, query []byte, id uint16) (*dnsmessage.Message, error) {
	buf := make([]byte, 65535)
	if tcp {
		out := binary.BigEndian.AppendUint16(nil, uint16(len(query)))
		if _, err := conn.Write(append(out, query...)); err != nil {
			return nil, err
		}
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			return nil, err
		}
		n := int(binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, buf[:n]); err != nil {
			return nil, err
		}
		return parseAnswer(buf[:n], id)
	}
	if _, err := conn.Write(query); err != nil {
		return nil, err
	}
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		msg, err := parseAnswer(buf[:n], id)
		if err == errWrongID {
			continue // a stray datagram: keep waiting for ours
		}
		return msg, err
	}
}

var errWrongID = fmt.Errorf("answer with another ID")

func parseAnswer(b []byte, id uint16) (*dnsmessage.Message, error) {
	var msg dnsmessage.Message
	if err := msg.Unpack(b); err != nil {
		return nil, fmt.Errorf("parse answer: %w", err)
	}
	if msg.ID != id || !msg.Response {
		return nil, errWrongID
	}
	return &msg, nil
}

func rcodeOK(rc dnsmessage.RCode, valid []string) bool {
	for _, v := range valid {
		if c, ok := config.DNSRcodes[v]; ok && int(rc) == c {
			return true
		}
		if n, err := strconv.Atoi(v); err == nil && int(rc) == n {
			return true
		}
	}
	return false
}

func rcodeName(rc dnsmessage.RCode) string {
	for k, v := range config.DNSRcodes {
		if v == int(rc) {
			return k
		}
	}
	return strconv.Itoa(int(rc))
}

// validateRRs applies blackbox_exporter's four record checks to the records
// written as text (see rrString).
func validateRRs(v config.DNSRRValidator, rrs []dnsmessage.Resource) error {
	texts := make([]string, len(rrs))
	for i, rr := range rrs {
		texts[i] = rrString(rr)
	}
	for _, re := range v.FailIfMatchesRegexp {
		for _, t := range texts {
			if re.MatchString(t) {
				return fmt.Errorf("record %q matches fail_if_matches_regexp %q", t, re.String())
			}
		}
	}
	for _, re := range v.FailIfAllMatchRegexp {
		all := len(texts) > 0
		for _, t := range texts {
			all = all && re.MatchString(t)
		}
		if all {
			return fmt.Errorf("every record matches fail_if_all_match_regexp %q", re.String())
		}
	}
	for _, re := range v.FailIfNotMatchesRegexp {
		for _, t := range texts {
			if !re.MatchString(t) {
				return fmt.Errorf("record %q does not match fail_if_not_matches_regexp %q", t, re.String())
			}
		}
	}
	for _, re := range v.FailIfNoneMatchesRegexp {
		any := false
		for _, t := range texts {
			any = any || re.MatchString(t)
		}
		if !any {
			return fmt.Errorf("no record matches fail_if_none_matches_regexp %q", re.String())
		}
	}
	return nil
}

func rrText(rrs []dnsmessage.Resource) string {
	var sb strings.Builder
	for _, rr := range rrs {
		sb.WriteString(rrString(rr))
		sb.WriteByte('\n')
	}
	return sb.String()
}

// rrString writes a record as the zone-file line miekg/dns (and so
// blackbox_exporter's regexes) sees: "name.\tTTL\tIN\tA\t192.0.2.1".
func rrString(rr dnsmessage.Resource) string {
	h := rr.Header
	class := "IN"
	switch h.Class {
	case dnsmessage.ClassCHAOS:
		class = "CH"
	case dnsmessage.ClassANY:
		class = "ANY"
	}
	typ := strings.TrimPrefix(h.Type.String(), "Type")
	var data string
	switch b := rr.Body.(type) {
	case *dnsmessage.AResource:
		data = net.IP(b.A[:]).String()
	case *dnsmessage.AAAAResource:
		data = net.IP(b.AAAA[:]).String()
	case *dnsmessage.CNAMEResource:
		data = b.CNAME.String()
	case *dnsmessage.NSResource:
		data = b.NS.String()
	case *dnsmessage.PTRResource:
		data = b.PTR.String()
	case *dnsmessage.MXResource:
		data = fmt.Sprintf("%d %s", b.Pref, b.MX.String())
	case *dnsmessage.SRVResource:
		data = fmt.Sprintf("%d %d %d %s", b.Priority, b.Weight, b.Port, b.Target.String())
	case *dnsmessage.TXTResource:
		q := make([]string, len(b.TXT))
		for i, t := range b.TXT {
			q[i] = strconv.Quote(t)
		}
		data = strings.Join(q, " ")
	case *dnsmessage.SOAResource:
		data = fmt.Sprintf("%s %s %d %d %d %d %d", b.NS.String(), b.MBox.String(), b.Serial, b.Refresh, b.Retry, b.Expire, b.MinTTL)
	default:
		data = fmt.Sprint(b)
	}
	return fmt.Sprintf("%s\t%d\t%s\t%s\t%s", h.Name.String(), h.TTL, class, typ, data)
}
