package main

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// cliResponder is an added responder as the API shows it.
type cliResponder struct {
	User        string    `json:"user"`
	Status      string    `json:"status"`
	RequestedBy string    `json:"requestedBy"`
	RequestedAt time.Time `json:"requestedAt"`
	From        string    `json:"from"`
	Message     string    `json:"message"`
}

// incident runs `watchdog pager incident add-responder|respond`.
func (c *pagerCLI) incident(sub string, args []string) error {
	switch sub {
	case "add-responder":
		if len(args) < 2 {
			return fmt.Errorf("%w: pager incident add-responder ID TARGET...", errUsage)
		}
		body := map[string]any{}
		var users, schedules, policies []string
		for _, t := range args[1:] {
			kind, name, ok := strings.Cut(t, ":")
			if !ok {
				kind, name = "user", t
			}
			if name == "" {
				return fmt.Errorf("%w: empty name in %q", errUsage, t)
			}
			switch kind {
			case "user":
				users = append(users, name)
			case "schedule":
				schedules = append(schedules, name)
			case "policy":
				policies = append(policies, name)
			default:
				return fmt.Errorf("%w: target %q: want NAME, user:NAME, schedule:NAME or policy:NAME", errUsage, t)
			}
		}
		for k, v := range map[string][]string{"users": users, "schedules": schedules, "policies": policies} {
			if len(v) > 0 {
				body[k] = v
			}
		}
		if c.message != "" {
			body["message"] = c.message
		}
		return c.respondersAct(args[0], "responders", body)
	case "respond":
		if len(args) != 1 {
			return fmt.Errorf("%w: pager incident respond ID [--decline]", errUsage)
		}
		return c.respondersAct(args[0], "responders/respond", map[string]any{"decline": c.decline})
	}
	return fmt.Errorf("%w: unknown incident command %q (add-responder, respond)", errUsage, sub)
}

// respondersAct posts body to the incident's path and prints who is
// engaged.
func (c *pagerCLI) respondersAct(id, path string, body map[string]any) error {
	body["via"] = "cli"
	if c.by != "" {
		body["by"] = c.by
	}
	var inc cliIncident
	if err := c.call("POST", "/api/v1/pager/incidents/"+url.PathEscape(id)+"/"+path, body, &inc); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "%s %s: %s\n", inc.ID, inc.Status, inc.Title)
	c.printResponders(inc.Responders)
	return nil
}

// printResponders lists who was asked to help and how they answered.
func (c *pagerCLI) printResponders(rs []cliResponder) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintf(c.out, "\nRESPONDERS\n")
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	for _, r := range rs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\tasked by %s at %s\t%s\n", r.User, r.Status, r.From, r.RequestedBy,
			r.RequestedAt.Local().Format(time.TimeOnly), r.Message)
	}
	tw.Flush()
}
