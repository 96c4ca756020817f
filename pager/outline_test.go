package pager

import (
	"reflect"
	"testing"
)

func TestOutlineAlertLabels(t *testing.T) {
	alert := func(ls ...string) IncidentAlert {
		m := map[string]string{}
		for i := 0; i+1 < len(ls); i += 2 {
			m[ls[i]] = ls[i+1]
		}
		return IncidentAlert{Fingerprint: "fp", Alert: Alert{Labels: m, Annotations: map[string]string{"a": "b"}}, Ended: true}
	}
	outline := func(ls ...string) IncidentAlert {
		a := alert(ls...)
		return IncidentAlert{Alert: Alert{Labels: a.Labels}}
	}
	tests := []struct {
		name   string
		alerts []IncidentAlert
		names  []string
		want   []IncidentAlert
	}{
		{"no names", []IncidentAlert{alert("job", "a")}, nil, nil},
		{"no alerts", nil, []string{"job"}, nil},
		{"distinct combinations in first order",
			[]IncidentAlert{alert("job", "b", "i", "1"), alert("job", "a", "i", "2"), alert("job", "b", "i", "3")},
			[]string{"job"}, []IncidentAlert{outline("job", "b"), outline("job", "a")}},
		{"absent differs from empty",
			[]IncidentAlert{alert("job", "a"), alert("job", "a", "env", ""), alert("job", "a", "env", "")},
			[]string{"env", "job"}, []IncidentAlert{outline("job", "a"), outline("job", "a", "env", "")}},
		{"values cannot run together",
			[]IncidentAlert{alert("x", "ab", "y", "c"), alert("x", "a", "y", "bc")},
			[]string{"x", "y"}, []IncidentAlert{outline("x", "ab", "y", "c"), outline("x", "a", "y", "bc")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OutlineAlertLabels(tt.alerts, tt.names); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
