package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// incident is what the tests read of GET /api/v1/pager/incidents/{id}.
type incident struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"createdAt"`
	AckedBy   string     `json:"acknowledgedBy"`
	AckedAt   *time.Time `json:"acknowledgedAt"`
	Timeline  []struct {
		At   time.Time `json:"at"`
		Kind string    `json:"kind"`
		User string    `json:"user"`
	} `json:"timeline"`
}

// api calls the watchdog's JSON API with the bearer token and decodes the
// envelope's data into out (when out is not nil).
func (w *watchdog) api(t *testing.T, method, path, body string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, w.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out == nil {
		return
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Status != "success" {
		t.Fatalf("%s %s: %s (%v)", method, path, b, err)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		t.Fatalf("%s %s: data %s: %v", method, path, env.Data, err)
	}
}

// incident returns GET /api/v1/pager/incidents/{id}.
func (w *watchdog) incident(t *testing.T, id string) incident {
	t.Helper()
	var inc incident
	w.api(t, "GET", "/api/v1/pager/incidents/"+id, "", &inc)
	return inc
}

// resolveOpen resolves every open incident through the API and returns
// how many it resolved.
func (w *watchdog) resolveOpen(t *testing.T) int {
	t.Helper()
	var open []incident
	w.api(t, "GET", "/api/v1/pager/incidents?status=open&limit=100", "", &open)
	for _, inc := range open {
		w.api(t, "POST", "/api/v1/pager/incidents/"+inc.ID+"/resolve", `{"by":"e2e-api"}`, nil)
	}
	return len(open)
}

// pageLineRE matches the console channel's trigger pages on stdout.
var pageLineRE = regexp.MustCompile(`(?m)^PAGE (\S+) → (\S+): \[TRIGGER\] (\S+?):.* incident=(\S+)`)

// triggerPages returns the trigger page lines of stdout for incident id
// (every incident when id is "").
func (w *watchdog) triggerPages(id string) []string {
	var lines []string
	for _, m := range pageLineRE.FindAllStringSubmatch(w.stdout.String(), -1) {
		if id == "" || m[4] == id {
			lines = append(lines, m[0])
		}
	}
	return lines
}

// firstPage returns the incident of the first trigger page for alertname.
func (w *watchdog) firstPage(alertname string) (string, error) {
	for _, m := range pageLineRE.FindAllStringSubmatch(w.stdout.String(), -1) {
		if m[3] == alertname {
			return m[4], nil
		}
	}
	return "", fmt.Errorf("no page for %s on stdout yet", alertname)
}
