package main

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// cliToken is the API's personal token.
type cliToken struct {
	ID        string     `json:"id"`
	User      string     `json:"user"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt"`
	Status    string     `json:"status"`
	Secret    string     `json:"token"`
}

// userCmd runs `watchdog pager user token create|list|revoke`.
func (c *pagerCLI) userCmd(args []string) error {
	if len(args) < 2 || args[0] != "token" {
		return fmt.Errorf("%w: pager user token create|list|revoke", errUsage)
	}
	switch args[1] {
	case "create":
		if c.user == "" || c.scope == "" {
			return fmt.Errorf("%w: pager user token create --user NAME --scope respond[,admin] [--name N] [--expires 90d]", errUsage)
		}
		body := map[string]any{"user": c.user, "scopes": strings.Split(c.scope, ","), "name": c.name}
		if c.expires != "" {
			body["expires"] = c.expires
		}
		var t cliToken
		if err := c.call("POST", "/api/v1/pager/tokens", body, &t); err != nil {
			return err
		}
		exp := "never"
		if t.ExpiresAt != nil {
			exp = t.ExpiresAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(c.out, "%s\n", t.Secret)
		fmt.Fprintf(c.errOut(), "token %s for %s (scopes %s, expires %s): shown once, store it now\n",
			t.ID, t.User, strings.Join(t.Scopes, ","), exp)
		return nil
	case "list":
		q := url.Values{}
		if c.user != "" {
			q.Set("user", c.user)
		}
		var list []cliToken
		if err := c.call("GET", "/api/v1/pager/tokens?"+q.Encode(), nil, &list); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "ID\tUSER\tNAME\tSCOPES\tSTATUS\tCREATED\tEXPIRES\n")
		for _, t := range list {
			exp := "never"
			if t.ExpiresAt != nil {
				exp = t.ExpiresAt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, orDash(t.Name), strings.Join(t.Scopes, ","),
				t.Status, t.CreatedAt.Local().Format(time.DateTime), exp)
		}
		return tw.Flush()
	case "revoke":
		if len(args) != 3 {
			return fmt.Errorf("%w: pager user token revoke ID", errUsage)
		}
		var t cliToken
		if err := c.call("DELETE", "/api/v1/pager/tokens/"+url.PathEscape(args[2]), nil, &t); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%s revoked (%s)\n", t.ID, t.User)
		return nil
	}
	return fmt.Errorf("%w: unknown token command %q (create, list, revoke)", errUsage, args[1])
}
