package main

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// cliTime reads a time of the override commands: RFC 3339, a local
// "2006-01-02T15:04", "now", or "+DURATION" after base.
func cliTime(s string, now, base time.Time) (time.Time, error) {
	switch {
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "+"):
		d, err := time.ParseDuration(s[1:])
		if err != nil || d <= 0 {
			return time.Time{}, fmt.Errorf("%w: bad duration %q", errUsage, s)
		}
		return base.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04", s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: bad time %q (RFC 3339, 2006-01-02T15:04, now or +DURATION)", errUsage, s)
}

type cliOverride struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	CreatedBy string    `json:"createdBy"`
	Via       string    `json:"via"`
	Comment   string    `json:"comment"`
	Warnings  []string  `json:"warnings"`
}

// override runs `pager override add|list|delete`.
func (c *pagerCLI) override(sub string, args []string) error {
	if c.schedule == "" {
		return fmt.Errorf("%w: pager override %s needs --schedule", errUsage, sub)
	}
	base := "/api/v1/pager/schedules/" + url.PathEscape(c.schedule) + "/overrides"
	switch sub {
	case "add":
		if c.user == "" || c.start == "" || c.end == "" {
			return fmt.Errorf("%w: pager override add --schedule S --user U --start T --end T", errUsage)
		}
		now := c.now()
		start, err := cliTime(c.start, now, now)
		if err != nil {
			return err
		}
		end, err := cliTime(c.end, now, start)
		if err != nil {
			return err
		}
		body := map[string]any{"user": c.user, "start": start, "end": end, "via": "cli", "comment": c.comment}
		if c.by != "" {
			body["by"] = c.by
		}
		var o cliOverride
		if err := c.call("POST", base, body, &o); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%s: %s on call in %s from %s to %s\n", o.ID, o.User, c.schedule,
			o.Start.Local().Format(time.DateTime), o.End.Local().Format(time.DateTime))
		for _, w := range o.Warnings {
			fmt.Fprintf(c.out, "warning: %s\n", w)
		}
		return nil
	case "list":
		var list []cliOverride
		if err := c.call("GET", base, nil, &list); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "ID\tUSER\tSTART\tEND\tBY\tCOMMENT\n")
		for _, o := range list {
			by := orDash(o.CreatedBy)
			if o.Via != "" {
				by += " (" + o.Via + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.ID, o.User, o.Start.Local().Format(time.DateTime),
				o.End.Local().Format(time.DateTime), by, o.Comment)
		}
		return tw.Flush()
	case "delete":
		if len(args) != 1 {
			return fmt.Errorf("%w: pager override delete ID --schedule S [--force]", errUsage)
		}
		path := base + "/" + url.PathEscape(args[0])
		if c.force {
			path += "?force=true"
		}
		if err := c.call("DELETE", path, nil, &struct{}{}); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%s deleted\n", args[0])
		return nil
	}
	return fmt.Errorf("%w: unknown override command %q (add, list, delete)", errUsage, sub)
}

// calendar runs `pager calendar create|list|revoke`.
func (c *pagerCLI) calendar(sub string, args []string) error {
	switch sub {
	case "create":
		if (c.schedule == "") == (c.user == "") {
			return fmt.Errorf("%w: pager calendar create --schedule S | --user U", errUsage)
		}
		body := map[string]any{"schedule": c.schedule, "user": c.user, "via": "cli"}
		if c.by != "" {
			body["by"] = c.by
		}
		var f struct {
			ID  string `json:"id"`
			URL string `json:"url"`
		}
		if err := c.call("POST", "/api/v1/pager/calendars", body, &f); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%s: %s%s\n(the URL is the secret: it is shown only now; revoke with `watchdog pager calendar revoke %s`)\n",
			f.ID, c.url, f.URL, f.ID)
		return nil
	case "list":
		var list []struct {
			ID        string     `json:"id"`
			Kind      string     `json:"kind"`
			Name      string     `json:"name"`
			CreatedBy string     `json:"createdBy"`
			CreatedAt time.Time  `json:"createdAt"`
			RevokedAt *time.Time `json:"revokedAt"`
		}
		if err := c.call("GET", "/api/v1/pager/calendars", nil, &list); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "ID\tKIND\tNAME\tCREATED\tBY\tREVOKED\n")
		for _, f := range list {
			rev := "-"
			if f.RevokedAt != nil {
				rev = f.RevokedAt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, f.Kind, f.Name, f.CreatedAt.Local().Format(time.DateTime),
				orDash(f.CreatedBy), rev)
		}
		return tw.Flush()
	case "revoke":
		if len(args) != 1 {
			return fmt.Errorf("%w: pager calendar revoke ID", errUsage)
		}
		body := map[string]any{"via": "cli"}
		if c.by != "" {
			body["by"] = c.by
		}
		if err := c.call("DELETE", "/api/v1/pager/calendars/"+url.PathEscape(args[0]), body, &struct{}{}); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%s revoked\n", args[0])
		return nil
	}
	return fmt.Errorf("%w: unknown calendar command %q (create, list, revoke)", errUsage, sub)
}
