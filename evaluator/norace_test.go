//go:build !race

package evaluator

// raceEnabled is true in tests built with -race.
const raceEnabled = false
