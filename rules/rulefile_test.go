package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestParseFileGood parses testdata/*.good.yaml and compares the result
// with the golden testdata/*.good.json.
func TestParseFileGood(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseFile(data, filepath.Base(path))
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			got, err := json.MarshalIndent(f, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(path, ".yaml") + ".json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("parsed file differs from %s:\n%s", golden, got)
			}
		})
	}
}

// TestParseFileBad parses testdata/bad/*.bad.yaml; each file lists the
// errors it must produce in "# want: " comment lines (a prefix of each
// error line, including file and line number), and no others.
func TestParseFileBad(t *testing.T) {
	paths, err := filepath.Glob("testdata/bad/*.bad.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var wants []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					wants = append(wants, w)
				}
			}
			if len(wants) == 0 {
				t.Fatal("fixture has no '# want: ' line")
			}
			f, err := ParseFile(data, filepath.Base(path))
			if err == nil {
				t.Fatalf("no error; parsed %+v", f)
			}
			if f != nil {
				t.Errorf("file returned along with error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(wants) {
				t.Errorf("got %d errors, want %d:\n%s", len(got), len(wants), err)
			}
			for _, w := range wants {
				var ok bool
				for _, g := range got {
					ok = ok || strings.HasPrefix(g, w)
				}
				if !ok {
					t.Errorf("missing error %q in:\n%s", w, err)
				}
			}
		})
	}
}

func TestLoadFiles(t *testing.T) {
	files, err := LoadFiles("testdata/rules.good.yaml", "testdata/empty.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || len(files[0].Groups) != 3 || files[0].Path != "testdata/rules.good.yaml" {
		t.Fatalf("got %+v", files)
	}
	_, err = LoadFiles("testdata/missing.yaml", "testdata/bad/both.bad.yaml", "testdata/bad/neither.bad.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"missing.yaml", "both.bad.yaml:5:", "neither.bad.yaml:5:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if !errors.Is(err, os.ErrNotExist) || !errors.Is(err, ErrInvalid) {
		t.Errorf("error should match os.ErrNotExist and ErrInvalid: %v", err)
	}
}

func FuzzParseFile(f *testing.F) {
	for _, glob := range []string{"testdata/*.yaml", "testdata/bad/*.yaml"} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("groups:\n- name: &a x\n  rules: [*a]\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data, "fuzz.yaml")
		if err != nil {
			if file != nil {
				t.Fatal("file and error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if file == nil {
			t.Fatal("nil file without error")
		}
		names := map[string]bool{}
		for _, g := range file.Groups {
			if g.Name == "" || names[g.Name] {
				t.Fatalf("accepted empty or repeated group name %q", g.Name)
			}
			names[g.Name] = true
			for _, r := range g.Rules {
				if (r.Alert == "") == (r.Record == "") {
					t.Fatalf("accepted rule with alert %q record %q", r.Alert, r.Record)
				}
			}
		}
	})
}

// Aliases that multiply the document are cut off, not expanded.
func TestParseFileAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x: &r {record: r, expr: up}\ngroups:\n  - &g\n    name: g\n    rules: [")
	for i := range 2000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("*r")
	}
	b.WriteString("]\n")
	for range 2000 {
		b.WriteString("  - *g\n")
	}
	_, err := ParseFile([]byte(b.String()), "bomb.yaml")
	if err == nil || !strings.Contains(err.Error(), "too many YAML nodes") {
		t.Fatalf("got %.300v", err)
	}
}

// TestParseFileAliasedKeys pins the texts for keys written as aliases and
// for lists and groups reached through them (the same texts as before
// rule files were decoded by yamlnode.Decoder).
func TestParseFileAliasedKeys(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown aliased key", "x: &k bogus\ngroups:\n- name: a\n  *k : 1\n  rules:\n  - alert: A\n    *k : 2\n    expr: up\n",
			"f:1: rule file: unknown key \"x\"\nf:1: group: unknown key \"bogus\"\nf:1: group \"a\", rule 1 (\"A\"): rule: unknown key \"bogus\""},
		{"repeated aliased key", "x: &k name\ngroups:\n- *k : a\n  *k : b\n  rules:\n  - &r alert: A\n    *r : B\n    expr: up\n",
			"f:1: rule file: unknown key \"x\"\nf:1: group: key \"name\" repeated\nf:6: group \"a\", rule 1 (\"A\"): rule: key \"alert\" repeated"},
		{"aliased list keys", "x: &k [a]\ngroups:\n- *k : a\n  name: n\n  labels: {*k : 1, &l q: 2, *l : 3}\n",
			"f:1: rule file: unknown key \"x\"\nf:1: group: keys must be strings\nf:1: group \"n\": labels: keys must be strings\nf:5: group \"n\": labels: key \"q\" repeated"},
		{"aliased rules key", "x: &k rules\ngroups:\n- name: a\n  *k : [{record: a, expr: up}]\n- name: a\n  rules: ~\n",
			"f:1: rule file: unknown key \"x\"\nf:5: group name \"a\" is repeated in the same file (first on line 3)"},
		{"groups as rules", "groups: &g\n- name: a\n  rules: *g\n",
			"f:2: group \"a\", rule 1 (\"\"): rule: unknown key \"name\"\nf:2: group \"a\", rule 1 (\"\"): one of 'record' or 'alert' must be set\n" +
				"f:2: group \"a\", rule 1 (\"\"): field 'expr' must be set in rule\nf:3: group \"a\", rule 1 (\"\"): rule: unknown key \"rules\""},
		{"keys before values, name first", "groups:\n- {interval: 5x, bogus: 1}\n",
			"f:2: group: unknown key \"bogus\"\nf:2: group name must not be empty\nf:2: interval: invalid duration \"5x\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile([]byte(tt.src), "f")
			if err == nil || err.Error() != tt.want {
				t.Errorf("got\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}
