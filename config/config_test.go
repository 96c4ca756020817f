package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func dur(s string) model.Duration {
	d, err := model.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return c
}

func TestLoadGood(t *testing.T) {
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file  string
		check func(t *testing.T, c *Config)
	}{
		{"empty.good.yaml", func(t *testing.T, c *Config) {
			want := GlobalConfig{
				ScrapeInterval:             dur("1m"),
				ScrapeTimeout:              dur("10s"),
				EvaluationInterval:         dur("1m"),
				MetricNameValidationScheme: model.UTF8Validation,
				ScrapeLimits:               DefaultScrapeLimits,
			}
			f := false
			want.HistogramSettings = HistogramSettings{ScrapeNativeHistograms: &f, AlwaysScrapeClassicHistograms: &f, ConvertClassicHistogramsToNHCB: &f}
			if !reflect.DeepEqual(c.Global, want) {
				t.Errorf("global = %+v, want %+v", c.Global, want)
			}
			if c.Storage.Retention != dur("2h") || c.Storage.SnapshotInterval != dur("5m") || c.Storage.SnapshotPath != "" ||
				c.Storage.MaxSeries != 2_000_000 || c.Storage.TooFarInFutureTimeWindow != dur("5m") {
				t.Errorf("storage = %+v", c.Storage)
			}
			if len(c.ScrapeConfigs) != 0 || len(c.RuleFiles) != 0 {
				t.Errorf("scrape configs %d, rule files %d, want none", len(c.ScrapeConfigs), len(c.RuleFiles))
			}
		}},
		{"minimal.good.yaml", func(t *testing.T, c *Config) {
			if len(c.ScrapeConfigs) != 1 {
				t.Fatalf("%d scrape configs, want 1", len(c.ScrapeConfigs))
			}
			sc := c.ScrapeConfigs[0]
			if sc.JobName != "self" || sc.ScrapeInterval != dur("1m") || sc.ScrapeTimeout != dur("10s") ||
				sc.MetricsPath != "/metrics" || sc.Scheme != "http" || sc.HonorTimestamps == nil || !*sc.HonorTimestamps ||
				sc.HonorLabels || sc.ScrapeLimits != DefaultScrapeLimits || sc.KeepDroppedTargets != 0 {
				t.Errorf("defaults not applied: %+v", sc)
			}
			if want := []StaticConfig{{Targets: []string{"localhost:9090"}}}; !reflect.DeepEqual(sc.StaticConfigs, want) {
				t.Errorf("static configs = %+v, want %+v", sc.StaticConfigs, want)
			}
		}},
		{"full.good.yaml", func(t *testing.T, c *Config) {
			g := c.Global
			if g.ScrapeInterval != dur("15s") || g.ScrapeTimeout != dur("5s") || g.EvaluationInterval != dur("30s") ||
				g.MetricNameValidationScheme != model.LegacyValidation {
				t.Errorf("global = %+v", g)
			}
			if want := map[string]string{"cluster": "eu-1", "replica": "a"}; !reflect.DeepEqual(g.ExternalLabels, want) {
				t.Errorf("external labels = %v", g.ExternalLabels)
			}
			if want := []string{filepath.Join(abs, "rules/*.yml"), "/etc/watchdog/extra.yml"}; !reflect.DeepEqual(c.RuleFiles, want) {
				t.Errorf("rule files = %q, want %q", c.RuleFiles, want)
			}
			if want := (StorageConfig{Retention: dur("6h"), SnapshotPath: filepath.Join(abs, "data/snapshot.bin"), SnapshotInterval: dur("1m"),
				ChunksDir: filepath.Join(abs, "data/chunks"),
				MaxSeries: 500_000, TooFarInFutureTimeWindow: dur("2m"), Exemplars: c.Storage.Exemplars}); c.Storage != want ||
				*c.Storage.Exemplars.MaxExemplars != DefaultMaxExemplars {
				t.Errorf("storage = %+v, want %+v", c.Storage, want)
			}
			if c.Path != "testdata/full.good.yaml" {
				t.Errorf("path = %q", c.Path)
			}
			if len(c.ScrapeConfigs) != 4 {
				t.Fatalf("%d scrape configs, want 4", len(c.ScrapeConfigs))
			}
			node, api, legacy, custom := c.ScrapeConfigs[0], c.ScrapeConfigs[1], c.ScrapeConfigs[2], c.ScrapeConfigs[3]
			if node.ScrapeInterval != dur("30s") || node.ScrapeTimeout != dur("20s") || node.MetricsPath != "/custom/metrics" ||
				node.Scheme != "https" || !node.HonorLabels || node.HonorTimestamps == nil || *node.HonorTimestamps ||
				node.KeepDroppedTargets != 100 {
				t.Errorf("node = %+v", node)
			}
			// Limits: the job's own, else the global ones, else the defaults.
			if want := (ScrapeLimits{SampleLimit: 50_000, BodySizeLimit: DefaultBodySizeLimit, LabelLimit: DefaultLabelLimit,
				LabelNameLengthLimit: DefaultLabelNameLengthLimit, LabelValueLengthLimit: 1024, TargetLimit: 500}); g.ScrapeLimits != want {
				t.Errorf("global limits = %+v, want %+v", g.ScrapeLimits, want)
			}
			if want := (ScrapeLimits{SampleLimit: 5000, BodySizeLimit: 64 << 20, LabelLimit: 30,
				LabelNameLengthLimit: 100, LabelValueLengthLimit: 1024, TargetLimit: 20}); node.ScrapeLimits != want {
				t.Errorf("node limits = %+v, want %+v", node.ScrapeLimits, want)
			}
			if want := (ScrapeLimits{SampleLimit: 50_000, BodySizeLimit: 10 << 10, LabelLimit: DefaultLabelLimit,
				LabelNameLengthLimit: DefaultLabelNameLengthLimit, LabelValueLengthLimit: 1024, TargetLimit: 500}); legacy.ScrapeLimits != want {
				t.Errorf("legacy-bearer limits = %+v, want %+v", legacy.ScrapeLimits, want)
			}
			if want := map[string][]string{"module": {"http_2xx"}, "debug": {"1", "2"}}; !reflect.DeepEqual(map[string][]string(node.Params), want) {
				t.Errorf("params = %v", node.Params)
			}
			wantStatic := []StaticConfig{
				{Targets: []string{"node-1:9100", "10.0.0.2:9100", "[::1]:9100"}, Labels: map[string]string{"env": "prod", "team": "sre"}},
				{Targets: []string{"node-3:9100"}},
			}
			if !reflect.DeepEqual(node.StaticConfigs, wantStatic) {
				t.Errorf("static configs = %+v", node.StaticConfigs)
			}
			wantSD := []FileSDConfig{
				{Files: []string{filepath.Join(abs, "targets/*.json"), filepath.Join(abs, "targets/extra.yml")}, RefreshInterval: dur("2m")},
				{Files: []string{"/abs/targets.yaml"}, RefreshInterval: dur("5m")},
			}
			if !reflect.DeepEqual(node.FileSDConfigs, wantSD) {
				t.Errorf("file sd = %+v, want %+v", node.FileSDConfigs, wantSD)
			}
			if len(node.RelabelConfigs) != 3 || len(node.MetricRelabelConfigs) != 1 {
				t.Fatalf("relabel configs %d/%d, want 3/1", len(node.RelabelConfigs), len(node.MetricRelabelConfigs))
			}
			r0, r1, r2, m0 := node.RelabelConfigs[0], node.RelabelConfigs[1], node.RelabelConfigs[2], node.MetricRelabelConfigs[0]
			if r0.Action != relabel.Replace || r0.Separator != ";" || r0.Regex.String() != "([^:]+):.*" || r0.TargetLabel != "host" ||
				r0.Replacement != "$1" || r0.NameValidationScheme != model.LegacyValidation {
				t.Errorf("relabel[0] = %+v", r0)
			}
			if r1.Action != relabel.LabelDrop || r1.Regex.String() != "tmp_.*" {
				t.Errorf("relabel[1] = %+v", r1)
			}
			if r2.Action != relabel.HashMod || r2.Modulus != 4 || r2.TargetLabel != "__tmp_hash" || r2.Regex.String() != "(.*)" {
				t.Errorf("relabel[2] = %+v", r2)
			}
			if m0.Action != relabel.Drop || m0.Separator != "/" || !reflect.DeepEqual(m0.SourceLabels, model.LabelNames{"__name__", "job"}) {
				t.Errorf("metric relabel[0] = %+v", m0)
			}
			if want := (&BasicAuth{Username: "prom", PasswordFile: filepath.Join(abs, "secrets/password")}); !reflect.DeepEqual(node.BasicAuth, want) {
				t.Errorf("basic auth = %+v", node.BasicAuth)
			}
			if want := (&Authorization{Type: "Bearer", CredentialsFile: filepath.Join(abs, "secrets/credentials")}); !reflect.DeepEqual(api.Authorization, want) {
				t.Errorf("authorization = %+v", api.Authorization)
			}
			if api.ScrapeInterval != dur("15s") || api.ScrapeTimeout != dur("5s") {
				t.Errorf("api did not inherit the global interval/timeout: %v/%v", api.ScrapeInterval, api.ScrapeTimeout)
			}
			if legacy.ScrapeInterval != dur("5s") || legacy.ScrapeTimeout != dur("5s") || legacy.BodySizeLimit != 10<<10 ||
				legacy.BearerTokenFile != filepath.Join(abs, "secrets/token") {
				t.Errorf("legacy = %+v", legacy)
			}
			if custom.Authorization == nil || custom.Authorization.Type != "Token" {
				t.Errorf("custom authorization = %+v", custom.Authorization)
			}
		}},
		{"anchors.good.yaml", func(t *testing.T, c *Config) {
			if len(c.ScrapeConfigs) != 3 {
				t.Fatalf("%d scrape configs, want 3", len(c.ScrapeConfigs))
			}
			a, b, cc := c.ScrapeConfigs[0], c.ScrapeConfigs[1], c.ScrapeConfigs[2]
			if b.JobName != "b" || b.ScrapeInterval != dur("10s") || b.ScrapeTimeout != dur("3s") ||
				!reflect.DeepEqual(b.StaticConfigs, a.StaticConfigs) || len(b.RelabelConfigs) != 1 {
				t.Errorf("merged job b = %+v", b)
			}
			if cc.ScrapeTimeout != dur("10s") || !reflect.DeepEqual(cc.StaticConfigs, a.StaticConfigs) ||
				len(cc.MetricRelabelConfigs) != 1 || cc.MetricRelabelConfigs[0].TargetLabel != "team" {
				t.Errorf("aliased job c = %+v", cc)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			tt.check(t, mustLoad(t, filepath.Join("testdata", tt.file)))
		})
	}
}

// TestGolden compares the effective configuration of every good fixture,
// as String prints it, with testdata/NAME.golden (go test -update rewrites).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(data, f)
			if err != nil {
				t.Fatal(err)
			}
			got := c.String()
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("String() differs from %s:\n%s", golden, got)
			}
		})
	}
}

// TestRoundTrip checks that String prints a configuration that parses back
// to the same Config, for every good fixture.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c := mustLoad(t, f)
			checkRoundTrip(t, c)
		})
	}
}

func checkRoundTrip(t *testing.T, c *Config) {
	t.Helper()
	s := c.String()
	c2, err := Parse([]byte(s), "effective.yml")
	if err != nil {
		t.Fatalf("String() does not parse back: %v\n%s", err, s)
	}
	c2.Path = c.Path
	if !reflect.DeepEqual(c, c2) {
		t.Fatalf("round trip changed the config:\nbefore: %s\nafter:  %s", s, c2.String())
	}
}

func TestLoadBad(t *testing.T) {
	tests := []struct {
		file string
		want []string // "line: path: message", one per error, in order
	}{
		{"unknown_key_top", []string{`3: unknown key "scrape_config"`}},
		{"unknown_key_global", []string{`3: global: unknown key "query_log_file"`}},
		{"unknown_key_nested", []string{`8: scrape_configs[0]: unknown key "scrape_intervall"`}},
		{"relabel_unknown_key", []string{`4: scrape_configs[0].relabel_configs[0]: unknown key "source_label"`}},
		{"bad_duration", []string{
			`2: global.scrape_interval: unknown unit " seconds" in duration "15 seconds"`,
			`3: global.evaluation_interval: not a valid duration string: "-1m"`,
		}},
		{"timeout_gt_interval", []string{`9: scrape_configs[1].scrape_timeout: "20s" is greater than scrape_interval "15s"`}},
		{"global_timeout", []string{`3: global.scrape_timeout: "1m" is greater than scrape_interval "10s"`}},
		{"duplicate_job", []string{`6: scrape_configs[2].job_name: duplicate job_name "node" (first in scrape_configs[0], line 2)`}},
		{"inline_bearer", []string{`3: scrape_configs[0]: inline secret "bearer_token" is not allowed: secrets come from files, use bearer_token_file`}},
		{"inline_password", []string{
			`5: scrape_configs[0].basic_auth: inline secret "password" is not allowed: secrets come from files, use password_file`,
			`8: scrape_configs[1].authorization: inline secret "credentials" is not allowed: secrets come from files, use credentials_file`,
		}},
		{"relabel_regex", []string{`5: scrape_configs[0].relabel_configs[0].regex: invalid regex "(foo": missing closing )`}},
		{"relabel_action", []string{`5: scrape_configs[0].metric_relabel_configs[0].action: unknown relabel action "delete"`}},
		{"relabel_target", []string{
			`4: scrape_configs[0].relabel_configs[0]: relabel configuration for replace action requires 'target_label' value`,
			`6: scrape_configs[0].relabel_configs[1]: relabel configuration for hashmod requires non-zero modulus`,
		}},
		{"target_scheme", []string{`6: scrape_configs[0].static_configs[0].targets[1]: "http://node:9100" must be host:port, without a scheme (set scheme on the job)`}},
		{"target_form", []string{
			`5: scrape_configs[0].static_configs[0].targets[0]: "node:9100/metrics" must be host:port, without a path (set metrics_path on the job)`,
			`6: scrape_configs[0].static_configs[0].targets[1]: "node" must be host:port`,
			`7: scrape_configs[0].static_configs[0].targets[2]: "node:http" has an invalid port`,
			`8: scrape_configs[0].static_configs[0].targets[3]: ":9100" has an invalid host`,
		}},
		{"byte_size", []string{`3: scrape_configs[0].body_size_limit: invalid byte size "10XB" (want e.g. 512, 10KB, 64MiB)`}},
		{"wrong_type_list", []string{`2: global: expected a map, got a list`}},
		{"wrong_type_map", []string{`2: scrape_configs: expected a list, got a map`}},
		{"wrong_type_scalar", []string{
			`4: scrape_configs[0].static_configs[0].targets: expected a list, got "node:9100"`,
			`5: scrape_configs[0].honor_labels: expected a boolean (true or false), got "maybe"`,
			`6: scrape_configs[0].sample_limit: expected an integer, got a list`,
		}},
		{"tabs", []string{`2: found character that cannot start any token (YAML indents with spaces, not tabs)`}},
		{"invalid_yaml", []string{`3: did not find expected ',' or ']'`}},
		{"scheme", []string{
			`3: scrape_configs[0].scheme: "ftp" is not http or https`,
			`4: scrape_configs[0].metrics_path: "metrics" must start with /`,
		}},
		{"alerting", []string{
			`6: alerting.alertmanagers[1].scheme: "ftp" is not http or https`,
			`8: alerting.alertmanagers[1].static_configs[0].targets[0]: "http://x:1" must be host:port, without a scheme or path (use scheme and path_prefix)`,
			`9: alerting.alertmanagers[1]: unknown key "bogus"`,
		}},
		{"remote_write", []string{
			`2: remote_write[0].url: "ftp://x" is not an http or https URL`,
			`3: remote_write[0].protobuf_message: "prometheus.WriteRequestV3" is not prometheus.WriteRequest (Remote-Write 1.0) or io.prometheus.write.v2.Request (2.0)`,
			`6: remote_write[1].headers.Authorization: an Authorization header is a secret: use authorization.credentials_file`,
			`6: remote_write[1].headers["Content-Encoding"]: header "Content-Encoding" is set by the sender and cannot be configured`,
			`7: remote_write[1].queue_config.min_backoff: not a valid duration string: "-1s"`,
			`7: remote_write[1].queue_config.min_shards: min_shards 5 is greater than max_shards 2`,
			`8: remote_write[2]: only one of authorization and basic_auth may be set`,
			`9: remote_write[2].name: duplicate remote_write name "a" (first in remote_write[1], line 4); give each entry its own name`,
			`12: remote_write[3]: url is required`,
			`13: remote_write[4].url: credentials in the URL are secrets: use basic_auth with password_file`,
		}},
		{"missing_job_name", []string{`2: scrape_configs[0]: job_name is required`}},
		{"auth_conflict", []string{
			`2: scrape_configs[0]: only one of authorization, basic_auth and bearer_token_file may be set, got basic_auth and bearer_token_file`,
			`8: scrape_configs[1].authorization: credentials_file is required`,
			`9: scrape_configs[1].authorization.type: use basic_auth for basic authentication`,
		}},
		{"label_name", []string{
			`4: global.external_labels["bad-name"]: "bad-name" is not a valid label name`,
			`10: scrape_configs[0].static_configs[0].labels["0day"]: "0day" is not a valid label name`,
		}},
		{"negative_limit", []string{
			`2: global.target_limit: -4 is negative`,
			`5: scrape_configs[0].sample_limit: -1 is negative`,
			`6: scrape_configs[0].label_limit: -5 is negative`,
			`7: scrape_configs[0].keep_dropped_targets: -2 is negative`,
			`8: scrape_configs[0].label_name_length_limit: -3 is negative`,
			`9: scrape_configs[0].body_size_limit: invalid byte size "-1" (want e.g. 512, 10KB, 64MiB)`,
		}},
		{"multi_doc", []string{`3: more than one YAML document`}},
		{"duplicate_key", []string{`3: global: duplicate key "scrape_interval" (first at line 2)`}},
		{"null_entry", []string{
			`2: scrape_configs[0]: empty entry`,
			`5: rule_files[0]: empty file name`,
		}},
		{"file_sd", []string{
			`4: scrape_configs[0].file_sd_configs[0].files[0]: "targets.txt" must end in .json, .yml or .yaml`,
			`5: scrape_configs[0].file_sd_configs[1]: files is required`,
		}},
		{"many_errors", []string{
			`2: global.scrape_interval: unknown unit "x" in duration "1x"`,
			`5: scrape_configs[0].scheme: "gopher" is not http or https`,
			`8: scrape_configs[1].static_configs[0].targets[0]: "https://b" must be host:port, without a scheme (set scheme on the job)`,
			`9: scrape_configs[1]: unknown key "unknown"`,
		}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file+".bad.yaml")
			seen[path] = true
			c, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded, want errors:\n%s", c)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != path {
				t.Errorf("error is not an *Error for %s: %#v", path, err)
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = path + ":" + w
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
	all, _ := filepath.Glob("testdata/*.bad.yaml")
	for _, f := range all {
		if !seen[f] {
			t.Errorf("%s has no expected errors in TestLoadBad", f)
		}
	}
}

// TestLoadChunksDir: storage.chunks_dir must be a directory, or a path
// where one can be created; anything else is an error at its line.
func TestLoadChunksDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "watchdog.yml")
	for _, tc := range []struct{ name, value, err string }{
		{"directory", dir, ""},
		{"to create", "a/b", ""},
		{"file", file, path + ":3: storage.chunks_dir: " + file + " is not a directory"},
		{"under a file", file + "/sub", path + ":3: storage.chunks_dir: " + file + " is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte("storage:\n  retention: 1h\n  chunks_dir: "+tc.value+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if tc.err == "" {
				if err != nil || !filepath.IsAbs(c.Storage.ChunksDir) {
					t.Fatalf("Load = %v, chunks_dir %q", err, c.Storage.ChunksDir)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Load = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestLoadSecretFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := "scrape_configs:\n" +
		"  - job_name: a\n" +
		"    bearer_token_file: token\n" +
		"  - job_name: b\n" +
		"    basic_auth:\n" +
		"      username: u\n" +
		"      password_file: " + dir + "\n" // a directory
	path := filepath.Join(dir, "watchdog.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Load = %v, want invalid", err)
	}
	for _, want := range []string{
		path + ":3: scrape_configs[0].bearer_token_file: cannot read secret file: open " + filepath.Join(dir, "token") + ":",
		path + ":7: scrape_configs[1].basic_auth.password_file: cannot read secret file: " + dir + " is a directory",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\ndoes not contain %q", err, want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("t"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = strings.ReplaceAll(cfg, dir+"\n", "token\n")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ScrapeConfigs[1].BasicAuth.PasswordFile; got != filepath.Join(dir, "token") {
		t.Errorf("password_file = %q", got)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Fatalf("Load = %v, want a not-exist error that is not ErrInvalid", err)
	}
}

func TestParseKeepsPaths(t *testing.T) {
	c, err := Parse([]byte("rule_files: [a/*.yml]\nstorage: {snapshot_path: snap}\n"), "x.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != "" || c.RuleFiles[0] != "a/*.yml" || c.Storage.SnapshotPath != "snap" {
		t.Errorf("Parse changed paths: %+v", c)
	}
}

func TestInheritance(t *testing.T) {
	tests := []struct {
		name                 string
		yaml                 string
		interval, timeout    time.Duration
		jobInterval, jobTout time.Duration
	}{
		{"defaults", "scrape_configs: [{job_name: a}]", time.Minute, 10 * time.Second, time.Minute, 10 * time.Second},
		{"short global interval caps timeout", "global: {scrape_interval: 5s}\nscrape_configs: [{job_name: a}]", 5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second},
		{"short job interval caps timeout", "scrape_configs: [{job_name: a, scrape_interval: 3s}]", time.Minute, 10 * time.Second, 3 * time.Second, 3 * time.Second},
		{"job timeout kept", "global: {scrape_timeout: 30s}\nscrape_configs: [{job_name: a, scrape_timeout: 2s}]", time.Minute, 30 * time.Second, time.Minute, 2 * time.Second},
		{"global timeout inherited", "global: {scrape_timeout: 30s}\nscrape_configs: [{job_name: a}]", time.Minute, 30 * time.Second, time.Minute, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "x.yml")
			if err != nil {
				t.Fatal(err)
			}
			sc := c.ScrapeConfigs[0]
			got := []time.Duration{time.Duration(c.Global.ScrapeInterval), time.Duration(c.Global.ScrapeTimeout), time.Duration(sc.ScrapeInterval), time.Duration(sc.ScrapeTimeout)}
			want := []time.Duration{tt.interval, tt.timeout, tt.jobInterval, tt.jobTout}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("global interval/timeout, job interval/timeout = %v, want %v", got, want)
			}
		})
	}
}

// TestRelabelTargetsNotChecked follows Prometheus: with relabel_configs, a
// target may be anything (a blackbox probe URL), since __address__ is rewritten.
func TestRelabelTargetsNotChecked(t *testing.T) {
	y := `
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    static_configs:
      - targets: [https://example.com/health]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - target_label: __address__
        replacement: blackbox:9115
`
	if _, err := Parse([]byte(y), "x.yml"); err != nil {
		t.Fatal(err)
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x:1, x:1, x:1, x:1, x:1, x:1, x:1, x:1, x:1, x:1]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString("scrape_configs:\n  - job_name: x\n    static_configs:\n      - targets: *a8\n")
	start := time.Now()
	_, err := Parse([]byte(b.String()), "bomb.yml")
	if err == nil {
		t.Fatal("alias bomb parsed")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("alias bomb took %v", d)
	}
}

func TestMergeBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("global:\n  external_labels:\n    x0: &x0 {k: 1}\n")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&b, "    x%d: &x%d {<<: [*x%d, *x%d]}\n", i, i, i-1, i-1)
	}
	b.WriteString("scrape_configs:\n  - {<<: [*x39, *x39]}\n")
	start := time.Now()
	_, err := Parse([]byte(b.String()), "bomb.yml")
	if err == nil || !strings.Contains(err.Error(), "document too deep or too large") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("merge bomb took %v", d)
	}
}

func TestSelfReferencingAnchor(t *testing.T) {
	for _, y := range []string{
		"global: &g\n  <<: *g\n",
		"scrape_configs: &s\n  - job_name: a\n    static_configs: *s\n",
	} {
		if _, err := Parse([]byte(y), "x.yml"); err == nil {
			t.Errorf("Parse(%q) succeeded", y)
		}
	}
}

func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("global:\n")
	for i := range 150 {
		b.WriteString("  k" + strings.Repeat("x", i) + ": 1\n")
	}
	_, err := Parse([]byte(b.String()), "x.yml")
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 || lines[maxErrors] != "x.yml: and 50 more errors" {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}
