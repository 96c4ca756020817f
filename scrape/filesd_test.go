package scrape

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

func formatGroups(gs []config.StaticConfig) string {
	var b strings.Builder
	for _, g := range gs {
		fmt.Fprintf(&b, "targets=%q labels=%v\n", g.Targets, g.Labels)
	}
	return b.String()
}

func TestReadFileSD(t *testing.T) {
	files, err := filepath.Glob("testdata/filesd/*.*")
	if err != nil {
		t.Fatal(err)
	}
	var good, bad int
	for _, path := range files {
		if strings.HasSuffix(path, ".golden") {
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			gs, err := ReadFileSD(path)
			if strings.Contains(path, ".bad.") {
				bad++
				if !errors.Is(err, ErrFileSD) {
					t.Fatalf("err = %v, want ErrFileSD", err)
				}
				return
			}
			good++
			if err != nil {
				t.Fatal(err)
			}
			got := formatGroups(gs)
			golden := path + ".golden"
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
				t.Fatalf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if good == 0 || bad == 0 {
		t.Fatalf("%d good and %d bad fixtures", good, bad)
	}
	if _, err := ReadFileSD("testdata/filesd/missing.json"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func FuzzReadFileSD(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/filesd/*.*")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b, strings.HasSuffix(s, ".json"))
		}
	}
	f.Add([]byte(`[{"targets":["a"],"labels":{"a":"\xff"}}]`), true)
	f.Add([]byte("- targets: &a [x]\n- targets: *a\n"), false)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		path := filepath.Join(dir, "in.yaml")
		if isJSON {
			path = filepath.Join(dir, "in.json")
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		gs, err := ReadFileSD(path)
		if err != nil {
			if !errors.Is(err, ErrFileSD) {
				t.Fatalf("error does not wrap ErrFileSD: %v", err)
			}
			return
		}
		// Whatever is accepted must build targets without panicking.
		jc := &jobConfig{cfg: scrapeCfg("fuzz")}
		buildTargets(jc, gs)
	})
}

func TestFileSDPoll(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	write := func(path, s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "- targets: [x:1]\n")
	f := newFileSD([]config.FileSDConfig{{Files: []string{filepath.Join(dir, "*.yaml")}, RefreshInterval: modelDuration(time.Minute)}})
	now := time.Unix(1000, 0)
	steps := []struct {
		name        string
		do          func()
		at          time.Duration
		wantChanged bool
		wantErrs    int
		want        string
	}{
		{"first read", func() {}, 0, true, 0, `targets=["x:1"] labels=map[]` + "\n"},
		{"unchanged", func() {}, 5 * time.Second, false, 0, `targets=["x:1"] labels=map[]` + "\n"},
		{"broken keeps targets", func() { write(a, "- targets: [x:1") }, 10 * time.Second, false, 1, `targets=["x:1"] labels=map[]` + "\n"},
		{"fixed", func() { write(a, "- targets: [x:2]\n") }, 15 * time.Second, true, 0, `targets=["x:2"] labels=map[]` + "\n"},
		{"new file", func() { write(filepath.Join(dir, "b.yaml"), "- targets: [y:1]\n") }, 20 * time.Second, true, 0,
			`targets=["x:2"] labels=map[]` + "\n" + `targets=["y:1"] labels=map[]` + "\n"},
		{"removed file", func() { _ = os.Remove(a) }, 25 * time.Second, true, 0, `targets=["y:1"] labels=map[]` + "\n"},
		{"refresh re-reads, same content", func() {}, 2 * time.Minute, false, 0, `targets=["y:1"] labels=map[]` + "\n"},
	}
	for _, s := range steps {
		s.do()
		changed, errs := f.poll(now.Add(s.at), false)
		if changed != s.wantChanged || len(errs) != s.wantErrs {
			t.Fatalf("%s: changed=%v errs=%v", s.name, changed, errs)
		}
		if got := formatGroups(f.groups()); got != s.want {
			t.Fatalf("%s: groups\n%s\nwant\n%s", s.name, got, s.want)
		}
	}
}
