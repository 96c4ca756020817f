package scrape

import (
	"mime"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/watchdog-sre/watchdog/scrape/promtext"
)

// parsers picks and reuses the parsers of one target's goroutine.
type parsers struct {
	text *promtext.Parser
	// prometheus selects textparse's own text parser instead of promtext
	// (for benchmark comparisons).
	prometheus bool
}

// textParser returns the parser for the Prometheus text format, reset to b.
func (ps *parsers) textParser(b []byte) textparse.Parser {
	if ps.prometheus {
		return textparse.NewPromParser(b, labels.NewSymbolTable(), false)
	}
	if ps.text == nil {
		ps.text = promtext.New(b)
	} else {
		ps.text.Reset(b)
	}
	return ps.text
}

// forBody picks the parser for a body by its Content-Type: OpenMetrics
// (1.0.0 and 0.0.1) gets the OpenMetrics parser; text/plain, an empty,
// unparsable or unknown type gets the text parser (OpenMetrics 2.0 is not
// supported and falls back too).
func (ps *parsers) forBody(b []byte, contentType string) textparse.Parser {
	// Only "application/..." types can select OpenMetrics; skipping the
	// media type parse for text/plain keeps the common path allocation-free.
	if contentType != "" && contentType[0]|0x20 == 'a' {
		mt, params, err := mime.ParseMediaType(contentType)
		if err == nil && mt == "application/openmetrics-text" && params["version"] != "2.0.0" {
			return textparse.NewOpenMetricsParser(b, labels.NewSymbolTable())
		}
	}
	return ps.textParser(b)
}
