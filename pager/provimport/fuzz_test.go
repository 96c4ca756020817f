package provimport

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzImport: any single file either imports into a configuration the
// pager's loader accepts or is refused with ErrInvalid; never a panic,
// never an output that does not load.
func FuzzImport(f *testing.F) {
	for _, dir := range []string{"pagerduty", "opsgenie"} {
		paths, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(filepath.Base(p), data)
		}
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		files := []File{{Name: name, Data: data}}
		for _, conv := range []func([]File, Options) (*Result, error){PagerDuty, Opsgenie} {
			res, err := conv(files, Options{Now: time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)})
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("not ErrInvalid: %v", err)
			}
			if err == nil && res.Config == nil {
				t.Fatal("no config")
			}
		}
	})
}
