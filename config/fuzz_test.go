package config

import (
	"os"
	"path/filepath"
	"testing"
)

func addSeeds(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzParse checks that Parse never panics and that a configuration it
// accepts prints (String) as YAML that parses back to the same Config.
func FuzzParse(f *testing.F) {
	addSeeds(f, "testdata/*.yaml")
	addSeeds(f, "testdata/probes/*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yml")
		if err != nil {
			return
		}
		checkRoundTrip(t, c)
	})
}

// FuzzParseFileSD checks that ParseFileSD never panics, in both formats.
func FuzzParseFileSD(f *testing.F) {
	addSeeds(f, "testdata/filesd/*")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"fuzz.json", "fuzz.yml"} {
			if sc, err := ParseFileSD(data, name); err == nil {
				for _, s := range sc {
					for _, tg := range s.Targets {
						if checkTarget(tg) != nil {
							t.Fatalf("%s: accepted bad target %q", name, tg)
						}
					}
				}
			}
		}
	})
}
