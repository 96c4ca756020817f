package pager

import (
	"context"
	"net/mail"
	"time"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// StatusSubscribers is the `status_subscribers:` section: how the status
// page's subscribers are told (e-mail through the SMTP server of an email
// channel) and the limits of the public subscribe form and of delivery.
// Zero fields take the defaults noted.
type StatusSubscribers struct {
	// EmailChannel names a channel of type email whose SMTP server sends
	// subscriber mail; "" disables e-mail subscriptions.
	EmailChannel string `yaml:"email_channel"`
	// From overrides the channel's sender, e.g. "Status <status@example.com>".
	From string `yaml:"from"`
	// MaxWebhooks bounds webhook subscribers (default 50).
	MaxWebhooks int `yaml:"max_webhooks"`
	// MaxEmails bounds confirmed addresses (default 10000).
	MaxEmails int `yaml:"max_emails"`
	// MaxPending bounds unconfirmed addresses (default 1000).
	MaxPending int `yaml:"max_pending"`
	// PendingTTL is how long a confirmation link works; unconfirmed
	// addresses are then forgotten (default 48h).
	PendingTTL time.Duration `yaml:"pending_ttl"`
	// ResendAfter is how soon subscribing a pending address again mails
	// it again (default 1h; never for a confirmed one).
	ResendAfter time.Duration `yaml:"resend_after"`
	// SubscribeRate bounds subscription requests per hour overall
	// (default 100) and per client address (SubscribeRatePerClient,
	// default 5).
	SubscribeRate          int `yaml:"subscribe_rate"`
	SubscribeRatePerClient int `yaml:"subscribe_rate_per_client"`
	// MaxAttempts bounds the attempts of one message (default 12), sent
	// InitialBackoff (default 10s) after a failure, doubling up to
	// MaxBackoff (default 1h), which also caps a Retry-After. A message
	// older than MaxRetryAge (default 24h) is not retried.
	MaxAttempts    int           `yaml:"max_attempts"`
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	MaxBackoff     time.Duration `yaml:"max_backoff"`
	MaxRetryAge    time.Duration `yaml:"max_retry_age"`
}

// withDefaults fills the zero fields.
func (s StatusSubscribers) withDefaults() StatusSubscribers {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&s.MaxWebhooks, 50)
	def(&s.MaxEmails, 10000)
	def(&s.MaxPending, 1000)
	def(&s.SubscribeRate, 100)
	def(&s.SubscribeRatePerClient, 5)
	def(&s.MaxAttempts, 12)
	dur(&s.PendingTTL, 48*time.Hour)
	dur(&s.ResendAfter, time.Hour)
	dur(&s.InitialBackoff, 10*time.Second)
	dur(&s.MaxBackoff, time.Hour)
	dur(&s.MaxRetryAge, 24*time.Hour)
	s.MaxBackoff = max(s.MaxBackoff, s.InitialBackoff)
	return s
}

func (c *Config) validateSubscribers(p *problems, cc *compiled, prefix string) {
	s := c.StatusSubscribers
	if s == nil {
		return
	}
	path := prefix + ".status_subscribers"
	if s.EmailChannel != "" {
		switch ch := cc.channels[s.EmailChannel]; {
		case ch == nil:
			p.add(path+".email_channel", "unknown channel %q", s.EmailChannel)
		case ch.Type != "email":
			p.add(path+".email_channel", "channel %q is of type %s, want email", s.EmailChannel, ch.Type)
		}
	}
	if s.From != "" {
		if _, err := mail.ParseAddress(s.From); err != nil {
			p.add(path+".from", "%q is not an e-mail address: %v", s.From, err)
		}
	}
	for name, v := range map[string]int{"max_webhooks": s.MaxWebhooks, "max_emails": s.MaxEmails, "max_pending": s.MaxPending,
		"subscribe_rate": s.SubscribeRate, "subscribe_rate_per_client": s.SubscribeRatePerClient, "max_attempts": s.MaxAttempts} {
		if v < 0 || v > 1_000_000 {
			p.add(path+"."+name, "%d is out of range (0 for the default, up to 1000000)", v)
		}
	}
	for name, v := range map[string]time.Duration{"pending_ttl": s.PendingTTL, "resend_after": s.ResendAfter,
		"initial_backoff": s.InitialBackoff, "max_backoff": s.MaxBackoff, "max_retry_age": s.MaxRetryAge} {
		if v < 0 || v > 30*24*time.Hour {
			p.add(path+"."+name, "%s is out of range (0 for the default, up to 720h)", v)
		}
	}
}

// mailer sends subscriber mail (*channel.Email implements it).
type mailer interface {
	SendMail(ctx context.Context, m channel.Mail) (retry bool, err error)
}

// subSettings are the running subscriber settings: the section with
// defaults, and the mailer when e-mail subscriptions work (an email
// channel is configured and the pager has an external URL for links).
type subSettings struct {
	StatusSubscribers
	mail mailer
}

// Email reports whether e-mail subscriptions are enabled.
func (s subSettings) Email() bool { return s.mail != nil }

func (p *Pager) subLimits() subSettings {
	var sec StatusSubscribers
	if c := p.config().StatusSubscribers; c != nil {
		sec = *c
	}
	out := subSettings{StatusSubscribers: sec.withDefaults()}
	if sec.EmailChannel != "" && p.o.ExternalURL != "" {
		out.mail, _ = p.o.Channels[sec.EmailChannel].(mailer)
	}
	return out
}
