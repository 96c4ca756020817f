package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestParseFeatures: --enable-feature takes Prometheus's names, comma
// separated and repeated; the start timestamp ones apply, a few are
// accepted as no-ops with a log line, and any other name is a usage error
// listing the valid ones.
func TestParseFeatures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    features
		err     string // substring of the error, "" for none
		logLine string // substring of the log
	}{
		{name: "none", args: nil},
		{name: "st-storage", args: []string{"--enable-feature=st-storage"}, want: features{stStorage: true},
			logLine: "jobs without scrape_protocols ask for protobuf first"},
		{name: "all three, comma separated and repeated",
			args: []string{"--enable-feature=created-timestamp-zero-ingestion,st-storage", "--enable-feature", "use-start-timestamps"},
			want: features{stStorage: true, stZero: true, useST: true}},
		{name: "no-op", args: []string{"--enable-feature=exemplar-storage,native-histograms"},
			logLine: `feature accepted as a no-op" feature=exemplar-storage`},
		{name: "use-start-timestamps alone reads nothing from scrapes", args: []string{"--enable-feature=use-start-timestamps"},
			want: features{useST: true}},
		{name: "unknown", args: []string{"--enable-feature=st-storage,typo"}, err: `unsupported feature "typo" (valid: created-timestamp-zero-ingestion, exemplar-storage`},
		{name: "Prometheus's, not here", args: []string{"--enable-feature=st-synthesis"}, err: `"st-synthesis"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, o := serveFlags(false)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			got, err := parseFeatures(*o.featureNames, slog.New(slog.NewTextHandler(&log, nil)))
			switch {
			case tc.err != "":
				if err == nil || !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want a usage error with %q", err, tc.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("features %+v, want %+v", got, tc.want)
			}
			if !strings.Contains(log.String(), tc.logLine) {
				t.Errorf("log %q lacks %q", log.String(), tc.logLine)
			}
			if got.readsST() != strings.Contains(log.String(), "start timestamps are read") {
				t.Errorf("log %q: start timestamp line disagrees with %+v", log.String(), got)
			}
		})
	}
}
