package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/watchdog-sre/watchdog/pager/provimport"
)

// importProvider runs `watchdog pager import-pagerduty|import-opsgenie
// DIR|FILE...`: the pager section goes to stdout (or out), the report of
// what was not imported to stderr.
func importProvider(cmd string, args []string, out string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "usage: watchdog pager %s DIR|FILE.json... [--out pager.yml]\n", cmd)
		return 2
	}
	conv := provimport.PagerDuty
	if cmd == "import-opsgenie" {
		conv = provimport.Opsgenie
	}
	files, err := provimport.ReadFiles(args)
	if err != nil {
		fmt.Fprintf(stderr, "watchdog pager %s: %v\n", cmd, err)
		return 1
	}
	res, err := conv(files, provimport.Options{Now: time.Now()})
	if err != nil {
		fmt.Fprintf(stderr, "watchdog pager %s: %v\n", cmd, err)
		return 1
	}
	if out != "" {
		err = os.WriteFile(out, res.YAML, 0o644)
	} else {
		_, err = stdout.Write(res.YAML)
	}
	if err != nil {
		fmt.Fprintf(stderr, "watchdog pager %s: %v\n", cmd, err)
		return 1
	}
	fmt.Fprint(stderr, res.Report())
	return 0
}
