package pager

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestAlertmanagerYAML: the routing tree renders as an Alertmanager
// configuration with the same tree, as in its golden file (the e2e test
// has Debian's amtool load it through GET /api/v2/status).
func TestAlertmanagerYAML(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	got := c.AlertmanagerYAML()
	golden := filepath.Join("testdata", "basic.alertmanager.yml")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 writes it)", err)
	}
	if got != string(want) {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	var parsed struct {
		Route struct {
			Routes []struct {
				Receiver string `yaml:"receiver"`
			} `yaml:"routes"`
		} `yaml:"route"`
		Receivers []struct {
			Name string `yaml:"name"`
		} `yaml:"receivers"`
	}
	if err := yaml.Unmarshal([]byte(got), &parsed); err != nil {
		t.Fatal(err)
	}
	var names, top []string
	for _, r := range parsed.Receivers {
		names = append(names, r.Name)
	}
	for _, r := range parsed.Route.Routes {
		top = append(top, r.Receiver)
	}
	if !reflect.DeepEqual(names, c.Receivers()) {
		t.Errorf("receivers %v, want %v", names, c.Receivers())
	}
	var wantTop []string
	for _, r := range c.Routes {
		wantTop = append(wantTop, r.Name)
	}
	if !reflect.DeepEqual(top, wantTop) {
		t.Errorf("top-level routes %v, want %v", top, wantTop)
	}
}

// TestReceiversRouteCalledRoot: a route called root does not collide with
// the implicit root's receiver.
func TestReceiversRouteCalledRoot(t *testing.T) {
	c, err := ParseConfig("x.yaml", []byte(`pager:
  users: [{name: a, contact: {push: t}}]
  escalation_policies: [{name: p, levels: [{targets: [user:a]}]}]
  channels: [{name: push, type: console}]
  routes: [{name: root, escalation_policy: p}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Receivers(), []string{"watchdog-root", "root"}; !reflect.DeepEqual(got, want) {
		t.Errorf("receivers %v, want %v", got, want)
	}
}
