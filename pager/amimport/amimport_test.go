package amimport

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/inhibit"
	"github.com/prometheus/alertmanager/matcher/compat"
	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"

	"github.com/watchdog-sre/watchdog/pager"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func init() {
	// Parse matchers as a default Alertmanager does (UTF-8 with classic
	// fallback), not as the config package does when used as a library.
	compat.InitFromFlags(slog.New(slog.DiscardHandler), featurecontrol.NoopFlags{})
}

// goldenInputs are the real-world shaped configurations under testdata.
func goldenInputs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".bad.yml") {
			out = append(out, f)
		}
	}
	return out
}

// TestGolden converts each input and compares with its golden output,
// which must load with the pager's own parser and validator.
func TestGolden(t *testing.T) {
	for _, in := range goldenInputs(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Convert(filepath.Base(in), data)
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			golden := strings.TrimSuffix(in, ".yml") + ".golden.yaml"
			if *update {
				if err := os.WriteFile(golden, res.YAML, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(res.YAML, want) {
				t.Errorf("output differs from %s (run with -update to accept):\n%s", golden, res.YAML)
			}
			if _, err := pager.ParseConfig("imported.yaml", res.YAML); err != nil {
				t.Fatalf("the pager refuses the output: %v\n%s", err, res.YAML)
			}
		})
	}
}

// TestNoInlineSecrets checks that no secret value of the inputs reaches
// the output or the report, and that every secret is listed.
func TestNoInlineSecrets(t *testing.T) {
	secretRE := regexp.MustCompile(`(?m)^\s*-?\s*(?:service_key|routing_key|api_key|api_url|url|smtp_auth_password|auth_password|slack_api_url|credentials|bot_token|opsgenie_api_key):\s*'?([^'\n]+)'?$`)
	for _, in := range goldenInputs(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, _ := os.ReadFile(in)
			res, err := Convert(filepath.Base(in), data)
			if err != nil {
				t.Fatal(err)
			}
			report := res.Report("x")
			found := 0
			for _, m := range secretRE.FindAllStringSubmatch(string(data), -1) {
				found++
				v := strings.TrimSpace(m[1])
				if bytes.Contains(res.YAML, []byte(v)) || strings.Contains(report, v) {
					t.Errorf("secret %q copied into the output or report", v)
				}
			}
			if found > 0 && len(res.Secrets) == 0 {
				t.Errorf("%d inline secrets but none listed", found)
			}
		})
	}
}

// TestRoutingMatchesAlertmanager routes a table of alerts through
// Alertmanager's own dispatch tree (built by its config loader) and
// through the imported pager config, and compares receivers, channels,
// timings and group labels; and inhibitions pairwise.
func TestRoutingMatchesAlertmanager(t *testing.T) {
	for _, in := range goldenInputs(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, _ := os.ReadFile(in)
			amc, err := amconfig.Load(string(data))
			if err != nil {
				t.Fatalf("Alertmanager refuses %s: %v", in, err)
			}
			res, err := Convert(filepath.Base(in), data)
			if err != nil {
				t.Fatal(err)
			}
			pc, err := pager.ParseConfig("imported.yaml", res.YAML)
			if err != nil {
				t.Fatal(err)
			}
			tree := dispatch.NewRoute(amc.Route, nil)
			alerts := sampleAlerts(amc, 3000)
			routed := map[string]int{}
			for _, a := range alerts {
				compareRouting(t, tree, pc, res, a, routed)
			}
			// Every receiver the tree uses was reached by some alert, so
			// the table really exercises the tree.
			tree.Walk(func(r *dispatch.Route) {
				if routed[r.RouteOpts.Receiver] == 0 && len(r.Routes) == 0 {
					t.Errorf("no sample alert reached receiver %q", r.RouteOpts.Receiver)
				}
			})
			compareInhibits(t, amc, pc, alerts)
		})
	}
}

func compareRouting(t *testing.T, tree *dispatch.Route, pc *pager.Config, res *Result, a model.LabelSet, routed map[string]int) {
	t.Helper()
	lset := map[string]string{}
	for k, v := range a {
		lset[string(k)] = string(v)
	}
	want := tree.Match(a)
	got := pc.Match(lset)
	if len(got) != len(want) {
		t.Fatalf("alert %v: Alertmanager routes to %d receivers, the pager to %d routes", a, len(want), len(got))
	}
	for i, w := range want {
		g := got[i]
		recv := res.RouteReceivers[g.Route]
		routed[recv]++
		if recv != w.RouteOpts.Receiver {
			t.Fatalf("alert %v match %d: receiver %q, Alertmanager %q", a, i, recv, w.RouteOpts.Receiver)
		}
		if !slices.Equal(g.Channels, res.ReceiverChannels[recv]) && !(len(g.Channels) == 0 && len(res.ReceiverChannels[recv]) == 0) {
			t.Fatalf("alert %v: channels %v, receiver %q has %v", a, g.Channels, recv, res.ReceiverChannels[recv])
		}
		o := w.RouteOpts
		if g.GroupWait != o.GroupWait || g.GroupInterval != o.GroupInterval || g.RepeatInterval != o.RepeatInterval {
			t.Fatalf("alert %v: timings %v/%v/%v, Alertmanager %v/%v/%v", a, g.GroupWait, g.GroupInterval, g.RepeatInterval, o.GroupWait, o.GroupInterval, o.RepeatInterval)
		}
		wantGroup := map[string]string{}
		for k, v := range a {
			if _, ok := o.GroupBy[k]; ok || o.GroupByAll {
				wantGroup[string(k)] = string(v)
			}
		}
		if !maps.Equal(g.GroupLabels, wantGroup) {
			t.Fatalf("alert %v: group labels %v, Alertmanager %v", a, g.GroupLabels, wantGroup)
		}
	}
}

// compareInhibits checks every (source, target) pair of a sample under
// Alertmanager's rule semantics against Config.Inhibited.
func compareInhibits(t *testing.T, amc *amconfig.Config, pc *pager.Config, alerts []model.LabelSet) {
	t.Helper()
	var rules []*inhibit.InhibitRule
	for _, r := range amc.InhibitRules {
		rules = append(rules, inhibit.NewInhibitRule(r))
	}
	if len(rules) == 0 {
		return
	}
	n := min(len(alerts), 300)
	inhibited := 0
	for _, tgt := range alerts[:n] {
		for _, src := range alerts[:n] {
			if src.Fingerprint() == tgt.Fingerprint() {
				continue
			}
			want := amMutes(rules, tgt, src)
			_, got := pc.Inhibited(toMap(tgt), []map[string]string{toMap(src)})
			if got != want {
				t.Fatalf("target %v source %v: pager inhibited=%v, Alertmanager %v", tgt, src, got, want)
			}
			if got {
				inhibited++
			}
		}
	}
	if inhibited == 0 {
		t.Errorf("no sample pair was inhibited: the table does not exercise the rules")
	}
	t.Logf("%d inhibited pairs agree", inhibited)
}

// amMutes is Alertmanager's Inhibitor.Mutes for one source alert, including
// its exclusion of sources matching both sides when the target does too.
func amMutes(rules []*inhibit.InhibitRule, tgt, src model.LabelSet) bool {
	for _, r := range rules {
		if !r.TargetMatchers.Matches(tgt) || !r.SourceMatchers.Matches(src) {
			continue
		}
		equal := true
		for l := range r.Equal {
			if tgt[l] != src[l] {
				equal = false
			}
		}
		if !equal {
			continue
		}
		if r.SourceMatchers.Matches(tgt) && r.TargetMatchers.Matches(src) {
			continue
		}
		return true
	}
	return false
}

func toMap(a model.LabelSet) map[string]string {
	m := map[string]string{}
	for k, v := range a {
		m[string(k)] = string(v)
	}
	return m
}

// sampleAlerts builds n alerts (fixed seed) from the label names and
// values the configuration mentions, with values that miss too.
func sampleAlerts(c *amconfig.Config, n int) []model.LabelSet {
	values := map[model.LabelName]map[string]bool{"alertname": {"A": true, "B": true}}
	addMatchers := func(ms amlabels.Matchers) {
		for _, m := range ms {
			ln := model.LabelName(m.Name)
			if values[ln] == nil {
				values[ln] = map[string]bool{"other": true}
			}
			if m.Type == amlabels.MatchEqual || m.Type == amlabels.MatchNotEqual {
				values[ln][m.Value] = true
				continue
			}
			for _, part := range strings.Split(strings.Trim(m.Value, "^$()"), "|") {
				part = strings.ReplaceAll(strings.ReplaceAll(part, ".*", "x"), ".+", "y")
				values[ln][part] = true
			}
		}
	}
	var walk func(r *amconfig.Route)
	walk = func(r *amconfig.Route) {
		addMatchers(r.AllMatchers())
		for _, l := range r.GroupByStr {
			if l != "..." && values[model.LabelName(l)] == nil {
				values[model.LabelName(l)] = map[string]bool{"g1": true, "g2": true}
			}
		}
		for _, ch := range r.Routes {
			walk(ch)
		}
	}
	walk(c.Route)
	for _, r := range c.InhibitRules {
		ir := inhibit.NewInhibitRule(r)
		addMatchers(ir.SourceMatchers)
		addMatchers(ir.TargetMatchers)
		for l := range ir.Equal {
			if values[l] == nil {
				values[l] = map[string]bool{"e1": true, "e2": true}
			}
		}
	}
	names := slices.Sorted(maps.Keys(values))
	rng := rand.New(rand.NewPCG(14, 14))
	out := make([]model.LabelSet, 0, n)
	for range n {
		a := model.LabelSet{}
		for _, ln := range names {
			vs := slices.Sorted(maps.Keys(values[ln]))
			if i := rng.IntN(len(vs) + 1); i < len(vs) {
				a[ln] = model.LabelValue(vs[i])
			}
		}
		if a["alertname"] == "" {
			a["alertname"] = "A"
		}
		out = append(out, a)
	}
	return out
}

// TestBadInput: each broken input is an error naming file and line.
func TestBadInput(t *testing.T) {
	base := "receivers: [{name: r}]\n"
	for _, tc := range []struct {
		name, in, want string
	}{
		{"syntax", "route: [\n", "am.yml:1: did not find expected node content"},
		{"not a map", "- a\n", "am.yml:1:"},
		{"no route", base, "am.yml:1: route: missing"},
		{"no receivers", "route: {receiver: r}\n", "receivers: missing"},
		{"unknown receiver", base + "route:\n  receiver: nope\n", `am.yml:3: route.receiver: undefined receiver "nope"`},
		{"root without receiver", base + "route:\n  group_wait: 1s\n", "am.yml:2: route.receiver: the root route needs a default receiver"},
		{"root matchers", base + "route:\n  receiver: r\n  matchers: [a=b]\n", "am.yml:4: route.matchers: the root route must not have matchers"},
		{"bad duration", base + "route:\n  receiver: r\n  group_wait: soon\n", `am.yml:4: route.group_wait: invalid duration "soon"`},
		{"zero interval", base + "route:\n  receiver: r\n  repeat_interval: 0s\n", "am.yml:4: route.repeat_interval: repeat_interval cannot be zero"},
		{"bad matcher", base + "route:\n  receiver: r\n  routes:\n    - matchers: ['a=~\"(\"']\n", "am.yml:5: route.routes[0].matchers[0]: bad matcher"},
		{"bad match_re", base + "route:\n  receiver: r\n  routes:\n    - match_re: {a: '('}\n", "am.yml:5: route.routes[0].match_re.a: bad regular expression"},
		{"bad label", base + "route:\n  receiver: r\n  routes:\n    - match: {'a-b': x}\n", `am.yml:5: route.routes[0].match.a-b: invalid label name "a-b"`},
		{"unknown route key", base + "route:\n  receiver: r\n  recevier: x\n", `am.yml:4: route: unknown key "recevier"`},
		{"group_by mix", base + "route:\n  receiver: r\n  group_by: ['...', a]\n", "am.yml:4: route.group_by: cannot have wildcard"},
		{"dup receiver", "receivers: [{name: r}, {name: r}]\nroute: {receiver: r}\n", `am.yml:1: receivers[1]: duplicate receiver "r"`},
		{"webhook without url", "receivers:\n  - name: r\n    webhook_configs: [{max_alerts: 1}]\nroute: {receiver: r}\n", "am.yml:3: receivers[r].webhook_configs[0]: one of url or url_file"},
		{"slack without url", "receivers:\n  - name: r\n    slack_configs: [{channel: '#a'}]\nroute: {receiver: r}\n", "am.yml:3: receivers[r].slack_configs[0]: no api_url"},
		{"email without from", "receivers:\n  - name: r\n    email_configs: [{to: a@b.c, smarthost: 'h:25'}]\nroute: {receiver: r}\n", "no from address"},
		{"bad email", "global: {smtp_from: a@b.c, smtp_smarthost: 'h:25'}\nreceivers:\n  - name: r\n    email_configs:\n      - to: 'not an address'\nroute: {receiver: r}\n", "am.yml:5: receivers[r].email_configs[0].to: bad address list"},
		{"null match_re", base + "route:\n  receiver: r\n  routes:\n    - match_re: {a: }\n", "am.yml:5: route.routes[0].match_re.a: missing value"},
		{"secret twice", "global:\n  slack_api_url: https://x\n  slack_api_url_file: /f\n" + base + "route: {receiver: r}\n", "am.yml:3: global.slack_api_url_file: at most one of slack_api_url and slack_api_url_file"},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ntime_intervals: [*f, *f, *f]\n" + base + "route: {receiver: r}\n", "am.yml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Convert("am.yml", []byte(tc.in))
			if err == nil {
				t.Fatalf("no error for\n%s", tc.in)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q and wrap ErrInvalid", err, tc.want)
			}
		})
	}
}

// TestReceiverTypes covers the mapping of each receiver type and what is
// listed as not imported.
func TestReceiverTypes(t *testing.T) {
	in := `
global:
  opsgenie_api_url: https://api.eu.opsgenie.com/
  smtp_require_tls: false
  smtp_auth_password: globalpw
receivers:
  - name: r
    email_configs:
      - {to: 'a@x.org, Bee <b@x.org>', from: am@x.org, smarthost: 'smtp.x.org:465', auth_username: u, auth_password_file: /s/pw, html: '<b>hi</b>'}
    opsgenie_configs:
      - {api_key: k1, responders: [{type: team, name: ops}]}
    wechat_configs: [{corp_id: c}]
    sns_configs: [{topic_arn: t}]
    msteams_configs: [{webhook_url: 'https://x'}]
route: {receiver: r, routes: [{matchers: [a="1"], receiver: r}]}
`
	res, err := Convert("am.yml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.YAML)
	for _, want := range []string{
		"name: r-email-0\n", "to: a@x.org\n", "name: r-email-1\n", `to: '"Bee" <b@x.org>'`,
		"port: 465\n", "tls: implicit\n", "password_file: /s/pw\n",
		"base_url: https://api.eu.opsgenie.com\n", "api_key_file: secrets/r-opsgenie.api_key\n",
		"channels: [r-email-0, r-email-1, r-opsgenie]",
		"am.yml:9: receivers[r].email_configs[0].html: not imported",
		"am.yml:11: receivers[r].opsgenie_configs[0].responders: not imported",
		"am.yml:12: receivers[r].wechat_configs: 1 wechat_configs: the pager has no wechat channel",
		"am.yml:13: receivers[r].sns_configs: 1 sns_configs",
		"am.yml:14: receivers[r].msteams_configs: 1 msteams_configs",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "k1") || strings.Contains(out, "globalpw") || strings.Contains(out, "secrets/smtp_auth_password") {
		t.Errorf("inline api_key copied:\n%s", out)
	}
	if _, err := pager.ParseConfig("x.yaml", res.YAML); err != nil {
		t.Fatalf("pager refuses: %v", err)
	}
	var notes []string
	for _, n := range res.NotImported {
		notes = append(notes, n.Path)
	}
	sort.Strings(notes)
	if len(notes) < 5 {
		t.Errorf("notes %v", notes)
	}
}

// TestInputBounded: an oversized input is refused before parsing.
func TestInputBounded(t *testing.T) {
	_, err := Convert("big.yml", bytes.Repeat([]byte("#"), MaxInputBytes+1))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err %v", err)
	}
	deep := "receivers: [{name: r}]\nroute:\n  receiver: r\n" + strings.Repeat("  ", 0)
	var b strings.Builder
	b.WriteString(deep)
	ind := "  "
	for range maxDepth + 2 {
		b.WriteString(ind + "routes:\n" + ind + "  - matchers: [a=\"1\"]\n")
		ind += "    "
	}
	if _, err := Convert("deep.yml", []byte(b.String())); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Fatalf("err %v", err)
	}
}

// FuzzConvert: no input crashes Convert, and whatever it accepts the
// pager accepts too.
func FuzzConvert(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		f.Add(data)
	}
	f.Add([]byte("receivers: [{name: r}]\nroute: {receiver: r, routes: [{matchers: ['a=~\"x\\\\y\"', 'b=\"ü\\n\"'], receiver: r}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Convert("fuzz.yml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if _, err := pager.ParseConfig("out.yaml", res.YAML); err != nil {
			t.Fatalf("the pager refuses the output: %v\n%s\ninput:\n%s", err, res.YAML, data)
		}
	})
}

// TestAlertmanagerOwnTestdata: every configuration of Alertmanager's own
// config/testdata that Alertmanager accepts converts, loads in the pager
// and routes the same. The files are read from the module cache.
func TestAlertmanagerOwnTestdata(t *testing.T) {
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/prometheus/alertmanager").Output()
	if err != nil || len(bytes.TrimSpace(dir)) == 0 {
		t.Skipf("cannot locate the alertmanager module: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(string(bytes.TrimSpace(dir)), "config", "testdata", "*.yml"))
	if len(files) == 0 {
		t.Skip("no config/testdata in the alertmanager module")
	}
	accepted := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		amc, err := amconfig.Load(string(data))
		if err != nil {
			continue
		}
		accepted++
		t.Run(filepath.Base(f), func(t *testing.T) {
			res, err := Convert(filepath.Base(f), data)
			if err != nil {
				t.Fatalf("Alertmanager accepts it, Convert refuses: %v", err)
			}
			pc, err := pager.ParseConfig("imported.yaml", res.YAML)
			if err != nil {
				t.Fatalf("the pager refuses the output: %v\n%s", err, res.YAML)
			}
			tree := dispatch.NewRoute(amc.Route, nil)
			routed := map[string]int{}
			for _, a := range sampleAlerts(amc, 300) {
				compareRouting(t, tree, pc, res, a, routed)
			}
		})
	}
	if accepted < 10 {
		t.Errorf("only %d of %d files accepted by Alertmanager", accepted, len(files))
	}
}
