package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDatasource: defaults, secret files resolved by Load, and every
// mistake reported at its file:line.
func TestDatasource(t *testing.T) {
	good := []struct {
		name, yaml string
		check      func(d *DatasourceConfig) bool
	}{
		{"none", "global: {}\n", func(d *DatasourceConfig) bool { return d == nil }},
		{"defaults", "datasource: {url: 'http://127.0.0.1:8428'}\n", func(d *DatasourceConfig) bool {
			return d.URL == "http://127.0.0.1:8428" && d.Timeout == DefaultDatasourceTimeout
		}},
		{"full", "datasource:\n  url: https://mimir.example/prometheus\n  timeout: 5s\n  headers: {X-Scope-OrgID: team-a}\n" +
			"  basic_auth: {username: u, password_file: pw}\n", func(d *DatasourceConfig) bool {
			return d.Timeout == dur("5s") && d.Headers["X-Scope-OrgID"] == "team-a" && d.BasicAuth.PasswordFile == "pw"
		}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "x.yml")
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c.Datasource) {
				t.Errorf("datasource = %+v", c.Datasource)
			}
			checkRoundTrip(t, c)
		})
	}
	bad := []struct {
		name, yaml string
		want       []string
	}{
		{"no url", "datasource: {timeout: 5s}\n", []string{`x.yml:1: datasource.url: url is required`}},
		{"not http", "datasource:\n  url: 127.0.0.1:8428\n", []string{`x.yml:2: datasource.url: "127.0.0.1:8428" is not an http or https URL`}},
		{"query", "datasource:\n  url: http://vm:8428/?x=1\n", []string{`x.yml:2: datasource.url: "http://vm:8428/?x=1": the base URL takes no query`}},
		{"user in url", "datasource:\n  url: http://u:p@vm:8428\n", []string{`x.yml:2: datasource.url: credentials in the URL are secrets`}},
		{"negative timeout", "datasource:\n  url: http://vm\n  timeout: -1s\n", []string{`x.yml:3: datasource.timeout: not a valid duration string`}},
		{"secret header", "datasource:\n  url: http://vm\n  headers: {Authorization: Bearer x}\n",
			[]string{`x.yml:3: datasource.headers: an Authorization header is a secret`}},
		{"inline credentials", "datasource:\n  url: http://vm\n  authorization: {credentials: abc}\n",
			[]string{`x.yml:3: datasource.authorization: inline secret "credentials" is not allowed`}},
		{"inline password", "datasource:\n  url: http://vm\n  basic_auth: {username: u, password: abc}\n",
			[]string{`x.yml:3: datasource.basic_auth: inline secret "password" is not allowed`}},
		{"both auths", "datasource:\n  url: http://vm\n  authorization: {credentials_file: c}\n  basic_auth: {username: u, password_file: p}\n",
			[]string{`x.yml:1: datasource: only one of authorization and basic_auth may be set`}},
		{"basic without user", "datasource:\n  url: http://vm\n  basic_auth: {password_file: p}\n",
			[]string{`x.yml:3: datasource.basic_auth: username is required`}},
		{"unknown key", "datasource:\n  url: http://vm\n  lookback: 1m\n", []string{`x.yml:3: datasource: unknown key "lookback"`}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "x.yml")
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse: %v, want ErrInvalid", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("errors:\n%s\nwant %d: %q", err, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d = %q, want prefix %q", i, lines[i], w)
				}
			}
		})
	}
}

// TestDatasourceSecretFiles: Load resolves the secret files against the
// configuration's directory and checks they can be read.
func TestDatasourceSecretFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("t0k"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "w.yml")
	write := func(text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("datasource:\n  url: http://vm\n  authorization: {credentials_file: token}\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Datasource.Authorization.CredentialsFile; got != filepath.Join(dir, "token") || c.Datasource.Authorization.Type != "Bearer" {
		t.Errorf("authorization = %+v", c.Datasource.Authorization)
	}
	write("datasource:\n  url: http://vm\n  basic_auth: {username: u, password_file: missing}\n")
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+":3: datasource.basic_auth.password_file: cannot read secret file") {
		t.Fatalf("Load: %v, want the missing password file named", err)
	}
}
