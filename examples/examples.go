// Package examples embeds the example rule files, so the demo can load the
// same files that `watchdog test` checks in CI.
package examples

import "embed"

// Rules holds rules/*.yml: the demo shop's rule files and their unit tests
// (files ending in _test.yml).
//
//go:embed rules/*.yml
var Rules embed.FS
