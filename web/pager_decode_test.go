package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// stdPostableAlerts is the decoding the fast path must agree with.
func stdPostableAlerts(body []byte) ([]postableAlert, error) {
	var alerts []postableAlert
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(&alerts)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON array")
	}
	return alerts, err
}

var decodeBodies = []struct {
	name string
	body string
	fast bool // the fast path takes it
}{
	{"empty array", `[]`, true},
	{"plain", loginAlert, true},
	{"white space", " \n[ {\t\"labels\" : { \"a\" : \"b\" } , \"endsAt\":\"2026-03-02T10:00:00.5+01:00\"} ]\r\n", true},
	{"all fields", `[{"labels":{"a":"b","c":"d"},"annotations":{},"startsAt":"2026-03-02T09:00:00Z","endsAt":"2026-03-02T10:00:00Z","generatorURL":"http://x/y?z=1"}]`, true},
	{"unicode", `[{"labels":{"a":"größer ≥ 5"},"annotations":{"summary":"😀"}}]`, true},
	{"empty alert", `[{}]`, true},
	{"two alerts", `[{"labels":{"a":"1"}},{"labels":{"a":"2"}}]`, true},
	{"escaped value", `[{"labels":{"a":"x\"y\u00e9\n"}}]`, false},
	{"escaped key", `[{"lab\u0065ls":{"a":"b"}}]`, false},
	{"field case", `[{"Labels":{"a":"b"}}]`, false},
	{"null annotations", `[{"labels":{"a":"b"},"annotations":null}]`, false},
	{"null body", `null`, false},
	{"duplicate label", `[{"labels":{"a":"1","a":"2"}}]`, false},
	{"duplicate field", `[{"labels":{"a":"1"},"labels":{"b":"2"}}]`, false},
	{"invalid utf8", "[{\"labels\":{\"a\":\"\xff\"}}]", false},
	{"control char", "[{\"labels\":{\"a\":\"x\ty\"}}]", false},
	{"unknown field", `[{"labels":{"a":"b"},"status":"firing"}]`, false},
	{"number value", `[{"labels":{"a":1}}]`, false},
	{"labels not object", `[{"labels":5}]`, false},
	{"bad time", `[{"labels":{"a":"b"},"startsAt":"yesterday"}]`, false},
	{"trailing data", `[{"labels":{"a":"b"}}] []`, false},
	{"trailing comma", `[{"labels":{"a":"b"},}]`, false},
	{"unterminated", `[{"labels":{"a":"b"`, false},
	{"object", `{"labels":{"a":"b"}}`, false},
	{"empty", ``, false},
}

// TestDecodePostableAlerts: the fast path takes the plain bodies and
// decodes them as encoding/json does; every other body, valid or not,
// gets encoding/json's result and error.
func TestDecodePostableAlerts(t *testing.T) {
	for _, tc := range decodeBodies {
		t.Run(tc.name, func(t *testing.T) {
			_, fast := fastPostableAlerts([]byte(tc.body))
			if fast != tc.fast {
				t.Errorf("fast path taken: %v, want %v", fast, tc.fast)
			}
			got, gotErr := decodePostableAlerts([]byte(tc.body))
			want, wantErr := stdPostableAlerts([]byte(tc.body))
			if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
				t.Fatalf("error %v, want %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestDecodePostableAlertsShares: names and values repeated in a body are
// one string.
func TestDecodePostableAlertsShares(t *testing.T) {
	body := `[{"labels":{"alertname":"Storm","i":"1"}},{"labels":{"alertname":"Storm","i":"2"}}]`
	got, err := decodePostableAlerts([]byte(body))
	if err != nil || len(got) != 2 {
		t.Fatalf("%+v, %v", got, err)
	}
	a, b := got[0].Labels["alertname"], got[1].Labels["alertname"]
	if a != "Storm" || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatalf("the repeated value is two strings (%q, %q)", a, b)
	}
}

// FuzzDecodePostableAlerts: whatever the body, the result and error are
// encoding/json's.
func FuzzDecodePostableAlerts(f *testing.F) {
	for _, tc := range decodeBodies {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, gotErr := decodePostableAlerts([]byte(body))
		want, wantErr := stdPostableAlerts([]byte(body))
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("body %q: error %v, want %v", body, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("body %q: decoded %+v\nwant %+v", body, got, want)
		}
	})
}

// BenchmarkDecodePostableAlerts decodes one storm POST (500 alerts, as
// bench/storm posts them) with encoding/json and with the fast path.
func BenchmarkDecodePostableAlerts(b *testing.B) {
	var sb strings.Builder
	sb.WriteByte('[')
	for i := range 500 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"labels":{"alertname":"StormProbe","group":"g-%d","instance":"i-%d","severity":"critical"},`+
			`"annotations":{"summary":"storm alert %d in g-%d"},"startsAt":"2026-12-06T16:00:00Z"}`, i%1000, i, i, i%1000)
	}
	sb.WriteByte(']')
	body := []byte(sb.String())
	for _, bc := range []struct {
		name   string
		decode func([]byte) ([]postableAlert, error)
	}{{"encoding-json", stdPostableAlerts}, {"fast", decodePostableAlerts}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := bc.decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
