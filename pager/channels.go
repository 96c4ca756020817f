package pager

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// ErrSecret is wrapped when a secret cannot be read.
var ErrSecret = errors.New("secret unavailable")

// SecretSource reads secrets; the zero value uses os.ReadFile and
// os.LookupEnv.
type SecretSource struct {
	ReadFile  func(name string) ([]byte, error)
	LookupEnv func(key string) (string, bool)
}

func (s SecretSource) read(ref SecretRef) (string, error) {
	if ref.File != "" {
		rf := s.ReadFile
		if rf == nil {
			rf = os.ReadFile
		}
		b, err := rf(ref.File)
		if err != nil {
			return "", fmt.Errorf("%w: read %s: %w", ErrSecret, ref.File, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	le := s.LookupEnv
	if le == nil {
		le = os.LookupEnv
	}
	v, ok := le(ref.Env)
	if !ok {
		return "", fmt.Errorf("%w: environment variable %s not set", ErrSecret, ref.Env)
	}
	return v, nil
}

// BuildChannels constructs the channels of the config's channels section,
// reading secrets from src. Errors never contain secret values.
func (c *Config) BuildChannels(src SecretSource) (map[string]channel.Channel, error) {
	out := map[string]channel.Channel{}
	var errs []error
	for _, cc := range c.Channels {
		ch, err := cc.build(src)
		if err != nil {
			errs = append(errs, fmt.Errorf("channel %s: %w", cc.Name, err))
			continue
		}
		out[cc.Name] = ch
	}
	return out, errors.Join(errs...)
}

func (cc *ChannelConfig) build(src SecretSource) (channel.Channel, error) {
	ct, ok := channelTypes[cc.Type]
	if !ok {
		return nil, fmt.Errorf("unknown type %q", cc.Type)
	}
	opts := reflect.New(ct.opts)
	if cc.node != nil {
		if err := cc.node.Decode(opts.Interface()); err != nil {
			return nil, err
		}
	}
	for field, ref := range cc.Secrets {
		v, err := src.read(ref)
		if err != nil {
			return nil, err
		}
		if !setYAMLField(opts.Elem(), field, v) {
			return nil, fmt.Errorf("BUG: no field %s in %s", field, ct.opts)
		}
	}
	setYAMLField(opts.Elem(), "name", cc.Name)
	switch o := opts.Interface().(type) {
	case *channel.ConsoleOptions:
		return channel.NewConsole(*o), nil
	case *channel.WebhookOptions:
		return channel.NewWebhook(*o)
	case *channel.SlackOptions:
		return channel.NewSlack(*o)
	case *channel.PagerDutyOptions:
		return channel.NewPagerDuty(*o)
	case *channel.OpsgenieOptions:
		return channel.NewOpsgenie(*o)
	case *channel.EmailOptions:
		return channel.NewEmail(*o)
	case *channel.TwilioOptions:
		return channel.NewTwilio(*o)
	case *channel.NtfyOptions:
		return channel.NewNtfy(*o)
	}
	return nil, fmt.Errorf("BUG: no constructor for %s", cc.Type)
}

// setYAMLField sets the string field of struct v tagged yaml:"tag".
func setYAMLField(v reflect.Value, tag, val string) bool {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == tag && f.Type.Kind() == reflect.String {
			v.Field(i).SetString(val)
			return true
		}
	}
	return false
}
