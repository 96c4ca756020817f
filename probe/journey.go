package probe

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/config"
)

// maxVarLen bounds a captured variable.
const maxVarLen = 4096

var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// substitute replaces ${name} by the variable's value; an undefined one
// is an error.
func substitute(s string, vars map[string]string) (string, error) {
	var missing string
	out := varRE.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := vars[name]
		if !ok && missing == "" {
			missing = name
		}
		return v
	})
	if missing != "" {
		return "", fmt.Errorf("undefined variable ${%s}", missing)
	}
	return out, nil
}

// probeJourney runs the steps in order with one cookie jar, stopping at
// the first that fails. Every step's series carry step="<name>"; the
// journey adds probe_journey_step_success{step} for the steps that ran and
// probe_journey_failed_step{step} 1 for the one that failed.
func (p *Prober) probeJourney(ctx context.Context, r *recorder, target string, steps []config.JourneyStep) (bool, []StepResult) {
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	base, err := url.Parse(target)
	if err != nil {
		return r.fail(0, nil, "invalid target %q", target), nil
	}
	vars := map[string]string{"target": strings.TrimSuffix(target, "/")}
	jar := newJar()
	var results []StepResult
	for i := range steps {
		s := &steps[i]
		start := time.Now()
		r.extra = []labels.Label{{Name: "step", Value: s.Name}}
		out, ok := p.runStep(ctx, r, base, s, vars, jar)
		d := time.Since(start)
		r.set("probe_journey_step_duration_seconds", d.Seconds())
		sr := StepResult{Name: s.Name, Success: ok, Duration: d}
		if out != nil {
			sr.Status = out.status
		}
		results = append(results, sr)
		if ok {
			r.set("probe_journey_step_success", 1)
			continue
		}
		r.set("probe_journey_step_success", 0)
		r.set("probe_journey_failed_step", 1)
		if r.failure != nil {
			r.failure.Step = s.Name
		}
		r.extra = nil
		return false, results
	}
	r.extra = nil
	return true, results
}

func (p *Prober) runStep(ctx context.Context, r *recorder, base *url.URL, s *config.JourneyStep, vars map[string]string, jar http.CookieJar) (*httpOutcome, bool) {
	raw, err := substitute(s.URL, vars)
	if err != nil {
		return nil, r.fail(0, nil, "url: %v", err)
	}
	ref, err := url.Parse(raw)
	if err != nil {
		return nil, r.fail(0, nil, "invalid url %q", raw)
	}
	u := base.ResolveReference(ref)
	h := s.HTTP
	headers := make(map[string]string, len(h.Headers))
	for k, v := range h.Headers {
		if headers[k], err = substitute(v, vars); err != nil {
			return nil, r.fail(0, nil, "header %s: %v", k, err)
		}
	}
	body, err := substitute(h.Body, vars)
	if err != nil {
		return nil, r.fail(0, nil, "body: %v", err)
	}
	out, ok := p.doHTTP(ctx, r, httpRequest{url: u.String(), module: h, headers: headers, body: body, jar: jar})
	if !ok {
		return out, false
	}
	var doc any
	for _, c := range s.Capture {
		var v string
		switch {
		case c.Header != "":
			v = out.header.Get(c.Header)
			if v == "" {
				return out, r.fail(out.status, out.body, "capture %s: no header %s", c.Name, c.Header)
			}
		case c.Regexp != nil:
			m := c.Regexp.FindSubmatch(out.body)
			if m == nil {
				return out, r.fail(out.status, out.body, "capture %s: body does not match %q", c.Name, c.Regexp.String())
			}
			v = string(m[len(m)-1])
		default:
			if doc == nil {
				if doc, err = parseJSON(out.body); err != nil {
					return out, r.fail(out.status, out.body, "capture %s: body is not JSON: %v", c.Name, err)
				}
			}
			x, err := lookupJSON(doc, c.JSONPath)
			if err != nil {
				return out, r.fail(out.status, out.body, "capture %s: %v", c.Name, err)
			}
			v = jsonText(x)
		}
		if len(v) > maxVarLen {
			return out, r.fail(out.status, out.body, "capture %s: value longer than %d bytes", c.Name, maxVarLen)
		}
		vars[c.Name] = v
	}
	return out, true
}
