package amimport

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// secretSrc says where a secret of the input is: inline (the value is
// never kept) or in a file.
type secretSrc struct {
	set    bool
	inline bool
	file   string
	line   int
	path   string
	global string // the global key, when it came from global:
}

// global holds the global: settings receivers inherit.
type global struct {
	smtpFrom, smtpHello, smtpSmarthost, smtpAuthUsername string
	smtpAuthPassword                                     secretSrc
	smtpRequireTLS, smtpForceImplicitTLS                 *bool
	slackAPIURL                                          secretSrc
	pagerdutyURL, opsgenieAPIURL                         string
	opsgenieAPIKey                                       secretSrc
}

func (c *conv) secret(dst *secretSrc, inline bool, v *yaml.Node, path, globalKey string) {
	val := c.w.Str(v, path)
	if val == "" {
		return
	}
	if dst.set {
		base := strings.TrimSuffix(path, "_file")
		c.errf(v, path, "at most one of %s and %s_file may be set", base[strings.LastIndex(base, ".")+1:], base[strings.LastIndex(base, ".")+1:])
		return
	}
	*dst = secretSrc{set: true, inline: inline, line: v.Line, path: path, global: globalKey}
	if !inline {
		dst.file = val
	}
}

func (c *conv) readGlobal(n *yaml.Node, path string) {
	g := &c.global
	c.mapping(n, path, func(key string, k, v *yaml.Node, kp string) {
		switch key {
		case "smtp_from":
			g.smtpFrom = c.w.Str(v, kp)
		case "smtp_hello":
			g.smtpHello = c.w.Str(v, kp)
		case "smtp_smarthost":
			g.smtpSmarthost = c.w.Str(v, kp)
		case "smtp_auth_username":
			g.smtpAuthUsername = c.w.Str(v, kp)
		case "smtp_auth_password", "smtp_auth_password_file":
			c.secret(&g.smtpAuthPassword, key == "smtp_auth_password", v, kp, "smtp_auth_password")
		case "smtp_require_tls":
			b := c.readBool(v, kp)
			g.smtpRequireTLS = &b
		case "smtp_force_implicit_tls":
			b := c.readBool(v, kp)
			g.smtpForceImplicitTLS = &b
		case "slack_api_url", "slack_api_url_file":
			c.secret(&g.slackAPIURL, key == "slack_api_url", v, kp, "slack_api_url")
		case "pagerduty_url":
			g.pagerdutyURL = c.w.Str(v, kp)
		case "opsgenie_api_url":
			g.opsgenieAPIURL = c.w.Str(v, kp)
		case "opsgenie_api_key", "opsgenie_api_key_file":
			c.secret(&g.opsgenieAPIKey, key == "opsgenie_api_key", v, kp, "opsgenie_api_key")
		case "resolve_timeout":
			if d, ok := c.w.Duration(v, kp, "5m"); ok && d != 5*time.Minute {
				c.note(k, kp, "resolve_timeout %s: the pager resolves an alert without endsAt after its own resolve_timeout (default 5m); set it there", formatDuration(d))
			}
		default:
			c.note(k, kp, "global setting without an equivalent in the pager")
		}
	})
}

func (c *conv) readReceivers(n *yaml.Node, path string) {
	c.w.List(n, path, func(i int, e *yaml.Node, ep string) {
		if e.Kind != yaml.MappingNode {
			c.errf(e, ep, "expected a mapping, got %s", describe(e))
			return
		}
		var name string
		for j := 0; j+1 < len(e.Content); j += 2 {
			if e.Content[j].Value == "name" {
				name = c.w.Str(e.Content[j+1], ep+".name")
			}
		}
		if name == "" {
			c.errf(e, ep, "missing name in receiver")
			return
		}
		if prev := c.receivers[name]; prev != nil {
			c.errf(e, ep, "duplicate receiver %q (first at line %d)", name, prev.line)
			return
		}
		r := &receiver{name: name, line: e.Line}
		c.receivers[name] = r
		c.recvOrder = append(c.recvOrder, name)
		c.readReceiver(r, e, "receivers["+name+"]")
		c.res.ReceiverChannels[name] = r.channels
	})
}

var converters = map[string]func(c *conv, v *yaml.Node, path, name string) *yaml.Node{
	"webhook_configs":   (*conv).webhook,
	"slack_configs":     (*conv).slack,
	"pagerduty_configs": (*conv).pagerduty,
	"opsgenie_configs":  (*conv).opsgenie,
	"email_configs":     (*conv).email,
}

func (c *conv) readReceiver(r *receiver, n *yaml.Node, path string) {
	type cfg struct {
		key  string
		i    int
		node *yaml.Node
		path string
	}
	var cfgs []cfg
	c.mapping(n, path, func(key string, k, v *yaml.Node, kp string) {
		switch {
		case key == "name":
		case key == "labels":
			c.note(k, kp, "receiver labels")
		case converters[key] != nil:
			c.w.List(v, kp, func(i int, e *yaml.Node, ep string) { cfgs = append(cfgs, cfg{key, i, e, ep}) })
		case strings.HasSuffix(key, "_configs"):
			count := 0
			if v.Kind == yaml.SequenceNode {
				count = len(v.Content)
			}
			c.note(k, kp, "%d %s: the pager has no %s channel", count, key, strings.TrimSuffix(key, "_configs"))
		default:
			c.errf(k, path, "unknown key %q", key)
		}
	})
	for _, cf := range cfgs {
		typ := strings.TrimSuffix(cf.key, "_configs")
		name := r.name
		if len(cfgs) > 1 {
			name = fmt.Sprintf("%s-%s", r.name, typ)
			if sameType := countKey(cfgs, cf.key, func(x cfg) string { return x.key }); sameType > 1 {
				name = fmt.Sprintf("%s-%d", name, cf.i)
			}
		}
		for base, i := name, 2; c.channelUsed[name]; i++ {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		if cf.node.Kind != yaml.MappingNode {
			c.errf(cf.node, cf.path, "expected a mapping, got %s", describe(cf.node))
			continue
		}
		ch := converters[cf.key](c, cf.node, cf.path, name)
		if ch == nil {
			continue
		}
		// An e-mail config with several recipients becomes a sequence of
		// channels.
		chs := []*yaml.Node{ch}
		if ch.Kind == yaml.SequenceNode {
			chs = ch.Content
		}
		for _, ch := range chs {
			chName := ch.Content[1].Value
			c.channelUsed[chName] = true
			c.channels = append(c.channels, ch)
			r.channels = append(r.channels, chName)
		}
	}
}

func countKey[T any](xs []T, key string, f func(T) string) int {
	n := 0
	for _, x := range xs {
		if f(x) == key {
			n++
		}
	}
	return n
}

// common reads the keys every receiver config has and returns the ones
// left for the type; def is Alertmanager's default of send_resolved.
func (c *conv) common(n *yaml.Node, path string, def bool, fn func(key string, k, v *yaml.Node, kp string)) {
	resolved := def
	var resolvedN *yaml.Node
	c.mapping(n, path, func(key string, k, v *yaml.Node, kp string) {
		if key == "send_resolved" {
			resolved, resolvedN = c.readBool(v, kp), k
			return
		}
		fn(key, k, v, kp)
	})
	if !resolved {
		at := resolvedN
		if at == nil {
			at = n
		}
		msg := "false: the watchdog sends resolve notifications to every channel"
		if resolvedN == nil {
			msg = "false by default for this type: the watchdog sends resolve notifications to every channel"
		}
		c.note(at, path+".send_resolved", "%s", msg)
	}
}

// secretOut writes FIELD_file for src into the channel and records the
// secret the operator must provide.
func (c *conv) secretOut(ch *yaml.Node, channel, field string, src secretSrc) {
	file := src.file
	var from string
	switch {
	case !src.inline:
		from = fmt.Sprintf("the file %s named at %s:%d %s (relative paths were relative to %s)", src.file, c.file, src.line, src.path, c.file)
	case src.global != "":
		file = "secrets/" + src.global
		from = fmt.Sprintf("the value inline at %s:%d %s", c.file, src.line, src.path)
	default:
		file = "secrets/" + channel + "." + field
		from = fmt.Sprintf("the value inline at %s:%d %s", c.file, src.line, src.path)
	}
	set(ch, field+"_file", str(file))
	if !c.secretFiles[file] {
		c.secretFiles[file] = true
		c.res.Secrets = append(c.res.Secrets, Secret{File: file, From: from})
	}
}

func newChannel(name, typ string) *yaml.Node {
	ch := &yaml.Node{Kind: yaml.MappingNode}
	set(ch, "name", str(name))
	set(ch, "type", str(typ))
	return ch
}

// httpConfig reads a receiver's http_config: a bearer token is returned
// (webhooks send it); everything else is noted.
func (c *conv) httpConfig(v *yaml.Node, path string, bearer *secretSrc) {
	c.mapping(v, path, func(key string, k, v *yaml.Node, kp string) {
		switch key {
		case "bearer_token", "bearer_token_file":
			if bearer != nil {
				c.secret(bearer, key == "bearer_token", v, kp, "")
				return
			}
		case "authorization":
			if bearer == nil {
				break
			}
			typ := "Bearer"
			var cred secretSrc
			c.mapping(v, kp, func(key string, k, v *yaml.Node, ap string) {
				switch key {
				case "type":
					typ = c.w.Str(v, ap)
				case "credentials", "credentials_file":
					c.secret(&cred, key == "credentials", v, ap, "")
				default:
					c.note(k, ap, "not imported")
				}
			})
			if strings.EqualFold(typ, "Bearer") {
				*bearer = cred
				return
			}
			c.note(k, kp, "authorization type %q: the watchdog's webhook sends only bearer tokens", typ)
			return
		case "follow_redirects", "enable_http2":
			return // no effect on delivery outcome worth noting
		}
		c.note(k, kp, "HTTP client setting not imported")
	})
}

func (c *conv) webhook(n *yaml.Node, path, name string) *yaml.Node {
	ch := newChannel(name, "webhook")
	var u, bearer secretSrc
	var rest [][2]*yaml.Node
	c.common(n, path, true, func(key string, k, v *yaml.Node, kp string) {
		switch key {
		case "url", "url_file":
			c.secret(&u, key == "url", v, kp, "")
		case "http_config":
			c.httpConfig(v, kp, &bearer)
		case "max_alerts":
			rest = append(rest, [2]*yaml.Node{str("max_alerts"), intNode(c, v, kp)})
		case "timeout":
			if d, ok := c.w.Duration(v, kp, "10s"); ok && d > 0 {
				rest = append(rest, [2]*yaml.Node{str("timeout"), str(formatDuration(d))})
			}
		default:
			c.note(k, kp, "not imported")
		}
	})
	if !u.set {
		c.errf(n, path, "one of url or url_file must be configured")
		return nil
	}
	c.secretOut(ch, name, "url", u)
	if bearer.set {
		c.secretOut(ch, name, "bearer_token", bearer)
	}
	for _, kv := range rest {
		ch.Content = append(ch.Content, kv[0], kv[1])
	}
	return ch
}

func intNode(c *conv, v *yaml.Node, path string) *yaml.Node {
	if _, err := strconv.ParseUint(v.Value, 10, 31); v.Kind != yaml.ScalarNode || err != nil {
		c.errf(v, path, "expected a non-negative integer, got %s", describe(v))
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: v.Value}
}

func (c *conv) slack(n *yaml.Node, path, name string) *yaml.Node {
	ch := newChannel(name, "slack")
	var u secretSrc
	var opts [][2]string
	appToken := false
	c.common(n, path, false, func(key string, k, v *yaml.Node, kp string) {
		switch key {
		case "api_url", "api_url_file":
			c.secret(&u, key == "api_url", v, kp, "")
		case "channel", "username", "icon_emoji":
			opts = append(opts, [2]string{key, c.w.Str(v, kp)})
		case "app_token", "app_token_file":
			appToken = true
			c.note(k, kp, "Slack app tokens (chat.postMessage): the watchdog posts to incoming webhooks")
		case "http_config":
			c.httpConfig(v, kp, nil)
		default:
			c.note(k, kp, "not imported (the watchdog formats its own messages)")
		}
	})
	if !u.set {
		u = c.global.slackAPIURL
	}
	if !u.set {
		if !appToken {
			c.errf(n, path, "no api_url and no global slack_api_url")
		}
		return nil
	}
	c.secretOut(ch, name, "webhook_url", u)
	for _, kv := range opts {
		if kv[1] != "" {
			set(ch, kv[0], str(kv[1]))
		}
	}
	return ch
}

// baseURL reduces an API URL to scheme://host[/prefix] before suffix.
func (c *conv) baseURL(v *yaml.Node, path string, suffixes ...string) string {
	s := c.w.Str(v, path)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.errf(v, path, "%q is not an http(s) URL", s)
		return ""
	}
	p := strings.TrimRight(u.Path, "/")
	for _, suf := range suffixes {
		p = strings.TrimSuffix(p, suf)
	}
	return u.Scheme + "://" + u.Host + p
}

func (c *conv) pagerduty(n *yaml.Node, path, name string) *yaml.Node {
	ch := newChannel(name, "pagerduty")
	var key secretSrc
	var base, client string
	var v1 *yaml.Node
	if c.global.pagerdutyURL != "" {
		base = c.baseURL(str(c.global.pagerdutyURL), "global.pagerduty_url", "/v2/enqueue", "/generic/2010-04-15/create_event.json")
	}
	c.common(n, path, true, func(k string, kn, v *yaml.Node, kp string) {
		switch k {
		case "routing_key", "routing_key_file":
			c.secret(&key, k == "routing_key", v, kp, "")
		case "service_key", "service_key_file":
			c.secret(&key, k == "service_key", v, kp, "")
			v1 = kn
		case "url":
			base = c.baseURL(v, kp, "/v2/enqueue", "/generic/2010-04-15/create_event.json")
		case "client":
			client = c.w.Str(v, kp)
		case "http_config":
			c.httpConfig(v, kp, nil)
		default:
			c.note(kn, kp, "not imported (the watchdog fills PagerDuty's fields itself)")
		}
	})
	if !key.set {
		c.errf(n, path, "missing service or routing key in PagerDuty config")
		return nil
	}
	if v1 != nil {
		c.note(v1, path+".service_key", "an Events API v1 key, imported as routing_key: the watchdog sends Events API v2 events; check that the integration accepts them")
	}
	c.secretOut(ch, name, "routing_key", key)
	if base != "" && base != "https://events.pagerduty.com" {
		set(ch, "base_url", str(base))
	}
	if client != "" && !strings.Contains(client, "{{") {
		set(ch, "client", str(client))
	}
	return ch
}

func (c *conv) opsgenie(n *yaml.Node, path, name string) *yaml.Node {
	ch := newChannel(name, "opsgenie")
	var key secretSrc
	var base string
	var tags []string
	if c.global.opsgenieAPIURL != "" {
		base = c.baseURL(str(c.global.opsgenieAPIURL), "global.opsgenie_api_url")
	}
	c.common(n, path, true, func(k string, kn, v *yaml.Node, kp string) {
		switch k {
		case "api_key", "api_key_file":
			c.secret(&key, k == "api_key", v, kp, "")
		case "api_url":
			base = c.baseURL(v, kp)
		case "tags":
			s := c.w.Str(v, kp)
			if strings.Contains(s, "{{") {
				c.note(kn, kp, "templated tags")
				return
			}
			for t := range strings.SplitSeq(s, ",") {
				if t = strings.TrimSpace(t); t != "" {
					tags = append(tags, t)
				}
			}
		case "http_config":
			c.httpConfig(v, kp, nil)
		default:
			c.note(kn, kp, "not imported (the watchdog fills Opsgenie's fields itself)")
		}
	})
	if !key.set {
		key = c.global.opsgenieAPIKey
	}
	if !key.set {
		c.errf(n, path, "no api_key and no global opsgenie_api_key")
		return nil
	}
	c.secretOut(ch, name, "api_key", key)
	if base != "" && base != "https://api.opsgenie.com" {
		set(ch, "base_url", str(base))
	}
	if len(tags) > 0 {
		set(ch, "tags", flowSeq(tags...))
	}
	return ch
}

var templateRE = regexp.MustCompile(`\{\{`)

func (c *conv) email(n *yaml.Node, path, name string) *yaml.Node {
	g := &c.global
	from, hello, smarthost, user := g.smtpFrom, g.smtpHello, g.smtpSmarthost, g.smtpAuthUsername
	var pass secretSrc // the config's own, else the global one
	requireTLS, implicit := true, false
	if g.smtpRequireTLS != nil {
		requireTLS = *g.smtpRequireTLS
	}
	if g.smtpForceImplicitTLS != nil {
		implicit = *g.smtpForceImplicitTLS
	}
	var to string
	var toN *yaml.Node
	c.common(n, path, false, func(k string, kn, v *yaml.Node, kp string) {
		switch k {
		case "to":
			to, toN = c.w.Str(v, kp), v
		case "from":
			from = c.w.Str(v, kp)
		case "hello":
			hello = c.w.Str(v, kp)
		case "smarthost":
			smarthost = c.w.Str(v, kp)
		case "auth_username":
			user = c.w.Str(v, kp)
		case "auth_password", "auth_password_file":
			c.secret(&pass, k == "auth_password", v, kp, "")
		case "require_tls":
			requireTLS = c.readBool(v, kp)
		case "force_implicit_tls":
			implicit = c.readBool(v, kp)
		default:
			c.note(kn, kp, "not imported (the watchdog formats its own e-mails)")
		}
	})
	if !pass.set {
		pass = g.smtpAuthPassword
	}
	if toN == nil || to == "" {
		c.errf(n, path, "missing to address in email config")
		return nil
	}
	if templateRE.MatchString(to) {
		c.note(toN, path+".to", "templated recipients: not imported")
		return nil
	}
	addrs, err := mail.ParseAddressList(to)
	if err != nil {
		c.errf(toN, path+".to", "bad address list %q: %v", to, err)
		return nil
	}
	if from == "" {
		c.errf(n, path, "no from address and no global smtp_from")
		return nil
	}
	host, portS, err := net.SplitHostPort(smarthost)
	port, perr := strconv.Atoi(portS)
	if smarthost == "" || err != nil || perr != nil || host == "" {
		c.errf(n, path, "no smarthost (host:port) and no global smtp_smarthost")
		return nil
	}
	tls := "none"
	switch {
	case implicit || port == 465:
		tls = "implicit"
	case requireTLS:
		tls = "starttls"
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for i, a := range addrs {
		chName := name
		if len(addrs) > 1 {
			chName = fmt.Sprintf("%s-%d", name, i)
		}
		ch := newChannel(chName, "email")
		set(ch, "host", str(host))
		set(ch, "port", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(port)})
		set(ch, "from", str(from))
		addr := a.Address
		if a.Name != "" {
			addr = a.String()
		}
		set(ch, "to", str(addr))
		set(ch, "tls", str(tls))
		if hello != "" {
			set(ch, "hello", str(hello))
		}
		if user != "" {
			set(ch, "username", str(user))
			if pass.set {
				c.secretOut(ch, name, "password", pass)
			}
		}
		seq.Content = append(seq.Content, ch)
	}
	return seq
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}
