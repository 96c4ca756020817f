package dburl

import "testing"

func TestRedact(t *testing.T) {
	tests := []struct {
		in, want string
		pg       bool
	}{
		{"postgres://u:secret@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable", true},
		{"postgresql://u@h/db", "postgresql://u@h/db", true},
		{"postgres://u@h/db?password=secret", "postgres://u@h/db?password=xxxxx", true},
		{"postgres://u:sec%zz@h/db", "postgres://(unparsable URL)", true},
		{"state/pager.db", "state/pager.db", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact = %q, want %q", got, tt.want)
			}
			if got := IsPostgres(tt.in); got != tt.pg {
				t.Errorf("IsPostgres = %v, want %v", got, tt.pg)
			}
		})
	}
}
