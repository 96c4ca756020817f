package scrape

import (
	"mime"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/scrape/promtext"
)

// format is an exposition format a body is parsed as.
type format uint8

const (
	formatText        format = iota // Prometheus text 0.0.4 / 1.0.0
	formatOpenMetrics               // OpenMetrics 1.0.0 / 0.0.1
	formatProto                     // protobuf, delimited io.prometheus.client.MetricFamily
)

// protocolFormat is the format of a scrape protocol.
func protocolFormat(p config.ScrapeProtocol) format {
	switch p {
	case config.PrometheusProto:
		return formatProto
	case config.OpenMetricsText0_0_1, config.OpenMetricsText1_0_0:
		return formatOpenMetrics
	}
	return formatText
}

// bodyFormat picks the format of a body by its Content-Type. text/plain is
// text; OpenMetrics 1.0.0 and 0.0.1 are OpenMetrics (2.0 is not supported);
// application/vnd.google.protobuf is protobuf. An empty, unparsable or
// unknown type is the job's fallback_scrape_protocol, or text when it has
// none (Prometheus fails such a scrape without a fallback; the watchdog
// stays lenient, as before native histograms).
func bodyFormat(contentType string, fallback config.ScrapeProtocol) format {
	// Only "application/..." types select another format than text;
	// skipping the media type parse for text/plain keeps the common path
	// allocation-free.
	if contentType != "" && contentType[0]|0x20 == 't' && strings.HasPrefix(strings.ToLower(contentType), "text/plain") {
		return formatText
	}
	if contentType != "" && contentType[0]|0x20 == 'a' {
		mt, params, err := mime.ParseMediaType(contentType)
		if err == nil {
			switch {
			case mt == "application/openmetrics-text" && params["version"] != "2.0.0":
				return formatOpenMetrics
			case mt == "application/vnd.google.protobuf":
				return formatProto
			}
		}
	}
	if fallback != "" {
		return protocolFormat(fallback)
	}
	return formatText
}

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

// release drops the kept parser's views into the last body (a pooled
// buffer that another target may fill next).
func (ps *parsers) release() {
	if ps.text != nil {
		ps.text.Release()
	}
}

// forBody returns the parser for b in format f under the job's histogram
// settings: protobuf through textparse's protobuf parser (native histograms
// ignored unless scrape_native_histograms), OpenMetrics through textparse's,
// text through promtext; with convert_classic_histograms_to_nhcb, text and
// OpenMetrics go through textparse's NHCB wrapper (and text through
// textparse's text parser). skipST makes the OpenMetrics parser read
// <name>_created lines as start timestamps only, not as series.
func (ps *parsers) forBody(b []byte, f format, h *config.HistogramSettings, skipST bool) textparse.Parser {
	nhcb := config.Enabled(h.ConvertClassicHistogramsToNHCB)
	keepClassic := config.Enabled(h.AlwaysScrapeClassicHistograms)
	var p textparse.Parser
	switch f {
	case formatProto:
		return textparse.NewProtobufParser(b, !config.Enabled(h.ScrapeNativeHistograms), keepClassic, nhcb, false, labels.NewSymbolTable())
	case formatOpenMetrics:
		if skipST {
			p = textparse.NewOpenMetricsParser(b, labels.NewSymbolTable(), textparse.WithOMParserSTSeriesSkipped())
		} else {
			p = textparse.NewOpenMetricsParser(b, labels.NewSymbolTable())
		}
	default:
		if !nhcb {
			return ps.textParser(b)
		}
		p = textparse.NewPromParser(b, labels.NewSymbolTable(), false)
	}
	if nhcb {
		p = textparse.NewNHCBParser(p, labels.NewSymbolTable(), keepClassic, false)
	}
	return p
}
