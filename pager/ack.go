package pager

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Ack link errors.
var (
	ErrNoAckKey   = errors.New("ack links disabled: no key")
	ErrAckForged  = errors.New("ack token invalid")
	ErrAckExpired = errors.New("ack token expired")
	// ErrAckGone: the link names an incident this store does not hold:
	// it was lost (a new or deleted database) or its number now belongs
	// to another incident. Nothing is changed.
	ErrAckGone = errors.New("the incident of this ack link no longer exists")
)

// Token versions: a1 (incident ID only, before incidents had a UID) and
// a2 (ID and UID). SignAck writes a2; VerifyAck reads both, an a1 token
// as a claim with an empty UID, which only matches incidents opened
// before UIDs existed.
const (
	ackVersion1 = "a1"
	ackVersion  = "a2"
)

var b64 = base64.RawURLEncoding.Strict()

// AckClaim is what a verified acknowledge link says.
type AckClaim struct {
	IncidentID string
	// UID is the incident's unique identity (IncidentState.UID); "" for
	// links signed before incidents had one.
	UID    string
	User   string
	Expiry time.Time
}

// newUID returns a random 128-bit incident identity in hex.
func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	return hex.EncodeToString(b[:])
}

// SignAck returns a token that lets user acknowledge the incident with
// incidentID and uid until expiry: "a2.ID.UID.USER.EXPIRY.MAC", ID and
// USER base64url-encoded, UID as is (hex), EXPIRY in Unix seconds and MAC
// the HMAC-SHA256 (Options.AckKey) of everything before it. Tokens are
// URL-safe. The UID makes a link unusable for any other incident, even
// one that reuses the number after the database was lost.
func (p *Pager) SignAck(incidentID, uid, user string, expiry time.Time) (string, error) {
	if len(p.o.AckKey) == 0 {
		return "", ErrNoAckKey
	}
	if strings.Trim(uid, "0123456789abcdef") != "" {
		return "", fmt.Errorf("sign ack: uid %q is not lowercase hex", uid)
	}
	body := ackVersion + "." + b64.EncodeToString([]byte(incidentID)) + "." + uid + "." +
		b64.EncodeToString([]byte(user)) + "." + strconv.FormatInt(expiry.Unix(), 10)
	return body + "." + b64.EncodeToString(p.ackMAC(body)), nil
}

func (p *Pager) ackMAC(body string) []byte {
	h := hmac.New(sha256.New, p.o.AckKey)
	h.Write([]byte(body))
	return h.Sum(nil)
}

// VerifyAck checks a token from SignAck against the key and the clock and
// returns what it says. It does not look at the store: see AckLink.
// Tampered or malformed tokens give ErrAckForged, valid ones past their
// expiry ErrAckExpired.
func (p *Pager) VerifyAck(token string) (AckClaim, error) {
	if len(p.o.AckKey) == 0 {
		return AckClaim{}, ErrNoAckKey
	}
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return AckClaim{}, ErrAckForged
	}
	body := token[:i]
	mac, err := b64.DecodeString(token[i+1:])
	if err != nil || !hmac.Equal(mac, p.ackMAC(body)) {
		return AckClaim{}, ErrAckForged
	}
	parts := strings.Split(body, ".")
	var c AckClaim
	var id, user, exp string
	switch {
	case len(parts) == 4 && parts[0] == ackVersion1:
		id, user, exp = parts[1], parts[2], parts[3]
	case len(parts) == 5 && parts[0] == ackVersion:
		id, c.UID, user, exp = parts[1], parts[2], parts[3], parts[4]
	default:
		return AckClaim{}, ErrAckForged
	}
	bid, err1 := b64.DecodeString(id)
	bu, err2 := b64.DecodeString(user)
	sec, err3 := strconv.ParseInt(exp, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return AckClaim{}, ErrAckForged
	}
	c.IncidentID, c.User, c.Expiry = string(bid), string(bu), time.Unix(sec, 0)
	if !p.now().Before(c.Expiry) {
		return c, ErrAckExpired
	}
	return c, nil
}

// matches reports whether st is the incident c names.
func (c AckClaim) matches(st *IncidentState) bool {
	return st.ID == c.IncidentID && st.UID == c.UID
}

// AckLink verifies token and returns the incident it names, changing
// nothing: for the confirmation page an ack link shows. An incident
// that does not exist, or exists with another UID, gives ErrAckGone.
func (p *Pager) AckLink(token string) (AckClaim, IncidentState, error) {
	c, err := p.VerifyAck(token)
	if err != nil {
		return c, IncidentState{}, err
	}
	st, _, err := p.Incident(c.IncidentID)
	switch {
	case errors.Is(err, ErrNotFound):
		return c, IncidentState{}, ErrAckGone
	case err != nil:
		return c, IncidentState{}, fmt.Errorf("incident %s: %w", c.IncidentID, err)
	case !c.matches(&st):
		return c, IncidentState{}, ErrAckGone
	}
	return c, st, nil
}

// AckToken acknowledges the incident of a signed ack link as its user.
// The incident must be the one the link was signed for (same UID),
// checked in the same critical section as the acknowledgement: else
// ErrAckGone and nothing changes. It returns the link's claim.
func (p *Pager) AckToken(token string) (AckClaim, error) {
	c, err := p.VerifyAck(token)
	if err != nil {
		return c, err
	}
	err = p.act(c.IncidentID, Ack{By: c.User, Via: ViaLink}, func(st *IncidentState) error {
		if !c.matches(st) {
			return ErrAckGone
		}
		if st.Status != StatusTriggered {
			return ErrNotTriggered
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return c, ErrAckGone
	}
	return c, err
}
