package main

import (
	"fmt"
	"io"

	"github.com/watchdog-sre/watchdog/config"
)

// cmdCheck lints files as promtool does: exit 0 when clean, 1 on problems,
// 2 on bad usage.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "config" {
		fmt.Fprintln(stderr, "usage: watchdog check config FILE...")
		return 2
	}
	code := 0
	for _, f := range args[1:] {
		if _, err := config.Load(f); err != nil {
			fmt.Fprintf(stderr, "FAILED: %v\n", err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "SUCCESS: %s is a valid configuration\n", f)
	}
	return code
}
