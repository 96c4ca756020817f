package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/internal/promapi"
	"github.com/watchdog-sre/watchdog/internal/vmtest"
)

// loginSpike is the data of the login-spike scenario of
// examples/rules/shop_test.yml, one sample every 15 s: /login answers 100
// requests per step, 1 of them a 5xx for the first 20 steps and then 10 of
// 110 (9.091%, over the rule's 4%).
var loginSpike = struct {
	step   time.Duration
	n      int                            // samples per series
	spike  int                            // the first step of the spike
	labels map[string]string              // common labels
	values map[string]func(j int) float64 // by code
}{
	step:   15 * time.Second,
	n:      110,
	spike:  21,
	labels: map[string]string{"__name__": "shop_http_requests_total", "job": "shop", "instance": "shop:8080", "handler": "/login", "method": "POST"},
	values: map[string]func(int) float64{
		"200": func(j int) float64 { return float64(100 * j) },
		"500": func(j int) float64 {
			if j < 21 {
				return float64(j)
			}
			return float64(30 + 10*(j-21))
		},
	},
}

// loginSpikeSeries returns the scenario's series with the first sample at
// base.
func loginSpikeSeries(base time.Time) []promapi.Series {
	var out []promapi.Series
	for code, f := range loginSpike.values {
		ls := map[string]string{"code": code}
		for k, v := range loginSpike.labels {
			ls[k] = v
		}
		s := promapi.Series{Labels: ls}
		for j := range loginSpike.n {
			s.Samples = append(s.Samples, promapi.Sample{T: base.Add(time.Duration(j) * loginSpike.step).UnixMilli(), V: f(j)})
		}
		out = append(out, s)
	}
	return out
}

// loginSpikeSummary is the summary LoginErrorSpike gives on the scenario.
const loginSpikeSummary = "Login errors at 9.091% of requests"

// exampleRules is examples/rules/shop.yml, absolute.
func exampleRules(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "examples", "rules", "shop.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// slowSpikeRules is a copy of LoginErrorSpike with a "for" of 15 minutes:
// an alert that stays pending through the test, with a "for" over the
// 10-minute grace period below which Prometheus (and the watchdog) do
// not restore a pending alert's clock.
func slowSpikeRules(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(exampleRules(t))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "LoginErrorSpike" {
				return "groups:\n  - name: slow\n    rules:\n      - alert: LoginErrorSpikeSlow\n        expr: " +
					strconv.Quote(r.Expr) + "\n        for: 15m\n        labels: {severity: ticket}\n"
			}
		}
	}
	t.Fatal("no LoginErrorSpike in examples/rules/shop.yml")
	return ""
}

// TestRemoteLoginSpikeLocal runs the scenario through the local evaluator
// (`watchdog test`) with the same data, the reference the datasource run
// is held to: LoginErrorSpike is pending at 5m15s and fires at 7m with
// loginSpikeSummary.
func TestRemoteLoginSpikeLocal(t *testing.T) {
	parallel(t, 5*time.Second)
	needBinary(t)
	runLocalSpike(t)
}

// runLocalSpike writes a rule test of the scenario and runs it.
func runLocalSpike(t *testing.T) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "rule_files:\n  - %s\nevaluation_interval: 15s\ntests:\n  - interval: 15s\n    input_series:\n",
		strconv.Quote(exampleRules(t)))
	for _, s := range loginSpikeSeries(time.Unix(0, 0)) {
		vals := make([]string, len(s.Samples))
		for i, smp := range s.Samples {
			vals[i] = strconv.FormatFloat(smp.V, 'f', -1, 64)
		}
		fmt.Fprintf(&b, "      - series: '%s'\n        values: '%s'\n", promapi.Key(s.Labels), strings.Join(vals, " "))
	}
	b.WriteString(`    alert_rule_test:
      - {eval_time: 5m15s, alertname: LoginErrorSpike, exp_alerts: []}
      - eval_time: 7m
        alertname: LoginErrorSpike
        exp_alerts:
          - exp_labels: {severity: page, handler: /login}
            exp_annotations:
              summary: '` + loginSpikeSummary + `'
              description: 'More than 4% of /login requests fail with 5xx; normal is about 1%.'
              runbook_url: https://runbooks.example/shop/login-errors
`)
	path := filepath.Join(t.TempDir(), "spike_test.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "test", path).CombinedOutput()
	if err != nil {
		t.Fatalf("watchdog test (local evaluation of the scenario): %v\n%s\n%s", err, out, b.String())
	}
}

// dsAlert is an alert of /api/v1/alerts.
type dsAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
}

// alertNamed returns the watchdog's active alert of that name.
func (w *remoteWD) alertNamed(t *testing.T, name string) (dsAlert, bool) {
	t.Helper()
	var res struct {
		Alerts []dsAlert `json:"alerts"`
	}
	w.getJSON(t, "/api/v1/alerts", &res)
	for _, a := range res.Alerts {
		if a.Labels["alertname"] == name {
			return a, true
		}
	}
	return dsAlert{}, false
}

// dsPager pages user alice through a webhook for severity="page".
const dsPager = `
users:
  - {name: alice, contact: {push: alice}}
escalation_policies:
  - name: default
    levels:
      - {targets: [user:alice], escalate_after: 1h}
channels:
  - {name: push, type: webhook, url: "HOOK/push"}
routes:
  - {name: pages, matchers: ['severity="page"'], group_wait: 0s, escalation_policy: default}
`

// TestRemoteDatasource (issue #13, acceptance 5): a watchdog with no
// scrape configs evaluates the example rules against VictoriaMetrics
// holding the login-spike data (imported), fires LoginErrorSpike with the
// summary the local evaluator gives on the same data, pages, and writes
// its alert state back by remote_write. After a restart it restores from
// the datasource the clock of a pending alert (LoginErrorSpikeSlow, "for"
// 15m: the pending time before the restart still counts) and of the
// firing one (same activeAt, firing at once).
func TestRemoteDatasource(t *testing.T) {
	parallel(t, 35*time.Second)
	needBinary(t)
	runLocalSpike(t)
	vm := vmtest.Start(t, vmtest.Options{})
	// The spike began 2 minutes ago, as at eval_time 7m of the local run,
	// and the data runs on into the future for the rest of the test.
	now := time.Now()
	vm.Import(t, loginSpikeSeries(now.Add(-7*time.Minute)))
	hook := newHookServer(t)
	dir := t.TempDir()
	slow := filepath.Join(dir, "slow.yml")
	if err := os.WriteFile(slow, []byte(slowSpikeRules(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	config := "global:\n  evaluation_interval: 1s\n" +
		"rule_files:\n  - " + strconv.Quote(exampleRules(t)) + "\n  - " + strconv.Quote(slow) + "\n" +
		"datasource:\n  url: " + vm.URL() + "\n  timeout: 10s\n" +
		"remote_write:\n" + remoteWriteConfig("vm", vm.WriteURL(), "") +
		"storage:\n  retention: 2h\n" +
		"pager:\n" + indent(strings.ReplaceAll(dsPager, "HOOK", hook.URL), "  ")
	w := startRemoteWD(t, "datasource", config)

	// The alert fires on the datasource's data and pages.
	var fired dsAlert
	eventually(t, 60*time.Second, func() error {
		a, ok := w.alertNamed(t, "LoginErrorSpike")
		if !ok || a.State != "firing" {
			return fmt.Errorf("LoginErrorSpike not firing: %+v (present %v)", a, ok)
		}
		fired = a
		return nil
	})
	if got := fired.Annotations["summary"]; got != loginSpikeSummary {
		t.Errorf("datasource summary %q, the local evaluator's %q", got, loginSpikeSummary)
	}
	if fired.Labels["handler"] != "/login" || fired.Labels["severity"] != "page" {
		t.Errorf("alert labels %v", fired.Labels)
	}
	hook.waitHit(t, "/push", 1, 30*time.Second)

	// The pending alert's state reaches VictoriaMetrics by remote_write.
	slowA, ok := w.alertNamed(t, "LoginErrorSpikeSlow")
	if !ok || slowA.State != "pending" {
		t.Fatalf("LoginErrorSpikeSlow: %+v (present %v), want pending", slowA, ok)
	}
	eventually(t, 30*time.Second, func() error {
		res, err := vm.Client().Query(`ALERTS_FOR_STATE{alertname="LoginErrorSpikeSlow"}`, time.Now())
		if err != nil {
			return err
		}
		if len(res) != 1 || len(res[0].Samples) != 1 || int64(res[0].Samples[0].V) != slowA.ActiveAt.Unix() {
			return fmt.Errorf("ALERTS_FOR_STATE in VictoriaMetrics: %+v, want activeAt %d", res, slowA.ActiveAt.Unix())
		}
		return nil
	})
	// The firing alert's state in VictoriaMetrics shows its whole "for"
	// held (the restore keeps the activeAt of such an alert; one whose
	// last state there is short of its "for" starts pending afresh, since
	// "for" is under the grace period).
	eventually(t, 30*time.Second, func() error {
		res, err := vm.Client().Raw(`ALERTS_FOR_STATE{alertname="LoginErrorSpike"}`, time.Now(), time.Minute)
		if err != nil {
			return err
		}
		if len(res) != 1 || len(res[0].Samples) == 0 {
			return fmt.Errorf("ALERTS_FOR_STATE of LoginErrorSpike in VictoriaMetrics: %+v", res)
		}
		last := res[0].Samples[len(res[0].Samples)-1]
		if held := last.T/1000 - int64(last.V); held < 21 {
			return fmt.Errorf("ALERTS_FOR_STATE of LoginErrorSpike in VictoriaMetrics shows %ds held", held)
		}
		return nil
	})
	// Pending long enough that a lost clock would show.
	if wait := 15*time.Second - time.Since(slowA.ActiveAt); wait > 0 {
		time.Sleep(wait)
	}
	stopped := time.Now()
	w.restart(t)
	started := time.Now()

	eventually(t, 30*time.Second, func() error {
		a, ok := w.alertNamed(t, "LoginErrorSpikeSlow")
		if !ok {
			return fmt.Errorf("LoginErrorSpikeSlow not active after the restart")
		}
		if a.State != "pending" {
			return fmt.Errorf("LoginErrorSpikeSlow %s after the restart, want pending", a.State)
		}
		// Restored: activeAt moves forward by the downtime only, so the
		// pending time before the restart (at least 15 s) still counts.
		// Not restored: activeAt is the first evaluation after the start.
		before := stopped.Sub(slowA.ActiveAt)
		after := a.ActiveAt.Sub(slowA.ActiveAt)
		if !a.ActiveAt.Before(started.Add(-10 * time.Second)) {
			return fmt.Errorf("LoginErrorSpikeSlow activeAt %v after a restart at %v: the %v pending before it were lost",
				a.ActiveAt, started, before.Round(time.Second))
		}
		t.Logf("LoginErrorSpikeSlow: pending %v before the restart; activeAt moved by %v (the downtime)",
			before.Round(time.Second), after.Round(time.Second))
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		a, ok := w.alertNamed(t, "LoginErrorSpike")
		if !ok || a.State != "firing" {
			return fmt.Errorf("LoginErrorSpike after the restart: %+v (present %v), want firing", a, ok)
		}
		if d := a.ActiveAt.Sub(fired.ActiveAt); d < -time.Second || d > time.Second {
			return fmt.Errorf("LoginErrorSpike activeAt %v after the restart, %v before it", a.ActiveAt, fired.ActiveAt)
		}
		return nil
	})
}
