//go:build !race

package bench

// raceBuild is true when the tests run under the race detector.
const raceBuild = false
