package probe

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
)

// MaxFailureBody is the most bytes of a response body kept with a failure.
const MaxFailureBody = 1024

// Sample is one series of a probe's result: a metric name, the labels the
// prober adds (phase, version, ...; never job, probe or instance) and a value.
type Sample struct {
	Name   string
	Labels labels.Labels
	Value  float64
}

// Failure says why a probe failed: the step of a journey that failed ("" for
// other probes), a reason, the HTTP status (0 when there was none) and the
// start of the response body, at most MaxFailureBody bytes, made printable.
type Failure struct {
	Step   string `json:"step,omitempty"`
	Reason string `json:"reason"`
	Status int    `json:"status,omitempty"`
	Body   string `json:"body,omitempty"`
}

// StepResult is one step of a journey's run.
type StepResult struct {
	Name     string        `json:"name"`
	Success  bool          `json:"success"`
	Status   int           `json:"status,omitempty"`
	Duration time.Duration `json:"-"`
}

// Result is the outcome of one probe run.
type Result struct {
	Success  bool
	Duration time.Duration
	// Samples are the series, probe_success and probe_duration_seconds
	// included, sorted by name then labels.
	Samples []Sample
	// Failure is nil on success.
	Failure *Failure
	// Steps are a journey's steps that ran, in order.
	Steps []StepResult
}

// recorder collects a run's samples. Set replaces, Add sums (timings of
// phases over redirects).
type recorder struct {
	samples []Sample
	// extra labels every sample gets (a journey's step)
	extra []labels.Label
	// failure is the first failure recorded.
	failure *Failure
}

func (r *recorder) find(name string, ls labels.Labels) int {
	for i, s := range r.samples {
		if s.Name == name && labels.Equal(s.Labels, ls) {
			return i
		}
	}
	return -1
}

func (r *recorder) labels(kv []string) labels.Labels {
	if len(kv) == 0 && len(r.extra) == 0 {
		return labels.EmptyLabels()
	}
	b := labels.NewScratchBuilder(len(kv)/2 + len(r.extra))
	for _, l := range r.extra {
		b.Add(l.Name, l.Value)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		b.Add(kv[i], kv[i+1])
	}
	b.Sort()
	return b.Labels()
}

// set records name{kv...} = v.
func (r *recorder) set(name string, v float64, kv ...string) {
	ls := r.labels(kv)
	if i := r.find(name, ls); i >= 0 {
		r.samples[i].Value = v
		return
	}
	r.samples = append(r.samples, Sample{Name: name, Labels: ls, Value: v})
}

// add adds v to name{kv...}.
func (r *recorder) add(name string, v float64, kv ...string) {
	ls := r.labels(kv)
	if i := r.find(name, ls); i >= 0 {
		r.samples[i].Value += v
		return
	}
	r.samples = append(r.samples, Sample{Name: name, Labels: ls, Value: v})
}

// fail records the first failure and returns false, for "return r.fail(...)".
func (r *recorder) fail(status int, body []byte, format string, args ...any) bool {
	if r.failure == nil {
		r.failure = &Failure{Reason: fmt.Sprintf(format, args...), Status: status, Body: TrimBody(body)}
	}
	return false
}

// sortSamples orders samples by name, then labels, as an exposition lists them.
func sortSamples(s []Sample) {
	slices.SortStableFunc(s, func(a, b Sample) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return labels.Compare(a.Labels, b.Labels)
	})
}

// TrimBody returns at most MaxFailureBody bytes of b as printable text:
// invalid UTF-8 and control characters other than newline and tab become
// U+FFFD, and a cut body ends in "…".
func TrimBody(b []byte) string {
	cut := len(b) > MaxFailureBody
	if cut {
		b = b[:MaxFailureBody]
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1:
			if cut && len(b) < utf8.UTFMax && !utf8.FullRune(b) {
				b = nil // a rune cut in half at the end
				continue
			}
			sb.WriteRune(utf8.RuneError)
		case r == '\n' || r == '\t':
			sb.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029':
			sb.WriteRune(utf8.RuneError)
		default:
			sb.WriteRune(r)
		}
		b = b[n:]
	}
	if cut {
		sb.WriteString("…")
	}
	return sb.String()
}

// help is the HELP text of each series, blackbox_exporter's where it has one.
var help = map[string]string{
	"probe_success":                                 "Displays whether or not the probe was a success",
	"probe_duration_seconds":                        "Returns how long the probe took to complete in seconds",
	"probe_timeout_seconds":                         "Returns how long the probe timeout is in seconds",
	"probe_dns_lookup_time_seconds":                 "Returns the time taken for probe dns lookup in seconds",
	"probe_ip_protocol":                             "Specifies whether probe ip protocol is IP4 or IP6",
	"probe_ip_addr_hash":                            "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
	"probe_http_duration_seconds":                   "Duration of http request by phase, summed over all redirects",
	"probe_http_content_length":                     "Length of http content response",
	"probe_http_uncompressed_body_length":           "Length of uncompressed response body",
	"probe_http_redirects":                          "The number of redirects",
	"probe_http_ssl":                                "Indicates if SSL was used for the final redirect",
	"probe_http_status_code":                        "Response HTTP status code",
	"probe_http_version":                            "Returns the version of HTTP of the probe response",
	"probe_failed_due_to_regex":                     "Indicates if probe failed due to regex",
	"probe_http_last_modified_timestamp_seconds":    "Returns the Last-Modified HTTP response header in unixtime",
	"probe_ssl_earliest_cert_expiry":                "Returns last SSL chain expiry in unixtime",
	"probe_ssl_last_chain_expiry_timestamp_seconds": "Returns last SSL chain expiry in timestamp",
	"probe_ssl_last_chain_info":                     "Contains SSL leaf certificate information",
	"probe_tls_version_info":                        "Returns the TLS version used or NaN when unknown",
	"probe_tls_cipher_info":                         "Returns the TLS cipher negotiated during handshake",
	"probe_dns_duration_seconds":                    "Duration of DNS request by phase",
	"probe_dns_answer_rrs":                          "Returns number of entries in the answer resource record list",
	"probe_dns_authority_rrs":                       "Returns number of entries in the authority resource record list",
	"probe_dns_additional_rrs":                      "Returns number of entries in the additional resource record list",
	"probe_dns_query_succeeded":                     "Displays whether or not the query was executed successfully",
	"probe_dns_serial":                              "Returns the serial number of the zone",
	"probe_grpc_duration_seconds":                   "Duration of gRPC request by phase",
	"probe_grpc_ssl":                                "Indicates if SSL was used for the connection",
	"probe_grpc_status_code":                        "Response gRPC status code",
	"probe_grpc_healthcheck_response":               "Response HealthCheck response",
	"probe_journey_step_success":                    "Whether the journey step succeeded (steps after a failing one are not run)",
	"probe_journey_failed_step":                     "1 for the journey step that failed in the last run",
	"probe_journey_step_duration_seconds":           "How long the journey step took",
}

// WriteText writes the samples in the Prometheus text format, as
// blackbox_exporter's /probe answers: each name once with HELP and TYPE
// gauge, names sorted.
func WriteText(w io.Writer, samples []Sample) error {
	s := slices.Clone(samples)
	sortSamples(s)
	var sb strings.Builder
	for i, x := range s {
		if i == 0 || s[i-1].Name != x.Name {
			if h, ok := help[x.Name]; ok {
				fmt.Fprintf(&sb, "# HELP %s %s\n", x.Name, h)
			}
			fmt.Fprintf(&sb, "# TYPE %s gauge\n", x.Name)
		}
		sb.WriteString(x.Name)
		if x.Labels.Len() > 0 {
			sb.WriteByte('{')
			first := true
			x.Labels.Range(func(l labels.Label) {
				if !first {
					sb.WriteByte(',')
				}
				first = false
				sb.WriteString(l.Name)
				sb.WriteString(`="`)
				sb.WriteString(escapeLabel(l.Value))
				sb.WriteByte('"')
			})
			sb.WriteByte('}')
		}
		sb.WriteByte(' ')
		sb.WriteString(formatValue(x.Value))
		sb.WriteByte('\n')
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
