package channel

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// Mail is an e-mail other than a page (e.g. to a status page subscriber),
// sent through the SMTP server of an Email channel.
type Mail struct {
	// To is the recipient's bare address.
	To string
	// From overrides the channel's sender when set.
	From    string
	Subject string
	// Body is plain UTF-8 text.
	Body string
	// Headers are extra header fields (names are canonicalised; values
	// must be one line of ASCII, e.g. List-Unsubscribe).
	Headers [][2]string
}

// SendMail sends m through the channel's SMTP server. As for Send, SMTP 4xx
// replies and network errors are retryable (retry true), 5xx replies and
// policy failures are final.
func (e *Email) SendMail(ctx context.Context, m Mail) (retry bool, err error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return false, fmt.Errorf("%w: email: recipient: %v", ErrNoRecipient, err)
	}
	from := e.from
	if m.From != "" {
		if from, err = mail.ParseAddress(m.From); err != nil {
			return false, fmt.Errorf("%w: email: from: %v", ErrInvalidConfig, err)
		}
	}
	var buf bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&buf, "%s: %s\r\n", k, v) }
	hdr("From", from.String())
	hdr("To", to.String())
	hdr("Subject", mime.QEncoding.Encode("utf-8", truncate(oneLine(m.Subject), 200)))
	hdr("Date", time.Now().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+randomID()+"@watchdog>")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	hdr("Auto-Submitted", "auto-generated")
	for _, h := range m.Headers {
		if strings.ContainsAny(h[0]+h[1], "\r\n") {
			return false, fmt.Errorf("%w: email: header %q spans lines", ErrInvalidMessage, h[0])
		}
		hdr(http.CanonicalHeaderKey(h[0]), h[1])
	}
	buf.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&buf)
	_, _ = qp.Write([]byte(strings.ReplaceAll(m.Body, "\n", "\r\n")))
	_ = qp.Close()
	retry, err = e.deliver(ctx, from.Address, to.Address, buf.Bytes())
	if err != nil {
		msg := "smtp " + net.JoinHostPort(e.o.Host, strconv.Itoa(e.o.Port)) + ": " + redact(err.Error(), []string{e.o.Password})
		return retry, &redactedError{msg: msg, err: err}
	}
	return false, nil
}
