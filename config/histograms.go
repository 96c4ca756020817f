package config

import (
	"fmt"
	"math"
	"strings"
)

// ScrapeProtocol names an exposition format a scrape may ask for, as in
// Prometheus's scrape_protocols.
type ScrapeProtocol string

// The scrape protocols, with Prometheus's names.
const (
	PrometheusProto      ScrapeProtocol = "PrometheusProto"
	PrometheusText0_0_4  ScrapeProtocol = "PrometheusText0.0.4"
	PrometheusText1_0_0  ScrapeProtocol = "PrometheusText1.0.0"
	OpenMetricsText0_0_1 ScrapeProtocol = "OpenMetricsText0.0.1"
	OpenMetricsText1_0_0 ScrapeProtocol = "OpenMetricsText1.0.0"
)

// ScrapeProtocolHeaders is the media type of the Accept header entry of each
// protocol (without the q weight), as Prometheus sends it.
var ScrapeProtocolHeaders = map[ScrapeProtocol]string{
	PrometheusProto:      "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
	PrometheusText0_0_4:  "text/plain;version=0.0.4",
	PrometheusText1_0_0:  "text/plain;version=1.0.0",
	OpenMetricsText0_0_1: "application/openmetrics-text;version=0.0.1",
	OpenMetricsText1_0_0: "application/openmetrics-text;version=1.0.0",
}

// DefaultScrapeProtocols are asked for, in this order, when neither the job
// nor the global section sets scrape_protocols and native histograms are
// not scraped (Prometheus's default).
var DefaultScrapeProtocols = []ScrapeProtocol{OpenMetricsText1_0_0, OpenMetricsText0_0_1, PrometheusText1_0_0, PrometheusText0_0_4}

// DefaultProtoFirstScrapeProtocols are the default scrape_protocols of a job
// with scrape_native_histograms: the protobuf format first, the only one
// that carries native histograms.
var DefaultProtoFirstScrapeProtocols = []ScrapeProtocol{PrometheusProto, OpenMetricsText1_0_0, OpenMetricsText0_0_1, PrometheusText1_0_0, PrometheusText0_0_4}

// MaxNativeHistogramBucketLimit bounds native_histogram_bucket_limit: more
// buckets than this per histogram are never kept.
const MaxNativeHistogramBucketLimit = 1 << 16

// DefaultNativeHistogramBucketLimit is the bucket limit of a job that sets
// none: a histogram with more buckets is reduced in resolution until it fits
// (Prometheus has no default; a hostile target could otherwise send
// histograms of millions of buckets).
const DefaultNativeHistogramBucketLimit = 4096

// HistogramSettings are the native histogram settings of the global section
// (where only the first four apply) and of each scrape config, with
// Prometheus's names. After loading, a job's ScrapeProtocols is set (the
// job's, else the global one, else DefaultProtoFirstScrapeProtocols when
// native histograms are scraped, else DefaultScrapeProtocols) and the
// booleans are not nil.
type HistogramSettings struct {
	// ScrapeProtocols is the order of preference of exposition formats
	// sent in the Accept header.
	ScrapeProtocols []ScrapeProtocol `yaml:"scrape_protocols,omitempty"`
	// ScrapeNativeHistograms ingests native histograms (default false: a
	// histogram's native part is ignored and its classic buckets, if any,
	// are ingested).
	ScrapeNativeHistograms *bool `yaml:"scrape_native_histograms,omitempty"`
	// AlwaysScrapeClassicHistograms also ingests the classic buckets of a
	// histogram exposed both ways, and keeps classic series of a histogram
	// converted to NHCB.
	AlwaysScrapeClassicHistograms *bool `yaml:"always_scrape_classic_histograms,omitempty"`
	// ConvertClassicHistogramsToNHCB ingests classic histograms as native
	// histograms with custom buckets.
	ConvertClassicHistogramsToNHCB *bool `yaml:"convert_classic_histograms_to_nhcb,omitempty"`
	// FallbackScrapeProtocol is the format assumed when a target sends no or
	// an unknown Content-Type (job only; default: the text format).
	FallbackScrapeProtocol ScrapeProtocol `yaml:"fallback_scrape_protocol,omitempty"`
	// NativeHistogramBucketLimit is the most buckets a native histogram may
	// keep (job only): an exponential histogram with more is reduced in
	// resolution until it fits, another one fails the scrape.
	NativeHistogramBucketLimit int `yaml:"native_histogram_bucket_limit,omitempty"`
	// NativeHistogramMinBucketFactor reduces the resolution of exponential
	// histograms whose bucket growth factor is smaller (job only; 0: none).
	NativeHistogramMinBucketFactor float64 `yaml:"native_histogram_min_bucket_factor,omitempty"`
}

// Enabled returns the value of b, false when nil.
func Enabled(b *bool) bool { return b != nil && *b }

// validateGlobal checks the global histogram settings at path: the job-only
// keys are refused there.
func (h *HistogramSettings) validateGlobal(r *report, path string) {
	validateProtocols(r, path+".scrape_protocols", h.ScrapeProtocols)
	for _, f := range []struct {
		key string
		set bool
	}{
		{"fallback_scrape_protocol", h.FallbackScrapeProtocol != ""},
		{"native_histogram_bucket_limit", h.NativeHistogramBucketLimit != 0},
		{"native_histogram_min_bucket_factor", h.NativeHistogramMinBucketFactor != 0},
	} {
		if f.set {
			r.errorf(path+"."+f.key, "%s is set per scrape config, not globally", f.key)
		}
	}
	for _, b := range []**bool{&h.ScrapeNativeHistograms, &h.AlwaysScrapeClassicHistograms, &h.ConvertClassicHistogramsToNHCB} {
		if *b == nil {
			f := false
			*b = &f
		}
	}
}

// validateJob checks a job's histogram settings at path and fills in the
// ones it inherits from g (already validated).
func (h *HistogramSettings) validateJob(r *report, path string, g *HistogramSettings) {
	inherit := func(b **bool, from *bool) {
		if *b == nil {
			v := Enabled(from)
			*b = &v
		}
	}
	inherit(&h.ScrapeNativeHistograms, g.ScrapeNativeHistograms)
	inherit(&h.AlwaysScrapeClassicHistograms, g.AlwaysScrapeClassicHistograms)
	inherit(&h.ConvertClassicHistogramsToNHCB, g.ConvertClassicHistogramsToNHCB)
	if h.ScrapeProtocols != nil {
		validateProtocols(r, path+".scrape_protocols", h.ScrapeProtocols)
	} else {
		switch {
		case g.ScrapeProtocols != nil:
			h.ScrapeProtocols = g.ScrapeProtocols
		case *h.ScrapeNativeHistograms:
			h.ScrapeProtocols = DefaultProtoFirstScrapeProtocols
		default:
			h.ScrapeProtocols = DefaultScrapeProtocols
		}
	}
	if p := h.FallbackScrapeProtocol; p != "" {
		if _, ok := ScrapeProtocolHeaders[p]; !ok {
			r.errorf(path+".fallback_scrape_protocol", "unknown protocol %q (known: %s)", p, knownProtocols())
		}
	}
	switch {
	case h.NativeHistogramBucketLimit < 0:
		r.errorf(path+".native_histogram_bucket_limit", "%d is negative", h.NativeHistogramBucketLimit)
	case h.NativeHistogramBucketLimit > MaxNativeHistogramBucketLimit:
		r.errorf(path+".native_histogram_bucket_limit", "%d is over the maximum %d", h.NativeHistogramBucketLimit, MaxNativeHistogramBucketLimit)
	case h.NativeHistogramBucketLimit == 0:
		h.NativeHistogramBucketLimit = DefaultNativeHistogramBucketLimit
	}
	if f := h.NativeHistogramMinBucketFactor; f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		r.errorf(path+".native_histogram_min_bucket_factor", "%v is not a positive number", f)
	}
}

func validateProtocols(r *report, path string, ps []ScrapeProtocol) {
	if ps == nil {
		return
	}
	if len(ps) == 0 {
		r.errorf(path, "scrape_protocols cannot be empty")
		return
	}
	seen := map[string]bool{}
	for i, p := range ps {
		if _, ok := ScrapeProtocolHeaders[p]; !ok {
			r.errorf(fmt.Sprintf("%s[%d]", path, i), "unknown protocol %q (known: %s)", p, knownProtocols())
			continue
		}
		if k := strings.ToLower(string(p)); seen[k] {
			r.errorf(fmt.Sprintf("%s[%d]", path, i), "duplicate protocol %q", p)
		} else {
			seen[k] = true
		}
	}
}

func knownProtocols() string {
	return strings.Join([]string{string(PrometheusProto), string(OpenMetricsText1_0_0), string(OpenMetricsText0_0_1),
		string(PrometheusText1_0_0), string(PrometheusText0_0_4)}, ", ")
}

// DefaultMaxExemplars is storage.exemplars.max_exemplars when unset.
const DefaultMaxExemplars = 100_000

// MaxMaxExemplars bounds storage.exemplars.max_exemplars (an exemplar takes
// about 100 bytes plus its labels).
const MaxMaxExemplars = 10_000_000

func (e *ExemplarsConfig) validate(r *report, path string) {
	if e.MaxExemplars == nil {
		n := DefaultMaxExemplars
		e.MaxExemplars = &n
		return
	}
	switch n := *e.MaxExemplars; {
	case n < 0:
		r.errorf(path+".max_exemplars", "%d is negative", n)
	case n > MaxMaxExemplars:
		r.errorf(path+".max_exemplars", "%d is over the maximum %d", n, MaxMaxExemplars)
	}
}
