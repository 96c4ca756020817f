package main

import (
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// featureFlag is --enable-feature: Prometheus's feature names, comma
// separated, the flag repeatable.
type featureFlag []string

// String implements flag.Value.
func (f *featureFlag) String() string { return strings.Join(*f, ",") }

// Set implements flag.Value.
func (f *featureFlag) Set(v string) error {
	for name := range strings.SplitSeq(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			*f = append(*f, name)
		}
	}
	return nil
}

// features are what --enable-feature turned on.
type features struct {
	// stStorage is st-storage: start timestamps stored with the samples.
	stStorage bool
	// stZero is created-timestamp-zero-ingestion: a zero sample at each
	// start timestamp.
	stZero bool
	// useST is use-start-timestamps: the PromQL engine's rate(),
	// increase() and irate() use the stored start timestamps.
	useST bool
}

// readsST reports whether scrapes read start timestamps.
func (f features) readsST() bool { return f.stStorage || f.stZero }

// appliedFeatures are the Prometheus feature names the watchdog implements.
var appliedFeatures = map[string]func(*features){
	"created-timestamp-zero-ingestion": func(f *features) { f.stZero = true },
	"st-storage":                       func(f *features) { f.stStorage = true },
	"use-start-timestamps":             func(f *features) { f.useST = true },
}

// noopFeatures are Prometheus feature names accepted for drop-in command
// lines though they change nothing here, with the reason logged.
var noopFeatures = map[string]string{
	"exemplar-storage":                "exemplars are always kept (storage.exemplars.max_exemplars sizes them, 0 disables)",
	"native-histograms":               "set scrape_native_histograms in the scrape config, as in Prometheus",
	"promql-per-step-stats":           "always on: a query with stats=all gets per-step statistics",
	"memory-snapshot-on-shutdown":     "the store always writes its snapshot on shutdown when storage.snapshot_path is set",
	"xor2-encoding":                   "the store has its own chunk encoding, which keeps start timestamps with st-storage",
	"histograms-st-encoding":          "the store has its own chunk encoding, which keeps start timestamps with st-storage",
	"promql-duration-expr":            "always on, as in Prometheus",
	"promql-extended-range-selectors": "always on, as in Prometheus",
}

// featureNames lists the names --enable-feature accepts.
func featureNames() string {
	var names []string
	for n := range appliedFeatures {
		names = append(names, n)
	}
	for n := range noopFeatures {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// enableFeatureFlag defines --enable-feature on fs.
func enableFeatureFlag(fs *flag.FlagSet) *featureFlag {
	f := &featureFlag{}
	fs.Var(f, "enable-feature", "comma-separated Prometheus feature names to enable (repeatable): "+
		"created-timestamp-zero-ingestion, st-storage and use-start-timestamps apply; "+
		"exemplar-storage, native-histograms, promql-per-step-stats and a few others are accepted as no-ops")
	// The usage line stays short; featureNames is in the error message.
	return f
}

// parseFeatures applies the names of --enable-feature, logging each; an
// unknown name (or one of Prometheus's the watchdog does not have, such as
// st-synthesis) is a usage error listing the valid ones.
func parseFeatures(names []string, logger *slog.Logger) (features, error) {
	var f features
	for _, n := range names {
		if apply, ok := appliedFeatures[n]; ok {
			apply(&f)
			logger.Info("feature enabled", "feature", n)
			continue
		}
		if why, ok := noopFeatures[n]; ok {
			logger.Info("feature accepted as a no-op", "feature", n, "reason", why)
			continue
		}
		return features{}, fmt.Errorf("%w: --enable-feature: unknown or unsupported feature %q (valid: %s)", errUsage, n, featureNames())
	}
	if f.readsST() {
		logger.Info("start timestamps are read from protobuf and OpenMetrics scrapes: OpenMetrics _created lines are no longer series, " +
			"and jobs without scrape_protocols ask for protobuf first")
	}
	return f, nil
}
