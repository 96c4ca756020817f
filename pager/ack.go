package pager

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Ack link errors.
var (
	ErrNoAckKey   = errors.New("ack links disabled: no key")
	ErrAckForged  = errors.New("ack token invalid")
	ErrAckExpired = errors.New("ack token expired")
)

const ackVersion = "a1"

var b64 = base64.RawURLEncoding.Strict()

// SignAck returns a token that lets user acknowledge incidentID until
// expiry: "a1.ID.USER.EXPIRY.MAC", the fields base64url-encoded, EXPIRY
// in Unix seconds and MAC the HMAC-SHA256 (Options.AckKey) of everything
// before it. Tokens are URL-safe.
func (p *Pager) SignAck(incidentID, user string, expiry time.Time) (string, error) {
	if len(p.o.AckKey) == 0 {
		return "", ErrNoAckKey
	}
	body := ackVersion + "." + b64.EncodeToString([]byte(incidentID)) + "." + b64.EncodeToString([]byte(user)) + "." +
		strconv.FormatInt(expiry.Unix(), 10)
	return body + "." + b64.EncodeToString(p.ackMAC(body)), nil
}

func (p *Pager) ackMAC(body string) []byte {
	h := hmac.New(sha256.New, p.o.AckKey)
	h.Write([]byte(body))
	return h.Sum(nil)
}

// VerifyAck checks a token from SignAck against the key and the clock and
// returns its incident and user. Tampered or malformed tokens give
// ErrAckForged, valid ones past their expiry ErrAckExpired.
func (p *Pager) VerifyAck(token string) (incidentID, user string, err error) {
	if len(p.o.AckKey) == 0 {
		return "", "", ErrNoAckKey
	}
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", "", ErrAckForged
	}
	body := token[:i]
	mac, err := b64.DecodeString(token[i+1:])
	if err != nil || !hmac.Equal(mac, p.ackMAC(body)) {
		return "", "", ErrAckForged
	}
	parts := strings.Split(body, ".")
	if len(parts) != 4 || parts[0] != ackVersion {
		return "", "", ErrAckForged
	}
	id, err1 := b64.DecodeString(parts[1])
	u, err2 := b64.DecodeString(parts[2])
	exp, err3 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return "", "", ErrAckForged
	}
	if !p.now().Before(time.Unix(exp, 0)) {
		return "", "", ErrAckExpired
	}
	return string(id), string(u), nil
}

// AckToken acknowledges the incident of a signed ack link as its user.
func (p *Pager) AckToken(token string) error {
	id, user, err := p.VerifyAck(token)
	if err != nil {
		return err
	}
	return p.Ack(id, user)
}
