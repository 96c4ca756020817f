package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

const pagerUsage = `Usage: watchdog pager [flags] COMMAND [ARGS]

Commands:
  incidents [--status S] [--limit N]   list incidents (S: open, triggered, acknowledged, resolved)
  show ID                              an incident with its alerts and timeline
  ack ID                               acknowledge
  resolve ID                           resolve
  snooze ID DURATION                   acknowledge until DURATION from now (e.g. 30m)
  note ID TEXT...                      add a note to the timeline
  escalate ID                          escalate to the next level now
  major ID                             declare a major incident: page the route's major_policies, open the war room
  incident add-responder ID TARGET... [--message M]
                                       ask for help without reassigning: TARGET is NAME or user:NAME (a user),
                                       schedule:NAME (who is on call now) or policy:NAME (its first level)
  incident respond ID [--decline]      acknowledge (or decline) your own request to help
  oncall TARGET [--time T]             who is on call: schedule:NAME, policy:NAME or route:NAME
  postmortem ID                        a Markdown postmortem draft
  silence add MATCHER... --for DUR     silence alerts matching every MATCHER (e.g. 'job="shop"')
  silence list                         list silences
  silence expire ID                    end a silence now
  override add --schedule S --user U --start T --end T
                                       put U on call in S from T to T (RFC 3339, 2006-01-02T15:04 local, now, +8h)
  override list --schedule S           overrides of S that have not ended
  override delete ID --schedule S [--force]
                                       remove one (--force even if S is left with nobody on call)
  calendar create --schedule S | --user U
                                       a secret iCalendar feed URL (shown once)
  calendar list                        feeds, revoked ones included
  calendar revoke ID                   the feed's URL answers 404 from now on
  subscriber add --webhook URL [--secret-file F]
                                       a status page webhook subscriber; its signing secret is read from F
                                       (or generated and printed once)
  subscriber list                      webhook subscribers, and how many e-mail addresses subscribed
  subscriber delete ID                 remove a subscriber
  user token create --user U --scope S [--name N] [--expires 90d]
                                       create a personal token (S: respond, admin or respond,admin);
                                       the token is printed once
  user token list [--user U]           list personal tokens (never their secrets)
  user token revoke ID                 revoke a token (and end its console sessions)
  import-alertmanager FILE [--out F]   convert an alertmanager.yml into a pager section (stdout or F);
                                       what was not imported and the secrets to provide go to stderr
  import-pagerduty DIR|FILE... [--out F]  convert PagerDuty REST API v2 responses (JSON files) into a
                                       pager section; what was not imported goes to stderr
  import-opsgenie DIR|FILE... [--out F]   the same for Opsgenie API v2 responses

Flags (anywhere on the line):
`

// pagerCLI holds the flags of `watchdog pager`.
type pagerCLI struct {
	url, tokenFile, by, status, at, comment string
	outFile                                 string
	message                                 string
	decline                                 bool
	schedule, start, end                    string
	webhook, secretFile                     string
	force                                   bool
	now                                     func() time.Time
	user, scope, name, expires              string
	stderr                                  io.Writer
	limit                                   int
	dur                                     time.Duration
	out                                     io.Writer
	client                                  *http.Client
	token                                   string
}

// cmdPager runs `watchdog pager`: a client of the paging HTTP API.
// pagerFlags are the flags of `watchdog pager`, bound to a new pagerCLI.
func pagerFlags() (*flag.FlagSet, *pagerCLI) {
	c := &pagerCLI{client: &http.Client{Timeout: 30 * time.Second}, now: time.Now}
	fs := flag.NewFlagSet("pager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&c.url, "url", "http://127.0.0.1:9190", "watchdog API URL")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding the API token (default: WATCHDOG_TOKEN)")
	fs.StringVar(&c.by, "by", os.Getenv("USER"), "who acts (recorded in the timeline)")
	fs.StringVar(&c.status, "status", "", "incidents: status filter")
	fs.IntVar(&c.limit, "limit", 0, "incidents: at most this many")
	fs.StringVar(&c.at, "time", "", "oncall: RFC 3339 time (default now)")
	fs.DurationVar(&c.dur, "for", 0, "silence add: how long")
	fs.StringVar(&c.comment, "comment", "", "silence add, override add: comment")
	fs.StringVar(&c.message, "message", "", "incident add-responder: what the responders are asked")
	fs.BoolVar(&c.decline, "decline", false, "incident respond: decline the request to help")
	fs.StringVar(&c.schedule, "schedule", "", "override, calendar: the schedule")
	fs.StringVar(&c.start, "start", "", "override add: start (RFC 3339, 2006-01-02T15:04 local, now, +DURATION)")
	fs.StringVar(&c.end, "end", "", "override add: end (as --start; +DURATION counts from --start)")
	fs.StringVar(&c.webhook, "webhook", "", "subscriber add: the webhook's http(s) URL")
	fs.StringVar(&c.secretFile, "secret-file", "", "subscriber add: file holding the webhook's signing secret (default: generated)")
	fs.BoolVar(&c.force, "force", false, "override delete: even if the schedule is left with nobody on call")
	fs.StringVar(&c.user, "user", "", "user token, override add, calendar create: the user")
	fs.StringVar(&c.scope, "scope", "", "user token create: respond, admin or respond,admin")
	fs.StringVar(&c.name, "name", "", "user token create: a label (laptop)")
	fs.StringVar(&c.expires, "expires", "", "user token create: lifetime (90d; default never)")
	fs.StringVar(&c.outFile, "out", "", "import-*: write the pager section to this file instead of stdout")
	return fs, c
}

func cmdPager(args []string, stdout, stderr io.Writer) int {
	fs, c := pagerFlags()
	c.out, c.stderr = stdout, stderr
	// Flags may follow the positional arguments: parse piecewise.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				pagerHelp(stdout)
				return 0
			}
			fmt.Fprintf(stderr, "watchdog: %v\n", flagError("pager", err))
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) == 0 {
		fmt.Fprint(stderr, "watchdog pager: missing COMMAND\n\n")
		pagerHelp(stderr)
		return 2
	}
	if pos[0] == "help" {
		pagerHelp(stdout)
		return 0
	}
	if pos[0] == "import-alertmanager" {
		return importAlertmanager(pos[1:], c.outFile, stdout, stderr)
	}
	if pos[0] == "import-pagerduty" || pos[0] == "import-opsgenie" {
		return importProvider(pos[0], pos[1:], c.outFile, stdout, stderr)
	}
	if c.tokenFile != "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "watchdog pager: read token file: %v\n", err)
			return 2
		}
		c.token = strings.TrimSpace(string(b))
	} else {
		c.token = strings.TrimSpace(os.Getenv("WATCHDOG_TOKEN"))
	}
	c.url = strings.TrimSuffix(c.url, "/")
	err := c.run(pos[0], pos[1:])
	if err != nil {
		fmt.Fprintf(stderr, "watchdog pager: %v\n", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func (c *pagerCLI) run(cmd string, args []string) error {
	need := func(n int, what string) error {
		if len(args) < n {
			return fmt.Errorf("%w: pager %s %s", errUsage, cmd, what)
		}
		return nil
	}
	id := func() string { return url.PathEscape(args[0]) }
	switch cmd {
	case "incidents":
		q := url.Values{}
		if c.status != "" {
			q.Set("status", c.status)
		}
		if c.limit > 0 {
			q.Set("limit", fmt.Sprint(c.limit))
		}
		var list []cliIncident
		if err := c.call("GET", "/api/v1/pager/incidents?"+q.Encode(), nil, &list); err != nil {
			return err
		}
		c.printIncidents(list)
		return nil
	case "show":
		if err := need(1, "ID"); err != nil {
			return err
		}
		var inc cliIncident
		if err := c.call("GET", "/api/v1/pager/incidents/"+id(), nil, &inc); err != nil {
			return err
		}
		c.printIncident(&inc)
		return nil
	case "ack", "resolve", "escalate", "major":
		if err := need(1, "ID"); err != nil {
			return err
		}
		return c.act(id(), cmd, map[string]any{})
	case "snooze":
		if err := need(2, "ID DURATION"); err != nil {
			return err
		}
		return c.act(id(), cmd, map[string]any{"duration": args[1]})
	case "note":
		if err := need(2, "ID TEXT"); err != nil {
			return err
		}
		return c.act(id(), cmd, map[string]any{"text": strings.Join(args[1:], " ")})
	case "oncall":
		if err := need(1, "TARGET"); err != nil {
			return err
		}
		q := url.Values{"target": {args[0]}}
		if c.at != "" {
			q.Set("time", c.at)
		}
		var res struct {
			Time   time.Time `json:"time"`
			OnCall []struct {
				Level    int    `json:"level"`
				User     string `json:"user"`
				Schedule string `json:"schedule"`
			} `json:"oncall"`
		}
		if err := c.call("GET", "/api/v1/pager/oncall?"+q.Encode(), nil, &res); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "LEVEL\tUSER\tSCHEDULE\n")
		for _, o := range res.OnCall {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", o.Level+1, orDash(o.User), orDash(o.Schedule))
		}
		return tw.Flush()
	case "postmortem":
		if err := need(1, "ID"); err != nil {
			return err
		}
		return c.call("GET", "/api/v1/pager/incidents/"+id()+"/postmortem", nil, nil)
	case "user":
		return c.userCmd(args)
	case "silence":
		if err := need(1, "add|list|expire"); err != nil {
			return err
		}
		return c.silence(args[0], args[1:])
	case "incident":
		if err := need(1, "add-responder|respond"); err != nil {
			return err
		}
		return c.incident(args[0], args[1:])
	case "override":
		if err := need(1, "add|list|delete"); err != nil {
			return err
		}
		return c.override(args[0], args[1:])
	case "calendar":
		if err := need(1, "create|list|revoke"); err != nil {
			return err
		}
		return c.calendar(args[0], args[1:])
	case "subscriber":
		if err := need(1, "add|list|delete"); err != nil {
			return err
		}
		return c.subscriber(args[0], args[1:])
	}
	return fmt.Errorf("%w: unknown pager command %q (see watchdog pager --help)", errUsage, cmd)
}

func (c *pagerCLI) act(id, action string, body map[string]any) error {
	body["via"] = "cli"
	if c.by != "" {
		body["by"] = c.by
	}
	var inc cliIncident
	if err := c.call("POST", "/api/v1/pager/incidents/"+id+"/"+action, body, &inc); err != nil {
		return err
	}
	if action == "note" {
		fmt.Fprintf(c.out, "%s: note added\n", inc.ID)
		return nil
	}
	fmt.Fprintf(c.out, "%s %s", inc.ID, inc.Status)
	if inc.AckedBy != "" && inc.Status == "acknowledged" {
		fmt.Fprintf(c.out, " by %s", inc.AckedBy)
	}
	if inc.Major {
		fmt.Fprint(c.out, " major")
		if len(inc.MajorPolicies) > 0 {
			fmt.Fprintf(c.out, " (also paging %s)", strings.Join(inc.MajorPolicies, ", "))
		}
	}
	fmt.Fprintf(c.out, " (level %d): %s\n", inc.Level+1, inc.Title)
	return nil
}

func (c *pagerCLI) silence(sub string, args []string) error {
	switch sub {
	case "add":
		if len(args) == 0 || c.dur <= 0 {
			return fmt.Errorf("%w: pager silence add MATCHER... --for DURATION", errUsage)
		}
		body := map[string]any{"matchers": args, "duration": c.dur.String(), "comment": c.comment}
		if c.by != "" {
			body["createdBy"] = c.by
		}
		var res struct {
			ID string `json:"silenceID"`
		}
		if err := c.call("POST", "/api/v1/pager/silences", body, &res); err != nil {
			return err
		}
		fmt.Fprintln(c.out, res.ID)
		return nil
	case "list":
		var list []struct {
			ID        string    `json:"id"`
			Matchers  []string  `json:"matchers"`
			EndsAt    time.Time `json:"endsAt"`
			CreatedBy string    `json:"createdBy"`
			Status    string    `json:"status"`
			Comment   string    `json:"comment"`
		}
		if err := c.call("GET", "/api/v1/pager/silences", nil, &list); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "ID\tSTATUS\tENDS\tBY\tMATCHERS\tCOMMENT\n")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Status, s.EndsAt.Local().Format(time.DateTime),
				orDash(s.CreatedBy), strings.Join(s.Matchers, ","), s.Comment)
		}
		return tw.Flush()
	case "expire":
		if len(args) != 1 {
			return fmt.Errorf("%w: pager silence expire ID", errUsage)
		}
		if err := c.call("DELETE", "/api/v1/pager/silences/"+url.PathEscape(args[0]), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%s expired\n", args[0])
		return nil
	}
	return fmt.Errorf("%w: unknown silence command %q (add, list, expire)", errUsage, sub)
}

// call sends a request and decodes the envelope's data into out; with a nil
// out a successful body is copied to the output as it is.
func (c *pagerCLI) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	isJSON := strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")
	if isJSON {
		if err := json.Unmarshal(b, &env); err != nil {
			return fmt.Errorf("%s %s: bad response: %w", method, path, err)
		}
	}
	if resp.StatusCode/100 != 2 {
		msg := env.Error
		if msg == "" {
			msg = strings.TrimSpace(string(b))
		}
		if resp.StatusCode == http.StatusUnauthorized {
			msg += " (set WATCHDOG_TOKEN or --token-file)"
		}
		return fmt.Errorf("%s: %s", resp.Status, msg)
	}
	if out == nil {
		if !isJSON {
			_, err = c.out.Write(b)
		}
		return err
	}
	return json.Unmarshal(env.Data, out)
}

// cliIncident is the part of the API's incident the CLI prints.
type cliIncident struct {
	ID            string            `json:"id"`
	Title         string            `json:"title"`
	Status        string            `json:"status"`
	Route         string            `json:"route"`
	Policy        string            `json:"policy"`
	Major         bool              `json:"major"`
	MajorPolicies []string          `json:"majorPolicies"`
	GroupLabels   map[string]string `json:"groupLabels"`
	CreatedAt     time.Time         `json:"createdAt"`
	AckedBy       string            `json:"acknowledgedBy"`
	ResolvedBy    string            `json:"resolvedBy"`
	Assignee      string            `json:"assignee"`
	Level         int               `json:"level"`
	Urgency       string            `json:"urgency"`
	Responders    []cliResponder    `json:"responders"`
	AlertCount    int               `json:"alertCount"`
	Alerts        []struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		Status      string            `json:"status"`
	} `json:"alerts"`
	Timeline []struct {
		At   time.Time `json:"at"`
		Kind string    `json:"kind"`
		By   string    `json:"by"`
		Via  string    `json:"via"`
		Text string    `json:"text"`
	} `json:"timeline"`
}

func (c *pagerCLI) printIncidents(list []cliIncident) {
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\tSTATUS\tCREATED\tALERTS\tLEVEL\tTITLE\n")
	for _, inc := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", inc.ID, inc.Status, inc.CreatedAt.Local().Format(time.DateTime),
			inc.AlertCount, inc.Level+1, inc.Title)
	}
	tw.Flush()
}

func (c *pagerCLI) printIncident(inc *cliIncident) {
	w := c.out
	fmt.Fprintf(w, "%s  %s\n", inc.ID, inc.Title)
	fmt.Fprintf(w, "status:   %s", inc.Status)
	if inc.AckedBy != "" {
		fmt.Fprintf(w, " (acknowledged by %s)", inc.AckedBy)
	}
	if inc.ResolvedBy != "" {
		fmt.Fprintf(w, " (resolved by %s)", inc.ResolvedBy)
	}
	fmt.Fprintf(w, "\nroute:    %s, policy %s, level %d\ncreated:  %s\n", inc.Route, inc.Policy, inc.Level+1,
		inc.CreatedAt.Local().Format(time.DateTime))
	if inc.Assignee != "" {
		fmt.Fprintf(w, "assignee: %s\n", inc.Assignee)
	}
	if inc.Urgency != "" {
		fmt.Fprintf(w, "urgency:  %s\n", inc.Urgency)
	}
	c.printResponders(inc.Responders)
	fmt.Fprintf(w, "\nALERTS\n")
	for _, a := range inc.Alerts {
		keys := make([]string, 0, len(a.Labels))
		for k := range a.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var ls []string
		for _, k := range keys {
			ls = append(ls, k+"="+a.Labels[k])
		}
		fmt.Fprintf(w, "  [%s] {%s} since %s", a.Status, strings.Join(ls, ", "), a.StartsAt.Local().Format(time.DateTime))
		if s := a.Annotations["summary"]; s != "" {
			fmt.Fprintf(w, ": %s", s)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nTIMELINE\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range inc.Timeline {
		by := orDash(e.By)
		if e.Via != "" {
			by += " (" + e.Via + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.At.Local().Format(time.TimeOnly), e.Kind, by, e.Text)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *pagerCLI) errOut() io.Writer {
	if c.stderr == nil {
		return io.Discard
	}
	return c.stderr
}
