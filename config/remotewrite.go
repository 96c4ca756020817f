package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
)

// Remote-write protobuf messages (RemoteWriteConfig.ProtobufMessage), as
// Prometheus names them.
const (
	// RemoteWriteV1 is Remote-Write 1.0's prometheus.WriteRequest (default).
	RemoteWriteV1 = "prometheus.WriteRequest"
	// RemoteWriteV2 is Remote-Write 2.0's io.prometheus.write.v2.Request.
	RemoteWriteV2 = "io.prometheus.write.v2.Request"
)

// Remote-write defaults, Prometheus's (config.DefaultRemoteWriteConfig and
// DefaultQueueConfig).
const (
	DefaultRemoteTimeout     = model.Duration(30 * time.Second)
	DefaultQueueCapacity     = 10000
	DefaultMinShards         = 1
	DefaultMaxShards         = 50
	DefaultMaxSamplesPerSend = 2000
	DefaultBatchSendDeadline = model.Duration(5 * time.Second)
	DefaultMinBackoff        = model.Duration(30 * time.Millisecond)
	DefaultMaxBackoff        = model.Duration(5 * time.Second)
)

// RemoteWriteConfig is one entry of `remote_write:`, Prometheus's format:
// every sample the store holds is sent to URL (see package remote). After
// Parse or Load, Name, RemoteTimeout, ProtobufMessage and every QueueConfig
// field are set.
type RemoteWriteConfig struct {
	URL string `yaml:"url"`
	// Name names the queue in metrics and logs and keys its send position
	// in the snapshot; default: the first 6 hex digits of the SHA-256 of
	// the URL (Prometheus uses a hash of the whole entry). Names must differ.
	Name          string            `yaml:"name,omitempty"`
	RemoteTimeout model.Duration    `yaml:"remote_timeout"`
	Headers       map[string]string `yaml:"headers,omitempty"`
	// Authorization sends "Authorization: <type> <credentials_file contents>".
	Authorization *Authorization `yaml:"authorization,omitempty"`
	// BasicAuth sends basic auth, the password read from password_file.
	BasicAuth           *BasicAuth        `yaml:"basic_auth,omitempty"`
	WriteRelabelConfigs []*relabel.Config `yaml:"write_relabel_configs,omitempty"`
	// ProtobufMessage is RemoteWriteV1 (default) or RemoteWriteV2.
	ProtobufMessage string      `yaml:"protobuf_message"`
	QueueConfig     QueueConfig `yaml:"queue_config"`
}

// QueueConfig tunes the sending of one remote_write entry; the fields are
// Prometheus's. Capacity is the most samples queued per shard.
type QueueConfig struct {
	Capacity          int            `yaml:"capacity"`
	MinShards         int            `yaml:"min_shards"`
	MaxShards         int            `yaml:"max_shards"`
	MaxSamplesPerSend int            `yaml:"max_samples_per_send"`
	BatchSendDeadline model.Duration `yaml:"batch_send_deadline"`
	MinBackoff        model.Duration `yaml:"min_backoff"`
	MaxBackoff        model.Duration `yaml:"max_backoff"`
	// RetryOnHTTP429 retries requests refused with 429 Too Many Requests
	// (after the Retry-After the receiver asks for); false (the default, as
	// in Prometheus) drops them and counts them as failed.
	RetryOnHTTP429 bool `yaml:"retry_on_http_429"`
}

// Retry429 reports whether 429 responses are retried.
func (q *QueueConfig) Retry429() bool { return q.RetryOnHTTP429 }

// remoteWriteName is the default name of a remote_write entry.
func remoteWriteName(u string) string {
	h := sha256.Sum256([]byte(u))
	return hex.EncodeToString(h[:3])
}

// reservedRemoteHeaders are set by the sender and may not be configured.
var reservedRemoteHeaders = map[string]bool{
	"authorization": true, "host": true, "content-encoding": true, "content-type": true,
	"content-length": true, "x-prometheus-remote-write-version": true, "user-agent": true,
	"connection": true, "keep-alive": true, "proxy-authenticate": true, "proxy-authorization": true,
	"www-authenticate": true, "retry-attempt": true,
}

func validateRemoteWrite(r *report, path string, rws []*RemoteWriteConfig, scheme model.ValidationScheme) {
	names := map[string]string{}
	for i, rw := range rws {
		p := fmt.Sprintf("%s[%d]", path, i)
		if rw == nil {
			continue // reported by the decoder as an empty entry
		}
		rw.validate(r, p, scheme)
		if rw.Name == "" {
			continue
		}
		if first, dup := names[rw.Name]; dup {
			r.errorf(p+".name", "duplicate remote_write name %q (first in %s, line %d); give each entry its own name",
				rw.Name, first, r.lineOf(first))
			continue
		}
		names[rw.Name] = p
	}
}

func (rw *RemoteWriteConfig) validate(r *report, path string, scheme model.ValidationScheme) {
	if rw.URL == "" {
		r.errorf(path, "url is required")
	} else if u, err := url.Parse(rw.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.errorf(path+".url", "%q is not an http or https URL", rw.URL)
	} else if u.User != nil {
		r.errorf(path+".url", "credentials in the URL are secrets: use basic_auth with password_file")
	}
	if rw.Name == "" && rw.URL != "" {
		rw.Name = remoteWriteName(rw.URL)
	}
	if rw.RemoteTimeout == 0 {
		rw.RemoteTimeout = DefaultRemoteTimeout
	} else if rw.RemoteTimeout < 0 {
		r.errorf(path+".remote_timeout", "%q is negative", rw.RemoteTimeout)
	}
	for _, name := range slices.Sorted(maps.Keys(rw.Headers)) {
		v := rw.Headers[name]
		hp := joinPath(path+".headers", name)
		switch {
		case !validHeaderName(name):
			r.errorf(hp, "%q is not a valid header name", name)
		case strings.EqualFold(name, "Authorization"):
			r.errorf(hp, "an Authorization header is a secret: use authorization.credentials_file")
		case reservedRemoteHeaders[strings.ToLower(name)]:
			r.errorf(hp, "header %q is set by the sender and cannot be configured", name)
		case strings.ContainsAny(v, "\r\n\x00"):
			r.errorf(hp, "header %q has an invalid value", name)
		}
	}
	if rw.Authorization != nil {
		rw.Authorization.validate(r, path+".authorization")
	}
	if rw.BasicAuth != nil && rw.BasicAuth.Username == "" {
		r.errorf(path+".basic_auth", "username is required")
	}
	if rw.Authorization != nil && rw.BasicAuth != nil {
		r.errorf(path, "only one of authorization and basic_auth may be set")
	}
	switch rw.ProtobufMessage {
	case "":
		rw.ProtobufMessage = RemoteWriteV1
	case RemoteWriteV1, RemoteWriteV2:
	default:
		r.errorf(path+".protobuf_message", "%q is not %s (Remote-Write 1.0) or %s (2.0)",
			rw.ProtobufMessage, RemoteWriteV1, RemoteWriteV2)
	}
	validateRelabel(r, path+".write_relabel_configs", rw.WriteRelabelConfigs, scheme)
	rw.QueueConfig.validate(r, path+".queue_config")
}

func (q *QueueConfig) validate(r *report, path string) {
	ints := []struct {
		key string
		v   *int
		def int
	}{
		{"capacity", &q.Capacity, DefaultQueueCapacity},
		{"min_shards", &q.MinShards, DefaultMinShards},
		{"max_shards", &q.MaxShards, DefaultMaxShards},
		{"max_samples_per_send", &q.MaxSamplesPerSend, DefaultMaxSamplesPerSend},
	}
	for _, f := range ints {
		switch {
		case *f.v < 0:
			r.errorf(joinPath(path, f.key), "%d is negative", *f.v)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	durs := []struct {
		key string
		v   *model.Duration
		def model.Duration
	}{
		{"batch_send_deadline", &q.BatchSendDeadline, DefaultBatchSendDeadline},
		{"min_backoff", &q.MinBackoff, DefaultMinBackoff},
		{"max_backoff", &q.MaxBackoff, DefaultMaxBackoff},
	}
	for _, f := range durs {
		switch {
		case *f.v < 0:
			r.errorf(joinPath(path, f.key), "%q is negative", *f.v)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	if q.MinShards > q.MaxShards {
		r.errorf(path+".min_shards", "min_shards %d is greater than max_shards %d", q.MinShards, q.MaxShards)
	}
	if q.MinBackoff > q.MaxBackoff {
		r.errorf(path+".min_backoff", "min_backoff %q is greater than max_backoff %q", q.MinBackoff, q.MaxBackoff)
	}
}

// files lists the secret files of the entry, for Config.files.
func (rw *RemoteWriteConfig) files(path string) []fileRef {
	var out []fileRef
	if a := rw.Authorization; a != nil {
		out = append(out, fileRef{ptr: &a.CredentialsFile, path: path + ".authorization.credentials_file", secret: true})
	}
	if b := rw.BasicAuth; b != nil {
		out = append(out, fileRef{ptr: &b.PasswordFile, path: path + ".basic_auth.password_file", secret: true})
	}
	return out
}
