// Package evaluator runs native alert conditions: a PromQL series selector
// plus a `when:` condition written in expr-lang (github.com/expr-lang/expr),
// evaluated per matched series straight from the tsdb chunks, without the
// PromQL engine and without building PromQL vectors.
//
// # Condition language
//
// A condition is an expr-lang expression of type bool. Besides expr's
// operators and built-ins it may call these functions, each over the current
// series' samples (or, with Spec.By, over the group; see below):
//
//	value([offset])                      latest sample within the lookback delta
//	absent([range[, offset]])            bool: no sample in the window (no range: no value())
//	rate(range[, offset])                PromQL rate(sel[range] offset off)
//	irate, increase, delta, deriv        likewise
//	avg_over_time, min_over_time, max_over_time, sum_over_time,
//	count_over_time, stddev_over_time, stdvar_over_time,
//	last_over_time, changes, resets      likewise
//	quantile_over_time(q, range[, offset])
//	pct_change(new, old[, if_zero])      (new-old)/old*100; if_zero (default NaN) when old == 0
//
// range and offset are string literals in PromQL duration syntax ("5m",
// "1h30m"); q is a number literal. Labels are read with labels.code or
// labels["code"] (constant names only; a missing label reads as "").
//
// # Semantics
//
// Every function returns exactly what the equivalent PromQL expression
// returns for that series at the evaluation time: range windows are
// (t-offset-range, t-offset], stale markers are skipped in ranges and end a
// series for value(); rate/increase/delta extrapolate like PromQL, counter
// resets are handled like PromQL, sums use the same Kahan summation. Where
// PromQL would return no sample (rate over fewer than two samples, value()
// beyond the lookback, ...), the function returns NaN. Every comparison with
// NaN is false, so a condition such as rate("5m") > 0.5 does not hold for a
// series without data, as in PromQL; beware that negations (!, !=) of such
// comparisons do hold: test absent(...) explicitly instead.
//
// pct_change(new, old) is ((new-old)/old)*100, the PromQL expression
// (new - old) / old * 100, except when old == 0: PromQL would give ±Inf (or
// NaN) and alert; here the result is the optional third argument, NaN by
// default, so a rule does not fire on a zero baseline unless it says so, e.g.
// pct_change(rate("5m"), rate("5m", "1h"), 1e9) > 500.
//
// # By
//
// With Spec.By, matched series are grouped by those labels as PromQL
// `sum by (by...)` does, and every function call in the condition becomes
// the sum over the group's series of that call (series for which the call
// has no result are left out, as PromQL drops them before summing; a group
// where no series has a result reads NaN). So rate("5m") in a `by: [handler]`
// rule is sum by (handler) (rate(sel[5m])), and pct_change(rate("5m"),
// rate("5m","1h")) compares the two group sums. absent(...) holds for a group
// when it holds for every series of the group. The condition then runs once
// per group, and labels.x may only name a `by` label (checked at compile
// time). Groups are told apart by the hash of their labels, as in the PromQL
// engine's aggregations; the hash of each series' group is kept between
// evaluations, so a known series' labels are not read again.
//
// # $value
//
// Spec.Value, if set, is a numeric expression (same functions) giving each
// result's value ($value in templates). Otherwise $value is the left operand
// of the first numeric comparison in the condition, in source order (for
// rate("5m") > 0.5 && ... that is rate("5m")); with no numeric comparison it
// is 1.
//
// # Execution
//
// Compile parses and type-checks once and merges overlapping windows into
// clusters; Eval looks the selector up once and spreads the matched series
// over Options.Workers goroutines, each with its own sample buffers and
// vm.VM. Per series, one Reader.ReadRanges call (one lookup, one lock)
// decodes only the samples of its clusters, from the chunk checkpoint
// nearest before each (see tsdb.DB.ReadRanges). Clusters no longer than
// MaxSlideSpan are kept decoded between evaluations instead (slide.go,
// tsdb.DB.Slide): an Eval a little later than the previous one decodes only
// the samples that arrived in between, with the same results. A short window
// whose functions need no samples, only their first and last, counts and
// resets (rate, increase, delta, count_over_time, last_over_time, changes,
// resets, value, absent), is kept as a tsdb.Tally instead: two decoder
// cursors and the counts, moved by decoding the samples that enter and leave
// it. Where a tally cannot give PromQL's exact answer (a stale marker in the
// window, or a counter reset under rate or increase, whose corrections are
// summed in sample order), that series' window is read afresh.
// Conditions that are plain comparisons and boolean/arithmetic combinations
// of the functions above are compiled to Go closures instead of expr
// bytecode (same results: the fast path is checked against the VM in tests);
// other conditions run on the expr VM. The closure path allocates nothing per
// series; the VM path allocates for boxed floats and strings. Results come
// in series ref order (each worker's batches merged), not sorted by labels.
package evaluator
