package main

import (
	"fmt"
	"io"
	"os"

	"github.com/watchdog-sre/watchdog/pager/amimport"
)

// importAlertmanager runs `watchdog pager import-alertmanager FILE`: the
// pager section goes to stdout (or out), the report to stderr.
func importAlertmanager(args []string, out string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: watchdog pager import-alertmanager alertmanager.yml [--out pager.yml]")
		return 2
	}
	f, err := os.Open(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "watchdog pager import-alertmanager: %v\n", err)
		return 1
	}
	data, err := io.ReadAll(io.LimitReader(f, amimport.MaxInputBytes+1))
	f.Close()
	if err != nil {
		fmt.Fprintf(stderr, "watchdog pager import-alertmanager: read %s: %v\n", args[0], err)
		return 1
	}
	res, err := amimport.Convert(args[0], data)
	if err != nil {
		fmt.Fprintf(stderr, "watchdog pager import-alertmanager: %v\n", err)
		return 1
	}
	if out != "" {
		if err := os.WriteFile(out, res.YAML, 0o644); err != nil {
			fmt.Fprintf(stderr, "watchdog pager import-alertmanager: %v\n", err)
			return 1
		}
	} else if _, err := stdout.Write(res.YAML); err != nil {
		fmt.Fprintf(stderr, "watchdog pager import-alertmanager: %v\n", err)
		return 1
	}
	fmt.Fprint(stderr, res.Report(args[0]))
	return 0
}
