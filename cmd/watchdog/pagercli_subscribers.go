package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

type cliSubscriber struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Secret    string    `json:"secret"`
	CreatedAt time.Time `json:"createdAt"`
	By        string    `json:"by"`
}

// subscriber runs `pager subscriber add|list|delete`.
func (c *pagerCLI) subscriber(sub string, args []string) error {
	const base = "/api/v1/pager/status-subscribers"
	switch sub {
	case "add":
		if c.webhook == "" {
			return fmt.Errorf("%w: pager subscriber add --webhook URL [--secret-file F]", errUsage)
		}
		body := map[string]any{"url": c.webhook, "via": "cli"}
		if c.by != "" {
			body["by"] = c.by
		}
		if c.secretFile != "" {
			b, err := os.ReadFile(c.secretFile)
			if err != nil {
				return fmt.Errorf("read secret file: %w", err)
			}
			body["secret"] = strings.TrimRight(string(b), "\r\n")
		}
		var s cliSubscriber
		if err := c.call("POST", base, body, &s); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%s: webhook %s\n", s.ID, s.URL)
		if c.secretFile == "" {
			fmt.Fprintf(c.out, "signing secret (shown once): %s\n", s.Secret)
		}
		return nil
	case "list":
		var list struct {
			Webhooks       []cliSubscriber `json:"webhooks"`
			EmailConfirmed int             `json:"emailConfirmed"`
			EmailPending   int             `json:"emailPending"`
		}
		if err := c.call("GET", base, nil, &list); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tWEBHOOK\tCREATED\tBY")
		for _, s := range list.Webhooks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.URL, s.CreatedAt.Local().Format(time.DateTime), s.By)
		}
		tw.Flush()
		fmt.Fprintf(c.out, "e-mail addresses: %d confirmed, %d pending\n", list.EmailConfirmed, list.EmailPending)
		return nil
	case "delete":
		if len(args) != 1 {
			return fmt.Errorf("%w: pager subscriber delete ID", errUsage)
		}
		if err := c.call("DELETE", base+"/"+url.PathEscape(args[0]), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%s: deleted\n", args[0])
		return nil
	}
	return fmt.Errorf("%w: pager subscriber %s (add, list or delete)", errUsage, sub)
}
