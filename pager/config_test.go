package pager

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// loadConfig parses a fixture from testdata and fails the test on error.
func loadConfig(t testing.TB, name string) *Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(name, data)
	if err != nil {
		t.Fatalf("ParseConfig(%s):\n%v", name, err)
	}
	return c
}

func TestConfigGood(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) == 0 {
		t.Fatal("no good fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			loadConfig(t, filepath.Base(f))
		})
	}
}

var wantRE = regexp.MustCompile(`(?m)^# error: (\d+): (.*)$`)

// TestConfigBad checks that every *.bad.yaml fails with exactly the errors
// its "# error: LINE: TEXT" comments list (TEXT is a prefix of "path:
// message"), all reported at once as file:line: path: message.
func TestConfigBad(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) == 0 {
		t.Fatal("no bad fixtures")
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseConfig(name, data)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error does not wrap ErrConfig: %v", err)
			}
			got := strings.Split(err.Error(), "\n")
			wants := wantRE.FindAllStringSubmatch(string(data), -1)
			if len(got) != len(wants) {
				t.Errorf("got %d errors, want %d:\n%s", len(got), len(wants), err)
			}
			for _, w := range wants {
				line, _ := strconv.Atoi(w[1])
				prefix := name + ":" + strconv.Itoa(line) + ": " + w[2]
				found := false
				for _, g := range got {
					found = found || strings.HasPrefix(g, prefix)
				}
				if !found {
					t.Errorf("missing error %q in:\n%s", prefix, err)
				}
			}
		})
	}
}

func TestConfigErrorFormat(t *testing.T) {
	tests := []struct {
		src, want string
	}{
		{"pager: [1]", "x.yaml:1: pager: must be a mapping"},
		{"other: 1", "x.yaml:1: pager: missing"},
		{"pager:\n  users: {a: 1}", "x.yaml:2: pager.users.a: cannot unmarshal !!map into []*pager.User"},
		{"pager: {routes: [{escalation_policy: 1, group_wait: -1m}]}", "x.yaml:1: pager.routes[0].escalation_policy: unknown escalation policy \"1\""},
		{"a: b: c", "x.yaml: mapping values are not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := ParseConfig("x.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestBuildChannelsSecrets(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	src := SecretSource{
		ReadFile:  func(string) ([]byte, error) { return []byte("tok\n"), nil },
		LookupEnv: func(k string) (string, bool) { return "pdkey", k == "PD_ROUTING_KEY" },
	}
	chs, err := c.BuildChannels(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"push", "sms", "voice", "email", "ops-webhook", "pd"} {
		if chs[n] == nil {
			t.Errorf("channel %s missing", n)
		}
	}
	src.LookupEnv = func(string) (string, bool) { return "", false }
	if _, err := c.BuildChannels(src); !errors.Is(err, ErrSecret) || strings.Contains(err.Error(), "tok") {
		t.Errorf("missing env: got %v", err)
	}
}
