package web

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestWriteAMList: the streamed list is byte for byte what writeAM writes
// for the whole slice, with the same status and content type.
func TestWriteAMList(t *testing.T) {
	at := time.Date(2026, 12, 6, 19, 0, 0, 0, time.UTC)
	alert := func(fp, summary string) amAlert {
		return amAlert{Fingerprint: fp, Labels: map[string]string{"alertname": "A", "b": "x<y>&z"},
			Annotations: map[string]string{"summary": summary}, StartsAt: at, Receivers: []amReceiver{{Name: "r"}},
			Status: amAlertStatus{InhibitedBy: []string{}, SilencedBy: []string{}, MutedBy: []string{}, State: "active"}}
	}
	many := make([]amAlert, 3000) // more than the writer's buffer
	for i := range many {
		many[i] = alert(strings.Repeat("f", i%17), "\u2028 quoted \"s\"")
	}
	for _, tc := range []struct {
		name  string
		items []amAlert
	}{
		{"nil", nil},
		{"empty", []amAlert{}},
		{"one", []amAlert{alert("a", "s")}},
		{"escapes", []amAlert{alert("a", "<b>"), alert("b", "\x01")}},
		{"larger than the buffer", many},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, got := httptest.NewRecorder(), httptest.NewRecorder()
			writeAM(want, 200, tc.items)
			writeAMList(got, tc.items)
			if got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
				t.Errorf("status %d %q, want %d %q", got.Code, got.Header().Get("Content-Type"), want.Code, want.Header().Get("Content-Type"))
			}
			if got.Body.String() != want.Body.String() {
				t.Errorf("body differs:\n%.300s\nwant\n%.300s", got.Body.String(), want.Body.String())
			}
		})
	}
}
