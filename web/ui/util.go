package ui

import (
	"strconv"
	"strings"
)

func itoa(i int) string { return strconv.Itoa(i) }

func joinComma(s []string) string { return strings.Join(s, ", ") }

// formatFloat writes f with at most prec decimals and no exponent: the only
// way numbers get into SVG attributes.
func formatFloat(f float64, prec int) string {
	s := strconv.FormatFloat(f, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

func strconvE(f float64) string { return strconv.FormatFloat(f, 'e', 3, 64) }
