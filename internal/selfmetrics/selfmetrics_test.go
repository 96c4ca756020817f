package selfmetrics

import (
	"bytes"
	"strings"
	"testing"
)

var _ = Describe(
	Family{Name: "test_requests_total", Type: Counter, Help: "Requests."},
	Family{Name: "test_duration_seconds", Type: Histogram, Help: "Durations in seconds."},
	Family{Name: "test_level", Type: Gauge, Help: "A level."},
)

// TestWrite: each family's samples come together under one HELP and one
// TYPE line, histogram series under their family, comments of the input
// dropped; an undescribed family is written bare and reported.
func TestWrite(t *testing.T) {
	in := `# HELP test_level
# TYPE test_level gauge
test_level 3
test_requests_total{code="200"} 5
test_duration_seconds_bucket{le="1"} 1
test_duration_seconds_bucket{le="+Inf"} 2
test_duration_seconds_sum 3.5
test_duration_seconds_count 2
unknown_thing 1
test_requests_total{code="500"} 1
`
	var out bytes.Buffer
	undescribed, err := Write(&out, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `# HELP test_level A level.
# TYPE test_level gauge
test_level 3
# HELP test_requests_total Requests.
# TYPE test_requests_total counter
test_requests_total{code="200"} 5
test_requests_total{code="500"} 1
# HELP test_duration_seconds Durations in seconds.
# TYPE test_duration_seconds histogram
test_duration_seconds_bucket{le="1"} 1
test_duration_seconds_bucket{le="+Inf"} 2
test_duration_seconds_sum 3.5
test_duration_seconds_count 2
unknown_thing 1
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	if len(undescribed) != 1 || undescribed[0] != "unknown_thing" {
		t.Errorf("undescribed %v", undescribed)
	}
}

// TestDescribeRefusesMistakes: a family without help, with an unknown
// type or described twice differently is a programming error.
func TestDescribeRefusesMistakes(t *testing.T) {
	for name, f := range map[string]Family{
		"no help":      {Name: "x_total", Type: Counter},
		"blank help":   {Name: "x_total", Type: Counter, Help: "  "},
		"two lines":    {Name: "x_total", Type: Counter, Help: "a\nb"},
		"unknown type": {Name: "x_total", Type: "counter_ish", Help: "x"},
		"redescribed":  {Name: "test_level", Type: Gauge, Help: "Another text."},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Describe(%+v) did not panic", f)
				}
			}()
			Describe(f)
		})
	}
	if f, ok := Lookup("test_level"); !ok || f.Help != "A level." {
		t.Errorf("the first description must stay: %+v", f)
	}
}

// TestWriteRuntime: the Go and process families come with HELP and TYPE.
func TestWriteRuntime(t *testing.T) {
	var out bytes.Buffer
	if err := WriteRuntime(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# HELP go_goroutines ", "# TYPE go_goroutines gauge", "# TYPE process_cpu_seconds_total counter"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
}
