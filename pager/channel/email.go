package channel

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Email TLS modes.
const (
	// EmailTLSOpportunistic upgrades with STARTTLS when the server offers it.
	EmailTLSOpportunistic = "opportunistic"
	// EmailTLSRequire fails (permanently) unless STARTTLS is offered.
	EmailTLSRequire = "starttls"
	// EmailTLSImplicit connects with TLS from the start (SMTPS, port 465).
	EmailTLSImplicit = "implicit"
	// EmailTLSNone never uses TLS. Auth is then refused by net/smtp except
	// towards localhost.
	EmailTLSNone = "none"
)

// EmailOptions configure the SMTP channel.
type EmailOptions struct {
	// Name of the channel (default "email").
	Name string `yaml:"name"`
	// Host is the SMTP server. Required.
	Host string `yaml:"host"`
	// Port defaults to 587 (465 with TLS "implicit").
	Port int `yaml:"port"`
	// From is the sender, e.g. "Watchdog <pager@example.com>". Required.
	From string `yaml:"from"`
	// To is used when Message.Recipient.Address is empty.
	To string `yaml:"to"`
	// Username and Password enable AUTH PLAIN (only over TLS or to
	// localhost, as net/smtp enforces). Password is secret.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// TLS is one of "opportunistic" (default), "starttls", "implicit", "none".
	TLS string `yaml:"tls"`
	// TLSConfig overrides the TLS settings (ServerName defaults to Host).
	TLSConfig *tls.Config `yaml:"-"`
	// Hello is the EHLO name (default "localhost").
	Hello string `yaml:"hello"`
	// Timeout bounds one delivery (DefaultTimeout when 0).
	Timeout time.Duration `yaml:"timeout"`
}

// Email sends a plain-text e-mail per page over SMTP.
type Email struct {
	o    EmailOptions
	from *mail.Address
	to   *mail.Address
}

// NewEmail validates o and returns the channel.
func NewEmail(o EmailOptions) (*Email, error) {
	o.TLS = strings.ToLower(orDefault(o.TLS, EmailTLSOpportunistic))
	switch o.TLS {
	case EmailTLSOpportunistic, EmailTLSRequire, EmailTLSImplicit, EmailTLSNone:
	default:
		return nil, fmt.Errorf("%w: email: tls %q", ErrInvalidConfig, o.TLS)
	}
	if o.Host == "" {
		return nil, fmt.Errorf("%w: email: host is required", ErrInvalidConfig)
	}
	if o.Port == 0 {
		o.Port = 587
		if o.TLS == EmailTLSImplicit {
			o.Port = 465
		}
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("%w: email: port %d", ErrInvalidConfig, o.Port)
	}
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("%w: email: from: %v", ErrInvalidConfig, err)
	}
	e := &Email{o: o, from: from}
	if o.To != "" {
		if e.to, err = mail.ParseAddress(o.To); err != nil {
			return nil, fmt.Errorf("%w: email: to: %v", ErrInvalidConfig, err)
		}
	}
	e.o.Name = orDefault(o.Name, "email")
	e.o.Hello = orDefault(o.Hello, "localhost")
	return e, nil
}

// Name implements Channel.
func (e *Email) Name() string { return e.o.Name }

// Send implements Channel. SMTP 4xx replies and network errors are
// retryable; 5xx replies and TLS/auth policy failures are final.
func (e *Email) Send(ctx context.Context, m Message) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, err
	}
	to := e.to
	if m.Recipient.Address != "" {
		a, err := mail.ParseAddress(m.Recipient.Address)
		if err != nil {
			return false, fmt.Errorf("%w: email: recipient: %v", ErrNoRecipient, err)
		}
		if a.Name == "" {
			a.Name = m.Recipient.Name
		}
		to = a
	}
	if to == nil {
		return false, fmt.Errorf("%w: email: no address for %q", ErrNoRecipient, m.Recipient.Name)
	}
	msg := e.compose(m, to, time.Now())
	retry, err := e.deliver(ctx, e.from.Address, to.Address, msg)
	if err != nil {
		msg := "smtp " + net.JoinHostPort(e.o.Host, strconv.Itoa(e.o.Port)) + ": " + redact(err.Error(), []string{e.o.Password})
		return retry, &redactedError{msg: msg, err: err}
	}
	return false, nil
}

// deliver runs one SMTP transaction (envelope sender to rcpt) under its
// own timeout.
func (e *Email) deliver(ctx context.Context, sender, rcpt string, msg []byte) (retry bool, err error) {
	timeout := e.o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(e.o.Host, strconv.Itoa(e.o.Port))
	tlsConf := e.tlsConfig()

	var conn net.Conn
	if e.o.TLS == EmailTLSImplicit {
		conn, err = (&tls.Dialer{Config: tlsConf}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return true, fmt.Errorf("dial: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, e.o.Host)
	if err != nil {
		conn.Close()
		return classifySMTP(err), fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(e.o.Hello); err != nil {
		return classifySMTP(err), fmt.Errorf("ehlo: %w", err)
	}
	if e.o.TLS == EmailTLSOpportunistic || e.o.TLS == EmailTLSRequire {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConf); err != nil {
				return classifySMTP(err), fmt.Errorf("starttls: %w", err)
			}
		} else if e.o.TLS == EmailTLSRequire {
			return false, fmt.Errorf("%w: server does not offer STARTTLS", ErrInvalidConfig)
		}
	}
	if e.o.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return false, fmt.Errorf("%w: server does not offer AUTH", ErrInvalidConfig)
		}
		if err := c.Auth(smtp.PlainAuth("", e.o.Username, e.o.Password, e.o.Host)); err != nil {
			var tpe *textproto.Error
			if errors.As(err, &tpe) {
				return classifySMTP(err), fmt.Errorf("auth: %w", err)
			}
			return false, fmt.Errorf("auth: %w", err) // e.g. unencrypted connection
		}
	}
	if err := c.Mail(sender); err != nil {
		return classifySMTP(err), fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(rcpt); err != nil {
		return classifySMTP(err), fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return classifySMTP(err), fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return true, fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return classifySMTP(err), fmt.Errorf("data: %w", err)
	}
	_ = c.Quit() // the message is accepted; a failed QUIT changes nothing
	return false, nil
}

func (e *Email) tlsConfig() *tls.Config {
	if e.o.TLSConfig != nil {
		c := e.o.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = e.o.Host
		}
		return c
	}
	return &tls.Config{ServerName: e.o.Host, MinVersion: tls.VersionTLS12}
}

// classifySMTP: 4xx replies are transient, 5xx permanent, anything else
// (I/O, timeouts, TLS handshakes) retryable.
func classifySMTP(err error) bool {
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		return tpe.Code >= 400 && tpe.Code < 500
	}
	return true
}

// compose renders the RFC 5322 message with a quoted-printable UTF-8 body.
func (e *Email) compose(m Message, to *mail.Address, now time.Time) []byte {
	subject := fmt.Sprintf("[%s] %s", eventTag(m.Event), orDefault(m.headline(), "(untitled)"))
	var buf bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&buf, "%s: %s\r\n", k, v) }
	hdr("From", e.from.String())
	hdr("To", to.String())
	hdr("Subject", mime.QEncoding.Encode("utf-8", truncate(oneLine(subject), 200)))
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+randomID()+"@watchdog>")
	thread := "<incident-" + shortHash(m.dedupKey()) + "@watchdog>"
	hdr("References", thread)
	hdr("In-Reply-To", thread)
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	hdr("Auto-Submitted", "auto-generated")
	if m.IncidentID != "" {
		hdr("X-Watchdog-Incident", mime.QEncoding.Encode("utf-8", truncate(oneLine(m.IncidentID), 200)))
	}
	buf.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&buf)
	_, _ = qp.Write([]byte(strings.ReplaceAll(emailBody(m), "\n", "\r\n")))
	_ = qp.Close()
	return buf.Bytes()
}

// emailBody is the human-readable text, with the acknowledge link first.
func emailBody(m Message) string {
	var b strings.Builder
	if m.Recipient.Name != "" {
		fmt.Fprintf(&b, "Hello %s,\n\n", m.Recipient.Name)
	}
	fmt.Fprintf(&b, "[%s] %s\n", eventTag(m.Event), orDefault(m.headline(), "(untitled)"))
	if m.Event == EventTrigger {
		if u := httpURL(m.AckURL); u != "" {
			fmt.Fprintf(&b, "\nAcknowledge: %s\n", u)
		}
	}
	if u := httpURL(m.runbookURL()); u != "" {
		fmt.Fprintf(&b, "Runbook: %s\n", u)
	}
	b.WriteString("\n")
	for _, kv := range [][2]string{{"Severity", m.Severity}, {"Source", m.Source}, {"Incident", m.IncidentID}, {"Watchdog", m.ExternalURL}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s: %s\n", kv[0], kv[1])
		}
	}
	if len(m.Labels) > 0 {
		b.WriteString("\nLabels:\n")
		for _, k := range sortedKeys(m.Labels) {
			fmt.Fprintf(&b, "  %s = %s\n", k, m.Labels[k])
		}
	}
	if len(m.Alerts) > 0 {
		alerts := append([]Alert(nil), m.Alerts...)
		sort.SliceStable(alerts, func(i, j int) bool { return alerts[i].StartsAt.Before(alerts[j].StartsAt) })
		fmt.Fprintf(&b, "\nAlerts (%d):\n", len(alerts))
		for i, a := range alerts {
			if i == 50 {
				fmt.Fprintf(&b, "  … and %d more\n", len(alerts)-i)
				break
			}
			since := a.StartsAt.UTC().Format(time.RFC3339)
			if local := m.localTime(a.StartsAt); local != "" {
				since += " (" + local + " your time)"
			}
			fmt.Fprintf(&b, "  - %s %s since %s\n", orDefault(a.Status, StatusFiring), a.Labels["alertname"], since)
		}
	}
	return b.String()
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}
