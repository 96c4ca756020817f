package depswarm

import (
	_ "github.com/prometheus/prometheus/model/labels"
	_ "github.com/prometheus/prometheus/model/relabel"
	_ "github.com/prometheus/prometheus/model/textparse"
	_ "github.com/prometheus/prometheus/promql"
	_ "github.com/prometheus/prometheus/promql/parser"
	_ "github.com/prometheus/prometheus/promql/promqltest"
	_ "github.com/prometheus/prometheus/storage"
	_ "github.com/prometheus/prometheus/template"
	_ "github.com/prometheus/prometheus/tsdb"
	_ "github.com/prometheus/prometheus/tsdb/chunkenc"
	_ "github.com/prometheus/common/model"
	_ "github.com/VictoriaMetrics/metrics"
	_ "github.com/expr-lang/expr"
	_ "github.com/cespare/xxhash/v2"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
)
