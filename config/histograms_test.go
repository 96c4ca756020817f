package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestHistogramSettings(t *testing.T) {
	tests := []struct {
		name, yaml string
		protocols  []ScrapeProtocol // of the first job
		native     bool
		bucket     int
		maxEx      int
	}{
		{"defaults", "scrape_configs: [{job_name: a}]", DefaultScrapeProtocols, false, DefaultNativeHistogramBucketLimit, DefaultMaxExemplars},
		{"native per job", "scrape_configs: [{job_name: a, scrape_native_histograms: true, native_histogram_bucket_limit: 100}]",
			DefaultProtoFirstScrapeProtocols, true, 100, DefaultMaxExemplars},
		{"native globally", "global: {scrape_native_histograms: true}\nscrape_configs: [{job_name: a}]\nstorage: {exemplars: {max_exemplars: 0}}",
			DefaultProtoFirstScrapeProtocols, true, DefaultNativeHistogramBucketLimit, 0},
		{"global protocols win over the native default", "global: {scrape_protocols: [PrometheusText0.0.4]}\nscrape_configs: [{job_name: a, scrape_native_histograms: true}]",
			[]ScrapeProtocol{PrometheusText0_0_4}, true, DefaultNativeHistogramBucketLimit, DefaultMaxExemplars},
		{"job protocols", "global: {scrape_protocols: [PrometheusText0.0.4]}\nscrape_configs: [{job_name: a, scrape_protocols: [PrometheusProto, OpenMetricsText1.0.0]}]",
			[]ScrapeProtocol{PrometheusProto, OpenMetricsText1_0_0}, false, DefaultNativeHistogramBucketLimit, DefaultMaxExemplars},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "x.yml")
			if err != nil {
				t.Fatal(err)
			}
			j := c.ScrapeConfigs[0]
			if !slices.Equal(j.ScrapeProtocols, tt.protocols) || Enabled(j.ScrapeNativeHistograms) != tt.native ||
				j.NativeHistogramBucketLimit != tt.bucket || *c.Storage.Exemplars.MaxExemplars != tt.maxEx {
				t.Errorf("got protocols %v native %v bucket limit %d max exemplars %d", j.ScrapeProtocols,
					Enabled(j.ScrapeNativeHistograms), j.NativeHistogramBucketLimit, *c.Storage.Exemplars.MaxExemplars)
			}
		})
	}
}

func TestHistogramSettingsBad(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown protocol", "scrape_configs: [{job_name: a, scrape_protocols: [Foo]}]", `x.yml:1: scrape_configs[0].scrape_protocols[0]: unknown protocol "Foo"`},
		{"duplicate protocol", "scrape_configs:\n- job_name: a\n  scrape_protocols: [PrometheusProto, PrometheusProto]", `scrape_protocols[1]: duplicate protocol`},
		{"global bucket limit", "global:\n  native_histogram_bucket_limit: 3", `x.yml:2: global.native_histogram_bucket_limit: native_histogram_bucket_limit is set per scrape config`},
		{"negative bucket limit", "scrape_configs:\n- job_name: a\n  native_histogram_bucket_limit: -1", `x.yml:3: scrape_configs[0].native_histogram_bucket_limit: -1 is negative`},
		{"huge bucket limit", "scrape_configs:\n- job_name: a\n  native_histogram_bucket_limit: 100000000", `is over the maximum 65536`},
		{"bad fallback", "scrape_configs:\n- job_name: a\n  fallback_scrape_protocol: text", `fallback_scrape_protocol: unknown protocol "text"`},
		{"negative factor", "scrape_configs:\n- job_name: a\n  native_histogram_min_bucket_factor: -2", `-2 is not a positive number`},
		{"negative exemplars", "storage:\n  exemplars:\n    max_exemplars: -1", `x.yml:3: storage.exemplars.max_exemplars: -1 is negative`},
		{"huge exemplars", "storage:\n  exemplars:\n    max_exemplars: 1000000000", `is over the maximum 10000000`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "x.yml")
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
